import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn

from edgeinfer_distill.export import export_onnx, onnx_run, quantize_linear
from edgeinfer_distill.models import ConvHead, DecoderClassifier, WithSoftmax, llama_config
from edgeinfer_distill.qat import (ActObserver, QuantLinear, activation_qparams, calibrate, fake_quant_weight, freeze_observers,
                                   prepare_qat, quantize_weight_codes, weight_scales)


def test_weight_scales_match_engine_convention():
    w = torch.tensor([[0.5, -1.27, 0.1], [0.0, 0.0, 0.0], [2.54, 1.0, -0.3]])
    s = weight_scales(w, 0)
    torch.testing.assert_close(s, torch.tensor([0.01, 1.0, 0.02]))
    q, _ = quantize_weight_codes(w, 0)
    assert q.dtype == torch.int8 and q.abs().max() <= 127 and q.min() >= -127
    assert q[0].tolist() == [50, -127, 10] and q[2].tolist() == [127, 50, -15]
    # per channel along axis 1 (a MatMul weight [in, out])
    torch.testing.assert_close(weight_scales(w.t(), 1), s)


def test_activation_qparams_match_engine_convention():
    # [lo, hi] widened to include 0, scale (hi - lo) / 255, zero point round-half-even(-lo / scale)
    s, z = activation_qparams(-1.0, 3.0)
    assert s == pytest.approx(4 / 255) and z == 64  # 63.75 -> 64
    s, z = activation_qparams(0.5, 2.0)  # all positive: lo = 0
    assert s == pytest.approx(2 / 255) and z == 0
    s, z = activation_qparams(-2.0, -0.5)  # all negative: hi = 0
    assert s == pytest.approx(2 / 255) and z == 255
    assert activation_qparams(0.0, 0.0) == (1.0, 0)
    # half to even: -lo / scale = 127.5 -> 128 (even)
    s, z = activation_qparams(-127.5, 127.5)
    assert z == 128


def test_fake_quant_weight_values_and_straight_through_gradient():
    torch.manual_seed(0)
    w = torch.randn(4, 9, requires_grad=True)
    fq = fake_quant_weight(w, 0)
    q, s = quantize_weight_codes(w, 0)
    torch.testing.assert_close(fq, q.float() * s[:, None])
    assert (fq - w).abs().max() <= s.max() / 2 + 1e-7
    (fq * torch.arange(36.0).view(4, 9)).sum().backward()
    torch.testing.assert_close(w.grad, torch.arange(36.0).view(4, 9))  # STE: identity inside the range


def test_activation_fake_quant_ste_clips_outside_range():
    obs_layer = QuantLinear(3, 2)
    act = obs_layer.act
    act.train()
    act(torch.tensor([[-1.0, 0.0, 2.0]]))
    freeze_observers(obs_layer)
    x = torch.tensor([[-3.0, 0.3, 5.0]], requires_grad=True)
    y = act(x)
    s, z = act.observer.qparams()
    assert y[0, 0].item() == pytest.approx((0 - z) * s) and y[0, 2].item() == pytest.approx((255 - z) * s)
    y.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0]]
    # frozen: more data does not move the range
    act(torch.tensor([[-10.0, 10.0, 0.0]]))
    assert float(act.observer.min_val) == -1.0 and float(act.observer.max_val) == 2.0


def test_observer_ema():
    o = ActObserver(0.5)
    o.observe(torch.tensor([-1.0, 1.0]))
    o.observe(torch.tensor([-3.0, 5.0]))
    assert float(o.min_val) == -2.0 and float(o.max_val) == 3.0


