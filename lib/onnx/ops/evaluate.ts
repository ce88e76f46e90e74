/** Helpers for evaluating ops on constant tensors (the `fold` rules of the declarations): small tensors only. */
import type { DataType, Node, TensorData } from '../ir';
import { elementCount, fromNumbers, toNumbers } from '../tensor';
import type { FoldRule } from './registry';

/** Arithmetic is folded only on tensors up to this many elements. */
export const maxFoldElements = 1 << 16;

function strides(dims: number[]): number[] {
  const out = new Array<number>(dims.length).fill(1);
  for (let a = dims.length - 2; a >= 0; a--) out[a] = out[a + 1] * dims[a + 1];
  return out;
}

/** Numpy broadcast of several constant tensors; `f` gets the elements as numbers. Undefined when too large. */
export function broadcastElements(inputs: TensorData[], dtype: DataType, f: (values: number[]) => number): TensorData | undefined {
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

export function isIntegerType(dtype: DataType): boolean {
  return !['float32', 'float64', 'float16', 'string'].includes(dtype);
}

export function foldBinary(f: (a: number, b: number, integer: boolean) => number, outType?: DataType): FoldRule {
  return ([a, b]) => (a && b && a.dtype !== 'string' ? broadcastElements([a, b], outType ?? a.dtype, ([x, y]) => f(x, y, isIntegerType(a.dtype))) : undefined);
}

export function axesOf(node: Node, inputs: (TensorData | undefined)[], opset: number, since: number): number[] | null | undefined {
  const a = node.attributes.axes;
  if (opset < since || a) return a?.type === 'ints' ? a.value : null;
  if (node.inputs[1] === undefined || node.inputs[1] === '') return null;
  return inputs[1] ? toNumbers(inputs[1]) : undefined;
}
