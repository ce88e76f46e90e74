/**
 * The ops the graph passes (lib/onnx/passes/) produce and the lowering (lib/onnx/lower.ts) consumes.
 * ONNX ops keep the ONNX domain '' and their ONNX attributes: LayerNormalization (axis, epsilon; inputs
 * X, Scale, B?) and Gelu (approximate 'none' | 'tanh'), and Gemm / Conv with bias. The rest are in domain
 * 'edgeinfer' (the passes add the opset import { edgeinfer: 1 }).
 *
 * Activation convention, shared by FusedGemm, FusedMatMul, FusedConv and the QLinearFused* ops:
 *   activation: string       '' (none) | 'Relu' | 'LeakyRelu' | 'Sigmoid' | 'Clip' | 'Gelu' | 'HardSigmoid' |
 *                            'HardSwish' | 'Silu' (x * Sigmoid(x), from Mul(x, Sigmoid(x)))
 *   activation_params: floats LeakyRelu: [alpha]; Clip: [min, max] (±Infinity when not given, encoded as
 *                             ±3.4028234663852886e38); HardSigmoid: [alpha, beta]; others: []
 *   approximate: string       only with 'Gelu': 'none' (erf) | 'tanh'
 * applied to the output after bias: y = act(op(x) + bias).
 */

export const fusedDomain = 'edgeinfer';
export const fusedOpsetVersion = 1;

export const activationKinds = ['Relu', 'LeakyRelu', 'Sigmoid', 'Clip', 'Gelu', 'HardSigmoid', 'HardSwish', 'Silu'] as const;
export type ActivationKind = (typeof activationKinds)[number];

/** Largest float32, standing in for ±Infinity in Clip bounds. */
export const clipUnbounded = 3.4028234663852886e38;

/**
 * Attributes and inputs of each fused op. `inputs` lists positions; '?' marks optional ones (an omitted
 * optional input is '' in node.inputs).
 */
