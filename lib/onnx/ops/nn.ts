/**
 * Neural-network ops: Conv, Gemm, MatMul, pooling, normalisation, Softmax and the reductions. Their weight-
 * bearing steps also exist in INT8 (*S8Dynamic) and FP16-weight (*F16) forms, chosen per step by the
 * lowering's precision.
 */
import type { Node } from '../ir';
import { unaryRule } from '../shape-ops-elementwise';
import {
  argReduce, convRule, gemmRule, globalPool, layerNorm, matMulIntegerRule, matMulRule, pool, reduce,
} from '../shape-ops-nn';
import { toNumbers } from '../tensor';
import { declareOps, type LowerContext, type LowerRule, type OpDeclaration } from './registry';

export const intAttr = (node: Node, name: string, fallback: number): number => {
  const a = node.attributes[name];
  return a?.type === 'int' ? a.value : fallback;
};
export const floatAttr = (node: Node, name: string, fallback: number): number => {
  const a = node.attributes[name];
  return a?.type === 'float' ? a.value : a?.type === 'int' ? a.value : fallback;
};
export const stringAttr = (node: Node, name: string, fallback: string): string => {
  const a = node.attributes[name];
  return a?.type === 'string' ? a.value : fallback;
};

/** FusedActivation codes of plan.h, by the `activation` attribute of the fused ops (lib/onnx/fused-ops.ts). */
const activationCodes: Record<string, number> = { '': 0, Relu: 1, Gelu: 2, LeakyRelu: 4, Sigmoid: 5, Clip: 6, Tanh: 7, HardSigmoid: 8, HardSwish: 9, Silu: 10 };

/** [code] of a fused op's activation (0 for a plain op). */
export function activation(ctx: LowerContext): number[] {
  const kind = stringAttr(ctx.node, 'activation', '');
  const code = activationCodes[kind];
  if (code === undefined) ctx.fail(`unknown fused activation '${kind}'`, 'EDGEINFER_UNSUPPORTED_OP');
  return [code === 2 && stringAttr(ctx.node, 'approximate', 'none') === 'tanh' ? 3 : code];
}

export function activationParams(node: Node): number[] {
  const a = node.attributes.activation_params;
  return a?.type === 'floats' ? a.value : [];
}

/** Conv and FusedConv (1-D and 2-D, NCHW): ints [group, activation, window...], floats the activation's. */
export function lowerConv(ctx: LowerContext, fused: boolean) {
  const node = ctx.node;
  const xDims = ctx.dims(node.inputs[0]);
  const wDims = ctx.dims(node.inputs[1]);
  const spatial = xDims.length - 2;
  if (spatial < 1 || spatial > 2) ctx.fail(`only 1-D and 2-D convolutions are supported (input rank ${xDims.length})`, 'EDGEINFER_UNSUPPORTED_OP');
  const window = ctx.window(xDims, wDims.slice(2), spatial);
  return ctx.step(
    [node.inputs[0], node.inputs[1], node.inputs[2] ?? ''],
    [intAttr(node, 'group', 1), ...(fused ? activation(ctx) : [0]), ...window],
    fused ? activationParams(node) : [],
    'Conv',
  );
}

/** Gemm and FusedGemm: ints [transA, transB, activation], floats [alpha, beta, activation params]. */
export function lowerGemm(ctx: LowerContext, fused: boolean) {
  const node = ctx.node;
  if (ctx.rank(node.inputs[0]) !== 2) ctx.fail('Gemm input A must be 2-D');
  const ints = [intAttr(node, 'transA', 0), intAttr(node, 'transB', 0), ...(fused ? activation(ctx) : [0])];
  return ctx.step([node.inputs[0], node.inputs[1], node.inputs[2] ?? ''], ints, [floatAttr(node, 'alpha', 1), floatAttr(node, 'beta', 1), ...(fused ? activationParams(node) : [])], 'Gemm');
}

const lowerPool: LowerRule = (ctx: LowerContext) => {
  const node = ctx.node;
  if (node.outputs.length > 1 && node.outputs[1]) ctx.fail('MaxPool indices output is not supported', 'EDGEINFER_UNSUPPORTED_OP');
  const xDims = ctx.dims(node.inputs[0]);
  const spatial = xDims.length - 2;
  const kernel = node.attributes.kernel_shape?.type === 'ints' ? node.attributes.kernel_shape.value : undefined;
  if (!kernel || kernel.length !== spatial) ctx.fail('kernel_shape is missing or of the wrong length');
  return ctx.step([node.inputs[0]], [intAttr(node, 'count_include_pad', 0), ...ctx.window(xDims, kernel, spatial)]);
};

