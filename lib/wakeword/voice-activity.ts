/**
 * Energy-based voice activity for the wake-word pipeline's 80 ms chunks. It is not a trained VAD (openWakeWord
 * pairs its heads with silero VAD, a separate download this project does not have): a chunk counts as voice
 * when its RMS level reaches a fixed threshold in dBFS. That separates speech from a quiet room; loud
 * non-speech noise passes it, and the heads then decide as they would without a gate.
 *
 * Used as openWakeWord uses its VAD: a score crossing counts only while the gate is open. The gate stays open
 * `hangoverChunks` after the last loud chunk, because a head scores the last 16 embeddings (1.28 s) and peaks
 * after the word has ended.
 */
import { invalid } from '../validate';
import { chunkSamples } from './pipeline';

export interface VoiceActivityOptions {
  /** RMS level, in dB relative to int16 full scale, from which a chunk is voice. Default -50 (espeak speech: -15 to -38; sox's dithered silence: -96). */
  thresholdDbfs?: number;
  /** Chunks the gate stays open after the last voiced one. Default 16: a head's window of embeddings (1.28 s). */
  hangoverChunks?: number;
}

export interface VoiceActivityResult {
  /** The chunk's RMS level in dBFS (-Infinity for digital silence). */
  levelDbfs: number;
  /** This chunk reached the threshold. */
  voiced: boolean;
  /** A voiced chunk was seen within the hangover: detections in this chunk count. */
  active: boolean;
}

export class EnergyVoiceActivity {
  readonly thresholdDbfs: number;
  readonly hangoverChunks: number;
  #sinceVoice = Infinity;

  constructor(options: VoiceActivityOptions = {}) {
    this.thresholdDbfs = options.thresholdDbfs ?? -50;
    this.hangoverChunks = options.hangoverChunks ?? 16;
    if (!Number.isFinite(this.thresholdDbfs)) throw invalid('thresholdDbfs must be a finite number');
    if (!Number.isInteger(this.hangoverChunks) || this.hangoverChunks < 0) throw invalid('hangoverChunks must be a non-negative integer');
  }

  /** One 80 ms chunk at int16 scale (the pipeline's input). */
  push(chunk: Float32Array): VoiceActivityResult {
    if (chunk.length !== chunkSamples) throw invalid(`a chunk is ${chunkSamples} samples, got ${chunk.length}`);
    let energy = 0;
    for (let i = 0; i < chunk.length; i++) energy += chunk[i] * chunk[i];
    const levelDbfs = 10 * Math.log10(energy / chunk.length / (32768 * 32768));
    const voiced = levelDbfs >= this.thresholdDbfs;
    this.#sinceVoice = voiced ? 0 : this.#sinceVoice + 1;
    return { levelDbfs, voiced, active: this.#sinceVoice <= this.hangoverChunks };
  }

  reset(): void {
    this.#sinceVoice = Infinity;
  }
}
