"""Quantization-aware training that matches edgeinfer's INT8 (lib/quantization/qdq-writer.ts,
cpp/calib/threshold.cc), and the mixed precision the seed ran.

Conventions (ONNX / ONNX Runtime compute_scale_zp, as edgeinfer's quantizer):
- weights: per output channel, symmetric int8 on [-127, 127], zero point 0, scale = max|w_c| / 127 from the
  weights themselves (a channel of zeros gets scale 1);
- activations: per tensor, asymmetric uint8 on [0, 255]: the range [lo, hi] is widened to include 0,
  scale = (hi - lo) / 255, zero point = round-half-even(-lo / scale) clamped to [0, 255] (scale below
  FLT_MIN: scale 1, zero point 0); lo / hi are observed as an exponential moving average of each batch's
  min / max (PyTorch's MovingAverageMinMaxObserver, constant 0.01), frozen for the last epochs;
- q = saturate(round-half-even(x / scale) + zero point), x' = (q - zero point) * scale; gradients pass
  straight through (STE) inside the range and stop outside it (torch.fake_quantize_*).
Only the inputs of INT8 layers are quantized (one Q -> DQ pair per input, like the QDQ writer); outputs and
biases stay float (the writer's int32 bias codes dequantize to within half a code of the float bias).

Precision per module, by `fnmatch` patterns over module names, first match wins, e.g.
    [["*.self_attn.*", "int8"], ["*.mlp.*", "fp16"], ["score", "fp32"], ["*", "int8"]]
INT8 layers (Linear, Conv1d, Conv2d) get fake quant; FP16 layers have their weights rounded to float16 (STE);
FP32 layers, embeddings, norms and anything else stay float.
"""
from __future__ import annotations

import fnmatch
from typing import Iterable, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

FLT_MIN = torch.finfo(torch.float32).tiny
WEIGHT_QMAX = 127
ACT_QMIN, ACT_QMAX = 0, 255


def weight_scales(weight: torch.Tensor, axis: int = 0) -> torch.Tensor:
    """Symmetric int8 per-channel scales along `axis`: max|w| / 127 (float32), 1 for an all-zero channel."""
    w = weight.detach().float()
    dims = [d for d in range(w.ndim) if d != axis]
    m = w.abs().amax(dim=dims) if dims else w.abs()
    # as threshold.cc: range [-m, m] -> (hi - lo) / (qmax - qmin) = 2m / 254, computed in double, stored as float
    scale = (2.0 * m.double() / 254.0).float()
    return torch.where(scale >= FLT_MIN, scale, torch.ones_like(scale))