def test_prepare_qat_rules_mixed_precision():
    cfg = llama_config(50, 16, 1, 2, 1, 32, 8, 0)
    m = DecoderClassifier(cfg, 5, 0)
    plan = prepare_qat(m, [["*.self_attn.*", "int8"], ["*.mlp.*", "fp16"], ["*", "fp32"]])
    assert plan["backbone.layers.0.self_attn.q_proj"] == "int8" and plan["backbone.layers.0.mlp.up_proj"] == "fp16"
    assert plan["score"] == "fp32"
    assert type(m.backbone.layers[0].self_attn.k_proj).__name__ == "QuantLinear"
    assert type(m.backbone.layers[0].mlp.down_proj).__name__ == "Fp16Linear"
    assert type(m.score) is nn.Linear


def _agreement(path, x, ref, name):
    out = onnx_run(path, {name: x.numpy()})
    return float((out.argmax(-1) == ref.argmax(-1)).mean()), out


def test_qdq_export_matches_fake_quant_model_voice(tmp_path):
    torch.manual_seed(0)
    m = ConvHead(7, width=16)
    x = torch.randn(400, 12, 96) * 2
    with torch.no_grad():  # a few informative directions so classes are not ties
        m.classifier.weight.mul_(4)
    prepare_qat(m, [["classifier", "fp32"], ["*", "int8"]])
    calibrate(m, [x[:200]], lambda mm, b: mm(b))
    w = WithSoftmax(m).eval()
    with torch.no_grad():
        ref = w(x).numpy()
    path = str(tmp_path / "v.onnx")
    export_onnx(w, (x[:1],), path, ["embeddings"], ['{"1": "a"}'])
    g = onnx.load(path).graph
    ops = [n.op_type for n in g.node]
    assert ops.count("QuantizeLinear") == 2 and ops.count("DequantizeLinear") == 4
    # weights are int8 initializers (zero point 0), activations uint8
    ints = {i.name: i for i in g.initializer}
    assert ints["model.conv1.weight_quantized"].data_type == onnx.TensorProto.INT8
    assert g.output[0].name == '{"1": "a"}'
    agree, out = _agreement(path, x, ref, "embeddings")
    assert agree >= 0.999
    assert np.abs(out - ref).max() < 1e-3


def test_qdq_export_matches_fake_quant_model_llama(tmp_path):
    torch.manual_seed(0)
    cfg = llama_config(60, 32, 2, 4, 2, 64, 12, 0)
    m = DecoderClassifier(cfg, 6, 0)
    ids = torch.randint(3, 60, (300, 12))
    for i in range(len(ids)):
        ids[i, torch.randint(2, 12, ()).item():] = 0
    prepare_qat(m, [["*.self_attn.*", "int8"], ["*.mlp.*", "fp16"], ["*", "fp32"]])
    calibrate(m, [ids[:100]], lambda mm, b: mm(b))
    m.eval()
    with torch.no_grad():
        ref = m(ids).numpy()
    path = str(tmp_path / "t.onnx")
    export_onnx(m, (ids[:1],), path, ["input_ids"], ["logits"])
    g = onnx.load(path).graph
    kinds = {i.name: i.data_type for i in g.initializer}
    assert any(k.endswith("q_proj.weight_quantized") and v == onnx.TensorProto.INT8 for k, v in kinds.items())
    assert any(k.endswith("up_proj.weight_fp16") and v == onnx.TensorProto.FLOAT16 for k, v in kinds.items())
    assert [i.name for i in g.input] == ["input_ids"]
    agree, out = _agreement(path, ids, ref, "input_ids")
    assert agree >= 0.999
    # padding after the last real token changes nothing (no attention mask in the graph)
    a = ids[:1].clone()
    b = a.clone()
    n = int((a != 0).sum())
    b[0, n:] = 0
    torch.testing.assert_close(m(a), m(b))


def test_quantize_linear_semantics():
    x = np.array([[0.5, 1.5, 2.5, -0.5, 300.0]], dtype=np.float32)
    q = quantize_linear(x, np.array(1.0, dtype=np.float32), np.array(0, dtype=np.int8), 1)
    assert q.tolist() == [[0, 2, 2, 0, 127]]  # half to even, saturate
