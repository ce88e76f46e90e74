"""Distillation losses.

    L = w_ce * alpha * CE(y, p_S) + w_kd * (1 - alpha) * T^2 * KL(p_T^T || p_S^T) + w_align * sum_l align_l

with p^T = softmax(z / T) (temperature-softened), the KL forward (teacher || student, mass-covering) or
reverse (student || teacher, mode-seeking). Everything is computed from log_softmax, so logits of any size
(1e4 and more) are fine, and -inf logits (masked vocabulary entries) contribute exactly 0 where both sides
have no mass and +inf where only the student has none (the KL is infinite there: it stays honest), with
finite gradients everywhere the loss is finite.

Teacher logits may come cached and top-k compressed (see `TopK`): the teacher distribution is then known on
its k kept entries plus one tail bucket holding the rest of its mass, so both distributions are compared over
the same k + 1 buckets (the student's tail is its mass outside the teacher's k). That is the KL between the
two coarse-grained distributions: exact when k = vocabulary, otherwise a lower bound of the full KL (data
processing inequality), and exact in its gradient for the kept entries' share of the student mass.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "TopK",
    "topk_compress",
    "kl_divergence",
    "kl_from_log_probs",
    "soft_target_loss",
    "distillation_loss",
    "FeatureAlignment",
    "DistillLoss",
]


@dataclass
class TopK:
    """Top-k compressed teacher logits over the last axis.

    indices: int64 [..., k]; logits: float [..., k] (raw teacher logits at T = 1); tail_lse: float [...],
    logsumexp over the entries NOT kept of (z / T) at the temperature `temperature` the cache was made for
    (-inf when nothing is left out). With them log p_T^T of a kept entry is z_i / T - logsumexp([z_kept / T,
    tail_lse]) exactly, and the tail bucket's log mass is tail_lse - the same logsumexp.
    """

    indices: torch.Tensor
    logits: torch.Tensor
    tail_lse: torch.Tensor
    temperature: float

    def to(self, device) -> "TopK":
        return TopK(self.indices.to(device), self.logits.to(device), self.tail_lse.to(device), self.temperature)

    def bucket_log_probs(self, temperature: Optional[float] = None) -> torch.Tensor:
        """log p over the k kept entries + the tail bucket (last): [..., k + 1]."""
        t = self.temperature if temperature is None else temperature
        if t != self.temperature:
            raise ValueError(f"top-k cache was made for T={self.temperature}, asked for T={t}")
        buckets = torch.cat([_as_float(self.logits) / t, _as_float(self.tail_lse).to(_as_float(self.logits).dtype).unsqueeze(-1)], dim=-1)
        return torch.log_softmax(buckets, dim=-1)


def topk_compress(logits: torch.Tensor, k: int, temperature: float = 1.0) -> TopK:
    """Keeps the k largest logits per row and the logsumexp of the rest at `temperature`."""
    k = min(k, logits.shape[-1])
    values, indices = torch.topk(logits, k, dim=-1)
    scaled = _as_float(logits) / temperature
    rest = scaled.scatter(-1, indices, float("-inf"))
    tail = torch.logsumexp(rest, dim=-1)
    return TopK(indices=indices, logits=values, tail_lse=tail, temperature=temperature)


def _safe(log_p: torch.Tensor) -> torch.Tensor:
    """log p with -inf entries replaced by 0 (their probability is 0, the product p * log p is then 0 with a 0 gradient)."""
    return torch.where(torch.isneginf(log_p), torch.zeros_like(log_p), log_p)


def kl_from_log_probs(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) = sum_i p_i (log p_i - log q_i) over the last axis, from log-probabilities.

    Entries with p_i = 0 contribute 0 (even when q_i = 0 too); p_i > 0 with q_i = 0 gives +inf.
    """
    p = log_p.exp()
    p_zero = torch.isneginf(log_p)
    q_zero = torch.isneginf(log_q) & ~p_zero
    terms = p * (_safe(log_p) - _safe(log_q))
    kl = terms.sum(dim=-1)
    if q_zero.any():
        kl = torch.where(q_zero.any(dim=-1), torch.full_like(kl, float("inf")), kl)
    return kl


