"""Quick mode of both experiments end to end, through the command the Node driver spawns."""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENTS = {"start", "stage", "epoch", "step", "result", "export", "done", "error"}


def run(config, out, *extra):
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "edgeinfer_distill.run", "--config", os.path.join(ROOT, "experiments", config), "--out", str(out),
                        "--quick", *extra], capture_output=True, text=True, env=env, timeout=240)
    events = [json.loads(line) for line in p.stdout.splitlines()]  # stdout: JSON lines only
    return p, events


def check_common(p, events, out):
    assert p.returncode == 0, p.stderr[-3000:]
    assert all(e["event"] in EVENTS for e in events)
    assert events[0]["event"] == "start" and events[-1]["event"] == "done"
    stages = events[0]["stages"]
    assert [e["stage"] for e in events if e["event"] == "stage"] == stages
    for e in events:
        if e["event"] == "epoch":
            assert {"stage", "epoch", "epochs", "train_loss", "val_loss", "val_accuracy", "lr", "seconds"} <= set(e)
        if e["event"] == "result":
            assert {"stage", "model", "params", "accuracy", "macro_f1"} <= set(e) and 0 <= e["accuracy"] <= 1
    results = {e["stage"]: e for e in events if e["event"] == "result"}
    assert {"teacher", "student_distilled", "student_hard", "student_qat_int8"} <= set(results)
    exports = {os.path.basename(e["onnx"]): e for e in events if e["event"] == "export"}
    assert {"student_fp32.onnx", "student_hard.onnx", "student_qat_int8.onnx"} <= set(exports)
    report = json.loads((out / "report.json").read_text())
    assert events[-1]["report"] == str(out / "report.json")
    assert len(report["sweep"]) == 2 and all({"width", "params", "distilled", "hard"} <= set(r) for r in report["sweep"])
    for name in ("test_inputs.npy", "test_labels.npy", "calibration_inputs.npy", "student_qat_int8.torch_outputs.npy"):
        assert (out / name).exists(), name
    x, y = np.load(out / "test_inputs.npy"), np.load(out / "test_labels.npy")
    t = np.load(out / "student_qat_int8.torch_outputs.npy")
    assert y.dtype == np.int64 and len(x) == len(y) == len(t)
    # the exported QDQ model reproduces the fake-quantized PyTorch model (onnxruntime here; the Node side checks our engine)
    q = report["exports"]["student_qat_int8"]
    assert q["onnxruntime_max_abs_diff"] < 2e-2 and q["onnxruntime_argmax_agreement"] >= 0.95
    ops = {n.op_type for n in onnx.load(str(out / "student_qat_int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    return report, x, t


def test_text_quick(tmp_path):
    out = tmp_path / "text"
    p, events = run("text.json", out)
    report, x, t = check_common(p, events, out)
    assert x.dtype == np.int64 and x.shape[1] == report["data"]["length"]
    g = onnx.load(str(out / "student_fp32.onnx")).graph
    assert [i.name for i in g.input] == ["input_ids"] and g.output[0].name == "logits"
    assert t.shape[1] == 30
    assert (out / "data" / "commands" / "labelled.jsonl").exists() and (out / "tokenizer.json").exists()


def test_voice_quick(tmp_path, voice_features):
    out = tmp_path / "voice"
    p, events = run("voice.json", out, "--features", voice_features)
    report, x, t = check_common(p, events, out)
    assert x.dtype == np.float32 and x.shape[1:] == (16, 96)
    m = onnx.load(str(out / "student_qat_int8.onnx"))
    assert m.graph.input[0].name == "embeddings"
    dims = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 16, 96]
    mapping = json.loads(m.graph.output[0].name)
    labels = json.load(open(os.path.join(voice_features, "labels.json")))
    assert mapping == {str(i): labels[i] for i in range(1, len(labels))}
    np.testing.assert_allclose(t.sum(1), 1.0, atol=1e-5)  # probabilities: softmax in the graph


def test_error_event_and_exit_code(tmp_path):
    p, events = run("voice.json", tmp_path / "v", "--features", str(tmp_path / "missing"))
    assert p.returncode != 0 and events[-1]["event"] == "error" and "missing" in events[-1]["message"]
