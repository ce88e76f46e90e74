/**
 * Constant folding: Constant nodes become initializers, and nodes whose inputs are all constants are
 * evaluated here for the shape-computation ops (plain TS on TensorData, small tensors only), plus Shape of a
 * value whose shape is concrete (from graph.valueInfo, i.e. after inferShapes). Nodes writing a graph
 * output are kept.
 */
import { DataType, Graph, Model, Node, TensorData } from '../ir';
import { normalizeAxis } from '../dims';
import { dataTypeFromCode, elementCount, fromNumbers, isConcrete, toNumbers } from '../tensor';
import { forEachGraph } from './graph-index';

/** Arithmetic is folded only on tensors up to this many elements. */
const maxFoldElements = 1 << 16;

type Evaluate = (inputs: (TensorData | undefined)[], node: Node, opset: number) => TensorData | undefined;

function strides(dims: number[]): number[] {
  const out = new Array<number>(dims.length).fill(1);
  for (let a = dims.length - 2; a >= 0; a--) out[a] = out[a + 1] * dims[a + 1];
  return out;
}

/** Numpy broadcast of several constant tensors; `f` gets the elements as numbers. */
function elementwise(inputs: TensorData[], dtype: DataType, f: (values: number[]) => number): TensorData | undefined {
  const rank = Math.max(...inputs.map((t) => t.dims.length));
  const dims: number[] = [];
  for (let a = 0; a < rank; a++) {
    let d = 1;
    for (const t of inputs) {
      const x = t.dims[a - (rank - t.dims.length)] ?? 1;
      if (x !== 1 && d !== 1 && x !== d) return undefined;
      if (x !== 1) d = x;
    }
    dims.push(d);
  }
  const count = elementCount(dims);
  if (count > maxFoldElements) return undefined;
  const values = inputs.map(toNumbers);
  const inStrides = inputs.map((t) => {
    const s = strides(t.dims);
    return dims.map((d, a) => {
      const k = a - (rank - t.dims.length);
      return k < 0 || t.dims[k] === 1 ? 0 : s[k];
    });
  });
  const out = new Array<number>(count);
  const outStrides = strides(dims);
  for (let i = 0; i < count; i++) {
    const args = inputs.map((_, k) => {
      let offset = 0;
      for (let a = 0, rest = i; a < rank; a++) {
        const coordinate = Math.floor(rest / outStrides[a]);
        rest -= coordinate * outStrides[a];
        offset += coordinate * inStrides[k][a];
      }
      return values[k][offset];
    });
    out[i] = f(args);
  }
  return fromNumbers(dtype, dims, out);
}

function isInteger(dtype: DataType): boolean {
  return !['float32', 'float64', 'float16', 'string'].includes(dtype);
}

function binary(f: (a: number, b: number, integer: boolean) => number, outType?: DataType): Evaluate {
  return ([a, b]) => (a && b && a.dtype !== 'string' ? elementwise([a, b], outType ?? a.dtype, ([x, y]) => f(x, y, isInteger(a.dtype))) : undefined);
}

function axesOf(node: Node, inputs: (TensorData | undefined)[], opset: number, since: number): number[] | null | undefined {
  const a = node.attributes.axes;
  if (opset < since || a) return a?.type === 'ints' ? a.value : null;
  if (node.inputs[1] === undefined || node.inputs[1] === '') return null;
  return inputs[1] ? toNumbers(inputs[1]) : undefined;
}

