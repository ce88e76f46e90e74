"""A small, deterministic trainer for teachers and students (Hugging Face models or plain nn.Modules).

- AdamW, linear warm-up then cosine decay to `min_lr`, gradient clipping, early stopping on a validation
  metric with the best weights restored.
- Seeded and deterministic on CPU: the data order of epoch e comes from a generator seeded by (seed, e), the
  augmentation of a batch from one seeded by (seed, e, step), dropout from the global generator, whose state
  is saved in each checkpoint; so the same seed gives the same weights, and resuming from a checkpoint gives
  the weights of an uninterrupted run.
- Checkpoints (`last.pt` after every `checkpoint_every` epochs) hold model, optimizer, scheduler, RNG states,
  early-stopping state and history; a Trainer pointed at the same folder resumes from it.
- CPU, CUDA (bf16 autocast when the device is cuda; on the CPU too with `cpu_bf16`, where the CPU has bfloat16
  instructions) and torchrun / DDP with the same script: under torchrun
  (WORLD_SIZE > 1) the process group starts from the environment (gloo on CPU, nccl on CUDA), the model is
  wrapped in DistributedDataParallel, each global batch of `batch_size` rows is split across ranks (rank r
  takes rows r, r + W, ...) and each rank's mean loss is scaled by its share, so the averaged gradient is the
  global batch's mean gradient: the same result as one process, up to float summation order.
"""
from __future__ import annotations

import copy
import functools
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from .progress import Progress, Silent, log

Batch = dict[str, torch.Tensor]


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 32  # global: split across DDP ranks
    lr: float = 1e-3
    min_lr: float = 0.0
    weight_decay: float = 0.01
    warmup: float = 0.05  # < 1: fraction of the planned steps; >= 1: steps
    grad_clip: float = 1.0  # 0: off
    patience: int = 0  # epochs without improvement before stopping (0: never stop early)
    monitor: str = "val_loss"  # or "val_accuracy" (higher is better), any key val_fn returns
    restore_best: bool = True
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    bf16: bool = True  # autocast to bfloat16 on CUDA
    # Autocast to bfloat16 on the CPU too, where it has bf16 dot products (AVX512-BF16, AMX, Arm BF16): a transformer's
    # training step ~2x faster (matmuls 4x on one AVX512-BF16 core). Elsewhere oneDNN would emulate it, slower than
    # fp32, so the run stays fp32 and says so. Weights, optimizer and loss stay fp32 either way.
    cpu_bf16: bool = False
    checkpoint_dir: Optional[str] = None
    checkpoint_every: int = 1
    resume: bool = True  # continue from checkpoint_dir/last.pt when it exists
    stop_after_epoch: Optional[int] = None  # testing: end the run after this epoch (as an interruption would)
    step_events: int = 10  # at most this many step events per epoch
    find_unused_parameters: bool = True

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown training options: {sorted(unknown)}")
        return cls(**d)


# ----------------------------------------------------------------------------------------------- setup
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def set_deterministic(threads: Optional[int] = None) -> None:
    """Deterministic kernels (CPU: always; CUDA: cuBLAS workspace config set before first use)."""
    if threads:
        torch.set_num_threads(threads)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    if hasattr(torch.backends, "cudnn"):
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def distributed_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) without it."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("LOCAL_RANK", "0"))


def init_distributed(device: torch.device) -> bool:
    """Starts the process group from the environment when WORLD_SIZE > 1 (idempotent). True when distributed."""
    _, world, _ = distributed_env()
    if world <= 1:
        return False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return True


