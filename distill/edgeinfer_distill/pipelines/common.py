"""What both experiments share: objectives, training stages, evaluation, QAT fine-tuning, export of a model
with its test inputs and PyTorch outputs, and the report."""
from __future__ import annotations

import copy
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..cache import TeacherCache
from ..export import export_onnx, onnx_run
from ..losses import DistillLoss
from ..metrics import accuracy, macro_f1
from ..progress import Progress, log
from ..qat import calibrate, freeze_observers, prepare_qat, qat_summary
from ..side_by_side import Job, run_jobs
from ..trainer import TrainConfig, Trainer, count_parameters, distributed_env, seed_everything

IGNORE = -100


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


class Objective(nn.Module):
    """forward(batch) -> (loss, terms): CE on rows whose label y >= 0, soft targets against batch["t"] (teacher
    logits) when the batch has them, alignment of the student's pooled representation with batch["ts"] (the
    teacher's, cached) when the loss has alignment projections."""

    def __init__(self, student: nn.Module, loss: DistillLoss):
        super().__init__()
        self.student = student
        self.loss = loss

    def forward(self, batch):
        x = batch["x"]
        if self.loss.align is not None and "ts" in batch:
            logits, feat = self.student.forward_features(x)
            return self.loss(logits, batch.get("y"), batch.get("t"), [feat], [batch["ts"]])
        return self.loss(self.student(x), batch.get("y"), batch.get("t"))


def call(model, batch):
    return model(batch)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch: int = 256, device=None) -> torch.Tensor:
    model.eval()
    device = device or next(model.parameters()).device
    outs = [model(x[i:i + batch].to(device)).float().cpu() for i in range(0, len(x), batch)]
    return torch.cat(outs) if outs else torch.zeros(0)


def scores(logits: torch.Tensor, y: torch.Tensor, classes: int) -> dict:
    pred = logits.argmax(-1).numpy()
    return {"accuracy": accuracy(pred, y.numpy()), "macro_f1": macro_f1(pred, y.numpy(), classes)}


def val_fn_for(x: torch.Tensor, y: torch.Tensor, classes: int) -> Callable:
    def f(objective: nn.Module) -> dict:
        student = objective.student if hasattr(objective, "student") else objective
        logits = predict(student, x)
        student.train()
        return {"val_loss": float(F.cross_entropy(logits, y)), "val_accuracy": scores(logits, y, classes)["accuracy"]}

    return f


@dataclass
class Context:
    """One experiment run: where it writes, its progress stream and timings."""

    out: str
    progress: Progress
    config: dict
    quick: bool = False
    resume: bool = False
    device: str = "auto"
    results: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    exports: dict = field(default_factory=dict)
    cache: Optional[TeacherCache] = None
    # Independent training jobs (ensemble members, hard-label students, sweep points) run this many at a time in
    # forked CPU processes (side_by_side.py); 1: in turn in this process.
    workers: int = 1
    # Torch threads of each side-by-side job (default: this process's threads // workers; see side_by_side.parent_threads).
    job_threads: Optional[int] = None
    # The jobs that only feed the report (hard-label baselines, the size sweep): this many at a time, this many threads
    # each (side_by_side.workers_from); the shipped chain keeps `workers` / `job_threads`.
    report_workers: int = 1
    report_job_threads: Optional[int] = None

    @property
    def main(self) -> bool:
        return distributed_env()[0] == 0

    def stage(self, name: str) -> None:
        self.progress.emit("stage", stage=name)
        self.timings.setdefault(name, 0.0)

    def train_config(self, stage: str, d: dict) -> TrainConfig:
        ckpt = os.path.join(self.out, "checkpoints", stage)
        if not self.resume and self.main and os.path.isdir(ckpt):
            shutil.rmtree(ckpt)
        return TrainConfig.from_dict({"device": self.device, **d, "checkpoint_dir": ckpt, "resume": self.resume})

    def result(self, stage: str, model_name: str, model: nn.Module, s: dict, **extra) -> dict:
        params = count_parameters(model)
        row = {"model": model_name, "params": params, **s, **extra}
        self.results[stage] = row
        self.progress.emit("result", stage=stage, model=model_name, params=params, accuracy=s["accuracy"], macro_f1=s["macro_f1"])
        return row