def kl_divergence(teacher_logits: torch.Tensor, student_logits: torch.Tensor, temperature: float = 1.0, direction: str = "forward") -> torch.Tensor:
    """Per-row KL between temperature-softened teacher and student distributions (no T^2 factor).

    direction 'forward': KL(p_T^T || p_S^T); 'reverse': KL(p_S^T || p_T^T).
    """
    log_t = torch.log_softmax(_as_float(teacher_logits) / temperature, dim=-1)
    log_s = torch.log_softmax(_as_float(student_logits) / temperature, dim=-1)
    return _directed(log_t.to(log_s.dtype), log_s, direction)


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _directed(log_t: torch.Tensor, log_s: torch.Tensor, direction: str) -> torch.Tensor:
    if direction == "forward":
        return kl_from_log_probs(log_t, log_s)
    if direction == "reverse":
        return kl_from_log_probs(log_s, log_t)
    raise ValueError(f"direction must be 'forward' or 'reverse', got {direction!r}")


def _student_bucket_log_probs(student_logits: torch.Tensor, indices: torch.Tensor, temperature: float) -> torch.Tensor:
    """Student log-probabilities over the teacher's k kept entries + the tail bucket (its remaining mass)."""
    log_s = torch.log_softmax(_as_float(student_logits) / temperature, dim=-1)
    kept = log_s.gather(-1, indices)
    rest = log_s.scatter(-1, indices, float("-inf"))
    tail = torch.logsumexp(rest, dim=-1, keepdim=True)
    return torch.cat([kept, tail], dim=-1)


