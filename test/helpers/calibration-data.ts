/**
 * Calibration feeds from the speech fixtures for the openWakeWord models: mel windows [1, 76, 32, 1] for the
 * embedding model (the melspectrogram model run over each whole clip, scaled x / 10 + 2 as the pipeline
 * does, windows every `hop` frames), and [1, 16, 96] embedding windows for the heads. The generators make
 * each feed when asked, so a calibration over them keeps none.
 */
import fs from 'node:fs';
import path from 'node:path';

import { Engine, type Tensor } from '../../lib';
import { readWav16, WakeWordPipeline, type ModelRunner } from '../../lib/wakeword/pipeline';
import { fetchModels, speechDir } from './repo';

export const melBins = 32;
export const windowFrames = 76;
export const embeddingSize = 96;
export const headFrames = 16;

export const speechClips = fs.readdirSync(speechDir).filter((name) => name.endsWith('.wav')).sort();

export function clipSamples(clip: string): Int16Array {
  return readWav16(fs.readFileSync(path.join(speechDir, clip))).samples;
}

/** The scaled mel frames of every fixture clip (clip -> [frames * 32]), computed once per process. */
let melCache: Map<string, Float32Array> | undefined;
export async function clipMelFrames(): Promise<Map<string, Float32Array>> {
  if (melCache) return melCache;
  const engine = await Engine.load(fetchModels()['melspectrogram.onnx'], { backend: 'native', threads: 1 });
  try {
    const frames = new Map<string, Float32Array>();
    for (const clip of speechClips) {
      const samples = Float32Array.from(clipSamples(clip));
      const out = await engine.infer({ [engine.inputs[0].name]: { type: 'float32', data: samples, dims: [1, samples.length] } });
      const mel = (out[engine.outputs[0].name].data as Float32Array).map((x) => x / 10 + 2);
      frames.set(clip, mel);
    }
    melCache = frames;
    return frames;
  } finally {
    engine.dispose();
  }
}

export interface WindowOptions {
  /** Frames between windows. Default 8 (one window per 80 ms, as the pipeline). */
  hop?: number;
  /** First window's start frame (e.g. 4: windows between the default ones, held out from a calibration). Default 0. */
  offset?: number;
  /** Stop after this many windows, cycling through the clips (each round starting one frame later). Default: one pass. */
  count?: number;
  /** Only these clips. Default: every fixture. */
  clips?: string[];
  /** Input name of the embedding model. Default 'input_1'. */
  inputName?: string;
}

/** Embedding-model feeds, made on demand. */
export async function* embeddingWindows(options: WindowOptions = {}): AsyncGenerator<Record<string, Tensor>> {
  const frames = await clipMelFrames();
  const hop = options.hop ?? 8;
  const clips = options.clips ?? speechClips;
  const name = options.inputName ?? 'input_1';
  let made = 0;
  for (let round = 0; ; round++) {
    let madeThisRound = 0;
    for (const clip of clips) {
      const mel = frames.get(clip)!;
      const total = mel.length / melBins;
      for (let start = (options.offset ?? 0) + (round % hop); start + windowFrames <= total; start += hop) {
        if (options.count !== undefined && made >= options.count) return;
        yield { [name]: { type: 'float32', data: mel.slice(start * melBins, (start + windowFrames) * melBins), dims: [1, windowFrames, melBins, 1] } };
        made++;
        madeThisRound++;
      }
    }
    if (options.count === undefined || madeThisRound === 0) return;
  }
}

/** The embeddings the FP32 pipeline computes for a clip, chunk by chunk (one per 80 ms). */
export async function clipEmbeddings(models: { melspectrogram: ModelRunner; embedding: ModelRunner }, clip: string): Promise<Float32Array[]> {
  const pipeline = new WakeWordPipeline({ ...models, heads: {} });
  const { chunks } = await pipeline.processClip(clipSamples(clip));
  return chunks.flatMap((chunk) => (chunk.embedding ? [chunk.embedding] : []));
}

/** Head feeds [1, 16, 96]: every window of 16 consecutive embeddings of the given sequences. */
export function* headWindows(sequences: Float32Array[][], inputName: string): Generator<Record<string, Tensor>> {
  for (const embeddings of sequences) {
    for (let start = 0; start + headFrames <= embeddings.length; start++) {
      const data = new Float32Array(headFrames * embeddingSize);
      for (let i = 0; i < headFrames; i++) data.set(embeddings[start + i], i * embeddingSize);
      yield { [inputName]: { type: 'float32', data, dims: [1, headFrames, embeddingSize] } };
    }
  }
}

/**
 * The wake word + command clips (test/fixtures/speech/commands/): speech no calibration here reads, so the
 * quantization methods can be compared out of sample (scoring the calibration clips themselves favours
 * min-max, the one method that never clips them).
 */
export const heldOutClipFiles = fs.readdirSync(path.join(speechDir, 'commands')).filter((name) => name.endsWith('.wav')).sort().map((name) => path.join(speechDir, 'commands', name));

/**
 * Each clip (16 kHz mono WAV files) at `shifts` start offsets: k * 1280 / shifts samples of silence first, so
 * the pipeline's 80 ms chunks fall differently on the speech each time. A score error concentrates in the few
 * chunks where a score crosses between 0 and 1; the shifts multiply them.
 */
export function shiftedClips(files: string[], shifts: number): { name: string; samples: Int16Array }[] {
  return files.flatMap((file) => {
    const samples = readWav16(fs.readFileSync(file)).samples;
    return Array.from({ length: shifts }, (_, k) => {
      const shifted = new Int16Array(samples.length + Math.round((k * 1280) / shifts));
      shifted.set(samples, shifted.length - samples.length);
      return { name: `${path.basename(file)}@${k}`, samples: shifted };
    });
  });
}

/** Chunk scores per clip, as WakeWordPipeline.processClip returns them. */
export type ClipScores = Map<string, { chunks: { scores: Record<string, number> }[] }>;

/** Mean |score - reference score| over every chunk of every clip and every head: the "mean score error". */
export function meanScoreError(results: ClipScores, reference: ClipScores): number {
  let sum = 0;
  let count = 0;
  for (const [clip, result] of results) {
    result.chunks.forEach((chunk, i) => {
      for (const [head, score] of Object.entries(chunk.scores)) {
        sum += Math.abs(score - reference.get(clip)!.chunks[i].scores[head]);
        count++;
      }
    });
  }
  return sum / count;
}
