/**
 * ONNX Runtime's QOperator format (quantize_static with QuantFormat.QOperator) and quantize_dynamic's ConvInteger:
 * QLinearConv / QLinearMatMul of the ONNX domain and the com.microsoft ops its quantizer writes. The native
 * backend runs none of them as such: passes/expand-qoperator.ts rewrites each into DequantizeLinear -> the float
 * op -> QuantizeLinear, the QDQ form the INT8 fusions (passes/fuse-qdq.ts) turn into the same kernels a QDQ
 * model gets. Shape rules for the ONNX-domain ones (shape inference skips other domains' nodes).
 */
import { convShape, matMulShape } from '../shape-ops-nn';
import type { ShapeRule } from '../shape-context';
import { declareOps } from './registry';

/** The output dtype of a QLinear op: its y_zero_point's (uint8 when omitted). */
const quantizedOutput = (zeroPointIndex: number, shape: ShapeRule): ShapeRule => (ctx) => {
  const result = shape(ctx);
  const dtype = ctx.has(zeroPointIndex) ? (ctx.input(zeroPointIndex).dtype ?? 'uint8') : 'uint8';
  return { outputs: [{ ...result.outputs[0], dtype }] };
};

// QLinearConv: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B?
const qlinearConv = quantizedOutput(7, (ctx) => ({ outputs: [convShape(ctx, 0, 3, 8)] }));
// QLinearMatMul: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point
const qlinearMatMul = quantizedOutput(7, (ctx) => ({ outputs: [matMulShape(ctx, 0, 3)] }));
/** Shape inference does not run rules of other domains; declared for the support check and the expansion. */
const notInferred: ShapeRule = (ctx) => ({ outputs: ctx.node.outputs.map(() => ({})) });

// ConvInteger (quantize_dynamic): x, w, x_zero_point?, w_zero_point? -> int32; fused with its DynamicQuantizeLinear,
// Cast and scale Mul onto the INT8 conv by passes/fuse-dynamic-quant.ts (a constant weight is all it needs).
const convInteger: ShapeRule = (ctx) => ({ outputs: [{ ...convShape(ctx, 0, 1, -1), dtype: 'int32' }] });

declareOps(
  { domain: '', op: 'ConvInteger', shape: convInteger, native: 'expanded' },
  { domain: '', op: 'QLinearConv', shape: qlinearConv, native: 'expanded' },
  { domain: '', op: 'QLinearMatMul', shape: qlinearMatMul, native: 'expanded' },
  ...['QGemm', 'QLinearAdd', 'QLinearMul', 'QLinearGlobalAveragePool', 'QLinearAveragePool', 'QLinearSigmoid', 'QLinearLeakyRelu', 'QLinearConcat', 'QLinearSoftmax', 'DynamicQuantizeLSTM'].map((op) => ({
    domain: 'com.microsoft',
    op,
    shape: notInferred,
    native: 'expanded' as const,
  })),
);
