/**
 * Shape rules of data-movement ops: Reshape, Flatten, Transpose, Concat, Slice, Split, Squeeze, Unsqueeze,
 * Gather, Pad, Expand, Tile, Shape, Size, ConstantOfShape, Range, Constant. Where a rule can, it also
 * propagates the values of small integer tensors (shape computations).
 */
import { Dim } from './ir';
import { addDim, broadcast, divDim, mulDim, normalizeAxis, sizeOf } from './dims';
import {
  OpContext, ShapeRule, badAttribute, intAttr, intsAttr, intsFromAttrOrInput, mismatch, numbersOf, same,
} from './shape-context';
import { dataTypeFromCode, toNumbers } from './tensor';

function axisOf(ctx: OpContext, axis: number, rank: number): number {
  const a = normalizeAxis(axis, rank);
  if (a === undefined) badAttribute(ctx, `axis ${axis} is out of range for rank ${rank}`, { axis, rank });
  return a;
}

export const reshape: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const target = ctx.value(1);
  if (target === undefined) {
    const rank = ctx.input(1).shape?.[0];
    return { outputs: [{ dtype: x.dtype, shape: typeof rank === 'number' ? Array.from({ length: rank }, (_, a) => ctx.fresh(0, a)) : undefined }] };
  }
  const allowZero = intAttr(ctx, 'allowzero', 0) === 1;
  const out: (Dim | undefined)[] = target.map((d, a) => {
    if (d === 0 && !allowZero) {
      if (x.shape === undefined) return undefined;
      if (a >= x.shape.length) mismatch(ctx, `shape has 0 at axis ${a} but the input has rank ${x.shape.length}`, { input: x.shape, shape: target });
      return x.shape[a];
    }
    return d;
  });
  const minusOne = out.flatMap((d, a) => (d === -1 ? [a] : []));
  if (minusOne.length > 1) badAttribute(ctx, 'shape has more than one -1', { shape: target });
  if (out.some((d) => typeof d === 'number' && d < -1)) badAttribute(ctx, `shape [${target.join(', ')}] has a negative dim`, { shape: target });
  const total = x.shape ? sizeOf(x.shape) : undefined;
  if (minusOne.length === 1) {
    const rest = sizeOf(out.filter((_, a) => a !== minusOne[0]).map((d) => d ?? NaN)) as Dim;
    let inferred = typeof rest === 'number' && Number.isNaN(rest) ? undefined : divDim(total, rest);
    if (typeof total === 'number' && typeof rest === 'number' && !Number.isNaN(rest) && inferred === undefined) {
      mismatch(ctx, `cannot reshape ${total} elements with a -1 dim (other dims give ${rest})`, { input: x.shape, shape: target });
    }
    if (inferred === undefined) inferred = ctx.fresh(0, minusOne[0]);
    out[minusOne[0]] = inferred;
  }
  const shape = out.map((d, a) => d ?? ctx.fresh(0, a));
  const newTotal = sizeOf(shape);
  if (typeof total === 'number' && typeof newTotal === 'number' && total !== newTotal) {
    mismatch(ctx, `cannot reshape ${total} elements into ${newTotal}`, { input: x.shape, shape });
  }
  const values = x.shape && x.shape.length <= 1 && shape.length <= 1 ? [ctx.value(0)] : undefined;
  return { outputs: [{ dtype: x.dtype, shape }], values };
};

export const flatten: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  if (x.shape === undefined) return { outputs: [{ dtype: x.dtype, shape: undefined }] };
  const rank = x.shape.length;
  const raw = intAttr(ctx, 'axis', 1);
  const axis = raw < 0 ? raw + rank : raw;
  if (axis < 0 || axis > rank) badAttribute(ctx, `axis ${raw} is out of range for rank ${rank}`, { axis: raw, rank });
  const outer = sizeOf(x.shape.slice(0, axis)) ?? ctx.fresh(0, 0);
  const inner = sizeOf(x.shape.slice(axis)) ?? ctx.fresh(0, 1);
  return { outputs: [{ dtype: x.dtype, shape: [outer, inner] }] };
};

