/**
 * Streaming calibration of one tensor: feed it any number of batches, none of which is kept, then ask for a
 * clipping range and the 8-bit scale / zero point that follow. The statistics (running and moving-average
 * min / max, a signed histogram that grows by merging bins, NaN / Inf counts) live in the core
 * (cpp/calib/); a model calibration keeps one Calibrator per tensor.
 */
import { awaitNative, callNative, EdgeInferError } from './errors';
import { native, type NativeCalibration, type NativeCalibrator, type NativeCalibratorStats } from './native';
import type { QuantizedType } from './quantize';
import { checkInteger, checkOneOf, checkOptions, checkTypedArray, invalid, isTypedArrayOf, typedArrayKind } from './validate';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy' | 'mse';

export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'entropy', 'mse'];

export interface CalibratorOptions {
  /**
   * Histogram bins on each side of zero (bins of |x|), in [8, 2^20]. Default 2048, TensorRT's entropy
   * histogram. Memory per calibrator: 16 bytes per bin.
   */
  bins?: number;
  /**
   * ONNX Runtime's `averaging_constant` for the moving-average min / max (per batch: moving += c * (batch -
   * moving)), in (0, 1]. Default 0.01.
   */
  averagingConstant?: number;
}

export interface CalibrationOptions {
  /**
   * How the clipping range is chosen. Default 'minmax': it never clips, so it cannot wreck a model.
   * Percentile and entropy clip the tails, which helps where tails are noise (CNN / ReLU activations) and
   * hurts where they carry signal: transformers put a few systematic outlier features in their activations,
   * and clipping them is what makes percentile wreck BERT (ONNX Runtime issue #10571); ONNX Runtime's
   * default is MinMax too. Choose 'entropy' or 'percentile' per model (or per tensor, after a sensitivity
   * check), 'mse' to minimise the expected squared error of the integer grid itself.
   * - 'minmax': the observed [min, max] (or the moving-average one, with `movingAverage`).
   * - 'percentile': t = the `percentile` of |x| (TensorRT's and ONNX Runtime's convention); symmetric [-t, t],
   *   asymmetric [min, max] clipped to [-t, t] (as 'entropy'), so a short side is not cut as hard as a long one.
   * - 'entropy': TensorRT's KL-divergence search over the |x| histogram (128 levels, 256 for one-sided data on an
   *   asymmetric grid); symmetric by nature, asymmetric clips [min, max] to [-t, t]. Point masses that every
   *   candidate grid holds exactly (ReLU's zeros; on an asymmetric grid a clamped near end, e.g. Max(x, -0.4))
   *   count as their neighbour bins, as NVIDIA's pytorch-quantization does for the zero bin: they cost no
   *   rounding error, but the search would shrink the range to keep them apart from their neighbours. So do
   *   other point masses, a value repeated across the data (padding, digital silence): bins far above their
   *   neighbourhood count as its level (their rounding error is at most half a step for every candidate).
   * - 'mse': the range minimising the expected squared quantization error over the histogram.
   */
  method?: CalibrationMethod;
  /**
   * Symmetric range [-t, t] (int8: zero point 0 and codes [-127, 127]; uint8: zero point 128). Default false:
   * ONNX Runtime's default for activations, which keeps a ReLU output's full resolution.
   */
  symmetric?: boolean;
  /** Integer type. Default 'int8' (ONNX Runtime's QDQ default for activations). */
  dtype?: QuantizedType;
  /** For 'percentile': in (0, 100]. Default 99.999. */
  percentile?: number;
  /** For 'minmax': the moving-average min / max instead of the running ones. Default false. */
  movingAverage?: boolean;
}

export interface CalibrationResult {
  /** float32 scale, > 0 (1 when every value was zero). */
  scale: number;
  zeroPoint: number;
  dtype: QuantizedType;
  /** The range the parameters represent: the method's clipping range, widened to include 0. */
  min: number;
  max: number;
  /** max(|min|, |max|). */
  threshold: number;
  method: CalibrationMethod;
  symmetric: boolean;
}

/** What the core keeps for one tensor (see NativeCalibratorStats; binWidth is in histogram()). */
export type CalibratorStats = Omit<NativeCalibratorStats, 'binWidth'>;

/** Signed histogram: counts[k] holds values in [(k - bins) * binWidth, (k - bins + 1) * binWidth). */
export interface CalibratorHistogram {
  counts: Float64Array;
  binWidth: number;
}

interface ResolvedCalibration {
  method: CalibrationMethod;
  symmetric: boolean;
  dtype: QuantizedType;
  percentile: number;
  movingAverage: boolean;
}

function checkBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalid(`${name} must be a boolean, got ${String(value)}`, { argument: name, got: value });
  return value;
}

/** Checks calibration options and fills in the defaults documented on CalibrationOptions. */
export function resolveCalibrationOptions(options: unknown): ResolvedCalibration {
  const o = checkOptions(options, 'options');
  const method = checkOneOf(o.method ?? 'minmax', CALIBRATION_METHODS, 'method');
  const dtype = checkOneOf(o.dtype ?? 'int8', ['int8', 'uint8'] as const, 'dtype');
  const symmetric = checkBoolean(o.symmetric ?? false, 'symmetric');
  const movingAverage = checkBoolean(o.movingAverage ?? false, 'movingAverage');
  const percentile = o.percentile ?? 99.999;
  if (typeof percentile !== 'number' || !(percentile > 0 && percentile <= 100)) {
    throw invalid(`percentile must be a number in (0, 100], got ${String(percentile)}`, { argument: 'percentile', got: percentile });
  }
  if (movingAverage && method !== 'minmax') {
    throw invalid(`movingAverage applies to method 'minmax' only, not '${method}'`, { argument: 'movingAverage' });
  }
  return { method, symmetric, dtype, percentile, movingAverage };
}

