/**
 * The distillation config: one JSON file per experiment. The Node side reads `experiment`, `seed`, `voice` (how
 * the voice features are made) and `evaluation` (how exported models are measured on our Engine); every other
 * section (teacher, student, training, qat, sweep, data, ...) belongs to the Python factory, which validates it
 * itself, and is passed through untouched. Validation here lists every problem at once.
 */
import fs from 'node:fs';
import path from 'node:path';

import { CALIBRATION_METHODS, type CalibrationMethod } from '../calibrator';
import { EdgeInferError } from '../errors';

export const EXPERIMENTS = ['voice', 'text'] as const;
export type DistillExperiment = (typeof EXPERIMENTS)[number];

export const VOICE_SPLITS = ['labelled', 'transfer', 'val', 'test'] as const;
export type VoiceSplit = (typeof VOICE_SPLITS)[number];

/** How spoken commands become CommandStage inputs (see voice-features.ts). Every field has a default. */
export interface VoiceFeatureSettings {
  /** Embeddings per example (the command model's input [1, frames, 96]). Default 32 (2.56 s, 3.2 s of audio seen). */
  frames?: number;
  /** espeak-ng voices (`language[+variant]`). `train` serves labelled, transfer and val; `test` must share none of them. */
  voices?: { train?: string[]; test?: string[] };
  /** Words per minute, [low, high] drawn uniformly. */
  speeds?: { train?: [number, number]; test?: [number, number] };
  /** espeak-ng pitch 0-99, [low, high]. */
  pitch?: [number, number];
  /** Windows cut from each command utterance, ending at different jittered chunks after its speech: training splits / val and test. */
  windowsPerUtterance?: { train?: number; eval?: number };
  /** Chunks (80 ms) between the end of the speech and the end of a window, [low, high]. Default [1, 6]. */
  jitterChunks?: [number, number];
  /** Wake-word phrases said before a command (as after a real wake word). */
  wakeWords?: string[];
  /** Probability that an utterance starts with a wake word. Default 0.5. */
  wakeWordPrefix?: number;
  /** Probability that a command is said with its contractions in full ("what's" as "what is"; see spoken-form.ts). Default 0.4. */
  fullForms?: number;
  /**
   * Probability that a clip stands for the start of a stream (0.3-0.8 s of lead, the pipeline's first
   * embeddings, computed from its initial window of ones, in its windows), as in the demo's short clips. Default 0.25.
   */
  streamStart?: number;
  /** Background noise: probability and signal-to-noise ratio range in dB. */
  noise?: { probability?: number; snrDb?: [number, number] };
  /** Speech gain in dB, [low, high]. */
  gainDb?: [number, number];
  /**
   * "none" examples, per command utterance: non-command sentences (`speech`), background noise or silence
   * (`noise`), a wake word followed by nothing (`wakeWordOnly`), and windows that end while the command is
   * still being said (`cut`, 0-4 on average per command). Default 0.15, 0.05, 0.05, 0.5.
   */
  none?: { speech?: number; noise?: number; wakeWordOnly?: number; cut?: number };
  /**
   * Command lines per split: the sizes asked of the command generator, and the most read from a data folder
   * (a seeded subset). Default labelled 300, transfer 2000, val 300, test 800; --quick 45, 90, 40, 50 (enough for the factory's quick rows).
   */
  utterances?: Partial<Record<VoiceSplit, number>>;
  /** The same under --quick. */
  quickUtterances?: Partial<Record<VoiceSplit, number>>;
  /** openWakeWord's models; default: scripts/fetch-models.js of a source checkout. */
  models?: { melspectrogram?: string; embedding?: string };
}

export interface EvaluationSettings {
  /** Intra-op threads of our Engine and of ONNX Runtime while measuring. Default 1 (a small device's core). */
  threads?: number;
  /** Also run every model on onnxruntime-node (when installed) as the latency baseline. Default true. */
  baseline?: boolean;
  /** Warm-up calls before timing. Default 20. */
  warmup?: number;
  /** PTQ of the FP32 student with our quantizer: activation range method (default our quantizer's, 'mse') and at most this many calibration samples. */
  ptq?: { method?: CalibrationMethod; maxSamples?: number; mixedPrecision?: 'seed' | 'none' };
}

/** Where the factory trains: 'auto' (CUDA when PyTorch sees a GPU, else the CPU), 'cpu', 'cuda' (the process's GPU) or 'cuda:N'. */
export type DistillDevice = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;
export const DEVICE_HELP = 'auto, cpu, cuda or cuda:N';
export function isDistillDevice(value: unknown): value is DistillDevice {
  return typeof value === 'string' && /^(auto|cpu|cuda(:\d+)?)$/.test(value);
}
/** The factory's PyTorch threads, and its side-by-side worker processes. */
export const FACTORY_THREADS = { min: 1, max: 256 } as const;

