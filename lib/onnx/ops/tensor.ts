/**
 * Tensor ops: reshapes and views, Transpose, Concat / Split, Gather, Slice, Pad, Expand, and the shape
 * computations (Shape, Range, ConstantOfShape), which only reach a native plan folded to constants: plans
 * are built per input shape, where every shape computation is known.
 */
import type { Node, TensorData } from '../ir';
import { normalizeAxis } from '../dims';
import {
  concat, constant, constantOfShape, expand, flatten, gather, pad, range, reshape, shapeOp, size, slice, split, squeeze, tile, transpose, unsqueeze,
} from '../shape-ops-tensor';
import { elementCount, fromNumbers, toNumbers } from '../tensor';
import { axesOf, maxFoldElements } from './evaluate';
import { declareOps, type FoldRule, type LowerContext, type LowerRule } from './registry';

const intAttr = (node: Node, name: string, fallback: number): number => {
  const a = node.attributes[name];
  return a?.type === 'int' ? a.value : fallback;
};
const intsAttr = (node: Node, name: string): number[] | undefined => {
  const a = node.attributes[name];
  return a?.type === 'ints' ? a.value : undefined;
};

/** The output is the input's bytes with another shape: the lowering aliases it (no copy) when it can. */
const reshapeLike: LowerRule = (ctx) => ctx.step([ctx.node.inputs[0]]);

