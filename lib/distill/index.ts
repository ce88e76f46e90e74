/**
 * distill(config): the Node side of the distillation factory. Validates the config, makes the voice features
 * through our Engine (experiment 'voice'), runs the Python factory (`python -m edgeinfer_distill.run`) as a
 * child process reading its JSON-lines progress, then measures every exported ONNX model on our Engine
 * (accuracy, macro-F1, argmax agreement with PyTorch, size, latency; ONNX Runtime as the baseline), quantizes
 * the FP32 student with our quantizer (PTQ) for comparison with QAT, and writes the report (report.md,
 * sweep.svg, edgeinfer-report.json) in the run's folder.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { EdgeInferError } from '../errors';
import { readModel } from '../onnx/reader';
import { quantizeModel } from '../quantization';
import type { Tensor } from '../tensor';
import { toCommandStageModel } from './command-model';
import { DEVICE_HELP, FACTORY_THREADS, isDistillDevice, mergeQuick, readConfig, validateConfig, voiceSizes, VOICE_SPLITS, type DistillConfig, type DistillDevice, type VoiceSplit } from './config';
import { evaluateModel, labelsOf, loadNpy, sampleOf, type EvaluationData, type ModelEvaluation } from './evaluate';
import type { EpochEvent, ExportEvent, FactoryEvent, ResultEvent } from './protocol';
import { checkPython, type PythonEnvironment, type PythonOptions } from './python';
import { acceptanceChecks, accuracyByKind, analyzeSweep, extractSweep, reportMarkdown, roleOf, ROLE_LABELS, sweepChart, type DistillReport, type ReportRow } from './report';
import { runFactory } from './runner';
import { makeVoiceFeatures, type VoiceFeatureProgress } from './voice-features';

export * from './config';
export { parseEventLine, LineSplitter, type FactoryEvent, type ParsedLine, type EpochEvent, type ResultEvent, type ExportEvent } from './protocol';
export { accuracy, agreement, argmaxRows, macroF1 } from './metrics';
export { checkPython, choosePython, type PythonEnvironment, type PythonOptions } from './python';
export { makeVoiceFeatures, type VoiceFeatureOptions, type VoiceFeatureProgress, type VoiceFeatureResult } from './voice-features';
export { evaluateModel, type ModelEvaluation, type EvaluationData } from './evaluate';
export { analyzeSweep, type DistillReport, type ReportRow, type SweepPoint, type SweepAnalysis, type AcceptanceCheck, type ModelRole } from './report';
export { toCommandStageModel, commandOutputName } from './command-model';
export { streamCommandClips, type CommandCheckOptions, type ClipCheck, type CheckEvent } from './command-check';

/** What distill() reports while it runs: the factory's events, plus its own phases. */
export type DistillProgress =
  | FactoryEvent
  | { event: 'phase'; phase: 'python' | 'data' | 'voice' | 'factory' | 'evaluate' | 'ptq' | 'report'; detail?: string }
  | (VoiceFeatureProgress & { event: 'voice' })
  | { event: 'evaluate'; model: string; index: number; total: number }
  | { event: 'log'; line: string }
  | { event: 'malformed'; line: string; reason: string };

export interface DistillOptions extends PythonOptions {
  /** The run's folder. Default .cache/distill/runs/<experiment>[-quick] under the working directory. */
  out?: string;
  /** The factory's quick mode (fewer epochs, smaller data) and the voice features' quick sizes. */
  quick?: boolean;
  /** Voice features already made (a folder as makeVoiceFeatures writes); skips making them. */
  features?: string;
  /** Cache root of the voice features. Default $EDGEINFER_DISTILL_CACHE, else .cache/distill. */
  cacheDir?: string;
  /** Where the factory trains. Default: the config's "device", else 'auto'. Several GPUs: torchrun (distill/README.md). */
  device?: DistillDevice;
  /** PyTorch's intra-op threads in the factory. Default: the config's "threads", else 1. */
  threads?: number;
  /** Independent training jobs side by side in this many CPU processes. Default: the config's "workers", else 1. */
  workers?: number;
  /** Continue each stage from its last checkpoint in the run folder (a stopped run resumes where it was). */
  resume?: boolean;
  onProgress?: (progress: DistillProgress) => void;
  signal?: AbortSignal;
}