def train(ctx: Context, stage: str, objective: nn.Module, data: dict, val: tuple, classes: int, tcfg: dict,
          augment=None, epoch_hook=None, val_fn=None) -> dict:
    """Runs one training stage; returns its summary (epochs, best epoch, seconds)."""
    t0 = time.time()
    cfg = ctx.train_config(stage, tcfg)
    seed_everything(cfg.seed)
    trainer = Trainer(objective, cfg, call, data, val_fn=val_fn or val_fn_for(val[0], val[1], classes), augment=augment,
                      progress=ctx.progress, stage=stage, epoch_hook=epoch_hook)
    r = trainer.fit()
    ctx.timings[stage] = ctx.timings.get(stage, 0.0) + time.time() - t0
    log(f"[{stage}] {r.epochs_run} epochs, best {cfg.monitor} {r.best_metric} at epoch {r.best_epoch}, {r.seconds:.1f}s")
    return {"epochs": r.epochs_run, "best_epoch": r.best_epoch, "best_val": r.best_metric, "seconds": round(r.seconds, 2),
            "precision": "bf16 autocast" if trainer.autocast else "fp32"}


def teacher_targets(ctx: Context, teacher: nn.Module, x: torch.Tensor, with_features: bool) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Teacher logits (and pooled features) on x, through the on-disk cache: the teacher runs once per (weights, data)."""
    t0 = time.time()
    feats = None
    if with_features:  # one teacher pass for both: [logits | pooled features], stored uncompressed
        both = ctx.cache.logits(teacher, x, lambda m, b: torch.cat(m.forward_features(b), dim=-1), tag="logits+features", compress=False)
        probe = predict(teacher, x[:1])
        logits, feats = both[:, : probe.shape[-1]], both[:, probe.shape[-1]:]
    else:
        logits = ctx.cache.logits(teacher, x, lambda m, b: m(b), tag="logits")
    ctx.timings["teacher_logits"] = ctx.timings.get("teacher_logits", 0.0) + time.time() - t0
    return logits, feats


def distill_loss(d: dict, student_dim: Optional[int] = None, teacher_dim: Optional[int] = None) -> DistillLoss:
    align = float(d.get("align_weight", 0.0))
    return DistillLoss(alpha=d.get("alpha", 0.5), temperature=d.get("temperature", 4.0), direction=d.get("direction", "forward"),
                       weights={"ce": d.get("ce_weight", 1.0), "kd": d.get("kd_weight", 1.0), "align": align},
                       align_student_dims=[student_dim] if align and student_dim else [],
                       align_teacher_dims=[teacher_dim] if align and teacher_dim else [], align_kind=d.get("align_kind", "cosine"),
                       label_smoothing=d.get("label_smoothing", 0.0))


def distill_data(xl, yl, xt, tl_logits, tt_logits, tl_feats=None, tt_feats=None) -> dict:
    """Labelled rows (label + soft targets) followed by transfer rows (soft targets only: label IGNORE)."""
    data = {"x": torch.cat([xl, xt]), "y": torch.cat([yl, torch.full((len(xt),), IGNORE, dtype=torch.long)]),
            "t": torch.cat([tl_logits, tt_logits])}
    if tl_feats is not None:
        data["ts"] = torch.cat([tl_feats, tt_feats])
    return data


def qat_finetune(ctx: Context, stage: str, student: nn.Module, loss: DistillLoss, data: dict, val: tuple, classes: int, q: dict,
                 calibration_x: torch.Tensor) -> tuple[nn.Module, dict]:
    """Fake-quant fine-tuning of a copy of `student`: layers swapped by q["rules"], activation ranges calibrated on
    `calibration_x`, then trained with `loss`; observers frozen for the last q["freeze_epochs"] epochs."""
    model = copy.deepcopy(student).cpu()
    plan = prepare_qat(model, q["rules"], q.get("default", "fp32"), q.get("averaging_constant", 0.01))
    bs = 256
    calibrate(model, [calibration_x[i:i + bs] for i in range(0, len(calibration_x), bs)], lambda m, b: m(b))
    epochs = q["train"]["epochs"]
    freeze_at = max(0, epochs - q.get("freeze_epochs", 1))

    def hook(objective, epoch):
        freeze_observers(objective.student if hasattr(objective, "student") else objective, epoch >= freeze_at)

    summary = train(ctx, stage, Objective(model, loss), data, val, classes, q["train"], epoch_hook=hook)
    freeze_observers(model, True)
    summary["precision"] = {k: v for k, v in sorted(plan.items())}
    summary["activation_ranges"] = qat_summary(model)["activations"]
    return model.eval(), summary


def save_npy(path: str, array: np.ndarray) -> str:
    arr = np.ascontiguousarray(array)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    np.save(path, arr)
    return path


def export_model(ctx: Context, stage: str, name: str, model: nn.Module, test_x: torch.Tensor, inputs_path: str, input_name: str,
                 output_name: str, wrap: Optional[Callable[[nn.Module], nn.Module]] = None, check_ort: bool = True) -> Optional[dict]:
    """Exports `model` (wrapped for export by `wrap`) to out/<name>.onnx, saves its PyTorch outputs on the test inputs as
    out/<name>.torch_outputs.npy, checks ONNX Runtime's argmax agreement; None (and a log line) when the export fails."""
    if not ctx.main:
        return None
    path = os.path.join(ctx.out, f"{name}.onnx")
    m = (wrap(model) if wrap else model).cpu().eval()
    try:
        export_onnx(m, (test_x[:1],), path, [input_name], [output_name])
    except Exception as e:  # an unexportable teacher is reported, not fatal
        log(f"[{stage}] export of {name} failed: {type(e).__name__}: {e}")
        ctx.exports[name] = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
        return None
    with torch.no_grad():
        torch_out = predict(m, test_x).numpy().astype(np.float32)
    out_path = save_npy(os.path.join(ctx.out, f"{name}.torch_outputs.npy"), torch_out)
    info = {"onnx": path, "inputs": inputs_path, "torch_outputs": out_path, "bytes": os.path.getsize(path)}
    if check_ort:
        try:
            ort_out = onnx_run(path, {input_name: test_x.numpy()})
            info["onnxruntime_argmax_agreement"] = float((ort_out.argmax(-1) == torch_out.argmax(-1)).mean())
            info["onnxruntime_max_abs_diff"] = float(np.abs(ort_out - torch_out).max())
        except Exception as e:
            info["onnxruntime_error"] = f"{type(e).__name__}: {str(e)[:300]}"
    ctx.exports[name] = info
    ctx.progress.emit("export", stage=stage, onnx=path, inputs=inputs_path, torch_outputs=out_path)
    return info


