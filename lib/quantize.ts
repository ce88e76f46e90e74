/**
 * QuantizeLinear / DequantizeLinear with ONNX semantics: q = saturate(roundHalfToEven(x / scale) + zeroPoint),
 * x = (q - zeroPoint) * scale; per tensor (one scale) or per channel along `axis` of `dims`. NaN quantizes
 * to the zero point.
 */
import { awaitNative, callNative } from './errors';
import { native } from './native';
import {
  checkInteger,
  checkLength,
  checkOneOf,
  checkOptions,
  checkPositiveFinite,
  checkTypedArray,
  invalid,
  shapeMismatch,
  toFloat32Array,
} from './validate';

export type QuantizedType = 'int8' | 'uint8';

export interface QuantizationParams {
  /** One scale (per tensor) or one per channel along `axis`. Finite and > 0. */
  scale: number | ArrayLike<number>;
  /** One zero point or one per channel. Default 0. Range of the integer type. */
  zeroPoint?: number | ArrayLike<number>;
  /** Channel axis for per-channel parameters; needs `dims`. Negative counts from the end. */
  axis?: number;
  /** Shape of the tensor (its product must equal the element count); needed with `axis`. */
  dims?: readonly number[];
}

export interface QuantizeOptions extends QuantizationParams {
  /** Output integer type. Default 'int8', or the type of `out`. */
  type?: QuantizedType;
  out?: Int8Array | Uint8Array;
}

export interface DequantizeOptions extends QuantizationParams {
  out?: Float32Array;
}

interface Layout {
  outer: number;
  channels: number;
  inner: number;
  scales: Float32Array;
  zeroPoints: Int32Array;
}

function layoutOf(params: Record<string, unknown>, count: number, isSigned: boolean): Layout {
  const scales = toFloat32Array(params.scale, 'scale', (value, name) => {
    checkPositiveFinite(value, name);
  });
  const [lo, hi] = isSigned ? [-128, 127] : [0, 255];
  const zeroList = params.zeroPoint === undefined ? [0] : typeof params.zeroPoint === 'number' ? [params.zeroPoint] : Array.from(params.zeroPoint as ArrayLike<number>);
  zeroList.forEach((value, i) => checkInteger(value, zeroList.length === 1 ? 'zeroPoint' : `zeroPoint[${i}]`, lo, hi));
  if (params.axis === undefined) {
    if (scales.length !== 1 || zeroList.length !== 1) {
      throw invalid('per-channel scale or zeroPoint arrays need an axis and dims', { argument: 'axis' });
    }
    return { outer: 1, channels: 1, inner: count, scales, zeroPoints: Int32Array.from(zeroList) };
  }
  if (!Array.isArray(params.dims)) throw invalid('dims (the tensor shape) is needed with axis', { argument: 'dims' });
  const dims = params.dims as number[];
  dims.forEach((dim, i) => checkInteger(dim, `dims[${i}]`, 1, 2 ** 40));
  const product = dims.reduce((a, b) => a * b, 1);
  if (product !== count) throw shapeMismatch(`dims multiply to ${product}, but the tensor has ${count} elements`, { argument: 'dims', expected: count, got: product });
  const rank = dims.length;
  let axis = checkInteger(params.axis, 'axis', -rank, rank - 1);
  if (axis < 0) axis += rank;
  const channels = dims[axis];
  if (scales.length !== channels && scales.length !== 1) throw shapeMismatch(`scale has ${scales.length} values, expected ${channels} (dims[${axis}])`, { argument: 'scale', expected: channels, got: scales.length });
  if (zeroList.length !== channels && zeroList.length !== 1) throw shapeMismatch(`zeroPoint has ${zeroList.length} values, expected ${channels}`, { argument: 'zeroPoint', expected: channels, got: zeroList.length });
  const expand = <T extends Float32Array | Int32Array>(values: T, make: (n: number) => T): T => {
    if (values.length === channels) return values;
    const full = make(channels);
    full.fill(values[0] as never);
    return full;
  };
  return {
    outer: dims.slice(0, axis).reduce((a, b) => a * b, 1),
    channels,
    inner: dims.slice(axis + 1).reduce((a, b) => a * b, 1),
    scales: expand(scales, (n) => new Float32Array(n)),
    zeroPoints: expand(Int32Array.from(zeroList), (n) => new Int32Array(n)),
  };
}

