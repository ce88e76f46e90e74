/**
 * Model calibration: run a float model over calibration feeds with the tensors to quantize added as graph
 * outputs (ONNX Runtime's "augmented model"), and stream each one into its own Calibrator. Nothing is kept
 * between batches but the calibrators' statistics (a 2 x 2048-bin histogram and a few counters each), so the
 * memory does not grow with the number of batches: ONNX Runtime's calibrators keep every batch's outputs
 * until the end (its issues #10503, #21979).
 */
import { inferObserved, type OutputObservers } from '../backends/backend';
import { Calibrator, nativeStatistics, resolveCalibrationOptions, type CalibrationMethod, type CalibrationOptions, type CalibrationResult, type CalibratorHistogram, type CalibratorOptions, type CalibratorStats } from '../calibrator';
import { Engine } from '../engine';
import { EdgeInferError } from '../errors';
import type { Model } from '../onnx/ir';
import { writeModel } from '../onnx/writer';
import type { Tensor } from '../tensor';
import { checkInteger, checkOneOf, checkOptions, invalid, isTypedArrayOf } from '../validate';
import { prepareFloatModel, readModelBytes } from './prepare-model';
import { checkOpTypes, findQuantizableNodes, type QuantizableOpType } from './quantizable-nodes';

/** One batch of calibration data: model input name -> tensor, as Engine.infer takes it. */
export type CalibrationFeeds = Record<string, Tensor>;

/** Calibration data: an array, an iterable or an async iterable (e.g. a generator reading files) of feeds. */
export type CalibrationData = readonly CalibrationFeeds[] | Iterable<CalibrationFeeds> | AsyncIterable<CalibrationFeeds>;

export interface CalibrationProgress {
  /** Batches run so far. */
  batch: number;
  /** Tensors being calibrated. */
  tensors: number;
}

export interface CalibrateModelOptions extends CalibratorOptions {
  /**
   * Backend that runs the model: 'native' (default, the fastest here) or 'onnxruntime' (for models with ops
   * the native backend lacks; needs onnxruntime-node).
   */
  backend?: 'native' | 'onnxruntime';
  /** Intra-op threads for the runs. Default: the Engine's (available parallelism). */
  threads?: number;
  /** Calibrate the activation inputs of these op types. Default: Conv, ConvTranspose, MatMul, Gemm. */
  opTypes?: QuantizableOpType[];
  /** Also calibrate the model's float inputs / outputs (for quantizeInputs / quantizeOutputs). Default false. */
  includeInputs?: boolean;
  includeOutputs?: boolean;
  /**
   * Exactly these tensors (values of the folded model) instead of the automatic choice; the options above
   * are then ignored.
   */
  tensors?: string[];
  /** Called after every batch. */
  onProgress?: (progress: CalibrationProgress) => void;
  /** Aborts between batches with EDGEINFER_ABORTED. */
  signal?: AbortSignal;
}

/** One calibrated tensor: its statistics and the quantization parameters any method gives for them. */
export interface CalibratedTensor {
  readonly name: string;
  stats(): CalibratorStats;
  compute(options?: CalibrationMethod | CalibrationOptions): CalibrationResult;
}

/**
 * Tensor name -> calibrator, after a model calibration. It owns native statistics: call dispose() when done
 * (quantizeModel disposes the tables it makes itself).
 */
export class CalibrationTable {
  readonly #calibrators: Map<string, Calibrator>;
  /** Batches the model ran. */
  readonly batches: number;
  /**
   * The first batch and the model's float outputs for it, kept (one batch only) so quantizeModel can check the
   * quantized model on a real input and report its agreement with the float model.
   */
  readonly sample: { feeds: CalibrationFeeds; outputs: Record<string, Tensor> } | undefined;

  constructor(calibrators: Map<string, Calibrator>, batches: number, sample: CalibrationTable['sample']) {
    this.#calibrators = calibrators;
    this.batches = batches;
    this.sample = sample;
  }

