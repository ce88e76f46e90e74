/**
 * Shape rules of compute ops: Conv and pooling, Gemm, MatMul, reductions, normalizations, If, Q/DQ, and
 * edgeinfer's fused ops (lib/onnx/fused-ops.ts), which take the shape of the op they replace.
 */
import { DataType, Dim } from './ir';
import { broadcast, normalizeAxis } from './dims';
import {
  OpContext, ShapeRule, TypeShape, badAttribute, intAttr, intsAttr, intsFromAttrOrInput, mismatch, same, stringAttr,
} from './shape-context';

/** Output spatial size of a conv/pool window (undefined when a symbol makes it inexpressible). */
function windowOutput(ctx: OpContext, size: Dim, kernel: number, stride: number, dilation: number, padBegin: number, padEnd: number, ceil: boolean): Dim | undefined {
  const autoPad = stringAttr(ctx, 'auto_pad', 'NOTSET');
  if (typeof size !== 'number') {
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return stride === 1 ? size : `ceil(${size}/${stride})`;
    // A deterministic expression, so that equal windows over the same symbol give equal dims.
    const shrink = dilation * (kernel - 1) + 1 - (autoPad === 'VALID' ? 0 : padBegin + padEnd);
    const offset = (n: number) => (n === 0 ? size : `${size}${n > 0 ? '-' : '+'}${Math.abs(n)}`);
    if (stride === 1) return offset(shrink - 1);
    return `${ceil ? 'ceil' : 'floor'}((${offset(shrink)})/${stride})+1`;
  }
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(size / stride);
  const effective = dilation * (kernel - 1) + 1;
  const pads = autoPad === 'VALID' ? 0 : padBegin + padEnd;
  const span = size + pads - effective;
  if (span < 0) return -1;
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // ceil_mode: the last window must start inside the input or its left padding.
  if (ceil && (out - 1) * stride >= size + (autoPad === 'VALID' ? 0 : padBegin)) out--;
  return out;
}

function spatialOutput(ctx: OpContext, x: Dim[], kernel: number[], ceil: boolean, withDilations: boolean): Dim[] {
  const n = kernel.length;
  const strides = intsAttr(ctx, 'strides') ?? new Array(n).fill(1);
  const dilations = (withDilations ? intsAttr(ctx, 'dilations') : undefined) ?? new Array(n).fill(1);
  const pads = intsAttr(ctx, 'pads') ?? new Array(2 * n).fill(0);
  if (strides.length !== n || dilations.length !== n || pads.length !== 2 * n) {
    badAttribute(ctx, `strides/dilations/pads do not match the ${n} spatial dims`, { strides, dilations, pads });
  }
  if (strides.some((s) => s <= 0) || dilations.some((d) => d <= 0) || kernel.some((k) => k <= 0)) {
    badAttribute(ctx, 'kernel, strides and dilations must be positive', { kernel, strides, dilations });
  }
  return x.slice(2).map((size, i) => {
    const out = windowOutput(ctx, size, kernel[i], strides[i], dilations[i], pads[i], pads[i + n], ceil);
    if (typeof out === 'number' && out < 1) mismatch(ctx, `the ${kernel[i]}-wide window does not fit spatial axis ${i + 2}`, { input: x, kernel });
    return out ?? ctx.fresh(0, i + 2);
  });
}

export function convShape(ctx: OpContext, xIndex: number, wIndex: number, bIndex: number): TypeShape {
  const x = ctx.input(xIndex);
  const w = ctx.input(wIndex);
  if (x.shape === undefined || w.shape === undefined) return { dtype: x.dtype, shape: undefined };
  if (x.shape.length < 3 || x.shape.length !== w.shape.length) mismatch(ctx, 'input and weight must have the same rank >= 3', { input: x.shape, weight: w.shape });
  const group = intAttr(ctx, 'group', 1);
  if (group < 1) badAttribute(ctx, `group ${group} must be >= 1`, { group });
  const c = x.shape[1];
  const wc = w.shape[1];
  if (typeof c === 'number' && typeof wc === 'number' && c !== wc * group) {
    mismatch(ctx, `input channels ${c} != weight channels ${wc} x group ${group}`, { input: x.shape, weight: w.shape });
  }
  const m = w.shape[0];
  if (typeof m === 'number' && m % group !== 0) mismatch(ctx, `output channels ${m} not divisible by group ${group}`, { weight: w.shape });
  const b = ctx.has(bIndex) ? ctx.input(bIndex).shape : undefined;
  if (b && (b.length !== 1 || (typeof b[0] === 'number' && typeof m === 'number' && b[0] !== m))) mismatch(ctx, 'bias must be [M]', { weight: w.shape, bias: b });
  const kernel = intsAttr(ctx, 'kernel_shape') ?? w.shape.slice(2).map((d) => (typeof d === 'number' ? d : NaN));
  if (kernel.some((k) => Number.isNaN(k))) return { dtype: x.dtype, shape: [x.shape[0], m, ...x.shape.slice(2).map((_, i) => ctx.fresh(0, i + 2))] };
  return { dtype: x.dtype, shape: [x.shape[0], m, ...spatialOutput(ctx, x.shape, kernel, false, true)] };
}

