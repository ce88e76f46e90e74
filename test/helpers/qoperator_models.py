"""QOperator models for test/qoperator.test.ts, made with ONNX Runtime's own quantizer (quantize_static,
QuantFormat.QOperator: uint8 activations, int8 weights per channel) from float models:

    python qoperator_models.py OUT_DIR [ZOO_MODEL.onnx ...]

OUT_DIR/synthetic_qop.onnx: a small CNN whose float ops become every QLinear op the quantizer writes for CNNs
(QLinearConv, QLinearLeakyRelu, QLinearSigmoid, QLinearAdd, QLinearMul, QLinearConcat, QLinearAveragePool,
QLinearGlobalAveragePool, QGemm, QLinearMatMul) plus a MaxPool and a Flatten left on bytes; each zoo model
given becomes OUT_DIR/<name>_qop.onnx (a transformer adds QLinearSoftmax), and a CNN with quantize_dynamic
(ConvInteger; int8 weights) OUT_DIR/<name>_dynamic.onnx; OUT_DIR/lstm_dynamic.onnx is a bidirectional LSTM
through quantize_dynamic (com.microsoft DynamicQuantizeLSTM). Calibration: 8 seeded standard-normal samples. Prints one JSON line per model:
its file and op histogram.
"""
import json
import os
import sys
from collections import Counter

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static


class RandomReader(CalibrationDataReader):
    def __init__(self, model_path):
        model = onnx.load(model_path, load_external_data=False)
        initializers = {i.name for i in model.graph.initializer}
        self.inputs = []
        for value in model.graph.input:
            if value.name in initializers:
                continue
            # Symbolic dims: batch 1, sequences 16 (the zoo's convention).
            dims = [d.dim_value if d.dim_value > 0 else (16 if "seq" in d.dim_param else 1) for d in value.type.tensor_type.shape.dim]
            self.inputs.append((value.name, dims, value.type.tensor_type.elem_type))
        self.rng = np.random.default_rng(1)
        self.left = 8

    def get_next(self):
        if self.left == 0:
            return None
        self.left -= 1
        return {name: self.sample(name, dims, dtype) for name, dims, dtype in self.inputs}

    def sample(self, name, dims, dtype):
        if dtype != TensorProto.INT64:
            return self.rng.standard_normal(dims).astype(np.float32)
        # Token ids below the zoo's vocabulary (1000); attention masks all ones.
        return np.ones(dims, np.int64) if "mask" in name else self.rng.integers(0, 1000, dims).astype(np.int64)


def synthetic(path):
    rng = np.random.default_rng(7)
    weights = {}

    def weight(name, *dims, scale=0.3):
        weights[name] = numpy_helper.from_array((rng.standard_normal(dims) * scale).astype(np.float32), name)
        return name

    nodes = [
        helper.make_node("Conv", ["x", weight("w1", 8, 4, 3, 3), weight("b1", 8)], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", weight("w2", 8, 8, 1, 1), weight("b2", 8)], ["c2"]),
        helper.make_node("LeakyRelu", ["c2"], ["l2"], alpha=0.1),
        helper.make_node("Conv", ["p1", weight("w3", 8, 8, 1, 1)], ["c3"]),
        helper.make_node("Sigmoid", ["c3"], ["s3"]),
        helper.make_node("Add", ["l2", "s3"], ["a"]),
        helper.make_node("Mul", ["a", "s3"], ["m"]),
        helper.make_node("Concat", ["a", "m"], ["cat"], axis=1),
        helper.make_node("AveragePool", ["cat"], ["ap"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["ap"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", weight("wg", 10, 16), weight("bg", 10)], ["y1"], transB=1),
        helper.make_node("MatMul", ["y1", weight("wm", 10, 6)], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "synthetic",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])],
        list(weights.values()),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="qoperator_models.py")
    model.ir_version = 8
    onnx.save(model, path)


def report(target):
    ops = Counter((n.domain + ":" if n.domain else "") + n.op_type for n in onnx.load(target).graph.node)
    print(json.dumps({"file": target, "ops": dict(ops)}), flush=True)


def lstm(path):
    """A bidirectional LSTM (quantize_dynamic turns it into com.microsoft DynamicQuantizeLSTM)."""
    rng = np.random.default_rng(11)
    hidden, features = 24, 16

    def tensor(name, *dims):
        return numpy_helper.from_array((rng.standard_normal(dims) * 0.3).astype(np.float32), name)

    weights = [tensor("W", 2, 4 * hidden, features), tensor("R", 2, 4 * hidden, hidden), tensor("B", 2, 8 * hidden)]
    node = helper.make_node("LSTM", ["x", "W", "R", "B"], ["y", "y_h"], hidden_size=hidden, direction="bidirectional")
    graph = helper.make_graph(
        [node],
        "lstm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [10, 1, features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [10, 2, 1, hidden]), helper.make_tensor_value_info("y_h", TensorProto.FLOAT, [2, 1, hidden])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="qoperator_models.py")
    model.ir_version = 8
    onnx.save(model, path)


def quantize(source, target):
    quantize_static(source, target, RandomReader(source), quant_format=QuantFormat.QOperator, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    report(target)


def quantize_dynamically(source, target):
    quantize_dynamic(source, target, weight_type=QuantType.QInt8)
    report(target)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    float_path = os.path.join(out, "synthetic_float.onnx")
    synthetic(float_path)
    quantize(float_path, os.path.join(out, "synthetic_qop.onnx"))
    lstm_path = os.path.join(out, "lstm_float.onnx")
    lstm(lstm_path)
    quantize_dynamically(lstm_path, os.path.join(out, "lstm_dynamic.onnx"))
    for source in sys.argv[2:]:
        name = os.path.splitext(os.path.basename(source))[0]
        quantize(source, os.path.join(out, f"{name}_qop.onnx"))
        if not name.startswith("tfm_"):  # the zoo already has quantize_dynamic transformers
            quantize_dynamically(source, os.path.join(out, f"{name}_dynamic.onnx"))


if __name__ == "__main__":
    main()