/** The factory's flags for device / threads / workers / resume, or an EDGEINFER_INVALID_ARGUMENT naming the bad option. */
function factoryFlags(options: DistillOptions): string[] {
  const flags: string[] = [];
  if (options.device !== undefined) {
    if (!isDistillDevice(options.device)) {
      throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `device must be ${DEVICE_HELP}, got ${JSON.stringify(options.device)}`);
    }
    flags.push('--device', options.device);
  }
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < FACTORY_THREADS.min || options.threads > FACTORY_THREADS.max) {
      throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `threads must be an integer in [${FACTORY_THREADS.min}, ${FACTORY_THREADS.max}], got ${JSON.stringify(options.threads)}`);
    }
    flags.push('--threads', String(options.threads));
  }
  if (options.workers !== undefined) {
    if (!Number.isInteger(options.workers) || options.workers < FACTORY_THREADS.min || options.workers > FACTORY_THREADS.max) {
      throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `workers must be an integer in [${FACTORY_THREADS.min}, ${FACTORY_THREADS.max}], got ${JSON.stringify(options.workers)}`);
    }
    flags.push('--workers', String(options.workers));
  }
  if (options.resume !== undefined && typeof options.resume !== 'boolean') {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `resume must be a boolean, got ${JSON.stringify(options.resume)}`);
  }
  if (options.resume === true) flags.push('--resume');
  return flags;
}

/** The commands for the voice experiment: the factory's generator, sizes from the config (quick sizes under --quick). */
async function generateCommands(python: PythonEnvironment, out: string, config: DistillConfig, sizes: Record<VoiceSplit, number>, signal?: AbortSignal): Promise<void> {
  const args = ['-m', 'edgeinfer_distill.data.commands', '--out', out, '--seed', String(config.seed ?? 1)];
  for (const split of VOICE_SPLITS) args.push(`--${split}`, String(sizes[split]));
  await new Promise<void>((resolve, reject) => {
    execFile(python.python, args, { env: python.env, maxBuffer: 16 << 20, signal }, (error, _stdout, stderr) => {
      if (error) reject(new EdgeInferError(signal?.aborted ? 'EDGEINFER_ABORTED' : 'EDGEINFER_INTERNAL', `the command generator (${python.python} ${args.join(' ')}) failed: ${(stderr || error.message).trim().split('\n').slice(-5).join('\n')}`));
      else resolve();
    });
  });
}

/**
 * The kind of each test example (voice features' test.meta.jsonl), when the factory's test set is exactly the
 * features' test split (same labels in the same order; not in quick mode, where it takes a subset).
 */
function testKinds(features: string | undefined): (labels: Int32Array) => string[] | undefined {
  if (features === undefined) return () => undefined;
  const metaFile = path.join(features, 'test.meta.jsonl');
  const labelsFile = path.join(features, 'test.labels.npy');
  if (!fs.existsSync(metaFile) || !fs.existsSync(labelsFile)) return () => undefined;
  const kinds = fs.readFileSync(metaFile, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => String((JSON.parse(l) as { kind?: unknown }).kind));
  const ours = labelsOf(loadNpy(labelsFile));
  return (labels) => (labels.length === ours.length && labels.every((v, i) => v === ours[i]) && kinds.length === labels.length ? kinds : undefined);
}

const firstLine = (text: string) => text.split('\n')[0].slice(0, 400);

/** Resolves a path the factory printed against its out dir. */
const inOut = (out: string, file: string) => (path.isAbsolute(file) ? file : path.join(out, file));