export const pool: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  if (x.shape === undefined) return { outputs: ctx.node.outputs.map((_, i) => ({ dtype: i === 0 ? x.dtype : 'int64', shape: undefined })) };
  const kernel = intsAttr(ctx, 'kernel_shape');
  if (kernel === undefined) badAttribute(ctx, 'kernel_shape is required');
  if (x.shape.length !== kernel.length + 2) mismatch(ctx, `kernel_shape has ${kernel.length} dims for a rank-${x.shape.length} input`, { input: x.shape, kernel });
  const shape = [x.shape[0], x.shape[1], ...spatialOutput(ctx, x.shape, kernel, intAttr(ctx, 'ceil_mode', 0) === 1, ctx.node.opType.endsWith('MaxPool'))];
  return { outputs: ctx.node.outputs.map((_, i) => ({ dtype: i === 0 ? x.dtype : 'int64', shape })) };
};

export const globalPool: ShapeRule = (ctx) => {
  const x = same(ctx);
  return { outputs: [{ dtype: x.dtype, shape: x.shape ? [...x.shape.slice(0, 2), ...x.shape.slice(2).map(() => 1)] : undefined }] };
};

function sameDim(a: Dim, b: Dim): boolean {
  return typeof a !== 'number' || typeof b !== 'number' || a === b;
}

export function gemmShape(ctx: OpContext, aIndex: number, bIndex: number, cIndex: number): TypeShape {
  const a = ctx.input(aIndex);
  const b = ctx.input(bIndex);
  if (a.shape === undefined || b.shape === undefined) return { dtype: a.dtype, shape: undefined };
  if (a.shape.length !== 2 || b.shape.length !== 2) mismatch(ctx, 'Gemm inputs must be 2-D', { A: a.shape, B: b.shape });
  const transA = intAttr(ctx, 'transA', 0) === 1;
  const transB = intAttr(ctx, 'transB', 0) === 1;
  const [m, ka] = transA ? [a.shape[1], a.shape[0]] : a.shape;
  const [kb, n] = transB ? [b.shape[1], b.shape[0]] : b.shape;
  if (!sameDim(ka, kb)) mismatch(ctx, `inner dims differ (${ka} vs ${kb})`, { A: a.shape, B: b.shape });
  const c = ctx.has(cIndex) ? ctx.input(cIndex).shape : undefined;
  if (c && broadcast([m, n], c)?.length !== 2) mismatch(ctx, 'C does not broadcast to [M, N]', { A: a.shape, B: b.shape, C: c });
  return { dtype: a.dtype, shape: [m, n] };
}

export function matMulShape(ctx: OpContext, aIndex: number, bIndex: number, dtype?: DataType): TypeShape {
  const a = ctx.input(aIndex);
  const b = ctx.input(bIndex);
  const outType = dtype ?? a.dtype;
  if (a.shape === undefined || b.shape === undefined) return { dtype: outType, shape: undefined };
  if (a.shape.length === 0 || b.shape.length === 0) mismatch(ctx, 'MatMul inputs must not be scalars', { A: a.shape, B: b.shape });
  const A = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const B = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  const k1 = A[A.length - 1];
  const k2 = B[B.length - 2];
  if (!sameDim(k1, k2)) mismatch(ctx, `inner dims differ (${k1} vs ${k2})`, { A: a.shape, B: b.shape });
  const batch = broadcast(A.slice(0, -2), B.slice(0, -2));
  if (batch === undefined) mismatch(ctx, 'batch dims cannot be broadcast', { A: a.shape, B: b.shape });
  const shape = [...batch];
  if (a.shape.length > 1) shape.push(A[A.length - 2]);
  if (b.shape.length > 1) shape.push(B[B.length - 1]);
  return { dtype: outType, shape };
}

