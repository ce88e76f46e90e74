/**
 * Measuring an exported model on our Engine: every test sample through the native backend one at a time
 * (batch 1, as a device serves it), accuracy and macro-F1 against the labels, argmax agreement with the
 * PyTorch outputs the factory saved, file size, and the median latency of a call; ONNX Runtime (onnxruntime-node,
 * when installed) runs the same samples in the same process as the baseline.
 */
import fs from 'node:fs';

import { Engine } from '../engine';
import { EdgeInferError } from '../errors';
import { readNpy } from '../io/npy';
import type { Tensor } from '../tensor';
import { accuracy, agreement, argmaxRows, macroF1, median } from './metrics';

export interface EvaluationData {
  /** Batched inputs by model input name (axis 0 = samples). */
  inputs: Record<string, Tensor>;
  /** True class per sample. */
  labels: Int32Array;
}

export interface EvaluateOptions {
  threads?: number;
  warmup?: number;
  /** Also run on onnxruntime-node when it is installed. Default true. */
  baseline?: boolean;
  /** PyTorch's outputs for the same samples ([N, classes]), for the agreement. */
  reference?: Tensor;
  signal?: AbortSignal;
}

export interface BackendRun {
  accuracy: number;
  macroF1: number;
  /** Median ms per call (batch 1), after the warm-up calls. */
  latencyMs: number;
  predictions: Int32Array;
}

export interface ModelEvaluation {
  file: string;
  sizeBytes: number;
  samples: number;
  classes: number;
  native: BackendRun;
  /** Fraction of samples where native's argmax equals PyTorch's (when a reference was given). */
  agreementWithTorch: number | null;
  /** ONNX Runtime on the same samples; null when not installed or not asked; a string says why it failed. */
  onnxruntime: (BackendRun & { agreementWithNative: number }) | null | string;
}

/** Reads an .npy file as a tensor, with the file named in errors. */
export function loadNpy(file: string): Tensor {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `cannot read ${file}: ${(error as Error).message}`, { path: file });
  }
  return readNpy(bytes, file);
}

/** Class indexes from an integer (or float) label tensor. */
export function labelsOf(tensor: Tensor): Int32Array {
  const data = tensor.data as ArrayLike<number | bigint>;
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  return out;
}

/** Sample i of a batched tensor as a batch of one (a view, no copy). */
export function sampleOf(tensor: Tensor, i: number): Tensor {
  const n = tensor.dims[0];
  const per = tensor.dims.slice(1).reduce((a, b) => a * b, 1);
  if (i < 0 || i >= n) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `sample ${i} out of ${n}`);
  const data = (tensor.data as unknown as { subarray(a: number, b: number): unknown }).subarray(i * per, (i + 1) * per);
  return { type: tensor.type, dims: [1, ...tensor.dims.slice(1)], data: data as Tensor['data'] };
}

/** The class scores of one sample's output: the whole output, or its last `classes` values (a sequence's last position). */
function scoresOf(output: Tensor, classes: number): ArrayLike<number> {
  const data = output.data as Float32Array;
  if (data.length === classes) return data;
  if (data.length % classes !== 0) throw new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', `an output of ${data.length} values is not ${classes} class scores (or a sequence of them)`);
  return data.subarray(data.length - classes);
}

async function runAll(engine: Engine, data: EvaluationData, classes: number, warmup: number, signal?: AbortSignal): Promise<BackendRun> {
  const names = engine.inputs.map((i) => i.name);
  const missing = names.filter((n) => !(n in data.inputs));
  if (missing.length > 0) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `the model's inputs ${missing.join(', ')} have no test data (have ${Object.keys(data.inputs).join(', ')})`);
  const n = data.labels.length;
  const output = engine.outputs[0].name;
  const feeds = (i: number) => Object.fromEntries(names.map((name) => [name, sampleOf(data.inputs[name], i)]));
  for (let w = 0; w < warmup; w++) await engine.infer(feeds(w % n));
  const scores = new Float32Array(n * classes);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    if (signal?.aborted) throw new EdgeInferError('EDGEINFER_ABORTED', 'evaluation aborted');
    const f = feeds(i);
    const t0 = performance.now();
    const out = await engine.infer(f);
    times.push(performance.now() - t0);
    scores.set(scoresOf(out[output], classes), i * classes);
  }
  const predictions = argmaxRows(scores, classes);
  return { accuracy: accuracy(predictions, data.labels), macroF1: macroF1(predictions, data.labels), latencyMs: median(times), predictions };
}

function onnxRuntimeAvailable(): boolean {
  return Engine.backends().some((b) => b.name === 'onnxruntime' && b.available);
}

/** Evaluates one ONNX file on the test data (see the file comment). */
export async function evaluateModel(file: string, data: EvaluationData, options: EvaluateOptions = {}): Promise<ModelEvaluation> {
  const threads = options.threads ?? 1;
  const warmup = options.warmup ?? 20;
  const n = data.labels.length;
  for (const [name, tensor] of Object.entries(data.inputs)) {
    if (tensor.dims[0] !== n) throw new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', `test input ${name} holds ${tensor.dims[0]} samples, the labels ${n}`);
  }
  const engine = await Engine.load(file, { backend: 'native', threads });
  let classes: number;
  let native: BackendRun;
  try {
    const stated = engine.outputs[0].dims?.at(-1);
    classes = options.reference?.dims.at(-1) ?? (typeof stated === 'number' ? stated : NaN);
    if (!Number.isInteger(classes) || classes < 1) throw new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', `${file}: the number of classes is unknown (output dims ${JSON.stringify(engine.outputs[0].dims)}, no reference)`);
    native = await runAll(engine, data, classes, warmup, options.signal);
  } finally {
    await engine.dispose();
  }
  let agreementWithTorch: number | null = null;
  if (options.reference) {
    const ref = options.reference;
    if (ref.dims[0] !== n) throw new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', `the PyTorch outputs hold ${ref.dims[0]} samples, the test data ${n}`);
    const values = ref.data as ArrayLike<number>;
    const per = values.length / n;
    if (!Number.isInteger(per) || per % classes !== 0) throw new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', `the PyTorch outputs [${ref.dims.join(', ')}] are not ${n} rows of ${classes} class scores`);
    // Each sample's last `classes` values (its only row, or a sequence's last position), as for our outputs.
    const rows = new Float32Array(n * classes);
    for (let i = 0; i < n; i++) for (let c = 0; c < classes; c++) rows[i * classes + c] = Number(values[i * per + per - classes + c]);
    const torch = argmaxRows(rows, classes);
    agreementWithTorch = agreement(native.predictions, torch);
  }
  let onnxruntime: ModelEvaluation['onnxruntime'] = null;
  if (options.baseline !== false && onnxRuntimeAvailable()) {
    try {
      const ort = await Engine.load(file, { backend: 'onnxruntime', threads });
      try {
        const run = await runAll(ort, data, classes, warmup, options.signal);
        onnxruntime = { ...run, agreementWithNative: agreement(run.predictions, native.predictions) };
      } finally {
        await ort.dispose();
      }
    } catch (error) {
      if ((error as EdgeInferError).code === 'EDGEINFER_ABORTED') throw error;
      onnxruntime = `ONNX Runtime could not run it: ${(error as Error).message}`;
    }
  }
  return { file, sizeBytes: fs.statSync(file).size, samples: n, classes, native, agreementWithTorch, onnxruntime };
}