export const transpose: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  if (x.shape === undefined) return { outputs: [same(ctx)] };
  const rank = x.shape.length;
  const perm = intsAttr(ctx, 'perm') ?? x.shape.map((_, a) => rank - 1 - a);
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== rank || sorted.some((p, a) => p !== a)) {
    badAttribute(ctx, `perm [${perm.join(', ')}] is not a permutation of rank ${rank}`, { perm, shape: x.shape });
  }
  return { outputs: [{ dtype: x.dtype, shape: perm.map((p) => x.shape![p]) }] };
};

export const concat: ShapeRule = (ctx) => {
  const inputs = ctx.node.inputs.map((_, i) => i).filter((i) => ctx.has(i));
  const shapes = inputs.map((i) => ctx.input(i).shape);
  const dtype = ctx.input(inputs[0] ?? 0).dtype;
  const known = shapes.find((s) => s !== undefined);
  const axisRaw = intAttr(ctx, 'axis', 0);
  const values = inputs.map((i) => ctx.value(i));
  const value = values.every((v) => v !== undefined) && known?.length === 1 ? values.flatMap((v) => v!) : undefined;
  if (known === undefined) return { outputs: [{ dtype, shape: undefined }] };
  const rank = known.length;
  const axis = axisOf(ctx, axisRaw, rank);
  const out: (Dim | undefined)[] = [...known];
  out[axis] = 0;
  const named = Object.fromEntries(inputs.map((i, k) => [ctx.node.inputs[i], shapes[k]]));
  for (const s of shapes) {
    if (s === undefined) {
      out[axis] = undefined;
      continue;
    }
    if (s.length !== rank) mismatch(ctx, 'inputs have different ranks', named);
    for (let a = 0; a < rank; a++) {
      if (a === axis) out[a] = addDim(out[a], s[a]);
      else if (typeof out[a] === 'number' && typeof s[a] === 'number' && out[a] !== s[a]) mismatch(ctx, `inputs differ at axis ${a}`, named);
      else if (typeof out[a] === 'string' && typeof s[a] === 'number') out[a] = s[a];
    }
  }
  return { outputs: [{ dtype, shape: out.map((d, a) => d ?? ctx.fresh(0, a)) }], values: [value] };
};

/** Clamped [start, end) / step of Slice along a dim of size n. */
function sliceLength(n: number, start: number, end: number, step: number): number {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  if (step > 0) {
    const s = clamp(start < 0 ? start + n : start, 0, n);
    const e = clamp(end < 0 ? end + n : end, 0, n);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  const s = clamp(start < 0 ? start + n : start, -1, n - 1);
  const e = clamp(end < 0 ? end + n : end, -1, n - 1);
  return Math.max(0, Math.ceil((e - s) / step));
}

export const slice: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const old = ctx.opset < 10;
  const starts = old ? intsAttr(ctx, 'starts') : numbersOf(ctx, 1);
  const ends = old ? intsAttr(ctx, 'ends') : numbersOf(ctx, 2);
  const axesGiven = old ? intsAttr(ctx, 'axes') : ctx.has(3) ? numbersOf(ctx, 3) : null;
  const steps = old ? undefined : ctx.has(4) ? numbersOf(ctx, 4) : null;
  if (x.shape === undefined) return { outputs: [{ dtype: x.dtype, shape: undefined }] };
  const rank = x.shape.length;
  if (starts === undefined || ends === undefined || axesGiven === undefined || steps === undefined) {
    // Unknown parameters: the sliced axes are unknown (all of them when axes are unknown).
    const unknownAxes = axesGiven ? axesGiven.map((a) => normalizeAxis(a, rank)) : undefined;
    return { outputs: [{ dtype: x.dtype, shape: x.shape.map((d, a) => (unknownAxes === undefined || unknownAxes.includes(a) ? ctx.fresh(0, a) : d)) }] };
  }
  const axes = axesGiven ?? starts.map((_, a) => a);
  if (starts.length !== ends.length || axes.length !== starts.length || (steps && steps.length !== starts.length)) {
    badAttribute(ctx, 'starts, ends, axes and steps have different lengths', { starts, ends, axes, steps });
  }
  const shape = [...x.shape];
  const value = ctx.value(0);
  let sliced: Dim[] | undefined;
  axes.forEach((raw, k) => {
    const a = axisOf(ctx, raw, rank);
    const step = steps ? steps[k] : 1;
    if (step === 0) badAttribute(ctx, 'a step is 0', { steps });
    const n = shape[a];
    if (typeof n === 'number') shape[a] = sliceLength(n, starts[k], ends[k], step);
    else if (starts[k] === 0 && step === 1 && ends[k] >= 2 ** 31 - 1) shape[a] = n;
    else shape[a] = ctx.fresh(0, a);
    if (rank === 1 && value !== undefined && typeof n === 'number') {
      sliced = [];
      const len = shape[a] as number;
      let s = starts[k] < 0 ? starts[k] + n : starts[k];
      s = step > 0 ? Math.min(Math.max(s, 0), n) : Math.min(Math.max(s, -1), n - 1);
      for (let i = 0; i < len; i++) sliced.push(value[s + i * step]);
    }
  });
  return { outputs: [{ dtype: x.dtype, shape }], values: [sliced] };
};