interface QuantizeCall extends Layout {
  x: Float32Array;
  y: Int8Array | Uint8Array;
}

function prepareQuantize(x: Float32Array, options: QuantizeOptions): QuantizeCall {
  checkTypedArray<Float32Array>(x, [Float32Array], 'x');
  const o = checkOptions(options, 'options');
  if (x.length === 0) throw invalid('x must not be empty', { argument: 'x' });
  let type: QuantizedType;
  let y: Int8Array | Uint8Array;
  if (o.out !== undefined) {
    checkTypedArray<Int8Array | Uint8Array>(o.out, [Int8Array, Uint8Array], 'out');
    y = o.out;
    type = y instanceof Int8Array ? 'int8' : 'uint8';
    if (o.type !== undefined && o.type !== type) throw invalid(`type '${String(o.type)}' does not match out (${y.constructor.name})`, { argument: 'type' });
    checkLength(y, x.length, 'out');
  } else {
    type = checkOneOf(o.type ?? 'int8', ['int8', 'uint8'] as const, 'type');
    y = type === 'int8' ? new Int8Array(x.length) : new Uint8Array(x.length);
  }
  return { x, y, ...layoutOf(o, x.length, type === 'int8') };
}

function runQuantize(c: QuantizeCall, async: boolean) {
  return native.quantize(c.x, c.y, c.outer, c.channels, c.inner, c.scales, c.zeroPoints, async);
}

/** Quantizes off the JS thread. */
export async function quantize(x: Float32Array, options: QuantizeOptions): Promise<Int8Array | Uint8Array> {
  const call = prepareQuantize(x, options);
  await awaitNative(callNative(() => runQuantize(call, true)) as Promise<void>);
  return call.y;
}

export function quantizeSync(x: Float32Array, options: QuantizeOptions): Int8Array | Uint8Array {
  const call = prepareQuantize(x, options);
  callNative(() => runQuantize(call, false));
  return call.y;
}

interface DequantizeCall extends Layout {
  q: Int8Array | Uint8Array;
  x: Float32Array;
}

function prepareDequantize(q: Int8Array | Uint8Array, options: DequantizeOptions): DequantizeCall {
  checkTypedArray<Int8Array | Uint8Array>(q, [Int8Array, Uint8Array], 'q');
  const o = checkOptions(options, 'options');
  if (q.length === 0) throw invalid('q must not be empty', { argument: 'q' });
  let x: Float32Array;
  if (o.out !== undefined) {
    checkTypedArray<Float32Array>(o.out, [Float32Array], 'out');
    x = o.out;
    checkLength(x, q.length, 'out');
  } else {
    x = new Float32Array(q.length);
  }
  return { q, x, ...layoutOf(o, q.length, q instanceof Int8Array) };
}

function runDequantize(c: DequantizeCall, async: boolean) {
  return native.dequantize(c.q, c.x, c.outer, c.channels, c.inner, c.scales, c.zeroPoints, async);
}

/** Dequantizes off the JS thread. */
export async function dequantize(q: Int8Array | Uint8Array, options: DequantizeOptions): Promise<Float32Array> {
  const call = prepareDequantize(q, options);
  await awaitNative(callNative(() => runDequantize(call, true)) as Promise<void>);
  return call.x;
}

export function dequantizeSync(q: Int8Array | Uint8Array, options: DequantizeOptions): Float32Array {
  const call = prepareDequantize(q, options);
  callNative(() => runDequantize(call, false));
  return call.x;
}