export interface DistillConfig {
  experiment: DistillExperiment;
  /** Seed of the data, the voices and the Python run. Default 1. */
  seed?: number;
  /** Settings --quick overrides (merged over the rest, by the factory too). */
  quick?: Record<string, unknown>;
  /** Where the factory trains (default auto; DistillOptions.device overrides it). */
  device?: DistillDevice;
  /** PyTorch intra-op threads of the factory. Default 1 (DistillOptions.threads overrides it). */
  threads?: number;
  /**
   * Training jobs that do not depend on each other (ensemble members, the hard-label student, the sweep) run this
   * many at a time in forked CPU processes, threads / workers PyTorch threads each; a job's result is the one it
   * gives alone on that many threads. Default 1: in turn (DistillOptions.workers overrides it).
   */
  workers?: number;
  /**
   * The jobs whose models only feed the report (the hard-label baselines and the size sweep's students) run this
   * many at a time, threads / report_workers PyTorch threads each, whatever `workers` the shipped chain (teacher,
   * distilled student, QAT) uses. Default: workers.
   */
  report_workers?: number;
  voice?: VoiceFeatureSettings;
  evaluation?: EvaluationSettings;
  /** The Python factory's sections (teacher, student, training, qat, sweep, ...). */
  [section: string]: unknown;
}

export type ResolvedVoiceSettings = Required<Omit<VoiceFeatureSettings, 'voices' | 'speeds' | 'windowsPerUtterance' | 'noise' | 'none' | 'models' | 'utterances' | 'quickUtterances'>> & {
  voices: { train: string[]; test: string[] };
  speeds: { train: [number, number]; test: [number, number] };
  windowsPerUtterance: { train: number; eval: number };
  noise: { probability: number; snrDb: [number, number] };
  none: { speech: number; noise: number; wakeWordOnly: number; cut: number };
  utterances: Partial<Record<VoiceSplit, number>>;
  quickUtterances: Partial<Record<VoiceSplit, number>>;
  models: { melspectrogram?: string; embedding?: string };
};

/**
 * Default voices. Training: American, British, RP and Caribbean English in the default, female (f1, f3) and
 * male (m2, m3, m4) variants; the demo's clips (test/fixtures/speech/commands: en-us, en-gb, +f3) are among
 * them. Test: languages and variants never used for training (Scottish, New York, Lancaster and West Midlands
 * English; variants f2, f4, f5, m5, m6).
 */
export const DEFAULT_VOICE: ResolvedVoiceSettings = {
  frames: 32,
  voices: {
    train: ['en-us', 'en-us+f3', 'en-us+m3', 'en-us+f1', 'en-gb', 'en-gb+f3', 'en-gb+m2', 'en-gb-x-rp', 'en-gb-x-rp+f1', 'en-gb-x-rp+m3', 'en-029', 'en-029+m4'],
    test: ['en-gb-scotland', 'en-gb-scotland+f4', 'en-us-nyc', 'en-us-nyc+f2', 'en-gb-x-gbclan+m5', 'en-gb-x-gbcwmd+f5', 'en-gb-x-gbclan+m6'],
  },
  speeds: { train: [130, 200], test: [140, 190] },
  pitch: [30, 70],
  windowsPerUtterance: { train: 2, eval: 1 },
  jitterChunks: [1, 6],
  wakeWords: ['hey jarvis', 'alexa', 'hey mycroft'],
  wakeWordPrefix: 0.5,
  fullForms: 0.4,
  streamStart: 0.25,
  noise: { probability: 0.8, snrDb: [5, 30] },
  gainDb: [-15, 5],
  none: { speech: 0.15, noise: 0.05, wakeWordOnly: 0.05, cut: 0.5 },
  utterances: { labelled: 300, transfer: 2000, val: 300, test: 800 },
  quickUtterances: { labelled: 45, transfer: 90, val: 40, test: 50 },
  models: {},
};

