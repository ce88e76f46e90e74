/**
 * quantizeModel: float ONNX model + calibration data -> a standard QDQ ONNX model (INT8, or mixed INT8 /
 * FP16 / FP32 per node), checked by loading and running it before it is returned. The steps: fold
 * (prepare-model.ts), choose each node's precision (precision-rules.ts), calibrate the activations the INT8
 * nodes read (calibrate-model.ts), rewrite (qdq-writer.ts), validate (validate-model.ts).
 */
import fs from 'node:fs/promises';

import { CALIBRATION_METHODS, resolveCalibrationOptions, type CalibrationMethod, type CalibratorOptions } from '../calibrator';
import { EdgeInferError } from '../errors';
import type { Model } from '../onnx/ir';
import { eliminateDeadNodes } from '../onnx/passes';
import { validateGraph } from '../onnx/validate';
import { writeModel } from '../onnx/writer';
import type { QuantizedType } from '../quantize';
import { checkOneOf, checkOptions, invalid } from '../validate';
import { calibratePreparedModel, CalibrationTable, type CalibrateModelOptions, type CalibrationData } from './calibrate-model';
import { createFloat16Converter } from './float16';
import { allNodeNames, checkPrecisionRules, checkPreset, planPrecisions, type LayerPrecision, type MixedPrecisionPreset, type PrecisionRule } from './precision-rules';
import { prepareFloatModel, readModelBytes } from './prepare-model';
import { checkOpTypes, findQuantizableNodes, type QuantizableOpType } from './quantizable-nodes';
import { writeQdq, type ActivationParams, type PlannedNode } from './qdq-writer';
import { validateQuantizedModel, type ValidationResult } from './validate-model';

export interface QuantizeModelOptions extends CalibratorOptions, Pick<CalibrateModelOptions, 'backend' | 'threads' | 'onProgress' | 'signal'> {
  /** Calibration feeds (see calibrateModel). Needed unless `calibration` is given or no activation is quantized. */
  data?: CalibrationData;
  /**
   * A table from calibrateModel on the same model, instead of `data` (it is not disposed here). Its sample
   * batch is used for validation.
   */
  calibration?: CalibrationTable;
  /**
   * Activation range method. Default 'mse': on the openWakeWord embedding model and heads (a CNN clamped at
   * -0.4, an MLP) calibrated on the speech fixtures and scored on held-out speech its mean wake-word score
   * error is 0.89x 'minmax''s (5.13e-3 vs 5.79e-3, mean over copies with the activation scales nudged by
   * ±0.5 %; it ties scored as calibrated; bench/calibration-methods.bench.ts). 'minmax' never clips (ONNX
   * Runtime's default, the safe choice for transformers with outlier features); 'percentile' and 'entropy'
   * clip tails that carry signal in that model (1.11x and 1.15x min-max's score error there).
   */
  method?: CalibrationMethod;
  /** For 'percentile': in (0, 100]. Default 99.999. */
  percentile?: number;
  /** Activation type. Default 'uint8', asymmetric (ONNX Runtime's QDQ default). */
  activationType?: QuantizedType;
  /** Symmetric activation ranges. Default false. */
  activationSymmetric?: boolean;
  /** One weight scale per output channel (true, default) or per tensor. */
  perChannel?: boolean;
  /** Op types to quantize. Default: Conv, ConvTranspose, MatMul, Gemm. Other nodes are never changed. */
  opTypesToQuantize?: QuantizableOpType[];
  /** Names of nodes (in the folded model) left FP32, whatever the rules say. */
  nodesToExclude?: string[];
  /** Mixed precision rules, applied in order (later ones win) after the preset; see PrecisionRule. */
  precision?: PrecisionRule[];
  /** A preset policy applied before `precision`. 'seed': attention INT8, feed-forward FP16, first / last layer FP32. */
  mixedPrecision?: MixedPrecisionPreset;
  /** Put a Q -> DQ pair on the model's float inputs / outputs, so a front end and the model agree. Default false. */
  quantizeInputs?: boolean;
  quantizeOutputs?: boolean;
  /**
   * Backends the written model must load and run the sample batch on. Default ['onnxruntime', 'native'];
   * onnxruntime is skipped (and said so in the report) when onnxruntime-node is not installed.
   */
  validateOn?: ('native' | 'onnxruntime')[];
}

export interface NodeReport {
  name: string;
  opType: string;
  /** INT8 weights only (a node in a subgraph, whose activation calibration cannot observe). */
  weightOnly: boolean;
  precision: LayerPrecision;
  /** The rule, preset or reason that decided the precision. */
  reason: string;
  weightBytesBefore: number;
  weightBytesAfter: number;
  weightAxis?: number;
  bias: 'int32' | 'float32' | 'none';
  /** INT8: the activations quantized at its inputs with their parameters. */
  activations: { name: string; scale: number; zeroPoint: number; min: number; max: number }[];
}

