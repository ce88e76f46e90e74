/**
 * Sensitivity analysis: which layers lose the most when quantized to INT8. The float model is calibrated
 * once; then each quantizable layer alone is made INT8 (everything else FP32) and run on held-out feeds,
 * measuring the SQNR at that layer's own output and the end-to-end error against the FP32 model. The layers
 * sorted by that error are the order in which autoMixedPrecision (auto-mixed-precision.ts) keeps them float.
 *
 * Every measurement is written by quantizeModel itself (same writer, same calibration table), so what is
 * measured is exactly what would be shipped; the model it quantizes is the folded float model with each
 * layer's output added as a graph output, so one run gives both the layer SQNRs and the model outputs. On
 * the openWakeWord embedding model a one-layer model is written in ~25 ms, loaded in ~25 ms and run on 24
 * windows in ~35 ms (1 thread): a leaner private writer path would not pay for itself.
 */
import { CALIBRATION_METHODS, type CalibrationMethod } from '../calibrator';
import { Engine } from '../engine';
import { EdgeInferError } from '../errors';
import type { ValueInfo } from '../onnx/ir';
import { writeModel } from '../onnx/writer';
import type { Tensor } from '../tensor';
import { checkInteger, checkOneOf, checkOptions, invalid, isTypedArrayOf } from '../validate';
import { calibrateModel, CalibrationTable, type CalibrationData, type CalibrationFeeds } from './calibrate-model';
import type { PrecisionRule } from './precision-rules';
import { prepareFloatModel, readModelBytes } from './prepare-model';
import { checkOpTypes, findQuantizableNodes, type QuantizableOpType } from './quantizable-nodes';
import { quantizeModel, type QuantizationReport, type QuantizeModelOptions } from './quantize-model';
import { agreement } from './validate-model';

/**
 * An end-to-end error of a quantized model's outputs against the FP32 model's on the same feeds (declared
 * model outputs only, by name). Lower is better and it must be 0 for identical outputs: the budget of
 * autoMixedPrecision is a bound on its mean over the evaluation batches. It must return a finite number.
 */
export type SensitivityMetric = (reference: Readonly<Record<string, Tensor>>, quantized: Readonly<Record<string, Tensor>>) => number;

export interface SensitivityProgress {
  /**
   * 'calibrate': a calibration batch ran; 'reference': the FP32 model ran on an evaluation batch; 'layer': one
   * layer was measured alone in INT8 (`node`, `metric`); 'fallback' (autoMixedPrecision): `node` moved to the
   * fallback precision and the model re-measured (`metric`).
   */
  phase: 'calibrate' | 'reference' | 'layer' | 'fallback';
  done: number;
  /** Known for every phase but 'calibrate' (the data may be a stream). */
  total?: number;
  node?: string;
  metric?: number;
}

/** The quantizeModel options a measurement forwards, with quantizeModel's defaults ('mse', uint8 asymmetric, per channel). */
export type SensitivityQuantizeOptions = Pick<QuantizeModelOptions, 'method' | 'percentile' | 'activationType' | 'activationSymmetric' | 'perChannel' | 'opTypesToQuantize' | 'nodesToExclude'>;

export interface SensitivityOptions extends SensitivityQuantizeOptions {
  /** Calibration feeds (see calibrateModel). Needed unless `calibration` is given. */
  data?: CalibrationData;
  /**
   * Held-out feeds the layers are measured on. Default: the calibration batches (then kept in memory, by
   * reference, for the analysis: pass a small `evalData` when calibrating on a large stream). Evaluation
   * feeds are always kept, as every layer runs on all of them.
   */
  evalData?: CalibrationData;
  /** A table from calibrateModel on the same model, reused instead of calibrating on `data` (not disposed here). */
  calibration?: CalibrationTable;
  /** End-to-end error vs FP32. Default: 1 - cosine similarity, averaged over the model's float32 outputs (outputCosineDistance). */
  metric?: SensitivityMetric;
  /** Backend that runs calibration and every measurement. Default 'native'. */
  backend?: 'native' | 'onnxruntime';
  /** Intra-op threads. Default: the Engine's (available parallelism). */
  threads?: number;
  /**
   * The FP32 layer outputs on the evaluation feeds are kept when they fit in this many bytes (default 256 MiB);
   * beyond that the FP32 model runs again beside each measurement (twice the time, no memory).
   */
  referenceCacheBytes?: number;
  onProgress?: (progress: SensitivityProgress) => void;
  /** Aborts between runs with EDGEINFER_ABORTED. */
  signal?: AbortSignal;
}

