/**
 * Tensors as onnxruntime-common users know them: `{ type, data, dims }`. Plain objects of that shape are
 * accepted everywhere; outputs are plain objects too.
 */
import type { DataType, TensorArray } from './onnx/ir';
import { allocate } from './onnx/tensor';
import { invalid, shapeMismatch } from './validate';

export type TensorType = Exclude<DataType, 'string'>;

export interface Tensor {
  type: TensorType;
  data: TensorArray;
  dims: readonly number[];
}

export interface TensorInfo {
  name: string;
  type: TensorType;
  /** Numbers, or names for dimensions fixed only at run time (e.g. 'batch'). */
  dims: (number | string)[];
}

/** A zero-filled array of the element type Tensor.data uses for `type`. */
export function allocateTensorData(type: TensorType, length: number): TensorArray {
  return allocate(type, length);
}

// Typed-array class per tensor type, from the IR's own allocate(), looked up once per type.
const arrayClasses = new Map<TensorType, new (length: number) => TensorArray>();
function arrayClass(type: TensorType): new (length: number) => TensorArray {
  let found = arrayClasses.get(type);
  if (found === undefined) {
    found = allocate(type, 0).constructor as new (length: number) => TensorArray;
    arrayClasses.set(type, found);
  }
  return found;
}

/** Checks a feed against the model input it is for; returns its concrete dims. */
export function checkFeed(name: string, tensor: unknown, expected: TensorInfo): number[] {
  if (tensor === null || typeof tensor !== 'object') throw invalid(`input '${name}' must be a tensor { type, data, dims }`, { input: name });
  const t = tensor as Partial<Tensor>;
  if (t.type !== expected.type) {
    throw invalid(`input '${name}' must be of type ${expected.type}, got ${String(t.type)}`, { input: name, expected: expected.type, got: t.type });
  }
  const ArrayType = arrayClass(expected.type);
  if (!(t.data instanceof ArrayType)) {
    throw invalid(`input '${name}' data must be a ${ArrayType.name}`, { input: name, expected: ArrayType.name });
  }
  if (!Array.isArray(t.dims) || t.dims.some((dim) => !Number.isInteger(dim) || dim < 0)) {
    throw invalid(`input '${name}' dims must be an array of non-negative integers`, { input: name, got: t.dims });
  }
  const dims = t.dims as number[];
  if (dims.length !== expected.dims.length || dims.some((dim, i) => typeof expected.dims[i] === 'number' && expected.dims[i] !== dim)) {
    throw shapeMismatch(`input '${name}' has dims [${dims}], the model expects [${expected.dims}]`, { input: name, expected: expected.dims, got: dims });
  }
  const count = dims.reduce((product, dim) => product * dim, 1);
  if (t.data.length !== count) {
    throw shapeMismatch(`input '${name}' has ${t.data.length} elements, dims [${dims}] need ${count}`, { input: name, expected: count, got: t.data.length });
  }
  if (expected.type === 'float32' || expected.type === 'float64') {
    const data = t.data as Float32Array | Float64Array;
    for (let i = 0; i < data.length; i++) {
      if (Number.isNaN(data[i])) throw invalid(`input '${name}' contains NaN at index ${i}`, { input: name, index: i });
    }
  }
  return dims;
}