const lowerTranspose: LowerRule = (ctx: LowerContext) => {
  const x = ctx.node.inputs[0];
  const r = ctx.rank(x);
  const perm = intsAttr(ctx.node, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
  // Moving only size-1 dims keeps the element order: a reshape (aliased, no copy).
  const dims = ctx.dims(x);
  const kept = perm.filter((axis) => dims[axis] !== 1);
  if (kept.every((axis, i) => i === 0 || axis > kept[i - 1])) return ctx.step([x], [], [], 'Reshape');
  return ctx.step([x], perm);
};

/** Slice as [starts[rank], steps[rank]] over every axis, clamped like ONNX. */
const lowerSlice: LowerRule = (ctx: LowerContext) => {
  const node = ctx.node;
  const dims = ctx.dims(node.inputs[0]);
  const r = dims.length;
  const read = (index: number, attrName: string) => (node.inputs[index] ? toNumbers(ctx.constantValue(node.inputs[index])) : intsAttr(node, attrName));
  const starts = read(1, 'starts');
  const ends = read(2, 'ends');
  if (!starts || !ends || starts.length !== ends.length) ctx.fail('starts and ends are missing or differ in length');
  const axes = (read(3, 'axes') ?? starts.map((_, i) => i)).map((axis) => (axis < 0 ? axis + r : axis));
  const stepsIn = read(4, '') ?? starts.map(() => 1);
  const allStarts = new Array<number>(r).fill(0);
  const allSteps = new Array<number>(r).fill(1);
  axes.forEach((axis, i) => {
    if (axis < 0 || axis >= r) ctx.fail(`slice axis ${axes[i]} is out of range`);
    const step = stepsIn[i];
    if (step === 0) ctx.fail('slice step 0');
    const dim = dims[axis];
    let start = starts[i] < 0 ? starts[i] + dim : starts[i];
    start = step > 0 ? Math.min(Math.max(start, 0), dim) : Math.min(Math.max(start, -1), dim - 1);
    allStarts[axis] = start;
    allSteps[axis] = step;
  });
  return ctx.step([node.inputs[0]], [...allStarts, ...allSteps]);
};

const lowerPad: LowerRule = (ctx: LowerContext) => {
  const node = ctx.node;
  const r = ctx.rank(node.inputs[0]);
  const modeAttr = node.attributes.mode;
  const modeName = modeAttr?.type === 'string' ? modeAttr.value : 'constant';
  const mode = ({ constant: 0, reflect: 1, edge: 2 } as Record<string, number>)[modeName];
  if (mode === undefined) ctx.fail(`pad mode '${modeName}' is not supported`, 'EDGEINFER_UNSUPPORTED_OP');
  let pads = intsAttr(node, 'pads');
  if (node.inputs[1]) pads = toNumbers(ctx.constantValue(node.inputs[1]));
  if (!pads) ctx.fail('pads are missing');
  let full = new Array<number>(2 * r).fill(0);
  if (node.inputs[3]) {
    const axes = toNumbers(ctx.constantValue(node.inputs[3])).map((axis) => ctx.axis(axis, r));
    axes.forEach((axis, i) => {
      full[axis] = pads![i];
      full[r + axis] = pads![axes.length + i];
    });
  } else {
    if (pads.length !== 2 * r) ctx.fail(`pads has ${pads.length} values, expected ${2 * r}`);
    full = pads;
  }
  const valueAttr = node.attributes.value;
  const value = node.inputs[2] ? toNumbers(ctx.constantValue(node.inputs[2]))[0] : valueAttr?.type === 'float' ? valueAttr.value : 0;
  return ctx.step([node.inputs[0]], [mode, ...full], [value]);
};

const foldReshape: FoldRule = ([x, shape], node) => {
    if (!x || !shape) return undefined;
    const target = toNumbers(shape);
    const allowZero = node.attributes.allowzero?.type === 'int' && node.attributes.allowzero.value === 1;
    const dims = target.map((d, a) => (d === 0 && !allowZero ? x.dims[a] : d));
    const known = dims.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
    const minus = dims.indexOf(-1);
    if (minus >= 0) dims[minus] = known === 0 ? 0 : x.data.length / known;
    if (dims.some((d) => d === undefined || !Number.isInteger(d) || d < 0) || elementCount(dims) !== x.data.length) return undefined;
    return { ...x, dims };
  };

const foldUnsqueeze: FoldRule = ([x, ...rest], node, opset) => {
    const axes = axesOf(node, [x, ...rest], opset, 13);
    if (!x || !axes) return undefined;
    const rank = x.dims.length + axes.length;
    const normalized = axes.map((a) => normalizeAxis(a, rank));
    if (normalized.some((a) => a === undefined)) return undefined;
    const dims: number[] = [];
    for (let a = 0, k = 0; a < rank; a++) dims.push(normalized.includes(a) ? 1 : x.dims[k++]);
    return { ...x, dims };
  };

const foldSqueeze: FoldRule = ([x, ...rest], node, opset) => {
    const axes = axesOf(node, [x, ...rest], opset, 13);
    if (!x || axes === undefined) return undefined;
    const drop = axes === null ? x.dims.flatMap((d, a) => (d === 1 ? [a] : [])) : axes.map((a) => normalizeAxis(a, x.dims.length));
    if (drop.some((a) => a === undefined || x.dims[a] !== 1)) return undefined;
    return { ...x, dims: x.dims.filter((_, a) => !drop.includes(a)) };
  };

const foldConcat: FoldRule = (inputs, node) => {
    const tensors = inputs.filter((t): t is TensorData => t !== undefined);
    if (tensors.length !== inputs.length || tensors.length === 0 || tensors.some((t) => t.dtype === 'string')) return undefined;
    const rank = tensors[0].dims.length;
    const axis = normalizeAxis(node.attributes.axis?.type === 'int' ? node.attributes.axis.value : 0, rank);
    if (axis === undefined || tensors.some((t) => t.dims.length !== rank)) return undefined;
    const outer = elementCount(tensors[0].dims.slice(0, axis));
    const values: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (const t of tensors) {
        const block = elementCount(t.dims.slice(axis));
        values.push(...toNumbers(t).slice(o * block, (o + 1) * block));
      }
    }
    const dims = [...tensors[0].dims];
    dims[axis] = tensors.reduce((s, t) => s + t.dims[axis], 0);
    return elementCount(dims) === values.length ? fromNumbers(tensors[0].dtype, dims, values) : undefined;
  };

const foldGather: FoldRule = ([x, indices], node) => {
    if (!x || !indices || x.dtype === 'string') return undefined;
    const axis = normalizeAxis(node.attributes.axis?.type === 'int' ? node.attributes.axis.value : 0, x.dims.length);
    if (axis === undefined) return undefined;
    const n = x.dims[axis];
    const idx = toNumbers(indices).map((i) => (i < 0 ? i + n : i));
    if (idx.some((i) => i < 0 || i >= n)) return undefined;
    const outer = elementCount(x.dims.slice(0, axis));
    const inner = elementCount(x.dims.slice(axis + 1));
    const values = toNumbers(x);
    const out: number[] = [];
    for (let o = 0; o < outer; o++) for (const i of idx) out.push(...values.slice((o * n + i) * inner, (o * n + i + 1) * inner));
    return fromNumbers(x.dtype, [...x.dims.slice(0, axis), ...indices.dims, ...x.dims.slice(axis + 1)], out);
  };