export interface LayerSensitivity {
  /** Node name (in the folded model: what precision rules and nodesToExclude name). */
  name: string;
  opType: string;
  /** The output tensor the SQNRs are measured at. */
  output: string;
  /**
   * 10 log10(sum ref^2 / sum (q - ref)^2) at the layer's output over every evaluation batch, with only this
   * layer INT8: the error the layer itself adds. Infinity when it adds none.
   */
  sqnrDb: number;
  /** The same, with every layer INT8: this layer's error plus all the noise that reaches it. */
  sqnrAllInt8Db: number;
  /** The end-to-end metric with only this layer INT8 (the change from FP32, whose metric is 0). */
  metric: number;
  /** Weight and bias bytes as FP32 (what keeping the layer float costs) and as INT8. */
  weightBytes: number;
  weightBytesInt8: number;
}

export interface SensitivityReport {
  /** Every analysed layer, worst first: by metric, then by SQNR (lower first), then graph order. */
  layers: LayerSensitivity[];
  /** The end-to-end metric with every layer INT8. */
  allInt8Metric: number;
  /** 'cosine' (the default metric) or 'custom'. */
  metric: 'cosine' | 'custom';
  method: CalibrationMethod;
  calibrationBatches: number;
  evalBatches: number;
  milliseconds: number;
}

