/**
 * One utterance's examples: its clip streamed through openWakeWord's melspectrogram and embedding models on our
 * Engine exactly as lib/wakeword/pipeline.ts streams audio, and the windows of F embeddings the command stage
 * would score (see voice-features.ts for what the examples are). Runs on the calling thread or in a voice
 * feature worker (voice-feature-workers.ts), with the same result.
 */
import type { Engine } from '../engine';
import { EdgeInferError } from '../errors';
import { embeddingHopFrames, embeddingMelBins, embeddingValues, embeddingWindowFrames, spanFrames, type EmbeddingSpan } from '../wakeword/embedding-span';
import { chunkSamples } from '../wakeword/pipeline';
import { render, type Job, type Rendered } from './voice-utterances';

// The embedding model's window geometry, defined once beside its span form.
export const embeddingSize = embeddingValues;
const melBins = embeddingMelBins;
const melWindow = embeddingWindowFrames;
const melFramesPerChunk = embeddingHopFrames;
const melContext = 480;
/** Chunk index of the first embedding computed from real audio only (the pipeline starts from a window of ones). */
const firstRealChunk = Math.ceil(melWindow / melFramesPerChunk) - 1;

export interface Example {
  features: Float32Array;
  label: number;
  meta: Record<string, unknown>;
}

/** The front end's Engines; with `embeddingSpan`, runs of embeddings are made a span at a time (embedding-span.ts). */
export interface FrontEnd {
  melspectrogram: Engine;
  embedding: Engine;
  embeddingSpan?: EmbeddingSpan;
}

/**
 * Streams the clip through the front end as WakeWordPipeline does, from a fresh pipeline: embeddings[c] for chunk
 * c where `needed(c)` (default: from firstRealChunk on, the first chunk whose 76 mel frames are all real: the
 * pipeline starts from a window of ones), undefined elsewhere. The melspectrogram runs on every chunk, as it
 * must for the frames of later ones; the embedding model only where asked: chunk c's window is mel frames
 * 8 (c + 1) .. 8 (c + 1) + 75 of the stream (its first 76 the initial ones). With a span Engine, the needed
 * chunks are covered by spans of its `windows` consecutive windows (a span ends early enough to fit the clip), the
 * same embeddings at a fraction of the work; a clip shorter than one span is embedded window by window.
 */
export async function embedClip(models: FrontEnd, audio: Float32Array, needed: (chunk: number) => boolean = (c) => c >= firstRealChunk): Promise<(Float32Array | undefined)[]> {
  const { melspectrogram: mel, embedding: emb, embeddingSpan: span } = models;
  const melIn = mel.inputs[0].name;
  const melOut = mel.outputs[0].name;
  const buffer = new Float32Array(chunkSamples + melContext);
  const chunks = Math.floor(audio.length / chunkSamples);
  // The pipeline starts from 76 mel frames of ones; they reach the chunks before firstRealChunk.
  const frames = new Float32Array((melWindow + chunks * melFramesPerChunk) * melBins).fill(1, 0, melWindow * melBins);
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
  }
  const wanted = Array.from({ length: chunks }, (_, c) => needed(c));
  const out: (Float32Array | undefined)[] = new Array<Float32Array | undefined>(chunks).fill(undefined);
  const windowStart = (c: number) => (c + 1) * melFramesPerChunk * melBins;
  if (span !== undefined && chunks >= span.windows) {
    const spanIn = span.engine.inputs[0].name;
    const spanOut = span.engine.outputs[0].name;
    const length = spanFrames(span.windows) * melBins;
    for (let c = 0; c < chunks; c++) {
      if (!wanted[c] || out[c] !== undefined) continue;
      const start = Math.min(c, chunks - span.windows);
      const data = frames.subarray(windowStart(start), windowStart(start) + length);
      const values = (await span.engine.infer({ [spanIn]: { type: 'float32', data, dims: [1, spanFrames(span.windows), melBins, 1] } }))[spanOut].data as Float32Array;
      for (let k = 0; k < span.windows; k++) {
        if (wanted[start + k]) out[start + k] ??= values.slice(k * embeddingSize, (k + 1) * embeddingSize);
      }
    }
    return out;
  }
  const embIn = emb.inputs[0].name;
  const embOut = emb.outputs[0].name;
  for (let c = 0; c < chunks; c++) {
    if (!wanted[c]) continue;
    const window = frames.subarray(windowStart(c), windowStart(c) + melWindow * melBins);
    const e = await emb.infer({ [embIn]: { type: 'float32', data: window, dims: [1, melWindow, melBins, 1] } });
    out[c] = (e[embOut].data as Float32Array).slice(0, embeddingSize);
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
async function examples(models: FrontEnd, job: Job, clip: Rendered, frames: number): Promise<Example[]> {
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

/**
 * One espeak-ng session's examples, job by job (a list per job, in the session's order): each clip rendered
 * (render is seeded per job) and streamed through the front end. The same on any thread: the voice feature
 * workers run this too.
 */
export async function sessionExamples(models: FrontEnd, jobs: Job[], speech: { wake?: Float32Array; main?: Float32Array }[], frames: number): Promise<Example[][]> {
  const out: Example[][] = [];
  for (let i = 0; i < jobs.length; i++) out.push(await examples(models, jobs[i], render(jobs[i], speech[i]), frames));
  return out;
}

