/**
 * Tensors as onnxruntime-common users know them: `{ type, data, dims }`. Plain objects of that shape are
 * accepted everywhere; outputs are plain objects too.
 */
import type { DataType, TensorArray } from './onnx/ir';
import { native } from './native';
import { allocate } from './onnx/tensor';
import { invalid, isTypedArrayOf, shapeMismatch, typedArrayLength } from './validate';

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
export function arrayClass(type: TensorType): new (length: number) => TensorArray {
  let found = arrayClasses.get(type);
  if (found === undefined) {
    found = allocate(type, 0).constructor as new (length: number) => TensorArray;
    arrayClasses.set(type, found);
  }
  return found;
}

export interface FeedCheckOptions {
  /** Accept NaN and ±Infinity in float inputs (they then propagate through the model as in ONNX Runtime). */
  allowNonFinite?: boolean;
}

/**
 * Checks a feed against the model input it is for; returns its concrete dims: a copy, and the copy is what is
 * checked (a Proxy or getter behind the caller's array cannot show the check one thing and the run another).
 */
export function checkFeed(name: string, tensor: unknown, expected: TensorInfo, options: FeedCheckOptions = {}): number[] {
  const data = checkTypeAndData(name, tensor, expected);
  const rawDims: unknown = (tensor as Partial<Tensor>).dims;
  if (!Array.isArray(rawDims)) throw badDims(name, rawDims);
  const dims = (rawDims as number[]).slice();
  checkShapeAndValues(name, data, dims, rawDims, expected, options);
  return dims;
}

/**
 * The same checks without copying the dims, for a feed nobody else can change (BatchScheduler's admission copy)
 * or that nothing will run (validateFeeds): no allocation on the admission path of every request.
 */
export function checkOwnedFeed(name: string, tensor: unknown, expected: TensorInfo, options: FeedCheckOptions = {}): void {
  const data = checkTypeAndData(name, tensor, expected);
  const dims: unknown = (tensor as Partial<Tensor>).dims;
  if (!Array.isArray(dims)) throw badDims(name, dims);
  checkShapeAndValues(name, data, dims as number[], dims, expected, options);
}

function badDims(name: string, got: unknown): Error {
  return invalid(`input '${name}' dims must be an array of non-negative integers`, { input: name, got });
}

/** The tensor's type and data checked; returns the data as read (once). */
function checkTypeAndData(name: string, tensor: unknown, expected: TensorInfo): TensorArray {
  if (tensor === null || typeof tensor !== 'object') throw invalid(`input '${name}' must be a tensor { type, data, dims }`, { input: name });
  const t = tensor as Partial<Tensor>;
  const type = t.type;
  if (type !== expected.type) {
    throw invalid(`input '${name}' must be of type ${expected.type}, got ${String(type)}`, { input: name, expected: expected.type, got: type });
  }
  const ArrayType = arrayClass(expected.type);
  const data = t.data;
  if (!isTypedArrayOf(data, ArrayType)) {
    throw invalid(`input '${name}' data must be a ${ArrayType.name} (not a Proxy or other look-alike)`, { input: name, expected: ArrayType.name });
  }
  return data as TensorArray;
}

// Plain loops, no callbacks: this runs for every request.
function checkShapeAndValues(name: string, data: TensorArray, dims: readonly number[], reported: unknown, expected: TensorInfo, options: FeedCheckOptions): void {
  let count = 1;
  for (let i = 0; i < dims.length; i++) {
    const dim = dims[i];
    if (!Number.isInteger(dim) || dim < 0) throw badDims(name, reported);
    count *= dim;
  }
  let fits = dims.length === expected.dims.length;
  for (let i = 0; fits && i < dims.length; i++) fits = typeof expected.dims[i] !== 'number' || expected.dims[i] === dims[i];
  if (!fits) {
    throw shapeMismatch(`input '${name}' has dims [${dims}], the model expects [${expected.dims}]`, { input: name, expected: expected.dims, got: dims.slice() });
  }
  const length = typedArrayLength(data as ArrayBufferView);
  if (length !== count) {
    throw shapeMismatch(`input '${name}' has ${length} elements, dims [${dims}] need ${count}`, { input: name, expected: count, got: length });
  }
  if (!options.allowNonFinite && (expected.type === 'float32' || expected.type === 'float64')) {
    const values = data as Float32Array | Float64Array;
    const index = native.firstNonFinite(values);
    if (index >= 0) {
      const value = values[index];
      const what = Number.isNaN(value) ? 'NaN' : String(value);
      throw invalid(`input '${name}' contains ${what} at index ${index} (load with allowNonFinite: true to accept NaN and ±Infinity)`, { input: name, index, value: what });
    }
  }
}