const evaluators: Record<string, Evaluate> = {
  Identity: ([x]) => x && { ...x, dims: [...x.dims] },
  Cast: ([x], node) => {
    const to = node.attributes.to?.type === 'int' ? dataTypeFromCode(node.attributes.to.value) : undefined;
    if (!x || !to || to === 'string' || x.dtype === 'string' || x.data.length > maxFoldElements) return undefined;
    const values = toNumbers(x);
    return fromNumbers(to, [...x.dims], isInteger(to) ? values.map(Math.trunc) : values);
  },
  Reshape: ([x, shape], node) => {
    if (!x || !shape) return undefined;
    const target = toNumbers(shape);
    const allowZero = node.attributes.allowzero?.type === 'int' && node.attributes.allowzero.value === 1;
    const dims = target.map((d, a) => (d === 0 && !allowZero ? x.dims[a] : d));
    const known = dims.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
    const minus = dims.indexOf(-1);
    if (minus >= 0) dims[minus] = known === 0 ? 0 : x.data.length / known;
    if (dims.some((d) => d === undefined || !Number.isInteger(d) || d < 0) || elementCount(dims) !== x.data.length) return undefined;
    return { ...x, dims };
  },
  Unsqueeze: ([x, ...rest], node, opset) => {
    const axes = axesOf(node, [x, ...rest], opset, 13);
    if (!x || !axes) return undefined;
    const rank = x.dims.length + axes.length;
    const normalized = axes.map((a) => normalizeAxis(a, rank));
    if (normalized.some((a) => a === undefined)) return undefined;
    const dims: number[] = [];
    for (let a = 0, k = 0; a < rank; a++) dims.push(normalized.includes(a) ? 1 : x.dims[k++]);
    return { ...x, dims };
  },
  Squeeze: ([x, ...rest], node, opset) => {
    const axes = axesOf(node, [x, ...rest], opset, 13);
    if (!x || axes === undefined) return undefined;
    const drop = axes === null ? x.dims.flatMap((d, a) => (d === 1 ? [a] : [])) : axes.map((a) => normalizeAxis(a, x.dims.length));
    if (drop.some((a) => a === undefined || x.dims[a] !== 1)) return undefined;
    return { ...x, dims: x.dims.filter((_, a) => !drop.includes(a)) };
  },
  Concat: (inputs, node) => {
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
  },
  Gather: ([x, indices], node) => {
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
  },
  Slice: (inputs, node, opset) => {
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
  },
  Range: ([start, limit, delta]) => {
    if (!start || !limit || !delta) return undefined;
    const [s, l, d] = [start, limit, delta].map((t) => toNumbers(t)[0]);
    if (!d) return undefined;
    const n = Math.max(Math.ceil((l - s) / d), 0);
    if (n > maxFoldElements) return undefined;
    return fromNumbers(start.dtype, [n], Array.from({ length: n }, (_, i) => s + i * d));
  },
  ConstantOfShape: ([shape], node) => {
    if (!shape) return undefined;
    const dims = toNumbers(shape);
    if (dims.some((d) => !Number.isInteger(d) || d < 0) || elementCount(dims) > maxFoldElements) return undefined;
    const value = node.attributes.value?.type === 'tensor' ? node.attributes.value.value : undefined;
    if (value?.dtype === 'string') return undefined;
    const fill = value ? toNumbers(value)[0] ?? 0 : 0;
    return fromNumbers(value?.dtype ?? 'float32', dims, new Array(elementCount(dims)).fill(fill));
  },
  Add: binary((a, b) => a + b),
  Sub: binary((a, b) => a - b),
  Mul: binary((a, b) => a * b),
  Div: binary((a, b, integer) => (integer ? (b === 0 ? 0 : Math.trunc(a / b)) : a / b)),
  Equal: binary((a, b) => (a === b ? 1 : 0), 'bool'),
  Where: ([c, x, y]) => (c && x && y && x.dtype !== 'string' ? elementwise([c, x, y], x.dtype, ([p, a, b]) => (p ? a : b)) : undefined),
};

/** Folds constants in the model (and its subgraphs). Returns how many nodes were removed. */
export function foldConstants(model: Model): number {
  const opset = model.opsets.get('') ?? 1;
  return forEachGraph(model.graph, (graph, outer) => foldGraph(graph, outer, opset));
}

function knownShape(graph: Graph, name: string): number[] | undefined {
  const info = graph.valueInfo.get(name) ?? graph.inputs.find((i) => i.name === name);
  const t = graph.initializers.get(name);
  if (t) return t.dims;
  return isConcrete(info?.shape) ? info!.shape as number[] : undefined;
}

function foldGraph(graph: Graph, outer: Map<string, TensorData>, opset: number): number {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const constant = (name: string) => (name === '' ? undefined : (graph.initializers.get(name) ?? outer.get(name)));
  let folded = 0;
  const kept: Node[] = [];
  for (const node of graph.nodes) {
    const result = node.domain === '' && !node.outputs.some((o) => outputs.has(o)) && node.outputs.length === 1 ? evaluate(graph, node, constant, opset) : undefined;
    if (result === undefined) {
      kept.push(node);
      continue;
    }
    graph.initializers.set(node.outputs[0], result);
    graph.valueInfo.set(node.outputs[0], { name: node.outputs[0], dtype: result.dtype, shape: [...result.dims] });
    folded++;
  }
  graph.nodes = kept;
  return folded;
}

function evaluate(graph: Graph, node: Node, constant: (name: string) => TensorData | undefined, opset: number): TensorData | undefined {
  if (node.opType === 'Constant') return node.attributes.value?.type === 'tensor' ? node.attributes.value.value : undefined;
  if (node.opType === 'Shape') {
    const dims = knownShape(graph, node.inputs[0]);
    if (!dims) return undefined;
    const rank = dims.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    const start = clamp(node.attributes.start?.type === 'int' ? node.attributes.start.value : 0);
    const end = clamp(node.attributes.end?.type === 'int' ? node.attributes.end.value : rank);
    const slice = dims.slice(start, Math.max(start, end));
    return fromNumbers('int64', [slice.length], slice);
  }
  if (!Object.hasOwn(evaluators, node.opType)) return undefined;
  const inputs = node.inputs.map(constant);
  if (inputs.some((t, i) => node.inputs[i] !== '' && t === undefined)) return undefined;
  try {
    return evaluators[node.opType](inputs, node, opset);
  } catch {
    return undefined; // leave anything odd to the executor, which reports it properly
  }
}