class Problems {
  readonly list: string[] = [];
  add(where: string, message: string, got?: unknown): void {
    this.list.push(`${where} ${message}${got === undefined ? '' : `, got ${JSON.stringify(got)}`}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkKeys(value: Record<string, unknown>, allowed: readonly string[], where: string, problems: Problems): void {
  for (const key of Object.keys(value)) if (!allowed.includes(key)) problems.add(`${where}.${key}`, `is not a setting (known: ${allowed.join(', ')})`);
}

function checkNumber(value: unknown, where: string, problems: Problems, { min = -Infinity, max = Infinity, integer = false } = {}): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    problems.add(where, `must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`, value);
  }
}

function checkRange(value: unknown, where: string, problems: Problems, min: number, max: number): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || value.length !== 2 || value.some((v) => typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) || value[0] > value[1]) {
    problems.add(where, `must be [low, high] with ${min} <= low <= high <= ${max}`, value);
  }
}

function checkStrings(value: unknown, where: string, problems: Problems): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string' || v.trim() === '')) problems.add(where, 'must be a non-empty array of non-empty strings', value);
}

function checkVoice(voice: unknown, problems: Problems, where = 'config.voice'): void {
  if (voice === undefined) return;
  if (!isObject(voice)) {
    problems.add(where, 'must be an object', voice);
    return;
  }
  checkKeys(voice, Object.keys(DEFAULT_VOICE), where, problems);
  checkNumber(voice.frames, `${where}.frames`, problems, { min: 1, max: 256, integer: true });
  if (voice.voices !== undefined) {
    if (!isObject(voice.voices)) problems.add(`${where}.voices`, 'must be { train, test }', voice.voices);
    else {
      checkKeys(voice.voices, ['train', 'test'], `${where}.voices`, problems);
      checkStrings(voice.voices.train, `${where}.voices.train`, problems);
      checkStrings(voice.voices.test, `${where}.voices.test`, problems);
      const train = (voice.voices.train as string[] | undefined) ?? DEFAULT_VOICE.voices.train;
      const test = (voice.voices.test as string[] | undefined) ?? DEFAULT_VOICE.voices.test;
      const shared = Array.isArray(train) && Array.isArray(test) ? test.filter((v) => train.includes(v)) : [];
      if (shared.length > 0) problems.add(`${where}.voices.test`, `must hold voices out of training; shared with voices.train: ${shared.join(', ')}`);
    }
  }
  if (voice.speeds !== undefined) {
    if (!isObject(voice.speeds)) problems.add(`${where}.speeds`, 'must be { train, test }', voice.speeds);
    else {
      checkKeys(voice.speeds, ['train', 'test'], `${where}.speeds`, problems);
      checkRange(voice.speeds.train, `${where}.speeds.train`, problems, 80, 450);
      checkRange(voice.speeds.test, `${where}.speeds.test`, problems, 80, 450);
    }
  }
  checkRange(voice.pitch, `${where}.pitch`, problems, 0, 99);
  if (voice.windowsPerUtterance !== undefined) {
    if (!isObject(voice.windowsPerUtterance)) problems.add(`${where}.windowsPerUtterance`, 'must be { train, eval }', voice.windowsPerUtterance);
    else {
      checkKeys(voice.windowsPerUtterance, ['train', 'eval'], `${where}.windowsPerUtterance`, problems);
      checkNumber(voice.windowsPerUtterance.train, `${where}.windowsPerUtterance.train`, problems, { min: 1, max: 16, integer: true });
      checkNumber(voice.windowsPerUtterance.eval, `${where}.windowsPerUtterance.eval`, problems, { min: 1, max: 16, integer: true });
    }
  }
  checkRange(voice.jitterChunks, `${where}.jitterChunks`, problems, 0, 64);
  if (Array.isArray(voice.jitterChunks) && voice.jitterChunks.every(Number.isInteger) === false) problems.add(`${where}.jitterChunks`, 'must hold integers', voice.jitterChunks);
  checkStrings(voice.wakeWords, `${where}.wakeWords`, problems);
  checkNumber(voice.wakeWordPrefix, `${where}.wakeWordPrefix`, problems, { min: 0, max: 1 });
  checkNumber(voice.fullForms, `${where}.fullForms`, problems, { min: 0, max: 1 });
  checkNumber(voice.streamStart, `${where}.streamStart`, problems, { min: 0, max: 1 });
  if (voice.noise !== undefined) {
    if (!isObject(voice.noise)) problems.add(`${where}.noise`, 'must be { probability, snrDb }', voice.noise);
    else {
      checkKeys(voice.noise, ['probability', 'snrDb'], `${where}.noise`, problems);
      checkNumber(voice.noise.probability, `${where}.noise.probability`, problems, { min: 0, max: 1 });
      checkRange(voice.noise.snrDb, `${where}.noise.snrDb`, problems, -20, 80);
    }
  }
  checkRange(voice.gainDb, `${where}.gainDb`, problems, -60, 30);
  if (voice.none !== undefined) {
    if (!isObject(voice.none)) problems.add(`${where}.none`, 'must be { speech, noise, wakeWordOnly, cut }', voice.none);
    else {
      checkKeys(voice.none, ['speech', 'noise', 'wakeWordOnly', 'cut'], `${where}.none`, problems);
      for (const key of ['speech', 'noise', 'wakeWordOnly'] as const) checkNumber(voice.none[key], `${where}.none.${key}`, problems, { min: 0, max: 10 });
      checkNumber(voice.none.cut, `${where}.none.cut`, problems, { min: 0, max: 4 });
    }
  }
  for (const key of ['utterances', 'quickUtterances'] as const) {
    const value = voice[key];
    if (value === undefined) continue;
    if (!isObject(value)) problems.add(`${where}.${key}`, `must be { ${VOICE_SPLITS.join(', ')} } of counts`, value);
    else {
      checkKeys(value, VOICE_SPLITS, `${where}.${key}`, problems);
      for (const split of VOICE_SPLITS) checkNumber(value[split], `${where}.${key}.${split}`, problems, { min: 1, max: 1e7, integer: true });
    }
  }
  if (voice.models !== undefined) {
    if (!isObject(voice.models)) problems.add(`${where}.models`, 'must be { melspectrogram, embedding } paths', voice.models);
    else {
      checkKeys(voice.models, ['melspectrogram', 'embedding'], `${where}.models`, problems);
      for (const key of ['melspectrogram', 'embedding'] as const) {
        const file = voice.models[key];
        if (file !== undefined && (typeof file !== 'string' || file === '')) problems.add(`${where}.models.${key}`, 'must be a path', file);
      }
    }
  }
}

function checkEvaluation(evaluation: unknown, problems: Problems, where = 'config.evaluation'): void {
  if (evaluation === undefined) return;
  if (!isObject(evaluation)) {
    problems.add(where, 'must be an object', evaluation);
    return;
  }
  checkKeys(evaluation, ['threads', 'baseline', 'warmup', 'ptq'], where, problems);
  checkNumber(evaluation.threads, `${where}.threads`, problems, { min: 1, max: 256, integer: true });
  checkNumber(evaluation.warmup, `${where}.warmup`, problems, { min: 0, max: 10000, integer: true });
  if (evaluation.baseline !== undefined && typeof evaluation.baseline !== 'boolean') problems.add(`${where}.baseline`, 'must be a boolean', evaluation.baseline);
  if (evaluation.ptq !== undefined) {
    const ptq = evaluation.ptq;
    if (!isObject(ptq)) problems.add(`${where}.ptq`, 'must be { method, maxSamples }', ptq);
    else {
      checkKeys(ptq, ['method', 'maxSamples', 'mixedPrecision'], `${where}.ptq`, problems);
      if (ptq.mixedPrecision !== undefined && ptq.mixedPrecision !== 'seed' && ptq.mixedPrecision !== 'none') problems.add(`${where}.ptq.mixedPrecision`, "must be 'seed' or 'none'", ptq.mixedPrecision);
      if (ptq.method !== undefined && !(CALIBRATION_METHODS as readonly unknown[]).includes(ptq.method)) problems.add(`${where}.ptq.method`, `must be one of ${CALIBRATION_METHODS.join(', ')}`, ptq.method);
      checkNumber(ptq.maxSamples, `${where}.ptq.maxSamples`, problems, { min: 1, max: 1e7, integer: true });
    }
  }
}

/**
 * Checks a config object and returns it typed. Throws one EDGEINFER_INVALID_ARGUMENT listing every problem
 * (detail.problems), `source` naming the file in the message.
 */
export function validateConfig(config: unknown, source = 'config'): DistillConfig {
  const problems = new Problems();
  if (!isObject(config)) {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${source}: a distillation config must be a JSON object, got ${Array.isArray(config) ? 'an array' : JSON.stringify(config)}`, { problems: ['not an object'] });
  }
  if (config.experiment === undefined) problems.add('config.experiment', `is required: one of ${EXPERIMENTS.join(', ')}`);
  else if (!(EXPERIMENTS as readonly unknown[]).includes(config.experiment)) problems.add('config.experiment', `must be one of ${EXPERIMENTS.join(', ')}`, config.experiment);
  checkNumber(config.seed, 'config.seed', problems, { min: 0, max: 2 ** 31 - 1, integer: true });
  if (config.device !== undefined && !isDistillDevice(config.device)) problems.add('config.device', `must be ${DEVICE_HELP}`, config.device);
  checkNumber(config.threads, 'config.threads', problems, { ...FACTORY_THREADS, integer: true });
  checkNumber(config.workers, 'config.workers', problems, { ...FACTORY_THREADS, integer: true });
  checkNumber(config.report_workers, 'config.report_workers', problems, { ...FACTORY_THREADS, integer: true });
  checkVoice(config.voice, problems);
  checkEvaluation(config.evaluation, problems);
  if (config.quick !== undefined) {
    if (!isObject(config.quick)) problems.add('config.quick', 'must be an object (the settings --quick overrides)', config.quick);
    else {
      checkVoice(config.quick.voice, problems, 'config.quick.voice');
      checkEvaluation(config.quick.evaluation, problems, 'config.quick.evaluation');
    }
  }
  if (config.experiment === 'text' && config.voice !== undefined) problems.add('config.voice', "is only read by the 'voice' experiment");
  if (problems.list.length > 0) {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${source}: ${problems.list.length === 1 ? problems.list[0] : `${problems.list.length} problems:\n  ${problems.list.join('\n  ')}`}`, { problems: problems.list });
  }
  return config as DistillConfig;
}

/** Reads and validates a config file (JSON). Relative model paths in `voice.models` are resolved against the file's folder. */
export function readConfig(file: string): DistillConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `cannot read the config ${file}: ${(error as Error).message}`, { path: file });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${file} is not valid JSON: ${(error as Error).message}`, { path: file });
  }
  const config = validateConfig(json, file);
  const models = config.voice?.models;
  if (models) {
    const base = path.dirname(path.resolve(file));
    for (const key of ['melspectrogram', 'embedding'] as const) if (models[key] !== undefined) models[key] = path.resolve(base, models[key]!);
  }
  return config;
}