def activation_qparams(lo: float, hi: float) -> tuple[float, int]:
    """uint8 asymmetric scale / zero point for a range (edgeinfer's quantization_params(..., symmetric=false, uint8))."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = (hi - lo) / 255.0
    scale32 = float(torch.tensor(scale, dtype=torch.float32))
    if not scale32 >= FLT_MIN:
        return 1.0, 0
    zp = torch.round(torch.tensor(ACT_QMIN - lo / scale, dtype=torch.float64)).item()  # torch.round: half to even
    return scale32, int(min(max(zp, ACT_QMIN), ACT_QMAX))


def quantize_weight_codes(weight: torch.Tensor, axis: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """int8 codes and scales, ONNX QuantizeLinear semantics (x / scale, round half to even, saturate)."""
    scale = weight_scales(weight, axis)
    shape = [1] * weight.ndim
    shape[axis] = -1
    q = torch.round(weight.detach().float() / scale.view(shape)).clamp(-WEIGHT_QMAX, WEIGHT_QMAX).to(torch.int8)
    return q, scale


def fake_quant_weight(weight: torch.Tensor, axis: int = 0, scale: Optional[torch.Tensor] = None) -> torch.Tensor:
    scale = weight_scales(weight, axis) if scale is None else scale
    zp = torch.zeros(scale.shape, dtype=torch.int32, device=weight.device)
    # quant range (-128, 127) with scales on [-127, 127]: no weight reaches -128, and the exporter accepts the range
    return torch.fake_quantize_per_channel_affine(weight, scale.to(weight.device), zp, axis, -128, 127)


class ActObserver(nn.Module):
    """EMA min / max of a tensor (per tensor), updated in training mode until frozen."""

    def __init__(self, averaging_constant: float = 0.01):
        super().__init__()
        self.c = averaging_constant
        self.register_buffer("min_val", torch.tensor(0.0))
        self.register_buffer("max_val", torch.tensor(0.0))
        self.register_buffer("initialized", torch.tensor(False))
        self.register_buffer("frozen", torch.tensor(False))

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> None:
        if bool(self.frozen):
            return
        lo, hi = x.detach().float().min(), x.detach().float().max()
        if not bool(self.initialized):
            self.min_val.copy_(lo)
            self.max_val.copy_(hi)
            self.initialized.fill_(True)
        else:
            self.min_val.add_(self.c * (lo - self.min_val))
            self.max_val.add_(self.c * (hi - self.max_val))

    def qparams(self) -> tuple[float, int]:
        return activation_qparams(float(self.min_val), float(self.max_val))


class FakeQuantActivation(nn.Module):
    """Observer + per-tensor uint8 fake quantization (exports as QuantizeLinear -> DequantizeLinear)."""

    def __init__(self, averaging_constant: float = 0.01):
        super().__init__()
        self.observer = ActObserver(averaging_constant)
        self.enabled = True  # fake quantize (False: observe only, e.g. calibration)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or not bool(self.observer.initialized):
            self.observer.observe(x)
        if not self.enabled:
            return x
        scale, zp = self.observer.qparams()
        return torch.fake_quantize_per_tensor_affine(x, torch.tensor([scale], dtype=torch.float32, device=x.device),
                                                     torch.tensor([zp], dtype=torch.int32, device=x.device), ACT_QMIN, ACT_QMAX)


# Export form (see export_mode): weights become constant buffers whose names the ONNX post-processing
# (export.finalize_onnx) recognises: `<layer>.qdq_weight` (+ `.qdq_scale`): QuantizeLinear of it is folded to an
# int8 initializer; `<layer>.fp16_weight`: stored as float16 and read through Cast. A Linear's weight is kept
# transposed ([in, out], per-channel axis 1) so that DequantizeLinear feeds MatMul directly, as ONNX Runtime's
# quantizer writes it.
def _export_linear(module: nn.Linear, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    y = torch.matmul(x, weight)
    return y + module.bias if module.bias is not None else y


class QuantLinear(nn.Linear):
    """nn.Linear with INT8 fake quant: uint8 per-tensor input, int8 per-output-channel weight."""

    precision = "int8"
    exporting = False

    def __init__(self, in_features, out_features, bias=True, averaging_constant=0.01):
        super().__init__(in_features, out_features, bias)
        self.act = FakeQuantActivation(averaging_constant)

    def forward(self, x):
        if self.exporting:
            w = fake_quant_weight(self.qdq_weight, 1, self.qdq_scale)
            return _export_linear(self, self.act(x), w)
        return F.linear(self.act(x), fake_quant_weight(self.weight, 0), self.bias)


class _QuantConv:
    """Fake-quantized input and per-output-channel weights for nn.Conv1d / nn.Conv2d (mixed in before them)."""

    precision = "int8"
    exporting = False

    def __init__(self, *args, averaging_constant=0.01, **kwargs):
        super().__init__(*args, **kwargs)
        self.act = FakeQuantActivation(averaging_constant)

    def forward(self, x):
        if self.exporting:
            return self._conv_forward(self.act(x), fake_quant_weight(self.qdq_weight, 0, self.qdq_scale), self.bias)
        return self._conv_forward(self.act(x), fake_quant_weight(self.weight, 0), self.bias)


class QuantConv1d(_QuantConv, nn.Conv1d):
    pass


class QuantConv2d(_QuantConv, nn.Conv2d):
    pass


def _fp16_ste(w: torch.Tensor) -> torch.Tensor:
    return w + (w.to(torch.float16).to(w.dtype) - w).detach()


class Fp16Linear(nn.Linear):
    """nn.Linear whose weight is rounded to float16 (STE): the model edgeinfer's FP16 nodes run."""

    precision = "fp16"
    exporting = False

    def forward(self, x):
        if self.exporting:
            return _export_linear(self, x, self.fp16_weight)
        return F.linear(x, _fp16_ste(self.weight), self.bias)


class Fp16Conv1d(nn.Conv1d):
    precision = "fp16"
    exporting = False

    def forward(self, x):
        if self.exporting:
            return self._conv_forward(x, self.fp16_weight, self.bias)
        return self._conv_forward(x, _fp16_ste(self.weight), self.bias)