export interface QuantizationReport {
  method: CalibrationMethod;
  activationType: QuantizedType;
  perChannel: boolean;
  opset: number;
  /** Bytes of the input model and of the written one. */
  sizeBefore: number;
  sizeAfter: number;
  nodes: NodeReport[];
  /** Nodes per precision. */
  counts: Record<LayerPrecision, number>;
  calibration: { batches: number; tensors: number; milliseconds: number };
  validation: ValidationResult[];
  /** Folding passes and how often they fired. */
  passes: Record<string, number>;
}

export interface QuantizeModelResult {
  bytes: Uint8Array;
  report: QuantizationReport;
}

/** Ops whose inputs or attributes changed before opset 13: a model using them at an older opset is not upgraded blindly. */
const CHANGED_BEFORE_13 = new Set(['Softmax', 'LogSoftmax', 'Hardmax', 'Split', 'Squeeze', 'Unsqueeze', 'ReduceSum', 'Pad', 'Resize', 'Upsample', 'Clip', 'TopK', 'Slice', 'Dropout', 'BatchNormalization', 'Scatter', 'Gather', 'Concat', 'Flatten', 'Cast', 'Where']);

/** Per-channel DequantizeLinear needs opset 13: upgrade when no node's meaning would change. */
function upgradeOpset(model: Model): number {
  const key = model.opsets.has('') ? '' : model.opsets.has('ai.onnx') ? 'ai.onnx' : '';
  const opset = model.opsets.get(key) ?? 1;
  if (opset >= 13) return opset;
  const changed = model.graph.nodes.find((n) => (n.domain === '' || n.domain === 'ai.onnx') && CHANGED_BEFORE_13.has(n.opType));
  if (changed) {
    throw new EdgeInferError('EDGEINFER_UNSUPPORTED_OP', `the model is opset ${opset} and uses ${changed.opType} (node '${changed.name}'), which changed before opset 13; convert the model to opset 13 first (QDQ per-channel needs 13)`, {
      node: changed.name,
      op: changed.opType,
      opset,
    });
  }
  model.opsets.set(key, 13);
  model.irVersion = Math.max(model.irVersion, 7);
  return 13;
}

function checkBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(`${name} must be a boolean`, { argument: name, got: value });
  return value;
}

function checkNames(value: unknown, name: string, nodeNames: ReadonlySet<string>): Set<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw invalid(`${name} must be an array of node names`, { argument: name });
  for (const item of value as string[]) if (!nodeNames.has(item)) throw invalid(`${name}: '${item}' is not a node of the model (after folding)`, { argument: name, got: item });
  return new Set(value as string[]);
}

/**
 * Quantizes a float ONNX model (path or bytes) to QDQ. `output`, when given, is the path the bytes are also
 * written to (after validation). Options and defaults: QuantizeModelOptions. Failures: bad arguments
 * EDGEINFER_INVALID_ARGUMENT; unreadable model EDGEINFER_MODEL_INVALID; a written model that fails to load
 * or run on a backend EDGEINFER_MODEL_INVALID naming the backend.
 */