export const reduce: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const sinceOpset = ctx.node.opType === 'ReduceSum' ? 13 : 18;
  const axes = intsFromAttrOrInput(ctx, 'axes', 1, sinceOpset);
  const keep = intAttr(ctx, 'keepdims', 1) === 1;
  if (x.shape === undefined || axes === undefined) return { outputs: [{ dtype: x.dtype, shape: undefined }] };
  const rank = x.shape.length;
  const noop = intAttr(ctx, 'noop_with_empty_axes', 0) === 1;
  if ((axes === null || axes.length === 0) && noop) return { outputs: [same(ctx)] };
  const reduced = axes === null || axes.length === 0 ? x.shape.map((_, a) => a) : axes.map((a) => {
    const n = normalizeAxis(a, rank);
    if (n === undefined) badAttribute(ctx, `axis ${a} is out of range for rank ${rank}`, { axes });
    return n;
  });
  const shape = keep ? x.shape.map((d, a) => (reduced.includes(a) ? 1 : d)) : x.shape.filter((_, a) => !reduced.includes(a));
  return { outputs: [{ dtype: x.dtype, shape }] };
};

export const argReduce: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  if (x.shape === undefined) return { outputs: [{ dtype: 'int64', shape: undefined }] };
  const axis = normalizeAxis(intAttr(ctx, 'axis', 0), x.shape.length);
  if (axis === undefined) badAttribute(ctx, 'axis is out of range');
  const keep = intAttr(ctx, 'keepdims', 1) === 1;
  return { outputs: [{ dtype: 'int64', shape: keep ? x.shape.map((d, a) => (a === axis ? 1 : d)) : x.shape.filter((_, a) => a !== axis) }] };
};

/** LayerNormalization / LayerNormGelu: Y like X; Mean and InvStdDev with the normalized axes set to 1. */
export const layerNorm: ShapeRule = (ctx) => {
  const x = same(ctx);
  const g = ctx.input(1).shape;
  if (x.shape && g) {
    const axis = normalizeAxis(intAttr(ctx, 'axis', -1), x.shape.length);
    if (axis === undefined) badAttribute(ctx, 'axis is out of range');
    const normalized = x.shape.slice(axis);
    if (broadcast(normalized, g)?.length !== normalized.length || g.length > normalized.length) {
      mismatch(ctx, 'scale does not match the normalized dims', { input: x.shape, scale: g });
    }
  }
  const stats = x.shape ? x.shape.map((d, a) => (a >= (normalizeAxis(intAttr(ctx, 'axis', -1), x.shape!.length) ?? 0) ? 1 : d)) : undefined;
  return { outputs: ctx.node.outputs.map((_, i) => (i === 0 ? x : { dtype: 'float32', shape: stats })) };
};

export const ifRule: ShapeRule = (ctx) => {
  const thenBranch = ctx.node.attributes.then_branch;
  const elseBranch = ctx.node.attributes.else_branch;
  if (thenBranch?.type !== 'graph' || elseBranch?.type !== 'graph') badAttribute(ctx, 'If needs then_branch and else_branch graphs');
  const cond = ctx.input(0).shape;
  if (cond && cond.length > 1 && cond.some((d) => d !== 1)) mismatch(ctx, 'the condition must hold one element', { cond });
  const a = ctx.subgraph(thenBranch.value);
  const b = ctx.subgraph(elseBranch.value);
  if (a.length !== b.length || a.length !== ctx.node.outputs.length) {
    badAttribute(ctx, `branches have ${a.length} and ${b.length} outputs for ${ctx.node.outputs.length} node outputs`);
  }
  return {
    outputs: a.map((x, i) => {
      const y = b[i];
      if (x.dtype && y.dtype && x.dtype !== y.dtype) mismatch(ctx, `branch output ${i} types differ (${x.dtype} vs ${y.dtype})`, { then: x.shape, else: y.shape });
      if (!x.shape || !y.shape) return { dtype: x.dtype ?? y.dtype, shape: undefined };
      if (x.shape.length !== y.shape.length) mismatch(ctx, `branch output ${i} ranks differ`, { then: x.shape, else: y.shape });
      return {
        dtype: x.dtype ?? y.dtype,
        shape: x.shape.map((d, k) => {
          const e = y.shape![k];
          if (typeof d === 'number' && typeof e === 'number' && d !== e) mismatch(ctx, `branch output ${i} shapes differ`, { then: x.shape, else: y.shape });
          return d === e ? d : typeof d === 'number' ? d : typeof e === 'number' ? e : ctx.fresh(i, k);
        }),
      };
    }),
  };
};

