"""ONNX export (TorchScript exporter, opset 17, fixed shapes) and the post-processing that turns a fake-quant
export into standard QDQ as ONNX Runtime's quantizer writes it (and edgeinfer's native backend fuses):

- QuantizeLinear(float weight initializer `*.qdq_weight`, scale, zero point) -> its int8 codes as an
  initializer (round half to even, saturate: QuantizeLinear's own semantics), read by DequantizeLinear;
- `*.fp16_weight` initializers -> float16 initializers read through Cast(to float) (edgeinfer's FP16 nodes);
- unused initializers dropped, the model checked.
"""
from __future__ import annotations

import contextlib
import io
import os
import warnings
from typing import Optional, Sequence

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import helper, numpy_helper

from .qat import export_mode

OPSET = 17


@contextlib.contextmanager
def stdout_to_stderr():
    """Sends everything written to stdout (Python and native code, file descriptor 1) to stderr meanwhile."""
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def export_onnx(model: nn.Module, example: Sequence[torch.Tensor], path: str, input_names: Sequence[str], output_names: Sequence[str],
                opset: int = OPSET, dynamic_axes: Optional[dict] = None) -> str:
    """Exports `model` (fake-quant layers in their export form) and post-processes it; returns `path`."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    model = model.cpu()
    with export_mode(model), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the exporter prints diagnostics on stdout (also from C++): keep stdout for JSON lines only
        with stdout_to_stderr():
            torch.onnx.export(model, tuple(t.cpu() for t in example), path, input_names=list(input_names), output_names=list(output_names),
                              opset_version=opset, do_constant_folding=True, dynamo=False, dynamic_axes=dynamic_axes)
    finalize_onnx(path)
    return path


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant" and len(n.output) == 1:
            for a in n.attribute:
                if a.name == "value":
                    values[n.output[0]] = numpy_helper.to_array(a.t)
    return values


def quantize_linear(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, axis: int) -> np.ndarray:
    """ONNX QuantizeLinear (opset 13+): saturate(round_half_even(x / scale) + zp)."""
    x = x.astype(np.float32)
    scale = scale.astype(np.float32)
    if scale.ndim == 1 and scale.size > 1:
        shape = [1] * x.ndim
        shape[axis] = -1
        scale = scale.reshape(shape)
        zp = zero_point.astype(np.int32).reshape(shape)
    else:
        zp = zero_point.astype(np.int32)
    info = np.iinfo(zero_point.dtype)
    q = np.rint(x / scale).astype(np.int64) + zp
    return np.clip(q, info.min, info.max).astype(zero_point.dtype)


def finalize_onnx(path: str) -> onnx.ModelProto:
    model = onnx.load(path)
    g = model.graph
    consts = _constants(g)
    inits = {i.name: i for i in g.initializer}
    new_nodes = []
    removed_q = {}
    for n in g.node:
        if n.op_type == "QuantizeLinear" and n.input[0] in inits and n.input[0].endswith("qdq_weight") and all(i in consts for i in n.input[1:3]):
            axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
            x, scale, zp = consts[n.input[0]], consts[n.input[1]], consts[n.input[2]]
            codes = quantize_linear(x, scale, zp, axis)
            name = n.input[0].replace("qdq_weight", "weight_quantized")
            g.initializer.append(numpy_helper.from_array(codes, name))
            removed_q[n.output[0]] = name
            continue
        new_nodes.append(n)
    # fp16 weights read through Cast
    casts = []
    for init in list(g.initializer):
        if init.name.endswith("fp16_weight") and init.data_type == onnx.TensorProto.FLOAT:
            arr = numpy_helper.to_array(init).astype(np.float16)
            half = init.name.replace("fp16_weight", "weight_fp16")
            g.initializer.append(numpy_helper.from_array(arr, half))
            casts.append(helper.make_node("Cast", [half], [half + "_float"], name=init.name + "_Cast", to=onnx.TensorProto.FLOAT))
            removed_q[init.name] = half + "_float"
    for n in new_nodes:
        for k, name in enumerate(n.input):
            if name in removed_q:
                n.input[k] = removed_q[name]
    del g.node[:]
    g.node.extend(casts + new_nodes)
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return model


def onnx_run(path: str, feeds: dict[str, np.ndarray], batch: bool = False) -> np.ndarray:
    """Runs the model with ONNX Runtime (CPU), one row at a time unless `batch` (fixed-shape exports take [1, ...])."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    name = sess.get_outputs()[0].name
    if batch:
        return sess.run([name], feeds)[0]
    n = len(next(iter(feeds.values())))
    return np.concatenate([sess.run([name], {k: v[i:i + 1] for k, v in feeds.items()})[0] for i in range(n)])


def ops_of(path: str) -> list[str]:
    return sorted({n.op_type for n in onnx.load(path).graph.node})