const foldSlice: FoldRule = (inputs, node, opset) => {
    const [x] = inputs;
    if (!x || x.dtype === 'string' || opset < 10 || x.dims.length !== 1) return undefined;
    const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) => (node.inputs[i] ? inputs[i] && toNumbers(inputs[i]!) : null));
    if (!starts || !ends || axes === undefined || steps === undefined || starts.length !== 1) return undefined;
    if (axes && normalizeAxis(axes[0], 1) !== 0) return undefined;
    const n = x.dims[0];
    const step = steps ? steps[0] : 1;
    if (step === 0) return undefined;
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + n : v, lo), hi);
    const values = toNumbers(x);
    const out: number[] = [];
    if (step > 0) for (let i = clamp(starts[0], 0, n); i < clamp(ends[0], 0, n); i += step) out.push(values[i]);
    else for (let i = clamp(starts[0], -1, n - 1); i > clamp(ends[0], -1, n - 1); i += step) out.push(values[i]);
    return fromNumbers(x.dtype, [out.length], out);
  };

const foldRange: FoldRule = ([start, limit, delta]) => {
    if (!start || !limit || !delta) return undefined;
    const [s, l, d] = [start, limit, delta].map((t) => toNumbers(t)[0]);
    if (!d) return undefined;
    const n = Math.max(Math.ceil((l - s) / d), 0);
    if (n > maxFoldElements) return undefined;
    return fromNumbers(start.dtype, [n], Array.from({ length: n }, (_, i) => s + i * d));
  };

const foldConstantOfShape: FoldRule = ([shape], node) => {
    if (!shape) return undefined;
    const dims = toNumbers(shape);
    if (dims.some((d) => !Number.isInteger(d) || d < 0) || elementCount(dims) > maxFoldElements) return undefined;
    const value = node.attributes.value?.type === 'tensor' ? node.attributes.value.value : undefined;
    if (value?.dtype === 'string') return undefined;
    const fill = value ? toNumbers(value)[0] ?? 0 : 0;
    return fromNumbers(value?.dtype ?? 'float32', dims, new Array(elementCount(dims)).fill(fill));
  };

declareOps(
  { domain: '', op: 'Reshape', shape: reshape, native: reshapeLike, steps: ['Reshape'], fold: foldReshape },
  { domain: '', op: 'Flatten', shape: flatten, native: reshapeLike, steps: ['Flatten'] },
  { domain: '', op: 'Squeeze', shape: squeeze, native: reshapeLike, steps: ['Squeeze'], fold: foldSqueeze },
  { domain: '', op: 'Unsqueeze', shape: unsqueeze, native: reshapeLike, steps: ['Unsqueeze'], fold: foldUnsqueeze },
  { domain: '', op: 'Expand', shape: expand, native: (ctx) => ctx.step([ctx.node.inputs[0]]), steps: ['Expand'] },
  { domain: '', op: 'Transpose', shape: transpose, native: lowerTranspose, steps: ['Transpose', 'Reshape'] },
  {
    domain: '',
    op: 'Concat',
    shape: concat,
    native: (ctx) => ctx.step(ctx.node.inputs, [ctx.axis(intAttr(ctx.node, 'axis', 0), ctx.rank(ctx.node.outputs[0]))]),
    steps: ['Concat'],
    fold: foldConcat,
  },
  { domain: '', op: 'Split', shape: split, native: (ctx) => ctx.step([ctx.node.inputs[0]], [ctx.axis(intAttr(ctx.node, 'axis', 0), ctx.rank(ctx.node.inputs[0]))]), steps: ['Split'] },
  {
    domain: '',
    op: 'Gather',
    shape: gather,
    native: (ctx) => ctx.step([ctx.node.inputs[0], ctx.node.inputs[1]], [ctx.axis(intAttr(ctx.node, 'axis', 0), ctx.rank(ctx.node.inputs[0]))]),
    steps: ['Gather'],
    fold: foldGather,
  },
  { domain: '', op: 'Slice', shape: slice, native: lowerSlice, steps: ['Slice'], fold: foldSlice },
  { domain: '', op: 'Pad', shape: pad, native: lowerPad, steps: ['Pad'] },
  { domain: '', op: 'Tile', shape: tile },
  // Shape computations: constants by the time a plan is built (passes/fold.ts folds Shape from known shapes).
  { domain: '', op: 'Shape', shape: shapeOp, native: 'folded' },
  { domain: '', op: 'Size', shape: size },
  { domain: '', op: 'ConstantOfShape', shape: constantOfShape, native: 'folded', fold: foldConstantOfShape },
  { domain: '', op: 'Range', shape: range, native: 'folded', fold: foldRange },
  // The lowering makes a Constant's value a plan constant.
  { domain: '', op: 'Constant', shape: constant, native: 'structural', fold: (_, node) => (node.attributes.value?.type === 'tensor' ? node.attributes.value.value : undefined) },
);