  get tensorNames(): string[] {
    return [...this.#calibrators.keys()];
  }

  has(name: string): boolean {
    return this.#calibrators.has(name);
  }

  #calibrator(name: string): Calibrator {
    const calibrator = this.#calibrators.get(name);
    if (calibrator === undefined) throw invalid(`tensor '${name}' was not calibrated`, { argument: 'name', got: name });
    if (calibrator.disposed) throw new EdgeInferError('EDGEINFER_DISPOSED', 'the calibration table was disposed');
    return calibrator;
  }

  tensor(name: string): CalibratedTensor {
    const calibrator = this.#calibrator(name);
    return { name, stats: () => calibrator.stats(), compute: (options) => this.compute(name, options) };
  }

  stats(name: string): CalibratorStats {
    return this.#calibrator(name).stats();
  }

  /** A copy of one tensor's signed histogram (see Calibrator.histogram), for inspection and plots. */
  histogram(name: string): CalibratorHistogram {
    return this.#calibrator(name).histogram();
  }

  /**
   * The clipping range and 8-bit parameters of one tensor by a method ('minmax' | 'percentile' | 'entropy' |
   * 'mse') or full CalibrationOptions (defaults as Calibrator.compute's). EDGEINFER_INVALID_ARGUMENT when the
   * tensor never held a finite value.
   */
  compute(name: string, options?: CalibrationMethod | CalibrationOptions): CalibrationResult {
    const calibrator = this.#calibrator(name);
    const resolved = typeof options === 'string' ? { method: options } : options;
    resolveCalibrationOptions(resolved); // a bad method is the caller's error, whatever the tensor
    if (calibrator.stats().count === 0) throw invalid(`tensor '${name}' held no finite value in ${this.batches} batches`, { tensor: name });
    return calibrator.compute(resolved);
  }

  /** compute() off the JS thread (the libuv pool): entropy / MSE searches of many tensors run in parallel. */
  async computeAsync(name: string, options?: CalibrationMethod | CalibrationOptions): Promise<CalibrationResult> {
    const calibrator = this.#calibrator(name);
    const resolved = typeof options === 'string' ? { method: options } : options;
    resolveCalibrationOptions(resolved);
    if (calibrator.stats().count === 0) throw invalid(`tensor '${name}' held no finite value in ${this.batches} batches`, { tensor: name });
    return calibrator.computeAsync(resolved);
  }

  /** Frees every calibrator's statistics. Idempotent. */
  dispose(): void {
    for (const calibrator of this.#calibrators.values()) calibrator.dispose();
  }
}

/**
 * The tensors a calibration of the folded model records by default: every float activation input of the
 * op types asked (Conv / ConvTranspose / MatMul / Gemm), plus the model's float inputs / outputs if asked.
 */
export function calibrationTensors(model: Model, options: { opTypes?: readonly QuantizableOpType[]; includeInputs?: boolean; includeOutputs?: boolean } = {}): string[] {
  const graph = model.graph;
  const names = new Set<string>();
  if (options.includeInputs) for (const input of graph.inputs) if (input.dtype === 'float32' && !graph.initializers.has(input.name)) names.add(input.name);
  for (const entry of findQuantizableNodes(model, options.opTypes ?? checkOpTypes(undefined, 'opTypes'))) for (const name of entry.activations) names.add(name);
  if (options.includeOutputs) for (const output of graph.outputs) if (output.dtype === 'float32') names.add(output.name);
  return [...names];
}

function isIterable(data: unknown): data is Iterable<unknown> | AsyncIterable<unknown> {
  if (data === null || typeof data !== 'object' || ArrayBuffer.isView(data)) return false;
  const d = data as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown };
  return typeof d[Symbol.asyncIterator] === 'function' || typeof d[Symbol.iterator] === 'function';
}

