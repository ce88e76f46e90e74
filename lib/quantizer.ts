/**
 * Quantizer: one tensor's 8-bit parameters (scale, zero point, type), found from calibration data or given,
 * and the conversions with them. Element work runs in the core (lib/quantize.ts's kernels, cpp/calib/).
 */
import { Calibrator, resolveCalibrationOptions, type CalibrationOptions, type CalibrationResult, type CalibratorOptions } from './calibrator';
import { callNative, EdgeInferError } from './errors';
import { native } from './native';
import { dequantizeSync, quantizeSync, type QuantizedType } from './quantize';
import {
  checkInteger,
  checkOneOf,
  checkOptions,
  checkPositiveFinite,
  checkTypedArray,
  copyTypedArray,
  invalid,
  isShared,
  isTypedArrayOf,
  shapeMismatch,
  typedArrayKind,
} from './validate';

/** Calibration data: one batch, a list of batches, or a (sync or async) iterable of batches. */
export type CalibrationSamples = Float32Array | readonly Float32Array[] | Iterable<Float32Array> | AsyncIterable<Float32Array>;

export interface QuantizerOptions extends CalibrationOptions, CalibratorOptions {
  /** Aborts between batches with EDGEINFER_ABORTED. */
  signal?: AbortSignal;
}

export interface QuantizerParams {
  /** Finite, > 0 and representable as a float32 > 0 (it is stored as float32). */
  scale: number;
  /** Integer in the type's range. Default 0. */
  zeroPoint?: number;
  /** Default 'int8'. */
  dtype?: QuantizedType;
  /** How the parameters were found (set by fromCalibration). */
  calibration?: CalibrationResult;
}

/** Per-channel symmetric int8 weights: data[i] = round(w[i] / scales[c]) for the channel c of i along `axis`. */
export interface QuantizedWeights {
  data: Int8Array;
  scales: Float32Array;
  /** All 0 (symmetric). */
  zeroPoints: Int32Array;
  /** The channel axis, non-negative. */
  axis: number;
  dims: number[];
}

/** Batches at least this long are added off the JS thread during fromCalibration. */
const ASYNC_BATCH_LENGTH = 1 << 16;

/** Every byte value once: the codes of the lookup table (as Int8Array: 0..127, then -128..-1). */
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

function batchesOf(samples: unknown): Iterable<unknown> | AsyncIterable<unknown> {
  if (isTypedArrayOf(samples, Float32Array)) return [samples];
  const kind = typedArrayKind(samples);
  const iterable = samples as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown } | null;
  if (kind === undefined && typeof iterable === 'object' && iterable !== null) {
    if (typeof iterable[Symbol.asyncIterator] === 'function') return samples as AsyncIterable<unknown>;
    if (typeof iterable[Symbol.iterator] === 'function') return samples as Iterable<unknown>;
  }
  const got = kind ?? (samples === null ? 'null' : typeof samples);
  throw invalid(`samples must be a Float32Array or an array, iterable or async iterable of Float32Array, got ${got}`, {
    argument: 'samples',
    got,
  });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new EdgeInferError('EDGEINFER_ABORTED', 'calibration was aborted');
}

export class Quantizer {
  /** The float32 scale. */
  readonly scale: number;
  readonly zeroPoint: number;
  readonly dtype: QuantizedType;
  readonly calibration?: CalibrationResult;
  /**
   * The dequantized value of every code, indexed by the code's byte (q & 0xff): computed once by the same
   * kernel as lib/quantize.ts's dequantize, so a lookup equals it bit for bit.
   */
  readonly lookupTable: Float32Array;

  constructor(params: QuantizerParams) {
    const p = checkOptions(params, 'params');
    const scale = checkPositiveFinite(p.scale, 'scale');
    if (Math.fround(scale) === 0 || !Number.isFinite(Math.fround(scale))) {
      throw invalid(`scale ${scale} is not representable as a float32 > 0`, { argument: 'scale', got: scale });
    }
    this.dtype = checkOneOf(p.dtype ?? 'int8', ['int8', 'uint8'] as const, 'dtype');
    const [lo, hi] = this.dtype === 'int8' ? [-128, 127] : [0, 255];
    this.zeroPoint = checkInteger(p.zeroPoint ?? 0, 'zeroPoint', lo, hi);
    this.scale = Math.fround(scale);
    if (p.calibration !== undefined) this.calibration = p.calibration as CalibrationResult;
    const codes = this.dtype === 'int8' ? new Int8Array(ALL_BYTES.buffer) : ALL_BYTES;
    this.lookupTable = dequantizeSync(codes, { scale: this.scale, zeroPoint: this.zeroPoint });
  }

