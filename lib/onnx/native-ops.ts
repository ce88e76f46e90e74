/** The ops the native backend runs (before and after the graph passes), as validate.opKey() keys. */
const onnxOps = [
  'Abs', 'Add', 'And', 'AveragePool', 'Cast', 'Ceil', 'Clip', 'Concat', 'Constant', 'ConstantOfShape', 'Conv',
  'DequantizeLinear', 'Div', 'Equal', 'Erf', 'Exp', 'Expand', 'Flatten', 'Floor', 'Gather', 'Gelu', 'Gemm',
  'GlobalAveragePool', 'GlobalMaxPool', 'Greater', 'GreaterOrEqual', 'Identity', 'If', 'LayerNormalization', 'LeakyRelu',
  'Less', 'LessOrEqual', 'Log', 'LogSoftmax', 'MatMul', 'Max', 'MaxPool', 'Min', 'Mod', 'Mul', 'Neg', 'Not', 'Or', 'Pad',
  'Pow', 'QuantizeLinear', 'Range', 'Reciprocal', 'ReduceL2', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd',
  'ReduceSum', 'Relu', 'Reshape', 'Shape', 'Sigmoid', 'Slice', 'Softmax', 'Split', 'Sqrt', 'Squeeze', 'Sub', 'Tanh',
  'Transpose', 'Unsqueeze', 'Where', 'Xor',
];
const fused = [
  'FusedGemm', 'FusedMatMul', 'FusedConv', 'LayerNormGelu', 'NhwcConv', 'NhwcMaxPool', 'NhwcAveragePool',
  'QLinearFusedMatMul', 'QLinearFusedGemm', 'QLinearFusedConv', 'QuantizeDequantize',
];

/** Keys as validate.opKey() forms them: the op type for the ONNX domain, "domain:Op" otherwise. */
export const nativeOps: Set<string> = new Set([...onnxOps, ...fused.map((op) => `edgeinfer:${op}`)]);
