/**
 * Quantization: QuantizeLinear / DequantizeLinear, and the forms the QDQ fusion (passes/fuse-qdq.ts) makes
 * of them: QuantizeDequantize (fake quantization) and the QLinearFused* ops that run INT8 kernels.
 */
import type { NativePlanStep } from '../../native';
import { channelsLast, dequantize, dynamicQuantize, qlinearConvRule, qlinearGemmRule, qlinearMatMulRule, quantize, sameShapeRule } from '../shape-ops-nn';
import { toNumbers } from '../tensor';
import { activation, activationParams, floatAttr, intAttr } from './nn';
import { declareOps, type LowerContext } from './registry';
import type { ShapeRule } from '../shape-context';

/**
 * ints [axis] normalised against the input's rank (a scalar counts as rank 1). With one scale the axis means
 * nothing (ONNX: ignored for per-tensor quantization), so the default 1 of a rank-1 input is no error: 0.
 */
function lowerQuantizeLinear(ctx: LowerContext): NativePlanStep {
  const perTensor = ctx.dims(ctx.node.inputs[1]).reduce((a, b) => a * b, 1) === 1;
  const axis = perTensor ? 0 : ctx.axis(intAttr(ctx.node, 'axis', 1), Math.max(1, ctx.rank(ctx.node.inputs[0])));
  return ctx.step([ctx.node.inputs[0], ctx.node.inputs[1], ctx.node.inputs[2] ?? ''], [axis]);
}

function lowerQuantizeDequantize(ctx: LowerContext): NativePlanStep {
  const zeroPoint = ctx.node.inputs[2] ? ctx.dtype(ctx.node.inputs[2]) : 'uint8';
  if (zeroPoint !== 'uint8' && zeroPoint !== 'int8') ctx.fail(`fake quantization to ${zeroPoint} is not supported (uint8 or int8)`, 'EDGEINFER_UNSUPPORTED_OP');
  return lowerQuantizeLinear(ctx);
}

/**
 * QLinearFused{MatMul,Gemm,Conv} (lib/onnx/fused-ops.ts) -> QLinear{MatMul,Gemm,Conv} (plan.h): the float
 * op's ints and floats plus w_axis. Checked here so a model the INT8 kernels cannot run fails at load with
 * the node's name: constant int8 weights with zero point 0 (or uint8 with 128, shifted natively), scales
 * per tensor or per output channel, static activation parameters per tensor.
 */
