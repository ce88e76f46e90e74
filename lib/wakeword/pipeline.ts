/**
 * The openWakeWord streaming pipeline: 16 kHz audio in 80 ms chunks (1280 samples, int16 scale) ->
 * melspectrogram -> (x / 10 + 2) -> windows of 76 mel frames, hop 8 -> embedding (96 values per 80 ms) ->
 * the last 16 embeddings -> a head's score. Model-agnostic: it runs through any `ModelRunner`, so the
 * same code drives the native Engine and ONNX Runtime for comparisons.
 */
import type { Tensor } from '../tensor';

export interface ModelRunner {
  readonly inputs: { name: string }[];
  readonly outputs: { name: string }[];
  infer(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
}

export interface WakeWordModels {
  melspectrogram: ModelRunner;
  embedding: ModelRunner;
  /** Heads by name (e.g. 'hey_jarvis'); each takes [1, 16, 96] (or [1, frames, 96]) embeddings. */
  heads: Record<string, ModelRunner>;
}

export const sampleRate = 16000;
export const chunkSamples = 1280; // 80 ms
const melContextSamples = 480; // three 10 ms hops of left context for the STFT windows
const melFramesPerChunk = 8;
const melBins = 32;
const embeddingWindow = 76;
const embeddingSize = 96;
const defaultHeadFrames = 16;

export interface ChunkResult {
  /** Head scores for this chunk (absent until enough audio has been seen). */
  scores: Record<string, number>;
  /** The newest embedding, when one was computed. */
  embedding?: Float32Array;
}

export class WakeWordPipeline {
  private readonly audio = new Float32Array(chunkSamples + melContextSamples);
  private readonly mel: Float32Array[] = [];
  private readonly embeddings: Float32Array[] = [];
  private readonly headFrames: Record<string, number>;

  constructor(
    private readonly models: WakeWordModels,
    headFrames: Record<string, number> = {},
  ) {
    this.headFrames = Object.fromEntries(Object.keys(models.heads).map((name) => [name, headFrames[name] ?? defaultHeadFrames]));
    // Like openWakeWord, start from a window of ones so an embedding comes out of the first chunk.
    for (let i = 0; i < embeddingWindow; i++) this.mel.push(new Float32Array(melBins).fill(1));
  }

  /** Feeds one 80 ms chunk (1280 samples at int16 scale, i.e. -32768..32767 as floats). */
  async push(chunk: Float32Array): Promise<ChunkResult> {
    if (chunk.length !== chunkSamples) throw new RangeError(`a chunk is ${chunkSamples} samples, got ${chunk.length}`);
    this.audio.copyWithin(0, chunkSamples);
    this.audio.set(chunk, melContextSamples);

    const melModel = this.models.melspectrogram;
    const melOut = await melModel.infer({ [melModel.inputs[0].name]: { type: 'float32', data: this.audio.slice(), dims: [1, this.audio.length] } });
    const frames = melOut[melModel.outputs[0].name];
    const values = frames.data as Float32Array;
    const total = values.length / melBins;
    for (let f = Math.max(0, total - melFramesPerChunk); f < total; f++) {
      const frame = new Float32Array(melBins);
      for (let b = 0; b < melBins; b++) frame[b] = values[f * melBins + b] / 10 + 2;
      this.mel.push(frame);
    }
    while (this.mel.length > embeddingWindow) this.mel.shift();

    const result: ChunkResult = { scores: {} };
    if (this.mel.length < embeddingWindow) return result;
    const window = new Float32Array(embeddingWindow * melBins);
    this.mel.forEach((frame, i) => window.set(frame, i * melBins));
    const embModel = this.models.embedding;
    const embOut = await embModel.infer({ [embModel.inputs[0].name]: { type: 'float32', data: window, dims: [1, embeddingWindow, melBins, 1] } });
    const embedding = (embOut[embModel.outputs[0].name].data as Float32Array).slice(0, embeddingSize);
    result.embedding = embedding;
    this.embeddings.push(embedding);
    const keep = Math.max(...Object.values(this.headFrames), 0);
    while (this.embeddings.length > keep) this.embeddings.shift();

    for (const [name, head] of Object.entries(this.models.heads)) {
      const frames = this.headFrames[name];
      if (this.embeddings.length < frames) continue;
      const input = new Float32Array(frames * embeddingSize);
      this.embeddings.slice(-frames).forEach((e, i) => input.set(e, i * embeddingSize));
      const out = await head.infer({ [head.inputs[0].name]: { type: 'float32', data: input, dims: [1, frames, embeddingSize] } });
      result.scores[name] = (out[head.outputs[0].name].data as Float32Array)[0];
    }
    return result;
  }

  /** Runs a whole clip (int16 samples) chunk by chunk; returns the highest score per head and every chunk's. */
  async processClip(samples: Int16Array | Float32Array): Promise<{ maxScores: Record<string, number>; chunks: ChunkResult[] }> {
    const chunks: ChunkResult[] = [];
    const maxScores: Record<string, number> = {};
    for (let start = 0; start + chunkSamples <= samples.length; start += chunkSamples) {
      const chunk = Float32Array.from(samples.subarray(start, start + chunkSamples));
      const result = await this.push(chunk);
      chunks.push(result);
      for (const [name, score] of Object.entries(result.scores)) maxScores[name] = Math.max(maxScores[name] ?? 0, score);
    }
    return { maxScores, chunks };
  }
}

/**
 * Reads a 16-bit PCM mono WAV's samples (the fixtures' format). A streamed header (espeak-ng --stdout writes
 * 0x7fffffff / 0 as the RIFF and data sizes), or a data size past the end, means the data runs to the end of
 * the bytes. RangeError when it is no such WAV.
 */
export function readWav16(bytes: Uint8Array): { sampleRate: number; samples: Int16Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (offset: number) => String.fromCharCode(...bytes.subarray(offset, offset + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new RangeError('not a RIFF/WAVE stream');
  let offset = 12;
  let rate = 0;
  while (offset + 8 <= bytes.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    if (id === 'fmt ') {
      const format = view.getUint16(offset + 8, true);
      const channels = view.getUint16(offset + 10, true);
      rate = view.getUint32(offset + 12, true);
      const bits = view.getUint16(offset + 22, true);
      if (format !== 1 || channels !== 1 || bits !== 16) throw new RangeError('only 16-bit PCM mono WAV is supported');
    } else if (id === 'data') {
      if (rate === 0) throw new RangeError('data before the fmt chunk');
      // A copy into a fresh buffer: a Node Buffer's slice() is a view into a larger (pooled) ArrayBuffer, so an
      // Int16Array over `.buffer` from 0 would read the file's header (or another Buffer) as samples.
      const available = bytes.length - offset - 8;
      const length = (size === 0 || size > available ? available : size) & ~1;
      const data = new Uint8Array(length);
      data.set(bytes.subarray(offset + 8, offset + 8 + length));
      return { sampleRate: rate, samples: new Int16Array(data.buffer, 0, length >> 1) };
    }
    offset += 8 + size + (size & 1);
  }
  throw new RangeError('WAV file has no data chunk');
}