@functools.lru_cache(maxsize=None)
def cpu_has_bf16() -> bool:
    """Whether this CPU has bfloat16 dot-product instructions (Linux /proc/cpuinfo flags; False where unknown). Read
    once per process: a run builds a Trainer per stage and ensemble member."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            flags = set()
            for line in f:
                key = line.split(":", 1)[0].strip().lower()
                if key in ("flags", "features"):
                    flags.update(line.split(":", 1)[1].split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def resolve_device(name: str = "auto") -> torch.device:
    """auto | cpu | cuda | cuda:N. Plain "cuda" is the process's GPU: LOCAL_RANK under torchrun, else GPU 0 (set_device
    needs an index). A GPU this PyTorch cannot see is a clear error, not one from deep inside torch."""
    _, _, local = distributed_env()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local}"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r}: this PyTorch ({torch.__version__}) sees no CUDA GPU; use device 'cpu' or 'auto'")
        if device.index >= torch.cuda.device_count():
            raise RuntimeError(f"device {name!r}: only {torch.cuda.device_count()} CUDA GPU(s) visible")
        torch.cuda.set_device(device)
    return device


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def lr_lambda(total_steps: int, warmup_steps: int, min_ratio: float) -> Callable[[int], float]:
    """Linear warm-up to 1, then cosine to min_ratio at total_steps."""

    def f(step: int) -> float:
        if warmup_steps > 0 and step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


def take(data: Batch, index: torch.Tensor) -> Batch:
    return {k: v[index] for k, v in data.items()}


def num_rows(data: Batch) -> int:
    return len(next(iter(data.values())))


def _rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class TrainResult:
    history: list = field(default_factory=list)
    best_epoch: int = 0
    best_metric: Optional[float] = None
    epochs_run: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    resumed_from: Optional[int] = None
    interrupted: bool = False


# ----------------------------------------------------------------------------------------------- trainer
class Trainer:
    """Trains `model` (any nn.Module; put alignment projections etc. in it too) on `train` (a dict of tensors,
    rows along dim 0) with `loss_fn(model, batch) -> (mean loss, {term: value})`.

    With DDP, `loss_fn` receives the DistributedDataParallel wrapper: call it (its forward), not its submodules,
    so gradients synchronise; e.g. make the model an objective whose forward(batch) returns (loss, terms) and
    pass loss_fn=lambda m, b: m(b).
    `val_fn(model) -> {"val_loss": ..., "val_accuracy": ...}` runs after every epoch (in eval mode, no grad).
    `augment(batch, generator) -> batch` runs on each training batch with a generator seeded by
    (seed, epoch, step). Events (epoch, step) go to `progress` under `stage`.
    """

    def __init__(self, model: nn.Module, config: TrainConfig, loss_fn: Callable[[nn.Module, Batch], tuple[torch.Tensor, dict]],
                 train: Batch, val_fn: Optional[Callable[[nn.Module], dict]] = None,
                 augment: Optional[Callable[[Batch, torch.Generator], Batch]] = None,
                 progress: Optional[Progress] = None, stage: str = "train", param_groups: Optional[list] = None,
                 epoch_hook: Optional[Callable[[nn.Module, int], None]] = None):
        self.config = config
        self.epoch_hook = epoch_hook  # called as epoch_hook(model, epoch) before each epoch (e.g. QAT observer freezing)
        self.loss_fn, self.val_fn, self.augment = loss_fn, val_fn, augment
        self.train = train
        self.progress = progress or Silent()
        self.stage = stage
        self.device = resolve_device(config.device)
        self.distributed = init_distributed(self.device)
        self.rank, self.world, _ = distributed_env()
        self.model = model.to(self.device)
        self.ddp = None
        if self.distributed:
            self.ddp = nn.parallel.DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                                                           find_unused_parameters=config.find_unused_parameters)
        params = param_groups if param_groups is not None else _decay_groups(self.model, config.weight_decay)
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        n = num_rows(train)
        self.steps_per_epoch = max(1, math.ceil(n / config.batch_size))
        total = self.steps_per_epoch * config.epochs
        warmup = int(config.warmup * total) if config.warmup < 1 else int(config.warmup)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(total, warmup, config.min_lr / config.lr if config.lr else 0.0))
        self.autocast = (self.device.type == "cuda" and config.bf16) or (self.device.type == "cpu" and config.cpu_bf16 and cpu_has_bf16())
        if self.device.type == "cpu" and config.cpu_bf16 and not self.autocast:
            log(f"[{stage}] cpu_bf16: this CPU has no bfloat16 instructions, training in fp32")

    # -- checkpoints
    def _ckpt_path(self) -> Optional[str]:
        return os.path.join(self.config.checkpoint_dir, "last.pt") if self.config.checkpoint_dir else None

    def save_checkpoint(self, epoch: int, state: dict) -> None:
        path = self._ckpt_path()
        if path is None or self.rank != 0:
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        blob = {
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": _rng_state(),
            "state": state,
            "config": asdict(self.config),
        }
        tmp = path + ".tmp"
        torch.save(blob, tmp)
        os.replace(tmp, path)

    def load_checkpoint(self) -> Optional[dict]:
        path = self._ckpt_path()
        if path is None or not self.config.resume or not os.path.exists(path):
            return None
        blob = torch.load(path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(blob["model"])
        self.optimizer.load_state_dict(blob["optimizer"])
        self.scheduler.load_state_dict(blob["scheduler"])
        _set_rng_state(blob["rng"])
        return blob

    # -- loop
    def _order(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
        return torch.randperm(num_rows(self.train), generator=g)

    def _evaluate(self) -> dict:
        if self.val_fn is None:
            return {}
        self.model.eval()
        with torch.no_grad(), torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            out = self.val_fn(self.model)
        self.model.train()
        return {k: float(v) for k, v in out.items()}

    def fit(self) -> TrainResult:
        cfg = self.config
        result = TrainResult()
        start_epoch = 0
        best_state = None
        state = {"best": None, "best_epoch": 0, "bad": 0, "history": []}
        blob = self.load_checkpoint()
        if blob is not None:
            start_epoch = blob["epoch"] + 1
            state = blob["state"]
            best_state = state.pop("best_weights", None)
            result.resumed_from = blob["epoch"]
            log(f"[{self.stage}] resumed after epoch {blob['epoch'] + 1}")
        higher = cfg.monitor != "val_loss" and not cfg.monitor.endswith("loss")
        t0 = time.time()
        runner = self.ddp or self.model
        self.model.train()
        every = max(1, self.steps_per_epoch // max(1, cfg.step_events))
        epoch = start_epoch - 1
        if state.get("stopped"):  # the checkpointed run had stopped early: nothing left to train
            result.stopped_early = True
            start_epoch = cfg.epochs
        for epoch in range(start_epoch, cfg.epochs):
            te = time.time()
            if self.epoch_hook is not None:
                self.epoch_hook(self.model, epoch)
            order = self._order(epoch)
            total_loss, total_rows = 0.0, 0
            for step in range(self.steps_per_epoch):
                index = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
                global_rows = len(index)
                local = index[self.rank::self.world]
                batch = take(self.train, local)
                if self.augment is not None:
                    g = torch.Generator().manual_seed((cfg.seed * 1_000_003 + epoch) * 100_003 + step)
                    batch = self.augment(batch, g)
                batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
                with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
                    loss, _terms = self.loss_fn(runner, batch)
                scaled = loss * (len(local) / global_rows) * self.world
                self.optimizer.zero_grad(set_to_none=True)
                scaled.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                self.optimizer.step()
                self.scheduler.step()
                total_loss += float(loss.detach()) * len(local)
                total_rows += len(local)
                if (step + 1) % every == 0 or step + 1 == self.steps_per_epoch:
                    self.progress.emit("step", stage=self.stage, step=step + 1, steps=self.steps_per_epoch, epoch=epoch + 1)
            train_loss = total_loss / max(1, total_rows)
            if self.distributed:
                t = torch.tensor([total_loss, float(total_rows)], dtype=torch.float64, device=self.device)
                dist.all_reduce(t)
                train_loss = float(t[0] / t[1].clamp_min(1))
            metrics = self._evaluate()
            lr = self.optimizer.param_groups[0]["lr"]
            row = {"epoch": epoch + 1, "train_loss": train_loss, **metrics, "lr": lr, "seconds": time.time() - te}
            state["history"].append(row)
            self.progress.emit("epoch", stage=self.stage, epoch=epoch + 1, epochs=cfg.epochs, train_loss=train_loss,
                               val_loss=metrics.get("val_loss"), val_accuracy=metrics.get("val_accuracy"), lr=lr, seconds=row["seconds"])
            stop = False
            if cfg.monitor in metrics:
                value = metrics[cfg.monitor]
                better = state["best"] is None or (value > state["best"] if higher else value < state["best"])
                if better:
                    state.update(best=value, best_epoch=epoch + 1, bad=0)
                    if cfg.restore_best:
                        best_state = copy.deepcopy(self.model.state_dict())
                else:
                    state["bad"] += 1
                    stop = cfg.patience > 0 and state["bad"] >= cfg.patience
            if self.distributed:  # every rank follows rank 0's decision
                flag = torch.tensor([1.0 if stop else 0.0], device=self.device)
                dist.broadcast(flag, 0)
                stop = bool(flag.item())
            if stop:
                state["stopped"] = True
            if self._ckpt_path() and ((epoch + 1) % cfg.checkpoint_every == 0 or stop or epoch + 1 == cfg.epochs):
                self.save_checkpoint(epoch, {**state, "best_weights": best_state})
                if self.distributed:
                    dist.barrier()
            if stop:
                result.stopped_early = True
                break
            if cfg.stop_after_epoch is not None and epoch + 1 >= cfg.stop_after_epoch:
                break
        interrupted = cfg.stop_after_epoch is not None and epoch + 1 < cfg.epochs and not result.stopped_early
        result.interrupted = interrupted
        if cfg.restore_best and best_state is not None and not interrupted:
            self.model.load_state_dict(best_state)
        self.model.eval()
        result.history = state["history"]
        result.best_epoch = state["best_epoch"]
        result.best_metric = state["best"]
        result.epochs_run = len(state["history"])
        result.seconds = time.time() - t0
        return result


def _decay_groups(model: nn.Module, weight_decay: float) -> list:
    """No weight decay on biases, norms and embeddings' 1-D parameters."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