const CONVERTIBLE_KINDS = new Set(['Float64Array', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array']);

/**
 * The batch as a Float32Array: a Float32Array as it is (read in place), other numeric typed arrays and
 * arrays of numbers converted (values beyond float32's range become ±Infinity and are counted, not used).
 */
function toBatch(data: unknown): Float32Array {
  if (isTypedArrayOf(data, Float32Array)) {
    checkTypedArray<Float32Array>(data, [Float32Array], 'data');
    return data as Float32Array;
  }
  const kind = typedArrayKind(data);
  if (kind !== undefined && CONVERTIBLE_KINDS.has(kind)) {
    try {
      return new Float32Array(data as unknown as Float64Array); // reads the internal slots: no iterator, no getters
    } catch {
      throw invalid('data is backed by a detached ArrayBuffer', { argument: 'data' });
    }
  }
  if (Array.isArray(data) && data.every((value) => typeof value === 'number')) return Float32Array.from(data as number[]);
  const got = kind ?? (Array.isArray(data) ? 'an array with non-number elements' : data === null ? 'null' : typeof data);
  throw invalid(`data must be a Float32Array, another numeric typed array or an array of numbers, got ${got}`, { argument: 'data', got });
}

/** Internal (not public API): a Calibrator's NativeCalibrator, which a native run can observe outputs into. */
export const nativeStatistics = Symbol('edgeinfer.nativeStatistics');

export class Calibrator {
  #native: NativeCalibrator | undefined;
  readonly bins: number;
  readonly averagingConstant: number;

  constructor(options?: CalibratorOptions) {
    const o = checkOptions(options, 'options');
    this.bins = checkInteger(o.bins ?? 2048, 'bins', 8, 2 ** 20);
    const constant = o.averagingConstant ?? 0.01;
    if (typeof constant !== 'number' || !(constant > 0 && constant <= 1)) {
      throw invalid(`averagingConstant must be a number in (0, 1], got ${String(constant)}`, { argument: 'averagingConstant', got: constant });
    }
    this.averagingConstant = constant;
    this.#native = callNative(() => new native.NativeCalibrator(this.bins, constant));
  }

  get disposed(): boolean {
    return this.#native === undefined;
  }

  #live(): NativeCalibrator {
    if (this.#native === undefined) throw new EdgeInferError('EDGEINFER_DISPOSED', 'the calibrator was disposed');
    return this.#native;
  }

  /** The native statistics, for a native model run that adds an output to them itself (calibrateModel). */
  [nativeStatistics](): NativeCalibrator {
    return this.#live();
  }

  /**
   * Adds one batch, synchronously (a few ns per value; addAsync keeps large batches off a busy JS thread).
   * NaN and ±Infinity are counted and skipped; an empty batch changes nothing.
   */
  add(data: Float32Array | ArrayLike<number>): this {
    const calibrator = this.#live();
    const batch = toBatch(data);
    callNative(() => calibrator.add(batch, false));
    return this;
  }

  /** Adds one batch off the JS thread; the values are copied first, so `data` may be reused at once. */
  async addAsync(data: Float32Array | ArrayLike<number>): Promise<void> {
    const calibrator = this.#live();
    const batch = toBatch(data);
    await awaitNative(callNative(() => calibrator.add(batch, true)));
  }

  /**
   * The clipping range and parameters for what was added so far (the calibrator keeps collecting).
   * Synchronous; the entropy and MSE searches take milliseconds, computeAsync runs them off the JS thread.
   * Throws EDGEINFER_INVALID_ARGUMENT when no finite value was added.
   */
  compute(options?: CalibrationOptions): CalibrationResult {
    const calibrator = this.#live();
    const o = resolveCalibrationOptions(options);
    return toResult(callNative(() => calibrator.compute(o.method, o.symmetric, o.dtype, o.percentile, o.movingAverage, false)), o);
  }

  /** compute() off the JS thread, on a snapshot of the statistics taken now. */
  async computeAsync(options?: CalibrationOptions): Promise<CalibrationResult> {
    const calibrator = this.#live();
    const o = resolveCalibrationOptions(options);
    const result = await awaitNative(callNative(() => calibrator.compute(o.method, o.symmetric, o.dtype, o.percentile, o.movingAverage, true)));
    return toResult(result, o);
  }

  stats(): CalibratorStats {
    const s = callNative(() => this.#live().stats());
    return {
      bins: s.bins,
      count: s.count,
      nanCount: s.nanCount,
      infCount: s.infCount,
      batches: s.batches,
      min: s.min,
      max: s.max,
      movingMin: s.movingMin,
      movingMax: s.movingMax,
    };
  }

  /** A copy of the signed histogram (2 * bins counts), for inspection and plots. */
  histogram(): CalibratorHistogram {
    const calibrator = this.#live();
    return callNative(() => ({ counts: calibrator.histogram(), binWidth: calibrator.stats().binWidth }));
  }

  /** Frees the statistics now; later calls throw EDGEINFER_DISPOSED. Idempotent. */
  dispose(): void {
    this.#native?.dispose();
    this.#native = undefined;
  }
}

function toResult(result: NativeCalibration, o: ResolvedCalibration): CalibrationResult {
  return {
    scale: result.scale,
    zeroPoint: result.zeroPoint,
    dtype: o.dtype,
    min: result.min,
    max: result.max,
    threshold: result.threshold,
    method: o.method,
    symmetric: o.symmetric,
  };
}