function lowerQLinear(ctx: LowerContext): NativePlanStep {
  const node = ctx.node;
  const act = activation(ctx);
  const actParams = activationParams(node);
  const [x, xScale, xZeroPoint, w, wScale, wZeroPoint, bias] = [0, 1, 2, 3, 4, 5, 6].map((i) => node.inputs[i] ?? '');
  const unsupported: (problem: string) => never = (problem) => ctx.fail(problem, 'EDGEINFER_UNSUPPORTED_OP');
  const weight = ctx.constant(w);
  if (!weight || (weight.dtype !== 'int8' && weight.dtype !== 'uint8')) unsupported('the weight must be a constant int8 or uint8 tensor');
  const scales = ctx.constant(wScale);
  if (!scales || scales.dtype !== 'float32') unsupported('the weight scale must be a constant float32 tensor');
  const wantZeroPoint = weight.dtype === 'int8' ? 0 : 128;
  const zeroPoints = wZeroPoint ? ctx.constant(wZeroPoint) : undefined;
  if (wZeroPoint && !zeroPoints) unsupported('the weight zero point must be a constant');
  const badZeroPoint = (zeroPoints ? toNumbers(zeroPoints) : [0]).find((value) => value !== wantZeroPoint);
  if (badZeroPoint !== undefined) {
    unsupported(`${weight.dtype} weights need zero point ${wantZeroPoint} (symmetric quantization); got ${badZeroPoint}`);
  }
  if (xZeroPoint && !xScale) ctx.fail('an activation zero point without a scale');
  const xScaleValue = ctx.constant(xScale);
  const xZeroPointValue = ctx.constant(xZeroPoint);
  if (xScale && (xScaleValue?.dtype !== 'float32' || xScaleValue.data.length !== 1)) unsupported('the activation scale must be a constant float32 scalar (per tensor)');
  if (xZeroPoint && (!xZeroPointValue || !['uint8', 'int8'].includes(xZeroPointValue.dtype) || xZeroPointValue.data.length !== 1)) {
    unsupported('the activation zero point must be a constant uint8 or int8 scalar (per tensor)');
  }

  const channelsLast = node.opType === 'NhwcQLinearFusedConv';
  const op = channelsLast ? 'QLinearConv' : node.opType.replace('QLinearFused', 'QLinear');
  const wDims = weight.dims;
  let ints: number[];
  let floats = actParams;
  let outAxis: number;
  let outChannels: number;
  if (op === 'QLinearMatMul') {
    if (wDims.length !== 2) unsupported(`the weight must be 2-D (got [${wDims.join(', ')}])`);
    ints = act;
    [outAxis, outChannels] = [1, wDims[1]];
  } else if (op === 'QLinearGemm') {
    if (ctx.dims(x).length !== 2 || wDims.length !== 2) ctx.fail('Gemm inputs must be 2-D');
    const transB = intAttr(node, 'transB', 0);
    const alpha = floatAttr(node, 'alpha', 1);
    if (!(alpha > 0) || !Number.isFinite(alpha)) unsupported(`alpha ${alpha} (the INT8 Gemm folds it into the weight scales: it must be positive)`);
    ints = [intAttr(node, 'transA', 0), transB, ...act];
    floats = [alpha, floatAttr(node, 'beta', 1), ...actParams];
    [outAxis, outChannels] = transB ? [0, wDims[0]] : [1, wDims[1]];
  } else {
    const given = ctx.dims(x);
    // Channels last: [N, (H,) W, C]; the window rules read NCHW.
    const xDims = channelsLast ? [given[0], given[given.length - 1], ...given.slice(1, -1)] : given;
    const spatial = xDims.length - 2;
    const group = intAttr(node, 'group', 1);
    if (channelsLast && group !== 1 && !(group === xDims[1] && wDims[0] === group && wDims[1] === 1)) {
      unsupported('channels-last INT8 convolutions take group 1, or one channel per group in and out (depthwise)');
    }
    if (channelsLast && group !== 1 && !xScale) unsupported('a channels-last INT8 depthwise convolution needs a static activation scale');
    if (spatial < 1 || spatial > 2) unsupported(`only 1-D and 2-D convolutions are supported (input rank ${xDims.length})`);
    ints = [intAttr(node, 'group', 1), ...act, ...ctx.window(xDims, wDims.slice(2), spatial)];
    [outAxis, outChannels] = [0, wDims[0]];
  }
  const axisAttr = intAttr(node, 'w_axis', 1);
  const wAxis = axisAttr < 0 ? axisAttr + wDims.length : axisAttr;
  if (scales.data.length !== 1 && (scales.data.length !== outChannels || wAxis !== outAxis)) {
    unsupported(`weight scales must be per tensor or per output channel (axis ${outAxis} of [${wDims.join(', ')}]); got ${scales.data.length} along axis ${wAxis}`);
  }
  if (bias) {
    const value = ctx.constant(bias);
    const fits = value?.dtype === 'float32' && (value.data.length === outChannels || (op === 'QLinearGemm' && value.data.length === 1));
    if (!fits || (op === 'QLinearGemm' && value!.dims.length === 2 && value!.dims[0] !== 1)) {
      unsupported('the bias must be a constant float32 vector with one value per output channel');
    }
  }
  // quantize_dynamic graphs (passes/fuse-dynamic-quant.ts): activations quantized as DynamicQuantizeLinear does.
  const onnxRange = node.attributes.dynamic_quantization?.type === 'string' && node.attributes.dynamic_quantization.value === 'onnx';
  if (onnxRange && (op === 'QLinearGemm' || xScale)) unsupported('dynamic_quantization onnx applies to a MatMul or Conv with dynamic activations');
  // Channels last: the output's fused fake quantization (passes/fuse-output-qdq.ts), per tensor.
  const [yScale, yZeroPoint] = [7, 8].map((i) => node.inputs[i] ?? '');
  if (yZeroPoint && !yScale) ctx.fail('an output zero point without a scale');
  if (yScale) {
    const yScaleValue = ctx.constant(yScale);
    const yZeroPointValue = ctx.constant(yZeroPoint);
    if (yScaleValue?.dtype !== 'float32' || yScaleValue.data.length !== 1) unsupported('the output scale must be a constant float32 scalar (per tensor)');
    if (yZeroPoint && (!yZeroPointValue || !['uint8', 'int8'].includes(yZeroPointValue.dtype) || yZeroPointValue.data.length !== 1)) {
      unsupported('the output zero point must be a constant uint8 or int8 scalar (per tensor)');
    }
  }
  // Levels (passes/byte-activations.ts): uint8 in or out only with the uint8 parameters they were quantized with.
  const levelsIn = ctx.dtype(x) === 'uint8';
  const levelsOut = node.attributes.output_levels !== undefined;
  if ((levelsIn || levelsOut) && !channelsLast) ctx.fail('uint8 level input / output is for channels-last INT8 convolutions');
  if (levelsIn && !(xScale && xZeroPointValue?.dtype === 'uint8')) ctx.fail('uint8 level input needs a static scale and a uint8 zero point');
  if (levelsOut && !(yScale && ctx.constant(yZeroPoint)?.dtype === 'uint8')) ctx.fail('output_levels needs an output scale and a uint8 zero point');
  const inputs = [x, xScale, xZeroPoint, w, wScale, wZeroPoint, bias, ...(channelsLast && yScale ? [yScale, yZeroPoint] : [])];
  return ctx.step(inputs, [...ints, wAxis, ...(onnxRange ? [1] : [])], floats, channelsLast ? 'QLinearConvNhwc' : op);
}