/** The config as --quick sees it: its "quick" section merged over the rest (objects merged key by key, anything else replaced). */
export function mergeQuick(config: DistillConfig): DistillConfig {
  const merge = (base: unknown, over: unknown): unknown => {
    if (!isObject(base) || !isObject(over)) return over;
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
    return out;
  };
  const { quick, ...rest } = config;
  return (quick === undefined ? rest : merge(rest, quick)) as DistillConfig;
}

/**
 * Command lines per split for the voice experiment: the defaults (quick ones under --quick), then the config's
 * `data` section (the sizes the factory's text experiment reads too), then voice.utterances (voice.quickUtterances
 * under --quick). `config` is the merged view (mergeQuick) when quick.
 */
export function voiceSizes(config: DistillConfig, quick: boolean): Record<VoiceSplit, number> {
  const sizes = { ...(quick ? DEFAULT_VOICE.quickUtterances : DEFAULT_VOICE.utterances) } as Record<VoiceSplit, number>;
  const data = isObject(config.data) ? config.data : {};
  for (const split of VOICE_SPLITS) {
    const candidates = [data[split], config.voice?.utterances?.[split], quick ? config.voice?.quickUtterances?.[split] : undefined];
    for (const value of candidates) if (typeof value === 'number' && Number.isInteger(value) && value > 0) sizes[split] = value;
  }
  return sizes;
}