def soft_target_loss(
    student_logits: torch.Tensor,
    teacher: torch.Tensor | TopK,
    temperature: float = 1.0,
    direction: str = "forward",
    mask: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """T^2 * mean over rows of the KL between softened teacher and student distributions.

    `teacher`: full logits (same shape as the student's) or a TopK. `mask`: bool [...] of rows to count
    (e.g. non-padding positions); rows outside it contribute nothing.
    """
    if isinstance(teacher, TopK):
        log_t = teacher.bucket_log_probs(temperature)
        log_s = _student_bucket_log_probs(student_logits, teacher.indices, temperature)
        kl = _directed(log_t.to(log_s.dtype), log_s, direction)
    else:
        kl = kl_divergence(teacher.detach(), student_logits, temperature, direction)
    if mask is not None:
        mask = mask.to(kl.dtype)
        kl = torch.where(mask > 0, kl, torch.zeros_like(kl))
        return temperature**2 * kl.sum() / mask.sum().clamp_min(1.0)
    return temperature**2 * kl.mean()


def distillation_loss(
    student_logits: torch.Tensor,
    labels: Optional[torch.Tensor],
    teacher: Optional[torch.Tensor | TopK],
    alpha: float = 0.5,
    temperature: float = 4.0,
    direction: str = "forward",
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, dict]:
    """alpha * CE(y, p_S) + (1 - alpha) * T^2 * KL, per-row means over the rows each term has.

    Rows whose label is `ignore_index` (unlabelled: the transfer split) get only the soft term; rows whose
    teacher logits are absent get only the hard term (pass teacher=None). Returns (loss, {"ce", "kd"}).
    """
    logits2 = student_logits.reshape(-1, student_logits.shape[-1])
    terms = {}
    loss = student_logits.new_zeros((), dtype=torch.float32 if student_logits.dtype != torch.float64 else torch.float64)
    if labels is not None and alpha > 0:
        flat = labels.reshape(-1)
        valid = flat != ignore_index
        if valid.any():
            ce = F.cross_entropy(_as_float(logits2), flat, ignore_index=ignore_index, label_smoothing=label_smoothing)
            loss = loss + alpha * ce
            terms["ce"] = float(ce.detach())
    if teacher is not None and alpha < 1:
        kd = soft_target_loss(student_logits, teacher, temperature, direction)
        loss = loss + (1 - alpha) * kd
        terms["kd"] = float(kd.detach())
    return loss, terms


class FeatureAlignment(nn.Module):
    """Intermediate-layer alignment: for each (student width, teacher width) pair a learned linear projection
    of the student's hidden state (identity when the widths are equal and `project_equal` is False), then
    cosine (1 - cos, over the last axis) or MSE against the teacher's (detached) hidden state, averaged over
    positions (or the positions in `mask`), weighted per pair, summed.
    """

    def __init__(self, student_dims: Sequence[int], teacher_dims: Sequence[int], kind: str = "cosine", weights: Optional[Sequence[float]] = None, project_equal: bool = False):
        super().__init__()
        if len(student_dims) != len(teacher_dims):
            raise ValueError("student_dims and teacher_dims must pair up")
        if kind not in ("cosine", "mse"):
            raise ValueError(f"kind must be 'cosine' or 'mse', got {kind!r}")
        self.kind = kind
        self.weights = list(weights) if weights is not None else [1.0] * len(student_dims)
        if len(self.weights) != len(student_dims):
            raise ValueError("one weight per aligned pair")
        self.projections = nn.ModuleList(
            nn.Identity() if (s == t and not project_equal) else nn.Linear(s, t, bias=False) for s, t in zip(student_dims, teacher_dims)
        )

    def pair_loss(self, student: torch.Tensor, teacher: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        teacher = _as_float(teacher.detach())
        if self.kind == "cosine":
            per = 1.0 - F.cosine_similarity(_as_float(student), teacher, dim=-1, eps=1e-8)
        else:
            per = ((_as_float(student) - teacher) ** 2).mean(dim=-1)
        if mask is not None:
            m = mask.to(per.dtype)
            return (per * m).sum() / m.sum().clamp_min(1.0)
        return per.mean()

    def forward(self, student_states: Sequence[torch.Tensor], teacher_states: Sequence[torch.Tensor], mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        total = None
        for proj, w, s, t in zip(self.projections, self.weights, student_states, teacher_states):
            term = w * self.pair_loss(proj(s), t, mask)
            total = term if total is None else total + term
        return total if total is not None else torch.zeros(())


class DistillLoss(nn.Module):
    """The whole objective with a weight per term:

        weights["ce"] * alpha * CE + weights["kd"] * (1 - alpha) * T^2 * KL + weights["align"] * alignment

    Holds the alignment projections (parameters: give them to the optimizer with the student's).
    """

    def __init__(self, alpha: float = 0.5, temperature: float = 4.0, direction: str = "forward", weights: Optional[dict] = None,
                 align_student_dims: Sequence[int] = (), align_teacher_dims: Sequence[int] = (), align_kind: str = "cosine",
                 align_layer_weights: Optional[Sequence[float]] = None, ignore_index: int = -100, label_smoothing: float = 0.0):
        super().__init__()
        self.label_smoothing = label_smoothing
        if not 0.0 <= alpha <= 1.0:
            raise ValueError("alpha must be in [0, 1]")
        if temperature <= 0:
            raise ValueError("temperature must be > 0")
        self.alpha, self.temperature, self.direction, self.ignore_index = alpha, temperature, direction, ignore_index
        self.weights = {"ce": 1.0, "kd": 1.0, "align": 0.0, **(weights or {})}
        self.align = FeatureAlignment(align_student_dims, align_teacher_dims, align_kind, align_layer_weights) if len(align_student_dims) else None

    def forward(self, student_logits, labels=None, teacher=None, student_states=(), teacher_states=(), state_mask=None):
        terms = {}
        dtype = torch.float64 if student_logits.dtype == torch.float64 else torch.float32
        loss = torch.zeros((), dtype=dtype, device=student_logits.device)
        if labels is not None and self.alpha > 0 and self.weights["ce"]:
            flat = labels.reshape(-1)
            if (flat != self.ignore_index).any():
                ce = F.cross_entropy(_as_float(student_logits.reshape(-1, student_logits.shape[-1])), flat, ignore_index=self.ignore_index,
                                     label_smoothing=self.label_smoothing)
                loss = loss + self.weights["ce"] * self.alpha * ce
                terms["ce"] = float(ce.detach())
        if teacher is not None and self.alpha < 1 and self.weights["kd"]:
            kd = soft_target_loss(student_logits, teacher, self.temperature, self.direction)
            loss = loss + self.weights["kd"] * (1 - self.alpha) * kd
            terms["kd"] = float(kd.detach())
        if self.align is not None and self.weights["align"] and len(student_states):
            al = self.align(student_states, teacher_states, state_mask)
            loss = loss + self.weights["align"] * al
            terms["align"] = float(al.detach())
        return loss, terms