export const split: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const count = ctx.node.outputs.length;
  if (x.shape === undefined) return { outputs: ctx.node.outputs.map(() => ({ dtype: x.dtype, shape: undefined })) };
  const axis = axisOf(ctx, intAttr(ctx, 'axis', 0), x.shape.length);
  const sizes = intsFromAttrOrInput(ctx, 'split', 1, 13);
  const n = x.shape[axis];
  return {
    outputs: ctx.node.outputs.map((_, k) => {
      const shape = [...x.shape!];
      if (sizes) {
        if (sizes.length !== count) badAttribute(ctx, `split has ${sizes.length} sizes for ${count} outputs`, { split: sizes });
        if (typeof n === 'number' && sizes.reduce((s, v) => s + v, 0) !== n) mismatch(ctx, `split sizes [${sizes.join(', ')}] do not add up to the axis size`, { input: x.shape });
        shape[axis] = sizes[k];
      } else if (sizes === null && typeof n === 'number') {
        const chunk = Math.ceil(n / count);
        shape[axis] = k < count - 1 ? chunk : n - chunk * (count - 1);
      } else shape[axis] = (sizes === null ? divDim(n, count) : undefined) ?? ctx.fresh(k, axis);
      return { dtype: x.dtype, shape };
    }),
  };
};

export const squeeze: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const axes = intsFromAttrOrInput(ctx, 'axes', 1, 13);
  if (x.shape === undefined || axes === undefined) return { outputs: [{ dtype: x.dtype, shape: undefined }] };
  const rank = x.shape.length;
  const drop = axes === null ? x.shape.flatMap((d, a) => (d === 1 ? [a] : [])) : axes.map((a) => axisOf(ctx, a, rank));
  for (const a of drop) {
    if (typeof x.shape[a] === 'number' && x.shape[a] !== 1) mismatch(ctx, `cannot squeeze axis ${a} of size ${x.shape[a]}`, { input: x.shape });
  }
  return { outputs: [{ dtype: x.dtype, shape: x.shape.filter((_, a) => !drop.includes(a)) }], values: [ctx.value(0)] };
};