const lowerSoftmax: LowerRule = (ctx: LowerContext) => {
  const r = ctx.rank(ctx.node.inputs[0]);
  const axis = ctx.axis(intAttr(ctx.node, 'axis', ctx.opset >= 13 ? -1 : 1), r);
  if (ctx.opset < 13 && axis !== r - 1) ctx.fail('Softmax before opset 13 over a non-last axis is not supported', 'EDGEINFER_UNSUPPORTED_OP');
  return ctx.step([ctx.node.inputs[0]], [axis]);
};

/** ints [keepdims, axes...] (sorted, unique); no axes and noop_with_empty_axes: an Identity. */
const lowerReduce: LowerRule = (ctx: LowerContext) => {
  const node = ctx.node;
  const r = ctx.rank(node.inputs[0]);
  let axes = node.attributes.axes?.type === 'ints' ? node.attributes.axes.value : undefined;
  if (axes === undefined && node.inputs[1]) axes = toNumbers(ctx.constantValue(node.inputs[1]));
  if (axes === undefined || axes.length === 0) {
    if (intAttr(node, 'noop_with_empty_axes', 0) === 1) return ctx.step([node.inputs[0]], [], [], 'Identity');
    axes = Array.from({ length: r }, (_, i) => i);
  }
  const normalized = [...new Set(axes.map((axis) => ctx.axis(axis, r)))].sort((a, b) => a - b);
  return ctx.step([node.inputs[0]], [intAttr(node, 'keepdims', 1), ...normalized]);
};

/** LayerNormalization and the fused LayerNormGelu: ints [axis, activation], floats [epsilon]. */
export function lowerLayerNorm(ctx: LowerContext, gelu: boolean) {
  const node = ctx.node;
  const r = ctx.rank(node.inputs[0]);
  const act = gelu ? (stringAttr(node, 'approximate', 'none') === 'tanh' ? 3 : 2) : 0;
  return ctx.step([node.inputs[0], node.inputs[1], node.inputs[2] ?? ''], [ctx.axis(intAttr(node, 'axis', -1), r), act], [floatAttr(node, 'epsilon', 1e-5)], 'LayerNorm');
}

const reduction = (op: string, native: boolean): OpDeclaration => ({ domain: '', op, shape: reduce, native: native ? lowerReduce : undefined, steps: native ? [op, 'Identity'] : undefined });

/** The precision forms of a weight-bearing step (lower.ts picks one per step). */
export const precisionForms = (op: string) => [op, `${op}S8Dynamic`, `${op}F16`];

declareOps(
  { domain: '', op: 'Conv', shape: convRule, native: (ctx) => lowerConv(ctx, false), steps: precisionForms('Conv') },
  { domain: '', op: 'Gemm', shape: gemmRule, native: (ctx) => lowerGemm(ctx, false), steps: precisionForms('Gemm') },
  { domain: '', op: 'MatMul', shape: matMulRule, native: (ctx) => ctx.step([ctx.node.inputs[0], ctx.node.inputs[1]], [0], []), steps: precisionForms('MatMul') },
  {
    domain: '',
    op: 'MatMulInteger',
    shape: matMulIntegerRule,
    native: (ctx) => ctx.step([0, 1, 2, 3].map((i) => ctx.node.inputs[i] ?? '')),
    steps: ['MatMulInteger'],
  },
  { domain: '', op: 'MaxPool', shape: pool, native: lowerPool, steps: ['MaxPool'] },
  { domain: '', op: 'AveragePool', shape: pool, native: lowerPool, steps: ['AveragePool'] },
  { domain: '', op: 'LpPool', shape: pool },
  { domain: '', op: 'GlobalAveragePool', shape: globalPool, native: (ctx) => ctx.step([ctx.node.inputs[0]]), steps: ['GlobalAveragePool'] },
  { domain: '', op: 'GlobalMaxPool', shape: globalPool, native: (ctx) => ctx.step([ctx.node.inputs[0]]), steps: ['GlobalMaxPool'] },
  { domain: '', op: 'Softmax', shape: unaryRule, native: lowerSoftmax, steps: ['Softmax'] },
  { domain: '', op: 'LogSoftmax', shape: unaryRule, native: lowerSoftmax, steps: ['LogSoftmax'] },
  { domain: '', op: 'LayerNormalization', shape: layerNorm, native: (ctx) => lowerLayerNorm(ctx, false), steps: ['LayerNorm'] },
  ...['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceSum', 'ReduceProd', 'ReduceL2'].map((op) => reduction(op, true)),
  ...['ReduceL1', 'ReduceSumSquare', 'ReduceLogSumExp'].map((op) => reduction(op, false)),
  { domain: '', op: 'ArgMax', shape: argReduce },
  { domain: '', op: 'ArgMin', shape: argReduce },
);