class export_mode:
    """Context manager: puts every fake-quant / fp16 layer of `model` in its export form (constant weight buffers
    named for export.finalize_onnx) and the model in eval mode; restores the training form on exit."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.layers = [m for m in model.modules() if getattr(type(m), "precision", None) in ("int8", "fp16")]

    def __enter__(self):
        self.model.eval()
        for m in self.layers:
            w = m.weight.detach().float()
            if m.precision == "int8":
                if isinstance(m, nn.Linear):
                    wt = w.t().contiguous()
                    m.register_buffer("qdq_weight", wt)
                    m.register_buffer("qdq_scale", weight_scales(wt, 1))
                else:
                    m.register_buffer("qdq_weight", w.clone())
                    m.register_buffer("qdq_scale", weight_scales(w, 0))
            else:
                r = w.to(torch.float16).float()
                m.register_buffer("fp16_weight", r.t().contiguous() if isinstance(m, nn.Linear) else r)
            m.exporting = True
        return self.model

    def __exit__(self, *exc):
        for m in self.layers:
            m.exporting = False
            for b in ("qdq_weight", "qdq_scale", "fp16_weight"):
                if b in m._buffers:
                    del m._buffers[b]
        return False


_SWAPS = {
    "int8": {nn.Linear: QuantLinear, nn.Conv1d: QuantConv1d, nn.Conv2d: QuantConv2d},
    "fp16": {nn.Linear: Fp16Linear, nn.Conv1d: Fp16Conv1d},
}


def precision_for(name: str, rules: Sequence[Sequence[str]], default: str = "fp32") -> str:
    for pattern, precision in rules:
        if fnmatch.fnmatchcase(name, pattern):
            return precision
    return default


def _clone_into(cls, old: nn.Module, averaging_constant: float) -> nn.Module:
    new = cls.__new__(cls)
    new.__dict__ = old.__dict__.copy()
    new._parameters = dict(old._parameters)
    new._buffers = dict(old._buffers)
    new._modules = dict(old._modules)
    if getattr(cls, "precision", None) == "int8":
        nn.Module.__setattr__(new, "act", FakeQuantActivation(averaging_constant).to(old.weight.device))
    return new


def prepare_qat(model: nn.Module, rules: Sequence[Sequence[str]], default: str = "fp32", averaging_constant: float = 0.01) -> dict[str, str]:
    """Swaps Linear / Conv layers in place for their fake-quant (int8) or fp16 forms by rule; returns {name: precision}
    of every swappable layer (fp32 ones included). Parameters are kept (same tensors)."""
    plan: dict[str, str] = {}
    for name, module in list(model.named_modules()):
        kind = type(module)
        if kind not in (nn.Linear, nn.Conv1d, nn.Conv2d):
            continue
        precision = precision_for(name, rules, default)
        if precision not in ("int8", "fp16", "fp32"):
            raise ValueError(f"precision must be int8, fp16 or fp32, got {precision!r} for {name}")
        plan[name] = precision
        swap = _SWAPS.get(precision, {}).get(kind)
        if swap is None:
            if precision != "fp32":
                plan[name] = "fp32"
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, _clone_into(swap, module, averaging_constant))
    return plan


def fake_quant_modules(model: nn.Module) -> Iterable[FakeQuantActivation]:
    return (m for m in model.modules() if isinstance(m, FakeQuantActivation))


def freeze_observers(model: nn.Module, frozen: bool = True) -> None:
    for m in fake_quant_modules(model):
        m.observer.frozen.fill_(frozen)


def set_fake_quant(model: nn.Module, enabled: bool) -> None:
    for m in fake_quant_modules(model):
        m.enabled = enabled


@torch.no_grad()
def calibrate(model: nn.Module, batches: Iterable, forward) -> None:
    """Initialises the activation ranges by running `forward(model, batch)` with fake quant off (observers
    update as in training; dropout stays off)."""
    set_fake_quant(model, False)
    was = model.training
    model.eval()
    for m in fake_quant_modules(model):
        m.observer.train()
        m.train()  # observe in calibration even though the rest of the model is in eval mode
    for batch in batches:
        forward(model, batch)
    model.train(was)
    if not was:
        model.eval()
    set_fake_quant(model, True)


def qat_summary(model: nn.Module) -> dict:
    """{"int8": [...], "fp16": [...]} names, plus activation ranges of the int8 layers."""
    out = {"int8": [], "fp16": [], "activations": {}}
    for name, m in model.named_modules():
        p = getattr(type(m), "precision", None)
        if p in ("int8", "fp16"):
            out[p].append(name)
        if isinstance(m, FakeQuantActivation):
            s, z = m.observer.qparams()
            out["activations"][name] = {"min": float(m.observer.min_val), "max": float(m.observer.max_val), "scale": s, "zero_point": z}
    return out