/** The model with `tensors` added as outputs, as bytes (the model itself is not changed). */
function augmentedModelBytes(model: Model, tensors: readonly string[]): Uint8Array {
  const graph = model.graph;
  const outputs = [...graph.outputs];
  const present = new Set(outputs.map((output) => output.name));
  const inputs = new Set(graph.inputs.map((input) => input.name));
  for (const name of tensors) {
    if (present.has(name) || inputs.has(name)) continue; // inputs are read from the feeds
    const info = graph.valueInfo.get(name);
    if (info?.dtype !== 'float32' || info.shape === undefined) {
      throw invalid(`tensor '${name}' is not a float32 value of known rank in the folded model`, { argument: 'tensors', got: name });
    }
    outputs.push({ name, dtype: 'float32', shape: [...info.shape] });
    present.add(name);
  }
  return writeModel({ ...model, graph: { ...graph, outputs } });
}

/** Batches from this many values on are added off the JS thread. */
const ASYNC_ADD_LENGTH = 1 << 16;

function copyTensor(tensor: Tensor): Tensor {
  return { type: tensor.type, data: tensor.data.slice(), dims: [...tensor.dims] };
}

/** Calibration of a model already prepared by prepareFloatModel (quantizeModel calls this directly). */
export async function calibratePreparedModel(model: Model, data: unknown, tensors: readonly string[], options: Record<string, unknown>): Promise<CalibrationTable> {
  if (!isIterable(data)) throw invalid('data must be an array, an iterable or an async iterable of feeds (input name -> tensor)', { argument: 'data' });
  if (tensors.length === 0) throw invalid('the model has no tensor to calibrate (no float input of a quantizable op)', { argument: 'model' });
  const backend = checkOneOf(options.backend ?? 'native', ['native', 'onnxruntime'] as const, 'backend');
  const threads = options.threads === undefined ? undefined : checkInteger(options.threads, 'threads', 1, 256);
  const onProgress = options.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') throw invalid('onProgress must be a function', { argument: 'onProgress' });
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('signal must be an AbortSignal', { argument: 'signal' });
  const throwIfAborted = () => {
    if ((signal as AbortSignal | undefined)?.aborted) throw new EdgeInferError('EDGEINFER_ABORTED', 'calibration was aborted');
  };
  throwIfAborted();

  const calibrators = new Map<string, Calibrator>();
  let engine: Engine | undefined;
  let complete = false;
  try {
    for (const name of tensors) calibrators.set(name, new Calibrator({ bins: options.bins as number | undefined, averagingConstant: options.averagingConstant as number | undefined }));
    // Off the JS thread always (inlineBelowMicroseconds 0), one batch ahead: the model runs batch i + 1 on the
    // pool while this thread adds batch i's statistics, so the two overlap on a multi-core device.
    engine = await Engine.load(augmentedModelBytes(model, tensors), { backend, threads, inlineBelowMicroseconds: 0 });
    const declaredOutputs = model.graph.outputs.map((output) => output.name);
    let batches = 0;
    let sample: CalibrationTable['sample'];
    const iterable = data as AsyncIterable<unknown> & Iterable<unknown>;
    const iterator: AsyncIterator<unknown> | Iterator<unknown> = typeof iterable[Symbol.asyncIterator] === 'function' ? iterable[Symbol.asyncIterator]() : iterable[Symbol.iterator]();
    const running = engine;
    // Natively, from the second batch on, the model hands the calibrated intermediate tensors straight to their
    // calibrators on the thread that ran it (no copy to JS and back; the first batch also gives the sample).
    const inputNames = new Set(model.graph.inputs.map((input) => input.name));
    const observers: OutputObservers | undefined = backend === 'native' ? {} : undefined;
    if (observers !== undefined) for (const [name, calibrator] of calibrators) if (!inputNames.has(name)) observers[name] = calibrator[nativeStatistics]();
    const start = async (observed: boolean): Promise<{ feeds: unknown; observed: boolean; outputs: Promise<Record<string, Tensor>> } | undefined> => {
      const next = await iterator.next();
      if (next.done) return undefined;
      const outputs = observed ? running[inferObserved](next.value as CalibrationFeeds, observers!) : running.infer(next.value as CalibrationFeeds);
      outputs.catch(() => undefined); // awaited below; a batch never awaited (abort) must not be an unhandled rejection
      return { feeds: next.value, observed, outputs };
    };
    for (let current = await start(false); current !== undefined; ) {
      throwIfAborted();
      const feeds = current.feeds;
      let outputs: Record<string, Tensor>;
      try {
        outputs = await current.outputs;
      } catch (error) {
        if (!(error instanceof EdgeInferError)) throw error;
        throw new EdgeInferError(error.code, `calibration batch ${batches}: ${error.message}`, { ...error.detail, batch: batches });
      }
      const ahead = start(observers !== undefined);
      ahead.catch(() => undefined); // awaited at the end of this turn; an error in between must not leave it unhandled
      const feedMap = feeds as CalibrationFeeds;
      for (const [name, calibrator] of calibrators) {
        if (current.observed && observers![name] !== undefined) continue; // added by the run itself
        const tensor = outputs[name] ?? feedMap[name];
        if (tensor === undefined || !isTypedArrayOf(tensor.data, Float32Array)) throw new EdgeInferError('EDGEINFER_INTERNAL', `calibration batch ${batches}: no float32 value for '${name}'`);
        const values = tensor.data as Float32Array;
        if (values.length >= ASYNC_ADD_LENGTH) await calibrator.addAsync(values);
        else calibrator.add(values);
      }
      if (sample === undefined) {
        sample = {
          feeds: Object.fromEntries(Object.entries(feedMap).map(([name, tensor]) => [name, copyTensor(tensor)])),
          outputs: Object.fromEntries(declaredOutputs.map((name) => [name, copyTensor(outputs[name])])),
        };
      }
      batches++;
      (onProgress as ((progress: CalibrationProgress) => void) | undefined)?.({ batch: batches, tensors: calibrators.size });
      current = await ahead;
    }
    throwIfAborted();
    if (batches === 0) throw invalid('data held no batch', { argument: 'data' });
    complete = true;
    return new CalibrationTable(calibrators, batches, sample);
  } finally {
    engine?.dispose();
    if (!complete) for (const calibrator of calibrators.values()) calibrator.dispose();
  }
}

