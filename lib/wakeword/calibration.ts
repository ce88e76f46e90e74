/**
 * Calibration feeds for the openWakeWord models from a folder of 16 kHz WAV clips, through the same front end
 * the pipeline runs: the melspectrogram model over each clip (scaled x / 10 + 2), windows of 76 mel frames
 * every `hop` frames for the embedding model; for a head, the embeddings the FP32 pipeline computes (one per
 * 80 ms chunk) in windows of 16. So the quantized models see the activations they will serve (the seed
 * system's lesson: calibrating a model on inputs its front end does not produce drifts its outputs). One clip
 * at a time: nothing is kept between clips.
 */
import fs from 'node:fs';
import path from 'node:path';

import { Engine } from '../engine';
import { EdgeInferError } from '../errors';
import type { Tensor } from '../tensor';
import { readWav16, sampleRate, WakeWordPipeline, type ModelRunner } from './pipeline';

const melBins = 32;
const embeddingWindow = 76;
const embeddingSize = 96;
const headFrames = 16;

export interface WakeWordCalibrationOptions {
  /** openWakeWord's melspectrogram model (path or bytes). */
  melspectrogram: string | Uint8Array;
  /** The embedding model: needed for stage 'head'. */
  embedding?: string | Uint8Array;
  /** Feeds for the embedding model ([1, 76, 32, 1] mel windows) or for a head ([1, 16, 96] embeddings). */
  stage: 'embedding' | 'head';
  /** The input name of the model calibrated. Default: 'input_1' (embedding), 'x' (heads)... pass it from info(). */
  inputName: string;
  /** Embedding stage: mel frames between windows. Default 8 (one window per 80 ms chunk, as the pipeline). */
  hop?: number;
}

/** The .wav files of a folder (name order), or the file itself. */
export function wavFiles(target: string): string[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${target} does not exist`, { path: target });
  }
  if (stat.isFile()) return [target];
  const files = fs.readdirSync(target).filter((f) => f.toLowerCase().endsWith('.wav')).sort().map((f) => path.join(target, f));
  if (files.length === 0) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${target} holds no .wav files`, { path: target });
  return files;
}

function readClip(file: string): Int16Array {
  let clip: { sampleRate: number; samples: Int16Array };
  try {
    clip = readWav16(fs.readFileSync(file));
  } catch (error) {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${file}: ${(error as Error).message}`, { file });
  }
  if (clip.sampleRate !== sampleRate) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${file}: ${clip.sampleRate} Hz; the front end takes ${sampleRate} Hz`, { file });
  return clip.samples;
}

/** Feeds for the embedding model or a head from WAV clips, made on demand (see the file comment). */
export async function* wakeWordCalibrationFeeds(clips: readonly string[], options: WakeWordCalibrationOptions): AsyncGenerator<Record<string, Tensor>> {
  const hop = options.hop ?? 8;
  if (!Number.isSafeInteger(hop) || hop < 1) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `hop must be a positive integer, got ${hop}`);
  if (options.stage === 'head' && options.embedding === undefined) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', "stage 'head' needs the embedding model");
  const mel = await Engine.load(options.melspectrogram, { backend: 'native', threads: 1 });
  const embedding = options.stage === 'head' ? await Engine.load(options.embedding!, { backend: 'native', threads: 1 }) : undefined;
  try {
    for (const file of clips) {
      const samples = readClip(file);
      if (options.stage === 'embedding') {
        const audio = Float32Array.from(samples);
        const out = await mel.infer({ [mel.inputs[0].name]: { type: 'float32', data: audio, dims: [1, audio.length] } });
        const frames = (out[mel.outputs[0].name].data as Float32Array).map((x) => x / 10 + 2);
        const total = frames.length / melBins;
        for (let start = 0; start + embeddingWindow <= total; start += hop) {
          yield { [options.inputName]: { type: 'float32', data: frames.slice(start * melBins, (start + embeddingWindow) * melBins), dims: [1, embeddingWindow, melBins, 1] } };
        }
        continue;
      }
      const runner = (engine: Engine): ModelRunner => ({ inputs: engine.inputs, outputs: engine.outputs, infer: (feeds) => engine.infer(feeds) });
      const pipeline = new WakeWordPipeline({ melspectrogram: runner(mel), embedding: runner(embedding!), heads: {} });
      const { chunks } = await pipeline.processClip(samples);
      const embeddings = chunks.flatMap((chunk) => (chunk.embedding ? [chunk.embedding] : []));
      for (let start = 0; start + headFrames <= embeddings.length; start++) {
        const data = new Float32Array(headFrames * embeddingSize);
        for (let i = 0; i < headFrames; i++) data.set(embeddings[start + i], i * embeddingSize);
        yield { [options.inputName]: { type: 'float32', data, dims: [1, headFrames, embeddingSize] } };
      }
    }
  } finally {
    mel.dispose();
    embedding?.dispose();
  }
}
