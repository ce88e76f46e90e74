/**
 * TensorData helpers shared by the reader, writer, shape inference and constant folding: data type codes,
 * element sizes, typed-array construction and element access as numbers.
 */
import { DataType, Dim, TensorArray, TensorData, onnxDataTypeCodes } from './ir';

const codeToType = new Map<number, DataType>(Object.entries(onnxDataTypeCodes).map(([type, code]) => [code, type as DataType]));

/** The DataType for an ONNX TensorProto.DataType code, or undefined for codes edgeinfer does not know. */
export function dataTypeFromCode(code: number): DataType | undefined {
  return codeToType.get(code);
}

/** Bytes per element in raw_data (string tensors have none). */
export const bytesPerElement: Record<DataType, number> = {
  float32: 4,
  float16: 2,
  float64: 8,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  bool: 1,
  string: 0,
};

/** A zero-filled array of the element type TensorData uses for `dtype`. */
export function allocate(dtype: DataType, length: number): TensorArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length);
    case 'float64':
      return new Float64Array(length);
    case 'float16':
    case 'uint16':
      return new Uint16Array(length);
    case 'int8':
      return new Int8Array(length);
    case 'uint8':
    case 'bool':
    case 'string':
      return new Uint8Array(length);
    case 'int16':
      return new Int16Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'uint32':
      return new Uint32Array(length);
    case 'int64':
      return new BigInt64Array(length);
    case 'uint64':
      return new BigUint64Array(length);
  }
}

const arrayTypes = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  uint16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  string: Uint8Array,
  int16: Int16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
} as const;

/** `length` elements of the array type TensorData uses for `dtype`, viewing `buffer` from its start (no copy). */
export function viewOf(dtype: DataType, buffer: ArrayBuffer, length: number): TensorArray {
  return new arrayTypes[dtype](buffer, 0, length);
}

export function isBigIntType(dtype: DataType): boolean {
  return dtype === 'int64' || dtype === 'uint64';
}

export function isFloatType(dtype: DataType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16';
}

/** Product of dims (1 for a scalar). */
export function elementCount(dims: readonly number[]): number {
  let count = 1;
  for (const dim of dims) count *= dim;
  return count;
}

/** True when every dim is a non-negative integer. */
export function isConcrete(shape: readonly Dim[] | undefined): shape is number[] {
  return shape !== undefined && shape.every((dim) => typeof dim === 'number' && dim >= 0);
}

/** Element i as a JS number (bigints converted; float16 decoded). */
export function getNumber(tensor: TensorData, i: number): number {
  const value = tensor.data[i];
  if (tensor.dtype === 'float16') return float16ToNumber(value as number);
  return typeof value === 'bigint' ? Number(value) : (value as number);
}

/** All elements as JS numbers. */
export function toNumbers(tensor: TensorData): number[] {
  const out = new Array<number>(tensor.data.length);
  for (let i = 0; i < out.length; i++) out[i] = getNumber(tensor, i);
  return out;
}

/** A tensor of `dtype` holding `values` (converted: bigint for int64, rounding for integers, 0/1 for bool). */
export function fromNumbers(dtype: DataType, dims: number[], values: ArrayLike<number>): TensorData {
  const data = allocate(dtype, values.length);
  for (let i = 0; i < values.length; i++) setNumber(data, dtype, i, values[i]);
  return { dtype, dims, data };
}

export function setNumber(data: TensorArray, dtype: DataType, i: number, value: number): void {
  if (isBigIntType(dtype)) {
    // Clamp: INT64_MAX read back as a double is 2^63, which would wrap to INT64_MIN.
    const limit = dtype === 'int64' ? 2 ** 63 : 2 ** 64;
    const clamped = Number.isNaN(value) ? 0 : Math.min(Math.max(Math.trunc(value), dtype === 'int64' ? -limit : 0), limit);
    let big = BigInt(clamped);
    if (dtype === 'int64' && big >= 2n ** 63n) big = 2n ** 63n - 1n;
    if (dtype === 'uint64' && big >= 2n ** 64n) big = 2n ** 64n - 1n;
    (data as BigInt64Array)[i] = big;
  } else if (dtype === 'bool') {
    (data as Uint8Array)[i] = value ? 1 : 0;
  } else if (dtype === 'float16') {
    (data as Uint16Array)[i] = numberToFloat16(value);
  } else if (isFloatType(dtype)) {
    (data as Float32Array)[i] = value;
  } else {
    (data as Int32Array)[i] = Math.trunc(value);
  }
}

/** A scalar-or-1-element constant's single value, or undefined. */
export function scalarValue(tensor: TensorData | undefined): number | undefined {
  if (tensor === undefined || tensor.dtype === 'string' || tensor.data.length !== 1) return undefined;
  return getNumber(tensor, 0);
}

export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round-to-nearest-even float32 -> float16 bits. */
export function numberToFloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let result = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    if (rest > half || (rest === half && result & 1)) result++;
    return sign | result;
  }
  let result = (e << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && result & 1)) result++;
  e = result;
  return sign | e;
}

/** A deep copy of a tensor (data copied into a fresh buffer). */
export function cloneTensor(tensor: TensorData): TensorData {
  const copy: TensorData = { dtype: tensor.dtype, dims: [...tensor.dims], data: tensor.data.slice() as TensorArray };
  if (tensor.strings) copy.strings = [...tensor.strings];
  return copy;
}

/** The tensor's bytes (little-endian, as stored in raw_data). */
export function tensorBytes(tensor: TensorData): Uint8Array {
  return new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength).slice();
}