def sweep_row(width, params, distilled: dict, hard: dict) -> dict:
    return {"width": width, "params": params,
            "distilled": {"accuracy": distilled["accuracy"], "macro_f1": distilled["macro_f1"]},
            "hard": {"accuracy": hard["accuracy"], "macro_f1": hard["macro_f1"]},
            "gain_accuracy": distilled["accuracy"] - hard["accuracy"], "gain_macro_f1": distilled["macro_f1"] - hard["macro_f1"]}


def acceptance(results: dict) -> dict:
    t, d, h, q = (results.get(k) for k in ("teacher", "student_distilled", "student_hard", "student_qat_int8"))
    out = {}
    if t and d:
        out["distilled_minus_teacher_points"] = 100 * (d["accuracy"] - t["accuracy"])
        out["distilled_within_2_points_of_teacher"] = out["distilled_minus_teacher_points"] >= -2.0
    if d and h:
        out["distilled_minus_hard_points"] = 100 * (d["accuracy"] - h["accuracy"])
        out["distilled_3_points_above_hard"] = out["distilled_minus_hard_points"] >= 3.0
    if d and q:
        out["qat_minus_fp32_points"] = 100 * (q["accuracy"] - d["accuracy"])
        out["qat_within_0_7_points"] = out["qat_minus_fp32_points"] >= -0.7
    return out


def crossover(sweep: list[dict], min_gain: float = 0.01) -> dict:
    """Where distillation stops helping: it "helps" at a width when the distilled student beats the hard-label one by at
    least `min_gain` in accuracy (1 point by default) and is not worse in macro-F1. Reports the widths where it does not
    help and the smallest width from which it helps at every larger width tried."""
    rows = sorted(sweep, key=lambda r: r["params"])
    helps = [r["gain_accuracy"] >= min_gain and r["gain_macro_f1"] >= 0 for r in rows]
    no_help = [r["width"] for r, h in zip(rows, helps) if not h]
    helps_from = next((rows[i]["width"] for i in range(len(rows)) if all(helps[i:])), None)
    if not no_help:
        text = (f"distillation beat hard-label training (by >= {100 * min_gain:g} point, macro-F1 not worse) at every student size tried: "
                "no size below which it stops helping was found in this range")
    elif helps_from is not None:
        text = f"distillation stops helping below width {helps_from}: no gain at width(s) {no_help}"
    else:
        text = f"distillation did not help at the largest width(s) tried; no gain at width(s) {no_help}"
    return {"distillation_helps_from_width": helps_from, "no_gain_widths": no_help, "min_gain_accuracy": min_gain, "summary": text}


def write_report(ctx: Context, report: dict) -> str:
    path = os.path.join(ctx.out, "report.json")
    if ctx.main:
        with open(path + ".tmp", "w") as f:
            json.dump(report, f, indent=1, default=lambda o: o.item() if hasattr(o, "item") else str(o))
        os.replace(path + ".tmp", path)
    return path