export const unsqueeze: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const axes = intsFromAttrOrInput(ctx, 'axes', 1, 13);
  if (axes === null) badAttribute(ctx, 'Unsqueeze needs axes');
  if (x.shape === undefined || axes === undefined) return { outputs: [{ dtype: x.dtype, shape: undefined }] };
  const rank = x.shape.length + axes.length;
  const inserted = axes.map((a) => axisOf(ctx, a, rank));
  if (new Set(inserted).size !== inserted.length) badAttribute(ctx, `axes [${axes.join(', ')}] repeat an axis`, { axes });
  const shape: Dim[] = [];
  let k = 0;
  for (let a = 0; a < rank; a++) shape.push(inserted.includes(a) ? 1 : x.shape[k++]);
  return { outputs: [{ dtype: x.dtype, shape }], values: [ctx.value(0)] };
};

export const gather: ShapeRule = (ctx) => {
  const data = ctx.input(0);
  const indices = ctx.input(1);
  if (data.shape === undefined || indices.shape === undefined) return { outputs: [{ dtype: data.dtype, shape: undefined }] };
  const axis = axisOf(ctx, intAttr(ctx, 'axis', 0), data.shape.length);
  const shape = [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)];
  const idx = numbersOf(ctx, 1);
  const n = data.shape[axis];
  if (idx && typeof n === 'number' && idx.some((i) => i < -n || i >= n)) {
    mismatch(ctx, `indices [${idx.slice(0, 8).join(', ')}] are out of range for axis ${axis} of size ${n}`, { data: data.shape, indices: indices.shape });
  }
  const value = ctx.value(0);
  let gathered: Dim[] | undefined;
  if (value && idx && data.shape.length === 1 && typeof n === 'number') gathered = idx.map((i) => value[i < 0 ? i + n : i]);
  return { outputs: [{ dtype: data.dtype, shape }], values: [gathered] };
};

export const pad: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const pads = ctx.opset < 11 ? (intsAttr(ctx, 'pads') ?? intsAttr(ctx, 'paddings')) : numbersOf(ctx, 1);
  if (x.shape === undefined) return { outputs: [{ dtype: x.dtype, shape: undefined }] };
  const rank = x.shape.length;
  if (pads === undefined) return { outputs: [{ dtype: x.dtype, shape: x.shape.map((_, a) => ctx.fresh(0, a)) }] };
  const axesGiven = ctx.opset >= 18 && ctx.has(3) ? numbersOf(ctx, 3) : undefined;
  const axes = (axesGiven ?? x.shape.map((_, a) => a)).map((a) => axisOf(ctx, a, rank));
  if (pads.length !== 2 * axes.length) mismatch(ctx, `pads has ${pads.length} values, expected ${2 * axes.length}`, { input: x.shape });
  const shape = [...x.shape];
  axes.forEach((a, k) => {
    shape[a] = addDim(shape[a], pads[k] + pads[k + axes.length]) ?? ctx.fresh(0, a);
    if (typeof shape[a] === 'number' && (shape[a] as number) < 0) mismatch(ctx, `negative pads make axis ${a} negative`, { input: x.shape });
  });
  return { outputs: [{ dtype: x.dtype, shape }] };
};

export const expand: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const target = ctx.value(1);
  if (target === undefined || x.shape === undefined) {
    const n = ctx.input(1).shape?.[0];
    const rank = typeof n === 'number' ? Math.max(n, x.shape?.length ?? 0) : undefined;
    return { outputs: [{ dtype: x.dtype, shape: rank === undefined ? undefined : Array.from({ length: rank }, (_, a) => ctx.fresh(0, a)) }] };
  }
  const shape = broadcast(x.shape, target);
  if (shape === undefined) mismatch(ctx, 'input cannot be expanded to the shape', { input: x.shape, shape: target });
  return { outputs: [{ dtype: x.dtype, shape }] };
};

export const tile: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const repeats = ctx.value(1);
  if (x.shape === undefined) return { outputs: [{ dtype: x.dtype, shape: undefined }] };
  if (repeats !== undefined && repeats.length !== x.shape.length) mismatch(ctx, 'repeats must have one value per axis', { input: x.shape, repeats });
  return { outputs: [{ dtype: x.dtype, shape: x.shape.map((d, a) => (repeats ? mulDim(d, repeats[a]) : undefined) ?? ctx.fresh(0, a)) }] };
};