/** Default metric: mean over the float32 outputs of 1 - cosine(reference, quantized); 0 when identical. */
export function outputCosineDistance(reference: Readonly<Record<string, Tensor>>, quantized: Readonly<Record<string, Tensor>>): number {
  let sum = 0;
  let outputs = 0;
  for (const [name, ref] of Object.entries(reference)) {
    if (!isTypedArrayOf(ref.data, Float32Array)) continue;
    const got = quantized[name];
    if (got === undefined || !isTypedArrayOf(got.data, Float32Array) || got.data.length !== ref.data.length) {
      throw new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', `output '${name}' of the quantized model does not match the float model's`, { output: name });
    }
    const { cosine } = agreement(ref.data as Float32Array, got.data as Float32Array);
    sum += 1 - Math.min(1, cosine); // rounding may give 1 + 1e-16
    outputs++;
  }
  if (outputs === 0) throw invalid('the model has no float32 output for the default metric: pass options.metric', { argument: 'metric' });
  return sum / outputs;
}

/** Options every sensitivity call shares, checked before any work starts. */
export interface CheckedSensitivityOptions {
  data?: CalibrationData;
  evalData?: CalibrationData;
  calibration?: CalibrationTable;
  metric: SensitivityMetric;
  metricName: 'cosine' | 'custom';
  backend: 'native' | 'onnxruntime';
  threads?: number;
  referenceCacheBytes: number;
  onProgress?: (progress: SensitivityProgress) => void;
  signal?: AbortSignal;
  quantize: SensitivityQuantizeOptions & { method: CalibrationMethod };
  opTypes: QuantizableOpType[];
  /** For calibrateModel. */
  bins?: number;
  averagingConstant?: number;
}

const DEFAULT_REFERENCE_CACHE_BYTES = 256 * 1024 * 1024;

function isIterable(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return false;
  const v = value as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown };
  return typeof v[Symbol.asyncIterator] === 'function' || typeof v[Symbol.iterator] === 'function';
}

export function checkSensitivityOptions(options: unknown): CheckedSensitivityOptions {
  const o = checkOptions(options, 'options');
  for (const name of ['data', 'evalData']) {
    if (o[name] !== undefined && !isIterable(o[name])) throw invalid(`${name} must be an array, an iterable or an async iterable of feeds (input name -> tensor)`, { argument: name });
  }
  if (o.calibration !== undefined && !(o.calibration instanceof CalibrationTable)) throw invalid('calibration must be a CalibrationTable from calibrateModel', { argument: 'calibration' });
  if (o.calibration === undefined && o.data === undefined) throw invalid('data (calibration feeds) or calibration (a CalibrationTable) is needed', { argument: 'data' });
  if (o.calibration !== undefined && o.data === undefined && o.evalData === undefined) throw invalid('evalData (or data) is needed to measure on when calibration is given', { argument: 'evalData' });
  if (o.metric !== undefined && typeof o.metric !== 'function') throw invalid('metric must be a function (reference, quantized) => number', { argument: 'metric', got: typeof o.metric });
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalid('onProgress must be a function', { argument: 'onProgress' });
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalid('signal must be an AbortSignal', { argument: 'signal' });
  const method = checkOneOf(o.method ?? 'mse', CALIBRATION_METHODS, 'method');
  const quantize: CheckedSensitivityOptions['quantize'] = { method };
  for (const key of ['percentile', 'activationType', 'activationSymmetric', 'perChannel', 'opTypesToQuantize', 'nodesToExclude'] as const) {
    // quantizeModel checks these (with codes) on the first measurement, which comes before any layer loop.
    if (o[key] !== undefined) (quantize as Record<string, unknown>)[key] = o[key];
  }
  return {
    data: o.data as CalibrationData | undefined,
    evalData: o.evalData as CalibrationData | undefined,
    calibration: o.calibration as CalibrationTable | undefined,
    metric: (o.metric as SensitivityMetric | undefined) ?? outputCosineDistance,
    metricName: o.metric === undefined ? 'cosine' : 'custom',
    backend: checkOneOf(o.backend ?? 'native', ['native', 'onnxruntime'] as const, 'backend'),
    threads: o.threads === undefined ? undefined : checkInteger(o.threads, 'threads', 1, 256),
    referenceCacheBytes: o.referenceCacheBytes === undefined ? DEFAULT_REFERENCE_CACHE_BYTES : checkInteger(o.referenceCacheBytes, 'referenceCacheBytes', 0),
    onProgress: o.onProgress as CheckedSensitivityOptions['onProgress'],
    signal: o.signal as AbortSignal | undefined,
    quantize,
    opTypes: checkOpTypes(o.opTypesToQuantize, 'opTypesToQuantize'),
    bins: o.bins as number | undefined,
    averagingConstant: o.averagingConstant as number | undefined,
  };
}

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new EdgeInferError('EDGEINFER_ABORTED', `${what} was aborted`);
}

/** One analysed layer of the folded model. */
export interface ProbedLayer {
  name: string;
  opType: QuantizableOpType;
  output: string;
}

/** A precision plan measured on the evaluation feeds. */
export interface Measurement {
  /** Mean of the metric over the evaluation batches. */
  metric: number;
  /** SQNR in dB at each tensor asked for. */
  sqnrDb: Map<string, number>;
  report: QuantizationReport;
}

/** The FP32 model on one evaluation batch: its declared outputs, and the layer outputs when they fit the cache. */
interface ReferenceBatch {
  outputs: Record<string, Tensor>;
  layers?: Record<string, Tensor>;
}

function copyTensor(tensor: Tensor): Tensor {
  return { type: tensor.type, data: tensor.data.slice(), dims: [...tensor.dims] };
}

function pick(outputs: Record<string, Tensor>, names: readonly string[]): Record<string, Tensor> {
  return Object.fromEntries(names.map((name) => [name, outputs[name]]));
}

/**
 * The measuring bench both public calls use: the float model folded once, with the layers' outputs as
 * extra graph outputs; its calibration table; the evaluation feeds and the FP32 outputs on them. measure()
 * writes a model for a list of precision rules and runs it. dispose() frees the table when it made it.
 */
export class SensitivityProbe {
  readonly layers: ProbedLayer[];
  readonly table: CalibrationTable;
  readonly evalFeeds: CalibrationFeeds[];
  readonly options: CheckedSensitivityOptions;
  readonly #probeBytes: Uint8Array;
  readonly #declaredOutputs: string[];
  readonly #ownsTable: boolean;
  readonly #references: ReferenceBatch[];
  /** Keeps running when the layer outputs were not cached. */
  readonly #floatEngine: Engine | undefined;

  private constructor(fields: {
    layers: ProbedLayer[];
    table: CalibrationTable;
    ownsTable: boolean;
    evalFeeds: CalibrationFeeds[];
    options: CheckedSensitivityOptions;
    probeBytes: Uint8Array;
    declaredOutputs: string[];
    references: ReferenceBatch[];
    floatEngine: Engine | undefined;
  }) {
    this.layers = fields.layers;
    this.table = fields.table;
    this.#ownsTable = fields.ownsTable;
    this.evalFeeds = fields.evalFeeds;
    this.options = fields.options;
    this.#probeBytes = fields.probeBytes;
    this.#declaredOutputs = fields.declaredOutputs;
    this.#references = fields.references;
    this.#floatEngine = fields.floatEngine;
  }

  static async open(model: string | Uint8Array, options: CheckedSensitivityOptions): Promise<SensitivityProbe> {
    const { signal, onProgress } = options;
    throwIfAborted(signal, 'the sensitivity analysis');
    const { model: prepared } = prepareFloatModel(await readModelBytes(model, 'model'));
    // A malformed nodesToExclude is quantizeModel's to report (with its code) on the first measurement.
    const toExclude: unknown = options.quantize.nodesToExclude;
    const excluded = new Set(Array.isArray(toExclude) ? toExclude.filter((n): n is string => typeof n === 'string') : []);
    // Main-graph layers only: a node in a subgraph is weight-only INT8 and its output is no graph value to measure.
    const layers: ProbedLayer[] = findQuantizableNodes(prepared, options.opTypes)
      .filter((entry) => !entry.weightOnly && entry.unsupported === undefined && !excluded.has(entry.node.name))
      .map((entry) => ({ name: entry.node.name, opType: entry.opType, output: entry.node.outputs[0] }));
    if (layers.length === 0) throw invalid('the model has no quantizable layer to analyse', { argument: 'model' });
    const declaredOutputs = prepared.graph.outputs.map((output) => output.name);
    const outputs: ValueInfo[] = [...prepared.graph.outputs];
    for (const layer of layers) {
      if (declaredOutputs.includes(layer.output)) continue;
      const info = prepared.graph.valueInfo.get(layer.output);
      outputs.push({ name: layer.output, dtype: 'float32', shape: info?.shape ? [...info.shape] : undefined });
    }
    const probeBytes = writeModel({ ...prepared, graph: { ...prepared.graph, outputs } });

    // Evaluation feeds are reused by every measurement, so they are kept; without evalData they are the calibration batches.
    const evalFeeds: CalibrationFeeds[] = [];
    let table = options.calibration;
    const ownsTable = table === undefined;
    if (table === undefined) {
      const kept = options.evalData === undefined ? evalFeeds : undefined;
      table = await calibrateModel(model, kept ? keepEach(options.data!, kept) : options.data!, {
        backend: options.backend,
        threads: options.threads,
        opTypes: options.opTypes,
        bins: options.bins,
        averagingConstant: options.averagingConstant,
        signal,
        onProgress: onProgress && ((p) => onProgress({ phase: 'calibrate', done: p.batch })),
      });
    }
    let floatEngine: Engine | undefined;
    try {
      const evalSource = options.evalData ?? (ownsTable ? undefined : options.data);
      if (evalSource !== undefined) for await (const feeds of evalSource) evalFeeds.push(feeds);
      if (evalFeeds.length === 0) throw invalid('evalData held no batch', { argument: 'evalData' });
      throwIfAborted(signal, 'the sensitivity analysis');

      floatEngine = await Engine.load(probeBytes, { backend: options.backend, threads: options.threads });
      const layerOutputs = [...new Set(layers.map((layer) => layer.output))];
      const references: ReferenceBatch[] = [];
      let cacheLayers = true;
      for (const [i, feeds] of evalFeeds.entries()) {
        throwIfAborted(signal, 'the sensitivity analysis');
        const got = await inferBatch(floatEngine, feeds, i);
        if (i === 0) cacheLayers = layerOutputs.reduce((bytes, name) => bytes + got[name].data.byteLength, 0) * evalFeeds.length <= options.referenceCacheBytes;
        references.push({
          outputs: Object.fromEntries(declaredOutputs.map((name) => [name, copyTensor(got[name])])),
          layers: cacheLayers ? Object.fromEntries(layerOutputs.map((name) => [name, copyTensor(got[name])])) : undefined,
        });
        onProgress?.({ phase: 'reference', done: i + 1, total: evalFeeds.length });
      }
      if (cacheLayers) {
        floatEngine.dispose();
        floatEngine = undefined;
      }
      return new SensitivityProbe({ layers, table, ownsTable, evalFeeds, options, probeBytes, declaredOutputs, references, floatEngine });
    } catch (error) {
      floatEngine?.dispose();
      if (ownsTable) table.dispose();
      throw error;
    }
  }

  /**
   * Writes the probe model with these precision rules (over quantizeModel's all-INT8 default), runs it on
   * every evaluation batch and returns the mean metric and the SQNR at `sqnrTensors`.
   */
  async measure(precision: PrecisionRule[], sqnrTensors: readonly string[]): Promise<Measurement> {
    const { signal } = this.options;
    const { bytes, report } = await quantizeModel(this.#probeBytes, { ...this.options.quantize, calibration: this.table, precision, validateOn: [] });
    const engine = await Engine.load(bytes, { backend: this.options.backend, threads: this.options.threads });
    try {
      const signalPower = new Float64Array(sqnrTensors.length);
      const noisePower = new Float64Array(sqnrTensors.length);
      let metricSum = 0;
      for (const [i, feeds] of this.evalFeeds.entries()) {
        throwIfAborted(signal, 'the sensitivity analysis');
        const got = await inferBatch(engine, feeds, i);
        const reference = this.#references[i];
        const value = this.options.metric(reference.outputs, pick(got, this.#declaredOutputs));
        if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`metric returned ${String(value)} on evaluation batch ${i}; it must return a finite number`, { argument: 'metric', got: value, batch: i });
        metricSum += value;
        if (sqnrTensors.length === 0) continue;
        const floatLayers = reference.layers ?? (await inferBatch(this.#floatEngine!, feeds, i));
        sqnrTensors.forEach((name, t) => {
          const ref = floatLayers[name].data as Float32Array;
          const q = got[name].data as Float32Array;
          let s = 0;
          let n = 0;
          for (let k = 0; k < ref.length; k++) {
            const e = q[k] - ref[k];
            s += ref[k] * ref[k];
            n += e * e;
          }
          signalPower[t] += s;
          noisePower[t] += n;
        });
      }
      // No error at all is Infinity, also for an all-zero tensor (0 / 0).
      const sqnrDb = new Map(sqnrTensors.map((name, t) => [name, noisePower[t] === 0 ? Infinity : 10 * Math.log10(signalPower[t] / noisePower[t])]));
      return { metric: metricSum / this.evalFeeds.length, sqnrDb, report };
    } finally {
      engine.dispose();
    }
  }

  dispose(): void {
    this.#floatEngine?.dispose();
    if (this.#ownsTable) this.table.dispose();
  }
}

/** Runs one batch, naming it in a failure (bad feeds are the caller's data). */
async function inferBatch(engine: Engine, feeds: CalibrationFeeds, batch: number): Promise<Record<string, Tensor>> {
  try {
    return await engine.infer(feeds);
  } catch (error) {
    if (!(error instanceof EdgeInferError)) throw error;
    throw new EdgeInferError(error.code, `evaluation batch ${batch}: ${error.message}`, { ...error.detail, batch });
  }
}

/** Yields `data` unchanged, keeping each batch (by reference) in `kept`. */
async function* keepEach(data: CalibrationData, kept: CalibrationFeeds[]): AsyncGenerator<CalibrationFeeds> {
  for await (const feeds of data) {
    kept.push(feeds);
    yield feeds;
  }
}

/** Rules for "only `layer` INT8": every quantizable op FP32, then the layer back to INT8. */
export function oneLayerRules(probe: SensitivityProbe, layer: string): PrecisionRule[] {
  return [
    { opType: probe.options.opTypes, precision: 'fp32' },
    { name: layer, precision: 'int8' },
  ];
}

/** The probe's layers measured one at a time, worst first. */
export async function rankLayers(probe: SensitivityProbe, started = performance.now()): Promise<SensitivityReport> {
  const { onProgress, signal } = probe.options;
  const allInt8 = await probe.measure([], probe.layers.map((layer) => layer.output));
  const weights = new Map(allInt8.report.nodes.map((node) => [node.name, node]));
  const layers: LayerSensitivity[] = [];
  for (const [i, layer] of probe.layers.entries()) {
    throwIfAborted(signal, 'the sensitivity analysis');
    const alone = await probe.measure(oneLayerRules(probe, layer.name), [layer.output]);
    const node = weights.get(layer.name);
    layers.push({
      name: layer.name,
      opType: layer.opType,
      output: layer.output,
      sqnrDb: alone.sqnrDb.get(layer.output)!,
      sqnrAllInt8Db: allInt8.sqnrDb.get(layer.output)!,
      metric: alone.metric,
      weightBytes: node?.weightBytesBefore ?? 0,
      weightBytesInt8: node?.weightBytesAfter ?? 0,
    });
    onProgress?.({ phase: 'layer', done: i + 1, total: probe.layers.length, node: layer.name, metric: alone.metric });
  }
  const order = new Map(probe.layers.map((layer, i) => [layer.name, i]));
  layers.sort((a, b) => b.metric - a.metric || a.sqnrDb - b.sqnrDb || order.get(a.name)! - order.get(b.name)!);
  return {
    layers,
    allInt8Metric: allInt8.metric,
    metric: probe.options.metricName,
    method: probe.options.quantize.method,
    calibrationBatches: probe.table.batches,
    evalBatches: probe.evalFeeds.length,
    milliseconds: Math.round(performance.now() - started),
  };
}

/**
 * Quantizes each quantizable layer of a float model (path or bytes) alone to INT8, everything else FP32, and
 * reports per layer the SQNR at its output and the end-to-end metric against FP32 on the evaluation feeds,
 * worst first (SensitivityReport). Calibrates once on `data` (or reuses `calibration`). Layers inside
 * subgraphs and `nodesToExclude` are not analysed. Failures: bad arguments EDGEINFER_INVALID_ARGUMENT; bad
 * feeds the Engine's code naming the batch; an aborted signal EDGEINFER_ABORTED.
 */
export async function analyzeSensitivity(model: string | Uint8Array, options: SensitivityOptions): Promise<SensitivityReport> {
  const started = performance.now();
  const probe = await SensitivityProbe.open(model, checkSensitivityOptions(options));
  try {
    return await rankLayers(probe, started);
  } finally {
    probe.dispose();
  }
}

function formatDb(db: number): string {
  return Number.isFinite(db) ? db.toFixed(1) : db > 0 ? 'inf' : '-inf';
}

/**
 * The report as a text table, worst first: node, op, SQNR dB (alone; with every layer INT8 in parentheses),
 * Δ metric, weight bytes (FP32). With `precisions` (node -> precision chosen), a precision column too.
 */
export function formatSensitivityTable(report: SensitivityReport, precisions?: Readonly<Record<string, string>>): string {
  if (report === null || typeof report !== 'object' || !Array.isArray(report.layers)) throw invalid('report must be a SensitivityReport', { argument: 'report' });
  if (precisions !== undefined && (precisions === null || typeof precisions !== 'object')) throw invalid('precisions must be an object of node name -> precision', { argument: 'precisions' });
  const header = ['node', 'op', 'SQNR dB (all INT8)', 'Δ metric', 'weight bytes', ...(precisions ? ['precision'] : [])];
  const rows = report.layers.map((layer) => [
    layer.name,
    layer.opType,
    `${formatDb(layer.sqnrDb)} (${formatDb(layer.sqnrAllInt8Db)})`,
    layer.metric.toExponential(2),
    String(layer.weightBytes),
    ...(precisions ? [precisions[layer.name] ?? 'int8'] : []),
  ]);
  const widths = header.map((title, c) => Math.max(title.length, ...rows.map((row) => row[c].length)));
  // Text columns left, numbers right.
  const line = (cells: string[]) => cells.map((cell, c) => (c < 2 || c === 5 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  const lines = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  lines.push(`all INT8: Δ metric ${report.allInt8Metric.toExponential(2)} (${report.metric}, ${report.method} calibration on ${report.calibrationBatches} batches, ${report.evalBatches} evaluation batches)`);
  return lines.join('\n');
}