/** The test data an export event points at: its inputs (by the model's input names) and the labels. */
function exportData(out: string, event: ExportEvent, inputNames: string[]): EvaluationData {
  let files: Record<string, string>;
  if (typeof event.inputs === 'string') {
    if (inputNames.length !== 1) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${event.onnx} has ${inputNames.length} inputs; the export event names one file`);
    files = { [inputNames[0]]: event.inputs };
  } else if (Array.isArray(event.inputs)) {
    files = Object.fromEntries(inputNames.map((n, i) => [n, (event.inputs as string[])[i]]));
  } else files = event.inputs;
  const inputs: Record<string, Tensor> = {};
  for (const [name, file] of Object.entries(files)) inputs[name] = loadNpy(inOut(out, file));
  const first = Object.values(files)[0];
  const candidates = [path.join(path.dirname(inOut(out, first)), 'test_labels.npy'), path.join(out, 'test_labels.npy')];
  const labelsFile = candidates.find((f) => fs.existsSync(f));
  if (!labelsFile) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `no test_labels.npy next to ${first} or in ${out}`);
  return { inputs, labels: labelsOf(loadNpy(labelsFile)) };
}

async function modelInputNames(file: string): Promise<string[]> {
  const model = readModel(fs.readFileSync(file));
  return model.graph.inputs.filter((i) => !model.graph.initializers.has(i.name)).map((i) => i.name);
}

function rowFrom(role: ReportRow['role'], stage: string, model: string, result: ResultEvent | undefined, evaluation: ModelEvaluation | undefined, reference: string | null): ReportRow {
  const ort = evaluation && typeof evaluation.onnxruntime === 'object' && evaluation.onnxruntime !== null ? evaluation.onnxruntime : null;
  return {
    role,
    label: ROLE_LABELS[role] === 'other' ? `${stage} ${model}` : ROLE_LABELS[role],
    stage,
    model,
    file: evaluation?.file ?? null,
    params: result?.params ?? null,
    torch: result ? { accuracy: result.accuracy, macroF1: result.macro_f1 } : null,
    accuracy: evaluation?.native.accuracy ?? null,
    macroF1: evaluation?.native.macroF1 ?? null,
    sizeBytes: evaluation?.sizeBytes ?? null,
    latencyMs: evaluation?.native.latencyMs ?? null,
    onnxruntime: ort ? { accuracy: ort.accuracy, latencyMs: ort.latencyMs, agreementWithNative: ort.agreementWithNative } : null,
    agreement: evaluation?.agreementWithTorch != null && reference ? { value: evaluation.agreementWithTorch, reference } : null,
    ...(typeof evaluation?.onnxruntime === 'string' ? { note: evaluation.onnxruntime } : {}),
  };
}

/**
 * Runs one distillation experiment end to end (see the file comment). `config` is a path to a JSON config or
 * the config object. Resolves to the report; failures are EdgeInferErrors (EDGEINFER_INVALID_ARGUMENT for the
 * config, EDGEINFER_BACKEND_UNAVAILABLE when Python / torch / espeak-ng are missing, EDGEINFER_ABORTED on abort,
 * EDGEINFER_INTERNAL when the factory fails, with its message and the tail of its log).
 */
export async function distill(config: string | DistillConfig, options: DistillOptions = {}): Promise<DistillReport> {
  const started = performance.now();
  const seconds: Record<string, number> = {};
  const lap = (name: string, since: number) => (seconds[name] = (performance.now() - since) / 1000);
  const given = typeof config === 'string' ? readConfig(config) : validateConfig(config);
  const flags = factoryFlags(options);
  const quick = options.quick ?? false;
  // Under --quick the config's "quick" section overrides the rest (as the factory merges it): Node reads the merged view.
  const resolved = quick ? mergeQuick(given) : given;
  const emit = (p: DistillProgress) => options.onProgress?.(p);
  const out = path.resolve(options.out ?? path.join('.cache', 'distill', 'runs', `${resolved.experiment}${quick ? '-quick' : ''}`));
  fs.mkdirSync(out, { recursive: true });

  emit({ event: 'phase', phase: 'python' });
  const python = await checkPython(options);
  const device = options.device ?? given.device ?? 'auto';
  if (device.startsWith('cuda') && python.cudaDevices === 0) {
    throw new EdgeInferError('EDGEINFER_BACKEND_UNAVAILABLE', `device '${device}' was asked for, but PyTorch ${python.modules.torch ?? ''} in '${python.python}' sees no CUDA GPU; use device 'cpu' or 'auto'`, { python: python.python, missing: ['cuda'] });
  }

  let features = options.features;
  let voice: DistillReport['voice'];
  if (resolved.experiment === 'voice' && features === undefined) {
    let t = performance.now();
    emit({ event: 'phase', phase: 'data' });
    const dataDir = path.join(out, 'data');
    const sizes = voiceSizes(resolved, quick);
    await generateCommands(python, dataDir, resolved, sizes, options.signal);
    lap('data', t);
    t = performance.now();
    emit({ event: 'phase', phase: 'voice' });
    const made = await makeVoiceFeatures({
      dataDir,
      // The generator wrote exactly these sizes: read them all (quick is already in the sizes).
      settings: { ...resolved.voice, utterances: sizes, quickUtterances: undefined },
      seed: resolved.seed,
      cacheDir: options.cacheDir,
      signal: options.signal,
      onProgress: (p) => emit({ ...p, event: 'voice' }),
    });
    lap('voice features', t);
    features = made.dir;
    voice = { dir: made.dir, cached: made.cached, frames: made.frames, labels: made.labels, counts: made.counts, seconds: made.seconds };
  }

  // The factory reads the whole config (the Node-only sections included) from the run folder.
  const configFile = path.join(out, 'config.json');
  fs.writeFileSync(configFile, `${JSON.stringify(given, null, 2)}\n`);
  const args = ['--config', configFile, '--out', out];
  if (quick) args.push('--quick');
  if (features !== undefined) args.push('--features', path.resolve(features));
  args.push(...flags);
  emit({ event: 'phase', phase: 'factory' });
  let t = performance.now();
  const logFile = path.join(out, 'factory.log');
  fs.writeFileSync(logFile, '');
  const run = await runFactory('edgeinfer_distill.run', args, {
    python,
    logFile,
    signal: options.signal,
    onEvent: (event) => emit(event),
    onLog: (line) => emit({ event: 'log', line }),
    onMalformed: (line, reason) => emit({ event: 'malformed', line, reason }),
  });
  lap('factory', t);

  // The factory's report: the done event's object, or the file it names, or report.json.
  let factory: unknown = run.done?.report;
  if (typeof factory === 'string') factory = JSON.parse(fs.readFileSync(inOut(out, factory), 'utf8'));
  else if ((factory === undefined || factory === null) && fs.existsSync(path.join(out, 'report.json'))) factory = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));

  // Measure every export on our Engine.
  emit({ event: 'phase', phase: 'evaluate' });
  t = performance.now();
  const evaluation = resolved.evaluation ?? {};
  const evalOptions = { threads: evaluation.threads ?? 1, warmup: evaluation.warmup ?? 20, baseline: evaluation.baseline ?? true, signal: options.signal };
  const exports = run.events.filter((e): e is ExportEvent & Record<string, unknown> => e.event === 'export');
  const results = run.events.filter((e): e is ResultEvent & Record<string, unknown> => e.event === 'result');
  const rows: ReportRow[] = [];
  const kindsOf = testKinds(features);
  let distilledExport: { event: ExportEvent; data: EvaluationData } | undefined;
  for (const [index, event] of exports.entries()) {
    emit({ event: 'evaluate', model: event.onnx, index, total: exports.length });
    const file = inOut(out, event.onnx);
    const base = path.basename(file, '.onnx');
    const data = exportData(out, event, await modelInputNames(file));
    const reference = loadNpy(inOut(out, event.torch_outputs));
    // The factory may export everything in one stage ('export'): the model name ties an export to its result.
    const result = results.find((r) => r.model === base) ?? results.find((r) => r.stage === event.stage && r.stage !== 'export');
    const stage = result?.stage ?? event.stage;
    const role = roleOf(stage, base);
    const measured = await evaluateModel(file, data, { ...evalOptions, reference });
    const row = rowFrom(role, stage, base, result, measured, role === 'qat' ? 'fake-quantized PyTorch' : 'PyTorch FP32');
    const kinds = kindsOf(data.labels);
    if (kinds) row.byKind = accuracyByKind(measured.native.predictions, data.labels, kinds);
    rows.push(row);
    if (role === 'distilled' && distilledExport === undefined) distilledExport = { event, data };
  }
  // Models the factory measured but did not export (e.g. a teacher its exporter could not write): PyTorch's figures.
  for (const result of results) {
    const role = roleOf(result.stage, result.model);
    if (role === 'other' || rows.some((r) => r.role === role)) continue;
    rows.push({ ...rowFrom(role, result.stage, result.model, result, undefined, null), note: 'not exported to ONNX: accuracy as PyTorch measured it, not on our Engine', accuracy: result.accuracy, macroF1: result.macro_f1 });
  }
  lap('evaluation', t);

  // PTQ of the FP32 distilled student with our quantizer, measured the same way.
  const files: Record<string, string> = {};
  let ptqDrop: number | null = null;
  const fp32 = rows.find((r) => r.role === 'distilled');
  const calibrationFile = path.join(out, 'calibration_inputs.npy');
  if (distilledExport && fp32?.file && fs.existsSync(calibrationFile)) {
    emit({ event: 'phase', phase: 'ptq' });
    t = performance.now();
    const inputName = (await modelInputNames(fp32.file))[0];
    const calibration = loadNpy(calibrationFile);
    const count = Math.min(calibration.dims[0], evaluation.ptq?.maxSamples ?? 512);
    const feeds = Array.from({ length: count }, (_, i) => ({ [inputName]: sampleOf(calibration, i) }));
    // The text experiment's QAT follows the seed system's mixed precision (INT8 attention, FP16 feed-forward, FP32
    // embeddings and classifier): its PTQ counterpart uses our quantizer's same preset unless the config says
    // otherwise, and an all-INT8 PTQ is measured beside it (a row of its own, for information).
    const mixedPrecision = evaluation.ptq?.mixedPrecision ?? (resolved.experiment === 'text' ? 'seed' : 'none');
    const plans: ('seed' | 'none')[] = mixedPrecision === 'seed' ? ['seed', 'none'] : ['none'];
    const reference = loadNpy(inOut(out, distilledExport.event.torch_outputs));
    for (const [i, plan] of plans.entries()) {
      const ptqFile = path.join(out, i === 0 ? 'student_int8_ptq.onnx' : 'student_int8_ptq_all.onnx');
      const label = i === 0 ? ROLE_LABELS.ptq : 'student INT8 after PTQ, every layer INT8';
      const quantize = (validateOn?: ('native' | 'onnxruntime')[]) =>
        quantizeModel(fp32.file!, ptqFile, {
          data: feeds,
          method: evaluation.ptq?.method,
          threads: evalOptions.threads,
          signal: options.signal,
          ...(validateOn ? { validateOn } : {}),
          ...(plan === 'seed' ? { mixedPrecision: 'seed' as const } : {}),
        });
      // A quantized file ONNX Runtime refuses is still measured on our Engine (the note says so); any other
      // failure of the PTQ step is reported in its row instead of ending the run.
      let quantized: Awaited<ReturnType<typeof quantizeModel>> | undefined;
      let problem: string | undefined;
      try {
        quantized = await quantize();
      } catch (error) {
        if ((error as EdgeInferError).code === 'EDGEINFER_ABORTED') throw error;
        problem = firstLine((error as Error).message);
        if (/onnxruntime backend/.test(problem)) {
          try {
            quantized = await quantize(['native']);
            problem = `ONNX Runtime cannot run the quantized file (${problem})`;
          } catch (retry) {
            problem = firstLine((retry as Error).message);
          }
        }
      }
      if (quantized === undefined) {
        rows.push({ ...rowFrom(i === 0 ? 'ptq' : 'other', 'ptq', path.basename(ptqFile, '.onnx'), undefined, undefined, null), label, params: fp32.params, note: `our quantizer failed: ${problem}` });
        continue;
      }
      const measured = await evaluateModel(ptqFile, distilledExport.data, { ...evalOptions, reference });
      const kinds = kindsOf(distilledExport.data.labels);
      const row = rowFrom(i === 0 ? 'ptq' : 'other', 'ptq', path.basename(ptqFile, '.onnx'), undefined, measured, 'PyTorch FP32 student');
      row.label = label;
      if (kinds) row.byKind = accuracyByKind(measured.native.predictions, distilledExport.data.labels, kinds);
      row.params = fp32.params;
      row.note = `our quantizer (method ${quantized.report.method}, ${plan === 'seed' ? "mixed precision preset 'seed', " : ''}${count} calibration samples, ${Object.entries(quantized.report.counts).map(([p, n]) => `${p} ${n}`).join(' / ')} layers)${problem ? `; ${problem}` : ''}`;
      rows.push(row);
      files[i === 0 ? 'ptq' : 'ptqAllInt8'] = ptqFile;
    }
    lap('ptq', t);
  }
  const order = ['teacher', 'distilled', 'hard', 'ptq', 'qat', 'other'];
  rows.sort((a, b) => order.indexOf(a.role) - order.indexOf(b.role));
  const ptq = rows.find((r) => r.role === 'ptq');
  const qat = rows.find((r) => r.role === 'qat');
  if (fp32?.accuracy != null && ptq?.accuracy != null) ptqDrop = fp32.accuracy - ptq.accuracy;
  const qatDrop = fp32?.accuracy != null && qat?.accuracy != null ? fp32.accuracy - qat.accuracy : null;

  // The demo's command model: the voice experiment's INT8 QAT student under the command-stage contract.
  if (resolved.experiment === 'voice' && qat?.file) {
    const labelsFile = features ? path.join(features, 'labels.json') : undefined;
    if (labelsFile && fs.existsSync(labelsFile)) {
      const labels = JSON.parse(fs.readFileSync(labelsFile, 'utf8')) as string[];
      const commandFile = path.join(out, 'command_model.int8.onnx');
      fs.writeFileSync(commandFile, toCommandStageModel(fs.readFileSync(qat.file), labels));
      files.commandModel = commandFile;
    }
  }

  emit({ event: 'phase', phase: 'report' });
  const points = extractSweep(factory);
  const sweep = analyzeSweep(points);
  if (points.length > 0) {
    files.sweepChart = path.join(out, 'sweep.svg');
    fs.writeFileSync(files.sweepChart, sweepChart(sweep, resolved.experiment));
  }
  const drops = { ptq: ptqDrop, qat: qatDrop };
  seconds.total = (performance.now() - started) / 1000;
  files.markdown = path.join(out, 'report.md');
  files.json = path.join(out, 'edgeinfer-report.json');
  const report: DistillReport = {
    experiment: resolved.experiment,
    quick,
    outDir: out,
    rows,
    drops,
    sweep,
    acceptance: acceptanceChecks(rows, drops),
    epochs: run.events.filter((e): e is EpochEvent & Record<string, unknown> => e.event === 'epoch'),
    seconds,
    ...(voice ? { voice } : {}),
    python: { python: python.python, version: python.version, modules: python.modules },
    files,
    factory,
  };
  fs.writeFileSync(files.markdown, reportMarkdown(report));
  fs.writeFileSync(files.json, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