export const shapeOp: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  if (x.shape === undefined) return { outputs: [{ dtype: 'int64', shape: [ctx.fresh(0, 0)] }] };
  const rank = x.shape.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clamp(intAttr(ctx, 'start', 0));
  const end = clamp(intAttr(ctx, 'end', rank));
  const dims = x.shape.slice(start, Math.max(start, end));
  return { outputs: [{ dtype: 'int64', shape: [dims.length] }], values: [dims] };
};

export const size: ShapeRule = (ctx) => {
  const s = ctx.input(0).shape;
  const n = s ? sizeOf(s) : undefined;
  return { outputs: [{ dtype: 'int64', shape: [] }], values: [n === undefined ? undefined : [n]] };
};

export const constantOfShape: ShapeRule = (ctx) => {
  const value = ctx.node.attributes.value;
  const dtype = value?.type === 'tensor' ? value.value.dtype : 'float32';
  const target = ctx.value(0);
  const n = ctx.input(0).shape?.[0];
  if (target?.some((d) => typeof d === 'number' && d < 0)) mismatch(ctx, 'shape has a negative dim', { shape: target });
  const shape = target ?? (typeof n === 'number' ? Array.from({ length: n }, (_, a) => ctx.fresh(0, a)) : undefined);
  const fill = value?.type === 'tensor' && value.value.dtype !== 'string' && value.value.data.length === 1 ? toNumbers(value.value)[0] : 0;
  const values = target && target.length === 1 && typeof target[0] === 'number' && target[0] <= 64 && !dtype.startsWith('float')
    ? [new Array<Dim>(target[0]).fill(fill)]
    : undefined;
  return { outputs: [{ dtype, shape }], values };
};

export const range: ShapeRule = (ctx) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => numbersOf(ctx, i)?.[0]);
  const dtype = ctx.input(0).dtype;
  if (start === undefined || limit === undefined || delta === undefined) return { outputs: [{ dtype, shape: [ctx.fresh(0, 0)] }] };
  if (delta === 0) badAttribute(ctx, 'Range delta is 0');
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  const values = n <= 64 && dtype !== 'float32' && dtype !== 'float64' ? [Array.from({ length: n }, (_, i) => start + i * delta)] : undefined;
  return { outputs: [{ dtype, shape: [n] }], values };
};

export const constant: ShapeRule = (ctx) => {
  const value = ctx.node.attributes.value;
  if (value?.type !== 'tensor') badAttribute(ctx, 'Constant has no tensor value');
  return { outputs: [{ dtype: value.value.dtype, shape: [...value.value.dims] }] };
};



export const gatherElements: ShapeRule = (ctx) => {
  const data = ctx.input(0);
  const indices = ctx.input(1);
  if (data.shape !== undefined && indices.shape !== undefined) {
    if (data.shape.length !== indices.shape.length) mismatch(ctx, 'indices and data must have the same rank', { data: data.shape, indices: indices.shape });
    axisOf(ctx, intAttr(ctx, 'axis', 0), data.shape.length);
  }
  return { outputs: [{ dtype: data.dtype, shape: indices.shape ? [...indices.shape] : undefined }] };
};

export const cumSum: ShapeRule = (ctx) => ({ outputs: [same(ctx)] });

/** Where Resize / Upsample read scales, sizes and roi at `opset` (-1: not an input). */
export function resizeInputs(op: string, opset: number): { roi: number; scales: number; sizes: number } {
  if (op === 'Upsample') return { roi: -1, scales: opset >= 9 ? 1 : -1, sizes: -1 };
  return opset >= 11 ? { roi: 1, scales: 2, sizes: 3 } : { roi: -1, scales: 1, sizes: -1 };
}

