/**
 * Audio helpers of the voice-feature generator: a seeded random source, WAV parsing (espeak-ng's --stdout
 * stream, whose header sizes are placeholders), rational-ratio resampling by a windowed-sinc polyphase filter,
 * and the augmentations (background noise at a signal-to-noise ratio, gain). All deterministic: the same seed
 * gives the same samples on every machine (no Math.random, no platform-dependent maths beyond IEEE doubles).
 */
import { createHash } from 'node:crypto';

import { EdgeInferError } from '../errors';
import { readWav16 } from '../wakeword/pipeline';

/** A small seeded PRNG (sfc32) with the draws the generator needs. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare: number | undefined;

  /** Seeded from any list of strings / numbers (hashed), so each utterance gets an independent stream. */
  constructor(...seed: (string | number)[]) {
    const h = createHash('sha256').update(seed.map(String).join('\u0000')).digest();
    this.#a = h.readUInt32LE(0);
    this.#b = h.readUInt32LE(4);
    this.#c = h.readUInt32LE(8);
    this.#d = h.readUInt32LE(12);
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Integer in [low, high] (both included). */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (this.#spare !== undefined) {
      const s = this.#spare;
      this.#spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/** readWav16 (streamed espeak-ng headers included) with its failure as an EdgeInferError naming `source`. */
export function parseWav(bytes: Uint8Array, source = 'WAV'): { sampleRate: number; samples: Int16Array } {
  try {
    return readWav16(bytes);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${source}: ${error.message}`);
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 40; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

const filterCache = new Map<string, { up: number; down: number; taps: number; table: Float32Array }>();

/**
 * The polyphase table for from -> to: `up` phases of `taps` coefficients each, a Kaiser-windowed sinc
 * (beta 8.6, about 80 dB of stop band) with its cut-off at 0.45 of the lower rate.
 */
function polyphase(from: number, to: number) {
  const key = `${from}:${to}`;
  const cached = filterCache.get(key);
  if (cached) return cached;
  const g = gcd(from, to);
  const up = to / g;
  const down = from / g;
  // Cut-off relative to the input rate; the kernel spans `zeros` zero crossings on each side.
  const cutoff = (0.45 * Math.min(from, to)) / from;
  const zeros = 16;
  const half = Math.ceil(zeros / (2 * cutoff));
  const taps = 2 * half;
  const beta = 8.6;
  const i0beta = besselI0(beta);
  const table = new Float32Array(up * taps);
  for (let phase = 0; phase < up; phase++) {
    // Output sample n sits at input position n * down / up = k + phase / up; tap j reads input k - half + 1 + j.
    const frac = phase / up;
    let sum = 0;
    for (let j = 0; j < taps; j++) {
      const x = j - half + 1 - frac; // input offset from the output position
      const r = x / half;
      const window = Math.abs(r) >= 1 ? 0 : besselI0(beta * Math.sqrt(1 - r * r)) / i0beta;
      const arg = 2 * cutoff * x;
      const sinc = arg === 0 ? 1 : Math.sin(Math.PI * arg) / (Math.PI * arg);
      const value = 2 * cutoff * sinc * window;
      table[phase * taps + j] = value;
      sum += value;
    }
    // Unity gain at DC for every phase.
    for (let j = 0; j < taps; j++) table[phase * taps + j] /= sum;
  }
  const filter = { up, down, taps, table };
  filterCache.set(key, filter);
  return filter;
}

/** Resamples by the rational ratio to / from (e.g. espeak-ng's 22050 Hz to 16000 Hz). */
export function resample(input: Float32Array, from: number, to: number): Float32Array {
  if (!Number.isInteger(from) || !Number.isInteger(to) || from <= 0 || to <= 0) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `sample rates must be positive integers, got ${from} -> ${to}`);
  if (from === to) return input.slice();
  const { up, down, taps, table } = polyphase(from, to);
  const half = taps / 2;
  const length = Math.floor((input.length * up) / down);
  const out = new Float32Array(length);
  for (let n = 0; n < length; n++) {
    const position = n * down;
    const k = Math.floor(position / up);
    const phase = position - k * up;
    const base = phase * taps;
    const first = k - half + 1;
    let acc = 0;
    const lo = Math.max(0, -first);
    const hi = Math.min(taps, input.length - first);
    for (let j = lo; j < hi; j++) acc += table[base + j] * input[first + j];
    out[n] = acc;
  }
  return out;
}

/** Root mean square of a span. */
export function rms(samples: Float32Array, start = 0, end = samples.length): number {
  let energy = 0;
  for (let i = start; i < end; i++) energy += samples[i] * samples[i];
  return end > start ? Math.sqrt(energy / (end - start)) : 0;
}

/**
 * The first and last sample above `threshold` (absolute, int16 scale) found by 10 ms frames: the spoken part
 * of an espeak-ng rendering, without its leading and trailing silence. [0, 0] when nothing is above it.
 */
export function speechBounds(samples: Float32Array, sampleRate: number, threshold = 300): [number, number] {
  const frame = Math.round(sampleRate / 100);
  let first = -1;
  let last = -1;
  for (let start = 0; start < samples.length; start += frame) {
    const end = Math.min(samples.length, start + frame);
    let peak = 0;
    for (let i = start; i < end; i++) peak = Math.max(peak, Math.abs(samples[i]));
    if (peak >= threshold) {
      if (first < 0) first = start;
      last = end;
    }
  }
  return first < 0 ? [0, 0] : [first, last];
}

export const NOISE_KINDS = ['white', 'pink', 'brown', 'hum'] as const;
export type NoiseKind = (typeof NOISE_KINDS)[number];

/** Unit-RMS background noise of a kind. */
export function noise(kind: NoiseKind, length: number, rng: Rng, sampleRate = 16000): Float32Array {
  const out = new Float32Array(length);
  if (kind === 'white') {
    for (let i = 0; i < length; i++) out[i] = rng.normal();
  } else if (kind === 'pink') {
    // Paul Kellet's filter of white noise: -3 dB per octave within 0.05 dB above 9 Hz.
    let b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
    for (let i = 0; i < length; i++) {
      const w = rng.normal();
      b0 = 0.99886 * b0 + w * 0.0555179;
      b1 = 0.99332 * b1 + w * 0.0750759;
      b2 = 0.969 * b2 + w * 0.153852;
      b3 = 0.8665 * b3 + w * 0.3104856;
      b4 = 0.55 * b4 + w * 0.5329522;
      b5 = -0.7616 * b5 - w * 0.016898;
      out[i] = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
      b6 = w * 0.115926;
    }
  } else if (kind === 'brown') {
    // Leaky integration of white noise (-6 dB per octave above ~16 Hz).
    let y = 0;
    for (let i = 0; i < length; i++) {
      y = 0.995 * y + rng.normal();
      out[i] = y;
    }
  } else {
    // Mains hum with harmonics, plus a little white noise.
    const f0 = rng.pick([50, 60]);
    const phases = [rng.uniform(0, 2 * Math.PI), rng.uniform(0, 2 * Math.PI), rng.uniform(0, 2 * Math.PI)];
    for (let i = 0; i < length; i++) {
      const t = i / sampleRate;
      out[i] = Math.sin(2 * Math.PI * f0 * t + phases[0]) + 0.5 * Math.sin(4 * Math.PI * f0 * t + phases[1]) + 0.3 * Math.sin(6 * Math.PI * f0 * t + phases[2]) + 0.2 * rng.normal();
    }
  }
  const level = rms(out);
  if (level > 0) for (let i = 0; i < length; i++) out[i] /= level;
  return out;
}

/** Rounds to int16 with clipping (the pipeline's input is int16-scale floats). */
export function toInt16Scale(samples: Float32Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(samples[i])));
  return out;
}