/** y like x, and the optional levels output in the zero point's type (uint8 without one). */
const quantizeDequantizeRule: ShapeRule = (ctx) => {
  const y = sameShapeRule(ctx).outputs[0];
  const zeroPoint = ctx.node.inputs[2] ? ctx.input(2).dtype : 'uint8';
  return { outputs: ctx.node.outputs.map((_, i) => (i === 0 ? y : { ...y, dtype: zeroPoint })) };
};

/** output_levels = 1 (passes/byte-activations.ts): the output holds uint8 levels, not floats. */
function levelsOut(rule: ShapeRule): ShapeRule {
  return (ctx) => {
    const result = rule(ctx);
    if (ctx.node.attributes.output_levels === undefined) return result;
    return { ...result, outputs: result.outputs.map((out, i) => (i === 0 ? { ...out, dtype: 'uint8' } : out)) };
  };
}

/** QuantizedAdd: a's shape; floats (then optionally levels), or only levels with output_levels = 1. */
const quantizedAddRule: ShapeRule = (ctx) => {
  const a = ctx.input(0);
  const levels = ctx.node.attributes.output_levels !== undefined;
  return { outputs: ctx.node.outputs.map((_, i) => ({ ...a, dtype: levels || i > 0 ? 'uint8' : 'float32' })) };
};

declareOps(
  { domain: '', op: 'QuantizeLinear', shape: quantize, native: lowerQuantizeLinear, steps: ['QuantizeLinear'] },
  { domain: '', op: 'DequantizeLinear', shape: dequantize, native: lowerQuantizeLinear, steps: ['DequantizeLinear'] },
  { domain: '', op: 'DynamicQuantizeLinear', shape: dynamicQuantize, native: (ctx) => ctx.step([ctx.node.inputs[0]]), steps: ['DynamicQuantizeLinear'] },
  { domain: 'edgeinfer', op: 'QuantizeDequantize', shape: quantizeDequantizeRule, native: lowerQuantizeDequantize, steps: ['QuantizeDequantize'] },
  { domain: 'edgeinfer', op: 'QuantizedAdd', shape: quantizedAddRule, native: (ctx) => ctx.step(ctx.node.inputs), steps: ['QuantizedAdd'] },
  { domain: 'edgeinfer', op: 'QLinearFusedConv', shape: qlinearConvRule, native: lowerQLinear, steps: ['QLinearConv'] },
  { domain: 'edgeinfer', op: 'NhwcQLinearFusedConv', shape: levelsOut(channelsLast(qlinearConvRule)), native: lowerQLinear, steps: ['QLinearConvNhwc'] },
  { domain: 'edgeinfer', op: 'QLinearFusedGemm', shape: qlinearGemmRule, native: lowerQLinear, steps: ['QLinearGemm'] },
  { domain: 'edgeinfer', op: 'QLinearFusedMatMul', shape: qlinearMatMulRule, native: lowerQLinear, steps: ['QLinearMatMul'] },
);