export const fusedOps = {
  /** Gemm (+ activation). Inputs A, B, C?; attributes alpha, beta, transA, transB as Gemm, plus activation. */
  FusedGemm: { inputs: ['A', 'B', 'C?'], attributes: ['alpha', 'beta', 'transA', 'transB', 'activation', 'activation_params', 'approximate'] },
  /**
   * numpy MatMul of A [..., M, K] by B [..., K, N] plus bias [N] over the last dim (+ activation). Made
   * from MatMul + Add(constant [N]) when A is not 2-D (2-D gives a Gemm), or MatMul + activation.
   * transB = 1: B arrives as [..., N, K] (a Transpose of its last two dims folded in, read in place).
   */
  FusedMatMul: { inputs: ['A', 'B', 'bias?'], attributes: ['activation', 'activation_params', 'approximate', 'transB'] },
  /**
   * Conv with bias and activation. Inputs X, W, B?; attributes as ONNX Conv (auto_pad, dilations, group,
   * kernel_shape, pads, strides) plus activation. 1-D and 2-D.
   */
  FusedConv: { inputs: ['X', 'W', 'B?'], attributes: ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides', 'activation', 'activation_params', 'approximate'] },
  /**
   * Channels-last forms made by the channels-last pass (lib/onnx/passes/channels-last.ts): X and Y are
   * [N, H, W, C]; W keeps the ONNX [M, C / group, kH, kW]; group 1, or depthwise (group = C = M). Attributes
   * as FusedConv plus
   *   output_min: float  y = max(act(conv(x) + bias), output_min) (a following Max with a constant); default -inf
   */
  NhwcConv: { inputs: ['X', 'W', 'B?'], attributes: ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides', 'activation', 'activation_params', 'approximate', 'output_min'] },
  /** MaxPool / AveragePool on [N, H, W, C] with their ONNX attributes (MaxPool: no indices output). */
  NhwcMaxPool: { inputs: ['X'], attributes: ['auto_pad', 'ceil_mode', 'dilations', 'kernel_shape', 'pads', 'storage_order', 'strides'] },
  NhwcAveragePool: { inputs: ['X'], attributes: ['auto_pad', 'ceil_mode', 'count_include_pad', 'dilations', 'kernel_shape', 'pads', 'strides'] },
  /** GlobalAveragePool / GlobalMaxPool on [N, H, W, C] (or [N, W, C]): Y is [N, 1, 1, C] (or [N, 1, C]). */
  NhwcGlobalAveragePool: { inputs: ['X'], attributes: [] },
  NhwcGlobalMaxPool: { inputs: ['X'], attributes: [] },
  /** LayerNormalization then Gelu. Inputs X, Scale, B?; attributes axis (-1), epsilon, approximate. */
  LayerNormGelu: { inputs: ['X', 'Scale', 'B?'], attributes: ['axis', 'epsilon', 'approximate'] },
  /**
   * INT8 versions, from QDQ graphs: DequantizeLinear(W_q constant, w_scale, w_zero_point) feeding the op's
   * weight, and (optional) QuantizeLinear -> DequantizeLinear on the activation input.
   *   inputs: x (float, before its QuantizeLinear), x_scale?, x_zero_point?, w (int8/uint8 constant),
   *           w_scale (scalar or per output channel), w_zero_point?, bias? (float)
   *   x_scale omitted ('') means: quantize x dynamically per tensor per call.
   *   attributes: those of the base op (Gemm / FusedMatMul / Conv incl. activation) plus
   *           w_axis: int   the DequantizeLinear axis of the weight (per-channel), default 1
   * Output float32: act(dequant(quant(x) * w) + bias), i.e. what the QDQ graph computes.
   */
  QLinearFusedMatMul: { inputs: ['x', 'x_scale?', 'x_zero_point?', 'w', 'w_scale', 'w_zero_point?', 'bias?'], attributes: ['w_axis', 'activation', 'activation_params', 'approximate', 'dynamic_quantization'] },
  QLinearFusedGemm: { inputs: ['x', 'x_scale?', 'x_zero_point?', 'w', 'w_scale', 'w_zero_point?', 'bias?'], attributes: ['alpha', 'beta', 'transA', 'transB', 'w_axis', 'activation', 'activation_params', 'approximate'] },
  QLinearFusedConv: { inputs: ['x', 'x_scale?', 'x_zero_point?', 'w', 'w_scale', 'w_zero_point?', 'bias?'], attributes: ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides', 'w_axis', 'activation', 'activation_params', 'approximate', 'dynamic_quantization'] },
  /**
   * QLinearFusedConv on [N, H, W, C] (or [N, W, C]) made by the channels-last pass; group 1. y_scale /
   * y_zero_point (passes/fuse-output-qdq.ts): a QuantizeLinear -> DequantizeLinear of the output, per tensor,
   * applied by the conv (the output is then the fake-quantized value). output_levels = 1 (passes/byte-activations.ts):
   * the output is the uint8 levels themselves, read only by INT8 convs quantizing with y_scale / y_zero_point; x
   * may likewise be uint8 levels of x_scale / x_zero_point.
   */
  NhwcQLinearFusedConv: { inputs: ['x', 'x_scale?', 'x_zero_point?', 'w', 'w_scale', 'w_zero_point?', 'bias?', 'y_scale?', 'y_zero_point?'], attributes: ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides', 'w_axis', 'activation', 'activation_params', 'approximate', 'dynamic_quantization', 'output_levels'] },
  /**
   * A QuantizeLinear -> DequantizeLinear pair on an activation that no INT8 op absorbed (fake quantization).
   * Inputs x, scale, zero_point?; attribute axis (as QuantizeLinear); output float like x, and optionally a
   * second output with the levels themselves (the zero point's type), for INT8 convs that read them as they
   * are (passes/byte-activations.ts).
   */
  QuantizeDequantize: { inputs: ['x', 'scale', 'zero_point?'], attributes: ['axis'] },
  /**
   * a + b of two fake-quantized tensors of one shape, quantized per tensor to uint8 as ONNX Runtime's QLinearAdd
   * computes it (passes/fuse-quantized-add.ts; cpp kernels.h QuantizedAddArgs). Output: the dequantized levels
   * (floats), and optionally a second output with the levels; output_levels = 1: the one output is the levels.
   */
  QuantizedAdd: { inputs: ['a', 'a_scale', 'a_zero_point', 'b', 'b_scale', 'b_zero_point', 'c_scale', 'c_zero_point'], attributes: ['output_levels'] },
} as const;

export type FusedOpType = keyof typeof fusedOps;