export async function quantizeModel(input: string | Uint8Array, output?: string | QuantizeModelOptions, options?: QuantizeModelOptions): Promise<QuantizeModelResult> {
  if (output !== undefined && typeof output !== 'string') return quantizeModel(input, undefined, output);
  const o = checkOptions(options, 'options');
  const method = checkOneOf(o.method ?? 'mse', CALIBRATION_METHODS, 'method');
  const activationType = checkOneOf(o.activationType ?? 'uint8', ['uint8', 'int8'] as const, 'activationType');
  const symmetric = checkBoolean(o.activationSymmetric, 'activationSymmetric', false);
  const calibrationOptions = resolveCalibrationOptions({ method, dtype: activationType, symmetric, percentile: o.percentile });
  const perChannel = checkBoolean(o.perChannel, 'perChannel', true);
  const quantizeInputs = checkBoolean(o.quantizeInputs, 'quantizeInputs', false);
  const quantizeOutputs = checkBoolean(o.quantizeOutputs, 'quantizeOutputs', false);
  const opTypes = checkOpTypes(o.opTypesToQuantize, 'opTypesToQuantize');
  const preset = checkPreset(o.mixedPrecision);
  const validateOn = o.validateOn ?? ['onnxruntime', 'native'];
  if (!Array.isArray(validateOn) || validateOn.some((b) => b !== 'native' && b !== 'onnxruntime')) throw invalid("validateOn must be an array of 'native' / 'onnxruntime'", { argument: 'validateOn' });
  if (o.calibration !== undefined && !(o.calibration instanceof CalibrationTable)) throw invalid('calibration must be a CalibrationTable from calibrateModel', { argument: 'calibration' });
  if (output !== undefined && output === '') throw invalid('output must be a non-empty path', { argument: 'output' });

  const source = await readModelBytes(input, 'input');
  const { model, passes } = prepareFloatModel(source);
  const nodeNames = allNodeNames(model);
  const rules = checkPrecisionRules(o.precision, nodeNames);
  const nodesToExclude = checkNames(o.nodesToExclude, 'nodesToExclude', nodeNames);

  const entries = findQuantizableNodes(model, opTypes);
  const decisions = planPrecisions(model, entries, { rules, preset, nodesToExclude });
  const planned: PlannedNode[] = entries.map((entry) => ({ entry, precision: decisions.get(entry.node)!.precision }));
  const floatInputs = quantizeInputs ? model.graph.inputs.filter((i) => i.dtype === 'float32' && !model.graph.initializers.has(i.name)).map((i) => i.name) : [];
  const floatOutputs = quantizeOutputs ? model.graph.outputs.filter((v) => v.dtype === 'float32').map((v) => v.name) : [];
  const needed = [...new Set([...floatInputs, ...planned.filter((p) => p.precision === 'int8').flatMap((p) => p.entry.activations), ...floatOutputs])];

  // Calibrate (unless given a table), then read every needed tensor's parameters.
  const started = performance.now();
  let table = o.calibration as CalibrationTable | undefined;
  const ownTable = table === undefined;
  if (table === undefined) {
    if (o.data === undefined) throw invalid('data (calibration feeds) or calibration (a CalibrationTable) is needed', { argument: 'data' });
    table = await calibratePreparedModel(model, o.data, needed.length > 0 ? needed : calibrationFallback(model), o);
  }
  const calibrationMs = performance.now() - started;
  const float16 = planned.some((p) => p.precision === 'fp16') ? await createFloat16Converter() : undefined;
  try {
    const missing = needed.filter((name) => !table!.has(name));
    if (missing.length > 0) throw invalid(`the calibration table has no statistics for ${missing.map((m) => `'${m}'`).join(', ')}: was it made from this model with the same options?`, { argument: 'calibration', missing });
    const activations = new Map<string, ActivationParams & { min: number; max: number }>();
    // All tensors at once on the libuv pool: an entropy search is ~10 ms per tensor, and the cores are free now.
    const results = await Promise.all(needed.map((name) => table!.computeAsync(name, calibrationOptions)));
    needed.forEach((name, i) => {
      const result = results[i];
      activations.set(name, { scale: result.scale, zeroPoint: result.zeroPoint, dtype: result.dtype, min: result.min, max: result.max });
    });
    const sample = table.sample;
    const written = writeQdq(model, planned, {
      perChannel,
      activations,
      quantizeInputs: floatInputs,
      quantizeOutputs: floatOutputs,
      float16: float16 ?? { convert: () => new Uint16Array(0), dispose: () => undefined },
    });
    eliminateDeadNodes(model);
    const opset = upgradeOpset(model);
    validateGraph(model);
    model.producerName = 'edgeinfer';
    const bytes = writeModel(model);
    if (sample === undefined) throw invalid('the calibration table holds no sample batch to validate with', { argument: 'calibration' });
    const validation = await validateQuantizedModel(bytes, sample, validateOn as ('native' | 'onnxruntime')[], o.threads as number | undefined);
    if (typeof output === 'string') {
      try {
        await fs.writeFile(output, bytes);
      } catch (error) {
        throw invalid(`cannot write '${output}': ${(error as Error).message}`, { argument: 'output', path: output });
      }
    }
    const nodes: NodeReport[] = written.map((w, i) => ({
      ...w,
      reason: decisions.get(planned[i].entry.node)!.reason,
      activations: w.activations.map((name) => {
        const p = activations.get(name)!;
        return { name, scale: p.scale, zeroPoint: p.zeroPoint, min: p.min, max: p.max };
      }),
    }));
    const counts: Record<LayerPrecision, number> = { int8: 0, fp16: 0, fp32: 0 };
    for (const n of nodes) counts[n.precision]++;
    const report: QuantizationReport = {
      method,
      activationType,
      perChannel,
      opset,
      sizeBefore: source.bytes.length,
      sizeAfter: bytes.length,
      nodes,
      counts,
      calibration: { batches: table.batches, tensors: needed.length, milliseconds: Math.round(calibrationMs) },
      validation,
      passes,
    };
    return { bytes, report };
  } finally {
    float16?.dispose();
    if (ownTable) table.dispose();
  }
}

/** With nothing to calibrate (every node FP16 / FP32), still run one tensor so a sample batch is kept for validation. */
function calibrationFallback(model: Model): string[] {
  const first = model.graph.outputs.find((v) => v.dtype === 'float32');
  if (first === undefined) throw invalid('the model has no float32 output', { argument: 'input' });
  return [first.name];
}