/**
 * Output dims and per-axis scales of Resize / Upsample, as ONNX Runtime computes them (float32 arithmetic):
 * from scales, out = floor(in * scale); from sizes, scale = out / in, or with keep_aspect_ratio_policy
 * not_larger / not_smaller one scale (the min / max) for every listed axis and out = round(in * scale).
 * `axes` (opset 18) lists the axes scales / sizes speak of; the others keep scale 1. A string is the problem.
 */
export function resizeTarget(
  inDims: readonly Dim[],
  given: { scales?: readonly number[]; sizes?: readonly Dim[]; axes?: readonly number[]; policy?: string },
): { scales: (number | undefined)[]; dims: (Dim | undefined)[] } | string {
  const rank = inDims.length;
  const axes = (given.axes ?? inDims.map((_, a) => a)).map((a) => normalizeAxis(a, rank));
  if (axes.some((a) => a === undefined) || new Set(axes).size !== axes.length) return `axes [${given.axes?.join(', ')}] are invalid for rank ${rank}`;
  const scales: (number | undefined)[] = inDims.map(() => 1);
  const dims: (Dim | undefined)[] = [...inDims];
  const f = Math.fround;
  if (given.scales && given.scales.length > 0) {
    if (given.scales.length !== axes.length) return `scales has ${given.scales.length} values, expected ${axes.length}`;
    axes.forEach((a, i) => {
      const s = f(given.scales![i]);
      if (!(s > 0)) return;
      scales[a!] = s;
      const d = inDims[a!];
      dims[a!] = typeof d === 'number' ? Math.floor(f(s * d)) : s === 1 ? d : undefined;
    });
    if (given.scales.some((s) => !(s > 0))) return `scales [${given.scales.join(', ')}] must be > 0`;
    return { scales, dims };
  }
  if (!given.sizes) return { scales: inDims.map(() => undefined), dims: inDims.map(() => undefined) };
  if (given.sizes.length !== axes.length) return `sizes has ${given.sizes.length} values, expected ${axes.length}`;
  const policy = given.policy ?? 'stretch';
  if (!['stretch', 'not_larger', 'not_smaller'].includes(policy)) return `keep_aspect_ratio_policy '${policy}' is unknown`;
  axes.forEach((a, i) => {
    const out = given.sizes![i];
    const d = inDims[a!];
    dims[a!] = out;
    scales[a!] = typeof out === 'number' && typeof d === 'number' ? f(out / d) : undefined;
  });
  if (policy !== 'stretch') {
    const listed = axes.map((a) => scales[a!]);
    if (listed.some((s) => s === undefined)) {
      axes.forEach((a) => { dims[a!] = undefined; scales[a!] = undefined; });
      return { scales, dims };
    }
    const s = policy === 'not_larger' ? Math.min(...(listed as number[])) : Math.max(...(listed as number[]));
    axes.forEach((a) => {
      scales[a!] = s;
      dims[a!] = Math.round(f(s * (inDims[a!] as number)));
    });
  }
  return { scales, dims };
}

export const resize: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  if (x.shape === undefined) return { outputs: [{ dtype: x.dtype, shape: undefined }] };
  const where = resizeInputs(ctx.node.opType, ctx.opset);
  const scales = where.scales >= 0 ? numbersOf(ctx, where.scales) : ctx.node.attributes.scales?.type === 'floats' ? ctx.node.attributes.scales.value : undefined;
  const sizes = where.sizes >= 0 && ctx.has(where.sizes) ? ctx.value(where.sizes) : undefined;
  const axes = ctx.opset >= 18 && ctx.node.opType === 'Resize' ? intsAttr(ctx, 'axes') : undefined;
  const policy = ctx.node.attributes.keep_aspect_ratio_policy?.type === 'string' ? ctx.node.attributes.keep_aspect_ratio_policy.value : undefined;
  const target = resizeTarget(x.shape, { scales, sizes, axes, policy });
  if (typeof target === 'string') mismatch(ctx, target, { input: x.shape });
  return { outputs: [{ dtype: x.dtype, shape: target.dims.map((d, a) => d ?? ctx.fresh(0, a)) }] };
};