export const quantize: ShapeRule = (ctx) => ({ outputs: [{ dtype: ctx.input(2).dtype ?? 'uint8', shape: same(ctx).shape }] });
export const dequantize: ShapeRule = (ctx) => ({ outputs: [{ dtype: 'float32', shape: same(ctx).shape }] });
/** y uint8 like x, y_scale and y_zero_point scalars. */
export const dynamicQuantize: ShapeRule = (ctx) => ({ outputs: [{ dtype: 'uint8', shape: same(ctx).shape }, { dtype: 'float32', shape: [] }, { dtype: 'uint8', shape: [] }] });

/** Bias over the last dim of a MatMul result. */
function withBias(ctx: OpContext, out: TypeShape, biasIndex: number): TypeShape {
  const bias = ctx.has(biasIndex) ? ctx.input(biasIndex).shape : undefined;
  if (bias && out.shape) {
    const n = out.shape[out.shape.length - 1];
    if (bias.length !== 1 || !sameDim(bias[0], n)) mismatch(ctx, `bias must be [${n}]`, { output: out.shape, bias });
  }
  return out;
}

export const convRule: ShapeRule = (ctx) => ({ outputs: [convShape(ctx, 0, 1, 2)] });
export const gemmRule: ShapeRule = (ctx) => ({ outputs: [gemmShape(ctx, 0, 1, 2)] });
export const matMulRule: ShapeRule = (ctx) => ({ outputs: [matMulShape(ctx, 0, 1)] });
export const matMulIntegerRule: ShapeRule = (ctx) => ({ outputs: [matMulShape(ctx, 0, 1, 'int32')] });
export const sameShapeRule: ShapeRule = (ctx) => ({ outputs: [same(ctx)] });

/** A channels-last op's rule from its NCHW rule: input 0 seen as NCHW, output 0 turned back to NHWC. */
export function channelsLast(rule: ShapeRule): ShapeRule {
  return (ctx) => {
    const x = ctx.input(0);
    if (x.shape !== undefined && x.shape.length < 3) mismatch(ctx, 'channels-last input must have rank >= 3', { input: x.shape });
    const nchw: OpContext = Object.create(ctx, {
      input: { value: (i: number) => (i === 0 && x.shape !== undefined ? { ...x, shape: [x.shape[0], x.shape[x.shape.length - 1], ...x.shape.slice(1, -1)] } : ctx.input(i)) },
    });
    const result = rule(nchw);
    return { ...result, outputs: result.outputs.map((out, i) => (i === 0 && out.shape !== undefined ? { ...out, shape: [out.shape[0], ...out.shape.slice(2), out.shape[1]] } : out)) };
  };
}

// Rules of domain 'edgeinfer' (see lib/onnx/fused-ops.ts for their inputs).
export const fusedMatMulRule: ShapeRule = (ctx) => ({ outputs: [withBias(ctx, matMulShape(transposedB(ctx), 0, 1), 2)] });

/** With transB = 1, input 1 seen with its last two dims swapped (B arrives as [..., N, K]). */
function transposedB(ctx: OpContext): OpContext {
  if (intAttr(ctx, 'transB', 0) !== 1) return ctx;
  const b = ctx.input(1);
  if (b.shape !== undefined && b.shape.length < 2) mismatch(ctx, 'transB needs B of rank >= 2', { B: b.shape });
  return Object.create(ctx, {
    input: { value: (i: number) => (i === 1 && b.shape !== undefined ? { ...b, shape: [...b.shape.slice(0, -2), b.shape[b.shape.length - 1], b.shape[b.shape.length - 2]] } : ctx.input(i)) },
  });
}
export const qlinearConvRule: ShapeRule = (ctx) => ({ outputs: [{ ...convShape(ctx, 0, 3, 6), dtype: 'float32' }] });
export const qlinearGemmRule: ShapeRule = (ctx) => ({ outputs: [{ ...gemmShape(ctx, 0, 3, 6), dtype: 'float32' }] });
export const qlinearMatMulRule: ShapeRule = (ctx) => ({ outputs: [withBias(ctx, { ...matMulShape(ctx, 0, 3), dtype: 'float32' }, 6)] });