/** The voice settings with every default filled in. */
export function resolveVoiceSettings(voice: VoiceFeatureSettings | undefined): ResolvedVoiceSettings {
  const v = voice ?? {};
  const d = DEFAULT_VOICE;
  return {
    frames: v.frames ?? d.frames,
    voices: { train: v.voices?.train ?? d.voices.train, test: v.voices?.test ?? d.voices.test },
    speeds: { train: v.speeds?.train ?? d.speeds.train, test: v.speeds?.test ?? d.speeds.test },
    pitch: v.pitch ?? d.pitch,
    windowsPerUtterance: { train: v.windowsPerUtterance?.train ?? d.windowsPerUtterance.train, eval: v.windowsPerUtterance?.eval ?? d.windowsPerUtterance.eval },
    jitterChunks: v.jitterChunks ?? d.jitterChunks,
    wakeWords: v.wakeWords ?? d.wakeWords,
    wakeWordPrefix: v.wakeWordPrefix ?? d.wakeWordPrefix,
    fullForms: v.fullForms ?? d.fullForms,
    streamStart: v.streamStart ?? d.streamStart,
    noise: { probability: v.noise?.probability ?? d.noise.probability, snrDb: v.noise?.snrDb ?? d.noise.snrDb },
    gainDb: v.gainDb ?? d.gainDb,
    none: {
      speech: v.none?.speech ?? d.none.speech,
      noise: v.none?.noise ?? d.none.noise,
      wakeWordOnly: v.none?.wakeWordOnly ?? d.none.wakeWordOnly,
      cut: v.none?.cut ?? d.none.cut,
    },
    utterances: { ...d.utterances, ...v.utterances },
    quickUtterances: { ...d.quickUtterances, ...v.quickUtterances },
    models: { ...v.models },
  };
}