/**
 * Calibrates a float ONNX model (a path or bytes) on `data`: every float activation that enters a Conv,
 * ConvTranspose, MatMul or Gemm (or `options.tensors`) gets a streaming Calibrator. The model is folded first
 * (constants, BatchNormalization, dead nodes; see prepare-model.ts), so the names are those quantizeModel
 * writes. Bad data (wrong input names, shapes, NaN / Infinity) is an EdgeInferError naming the batch; no
 * batch at all is EDGEINFER_INVALID_ARGUMENT. The returned table must be disposed by the caller.
 */
export async function calibrateModel(model: string | Uint8Array, data: CalibrationData, options?: CalibrateModelOptions): Promise<CalibrationTable> {
  const o = checkOptions(options, 'options');
  const source = await readModelBytes(model, 'model');
  const { model: prepared } = prepareFloatModel(source);
  let tensors: string[];
  if (o.tensors !== undefined) {
    if (!Array.isArray(o.tensors) || o.tensors.some((name) => typeof name !== 'string' || name === '')) throw invalid('tensors must be an array of tensor names', { argument: 'tensors' });
    tensors = [...new Set(o.tensors as string[])];
  } else {
    const opTypes = checkOpTypes(o.opTypes, 'opTypes');
    for (const flag of ['includeInputs', 'includeOutputs']) if (o[flag] !== undefined && typeof o[flag] !== 'boolean') throw invalid(`${flag} must be a boolean`, { argument: flag });
    tensors = calibrationTensors(prepared, { opTypes, includeInputs: o.includeInputs === true, includeOutputs: o.includeOutputs === true });
  }
  return calibratePreparedModel(prepared, data, tensors, o);
}
