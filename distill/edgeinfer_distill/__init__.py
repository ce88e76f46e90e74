"""edgeinfer distillation factory: teacher -> student distillation, QAT matching edgeinfer INT8, ONNX export."""

__version__ = "0.1.0"