  /**
   * Streams `samples` through a Calibrator and returns a Quantizer with the resulting parameters. Options
   * and their defaults are CalibrationOptions' (method 'minmax', int8, asymmetric) and CalibratorOptions'.
   * No batch, or no finite value in any: EDGEINFER_INVALID_ARGUMENT.
   */
  static async fromCalibration(samples: CalibrationSamples, options?: QuantizerOptions): Promise<Quantizer> {
    const o = checkOptions(options, 'options');
    const calibration = resolveCalibrationOptions({
      method: o.method,
      symmetric: o.symmetric,
      dtype: o.dtype,
      percentile: o.percentile,
      movingAverage: o.movingAverage,
    });
    const signal = o.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('signal must be an AbortSignal', { argument: 'signal' });
    const batches = batchesOf(samples);
    const calibrator = new Calibrator({ bins: o.bins as number | undefined, averagingConstant: o.averagingConstant as number | undefined });
    try {
      let count = 0;
      for await (const batch of batches) {
        throwIfAborted(signal);
        if (!isTypedArrayOf(batch, Float32Array)) {
          const got = typedArrayKind(batch) ?? (batch === null ? 'null' : typeof batch);
          throw invalid(`samples[${count}] must be a Float32Array, got ${got}`, { argument: 'samples', index: count, got });
        }
        const view = batch as Float32Array;
        if (view.length >= ASYNC_BATCH_LENGTH) await calibrator.addAsync(view);
        else calibrator.add(view);
        count++;
      }
      throwIfAborted(signal);
      if (count === 0) throw invalid('samples held no batch', { argument: 'samples' });
      const result = await calibrator.computeAsync(calibration);
      return new Quantizer({ scale: result.scale, zeroPoint: result.zeroPoint, dtype: result.dtype, calibration: result });
    } finally {
      calibrator.dispose();
    }
  }

  /** ONNX QuantizeLinear with these parameters (round half to even, saturate, NaN to the zero point). */
  quantize(x: Float32Array): Int8Array | Uint8Array {
    return quantizeSync(x, { scale: this.scale, zeroPoint: this.zeroPoint, type: this.dtype });
  }

  /**
   * ONNX DequantizeLinear: (q - zeroPoint) * scale, equal to lookupTable[q & 0xff] for every code. `q` must
   * be of this quantizer's type.
   */
  dequantize(q: Int8Array | Uint8Array): Float32Array {
    const expected = this.dtype === 'int8' ? Int8Array : Uint8Array;
    checkTypedArray<Int8Array | Uint8Array>(q, [expected], 'q');
    return dequantizeSync(q, { scale: this.scale, zeroPoint: this.zeroPoint });
  }

  /**
   * Per-channel symmetric int8 quantization of a weight tensor of shape `dims`, one scale per index of
   * `axis` (negative counts from the end; default 0, the output channels of Conv and Gemm with transB):
   * scale = max|w| / 127 over the channel (1 for an all-zero channel), zero point 0, codes in [-127, 127].
   * Weights must be finite.
   */
  static quantizeWeights(tensor: Float32Array, dims: readonly number[], axis = 0): QuantizedWeights {
    checkTypedArray<Float32Array>(tensor, [Float32Array], 'tensor');
    if (tensor.length === 0) throw invalid('tensor must not be empty', { argument: 'tensor' });
    if (!Array.isArray(dims) || dims.length === 0) throw invalid('dims must be a non-empty array of integers', { argument: 'dims' });
    dims.forEach((dim, i) => checkInteger(dim, `dims[${i}]`, 1, 2 ** 40));
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== tensor.length) {
      throw shapeMismatch(`dims multiply to ${count}, but the tensor has ${tensor.length} elements`, { argument: 'dims', expected: tensor.length, got: count });
    }
    const rank = dims.length;
    const channelAxis = (checkInteger(axis, 'axis', -rank, rank - 1) + rank) % rank;
    // Another thread could change shared memory between the checks and the kernels: work on a copy.
    const weights = isShared(tensor) ? copyTypedArray(tensor) : tensor;
    const bad = callNative(() => native.firstNonFinite(weights));
    if (bad >= 0) throw invalid(`tensor[${bad}] is ${weights[bad]}: weights must be finite`, { argument: 'tensor', index: bad });
    const outer = dims.slice(0, channelAxis).reduce((a, b) => a * b, 1);
    const inner = dims.slice(channelAxis + 1).reduce((a, b) => a * b, 1);
    const { scales, zeroPoints } = callNative(() =>
      native.NativeCalibrator.channelParams(weights, outer, dims[channelAxis], inner, true, 'int8'),
    );
    const data = quantizeSync(weights, { scale: scales, zeroPoint: zeroPoints, axis: channelAxis, dims, type: 'int8' }) as Int8Array;
    return { data, scales, zeroPoints, axis: channelAxis, dims: [...dims] };
  }
}