class Ensemble(nn.Module):
    """Members averaged in probability: forward returns log(mean softmax) (valid logits); forward_features also the
    members' mean pooled representation (the alignment target)."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x):
        return torch.log(torch.stack([m(x).float().softmax(-1) for m in self.members]).mean(0))

    def forward_features(self, x):
        outs = [m.forward_features(x) for m in self.members]
        probs = torch.stack([o[0].float().softmax(-1) for o in outs]).mean(0)
        return torch.log(probs), torch.stack([o[1] for o in outs]).mean(0)


def _member_stage(stage: str, k: int, i: int) -> str:
    return stage if k == 1 else f"{stage}_m{i + 1}"


def fit_teacher(ctx: Context, build: Callable[[int], nn.Module], seed: int, xl, yl, xt, val: tuple, classes: int, ts: dict,
                augment=None, model: Optional[nn.Module] = None, stage: str = "teacher") -> tuple[nn.Module, dict]:
    """The teacher: ts["ensemble"] members (default 1; member i built with seed + 1000 i) trained on the labelled split
    with hard labels (ts["train"]); then, when ts["self_training"] asks for it, rounds of self-training on the transfer
    split's INPUTS: the current teacher labels them, rows whose top probability reaches `threshold` join the labelled
    rows, and fresh members are trained on both. An ensemble averages its members' probabilities. The transfer
    split's true labels are never read here. Emits its own stage events (see teacher_stages). Returns (teacher, info)."""
    hard_loss = {"alpha": 1.0, "label_smoothing": ts.get("label_smoothing", 0.0)}
    k = int(ts.get("ensemble", 1))
    rounds = []

    def fit_members(name, x, y, tcfg, round_seed, first=None):
        def member(i):
            def run():
                ctx.stage(_member_stage(name, k, i))
                m = first if (first is not None and i == 0) else build(round_seed + 1000 * i)
                return m, train(ctx, _member_stage(name, k, i), Objective(m, distill_loss(hard_loss)), {"x": x, "y": y}, val, classes,
                                tcfg, augment=augment)
            return Job(_member_stage(name, k, i), run)

        # A given first member is trained in place (the caller holds it): in turn.
        done = run_jobs(ctx, [member(i) for i in range(k)], ctx.workers if first is None else 1)
        members, summaries = [m for m, _ in done], [s for _, s in done]
        return (members[0] if k == 1 else Ensemble(members).eval()), summaries

    teacher, summaries = fit_members(stage, xl, yl, ts["train"], seed, model)
    rounds.append({"round": 0, "rows": len(xl), "members": summaries, "val_accuracy": val_fn_for(val[0], val[1], classes)(teacher)["val_accuracy"]})
    st = ts.get("self_training", {})
    threshold = st.get("threshold", 0.9)
    for r in range(st.get("rounds", 0)):
        probs = predict(teacher, xt).softmax(-1)
        conf, pseudo = probs.max(-1)
        keep = conf >= threshold
        x, y = torch.cat([xl, xt[keep]]), torch.cat([yl, pseudo[keep]])
        teacher, summaries = fit_members(f"{stage}_self{r + 1}", x, y, st.get("train", ts["train"]), seed + r + 1)
        rounds.append({"round": r + 1, "rows": len(x), "pseudo_labelled": int(keep.sum()), "threshold": threshold, "members": summaries,
                       "val_accuracy": val_fn_for(val[0], val[1], classes)(teacher)["val_accuracy"]})
    recipe = f"{'an ensemble of ' + str(k) + ' models (probabilities averaged), each' if k > 1 else 'one model'} trained on the labelled split with hard labels ({len(xl)} rows"
    recipe += ", label smoothing " + str(hard_loss["label_smoothing"]) if hard_loss["label_smoothing"] else ""
    recipe += ", feature augmentation)" if augment is not None else ")"
    if len(rounds) > 1:
        recipe += (f", then {len(rounds) - 1} round(s) of self-training on the transfer split's inputs (pseudo-labels of the current teacher "
                   f"with confidence >= {threshold}; the transfer split's labels are never used)")
    return teacher, {"recipe": recipe, "members": k, "rounds": rounds}


def teacher_stages(ts: dict, stage: str = "teacher") -> list[str]:
    k = int(ts.get("ensemble", 1))
    names = [stage] + [f"{stage}_self{r + 1}" for r in range(ts.get("self_training", {}).get("rounds", 0))]
    return [_member_stage(n, k, i) for n in names for i in range(k)]
