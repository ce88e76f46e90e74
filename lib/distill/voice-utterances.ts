/**
 * The utterances of the voice features: which texts are spoken, by which voice, and how each clip sounds.
 * Every random choice is made up front from seeded streams (one per utterance, one per session), so the clips do
 * not depend on timing or concurrency. Within a split the utterances are shuffled and cut into sessions of 16
 * that share a voice, a speed and a pitch and are rendered by one espeak-ng run; each clip is then assembled:
 * background lead, [wake word, pause], [speech], tail, with gain and background noise (see voice-features.ts).
 */
import fs from 'node:fs';
import path from 'node:path';

import { EdgeInferError } from '../errors';
import { chunkSamples, sampleRate } from '../wakeword/pipeline';
import { NOISE_KINDS, noise, resample, rms, Rng, speechBounds, toInt16Scale, type NoiseKind } from './audio';
import { VOICE_SPLITS, type ResolvedVoiceSettings, type VoiceSplit } from './config';
import { speakMany } from './espeak';
import { noneSentence } from './none-texts';
import { spokenForm } from './spoken-form';

export interface CommandLine {
  text: string;
  intent: string;
}

export type JobKind = 'command' | 'speech' | 'noise' | 'wake';

export interface Job {
  split: VoiceSplit;
  index: number;
  kind: JobKind;
  text: string;
  label: number;
  intent: string;
  voice: string;
  speed: number;
  pitch: number;
  wakeWord: string | undefined;
  gapSeconds: number;
  leadSeconds: number;
  tailSamples: number;
  gainDb: number;
  noise: { kind: NoiseKind; snrDb: number } | undefined;
  /** Background level in dBFS for 'noise' jobs (no speech to set it from). */
  backgroundDbfs: number;
  /** Window end offsets after the reference chunk, drawn in advance. */
  jitters: number[];
  /** Windows cut while the command is still being said ("none"), each as a fraction of the way from its lower to its upper bound. */
  cuts: number[];
  rngSeed: string;
  /** The espeak-ng run (session) this utterance is rendered in. */
  session: number;
  /** The clip is the start of a stream (a short lead, the pipeline's first embeddings in its windows), as the demo's clips are. */
  streamStart: boolean;
  /** The clip's least length: at a stream's start the stage scores once `frames` embeddings are in. */
  minSamples: number;
}

export interface Rendered {
  audio: Float32Array;
  speechStart: number;
  speechEnd: number;
  commandStart: number;
  wakeEnd: number;
}

export const trainSplit = (split: VoiceSplit) => split !== 'test';

/** Reads DIR/commands: the intents and each split's lines. */
export function readCommands(dataDir: string): { intents: string[]; splits: Record<VoiceSplit, CommandLine[]>; files: string[] } {
  const dir = path.join(dataDir, 'commands');
  const bad = (message: string, file: string) => new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${file}: ${message}`, { path: file });
  const intentsFile = path.join(dir, 'intents.json');
  if (!fs.existsSync(intentsFile)) throw bad('missing (make the data with `python -m edgeinfer_distill.data.commands --out DIR`)', intentsFile);
  const parsed = JSON.parse(fs.readFileSync(intentsFile, 'utf8')) as unknown;
  const list = Array.isArray(parsed) ? parsed : (parsed as { intents?: unknown })?.intents;
  if (!Array.isArray(list)) throw bad('must be a JSON array of intent names (or {"intents": [...]})', intentsFile);
  const intents = list.map((item) => (typeof item === 'string' ? item : (item as { name?: unknown })?.name));
  if (intents.some((name) => typeof name !== 'string' || name === '') || new Set(intents).size !== intents.length) throw bad('intent names must be distinct non-empty strings', intentsFile);
  if (intents.includes('none')) throw bad("'none' is reserved for the no-command class", intentsFile);
  const files = [intentsFile];
  const splits = {} as Record<VoiceSplit, CommandLine[]>;
  for (const split of VOICE_SPLITS) {
    const file = path.join(dir, `${split}.jsonl`);
    if (!fs.existsSync(file)) throw bad('missing', file);
    files.push(file);
    splits[split] = fs.readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '').map((line, i) => {
      let row: { text?: unknown; intent?: unknown };
      try {
        row = JSON.parse(line);
      } catch {
        throw bad(`line ${i + 1} is not JSON`, file);
      }
      if (typeof row.text !== 'string' || row.text.trim() === '') throw bad(`line ${i + 1} has no "text"`, file);
      if (typeof row.intent !== 'string' || !intents.includes(row.intent)) throw bad(`line ${i + 1}: intent ${JSON.stringify(row.intent)} is not in intents.json`, file);
      return { text: row.text, intent: row.intent };
    });
  }
  return { intents: intents as string[], splits, files };
}

/** A seeded shuffle of 0..n-1. */
function order(n: number, rng: Rng): number[] {
  const indices = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [indices[i], indices[j]] = [indices[j], indices[i]];
  }
  return indices;
}

function drawJitters(rng: Rng, count: number, [low, high]: [number, number]): number[] {
  const pool = Array.from({ length: high - low + 1 }, (_, i) => low + i);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    if (pool.length === 0) out.push(rng.int(low, high));
    else out.push(pool.splice(Math.floor(rng.next() * pool.length), 1)[0]);
  }
  return out;
}

/** Consecutive utterances rendered in one espeak-ng run share their voice, speed and pitch (a "session"). */
const SESSION = 16;

/**
 * Every utterance of every split, with all its random choices made up front (so the result does not depend on
 * timing). Within a split the utterances are shuffled and cut into sessions of 16 that share a voice, a speed
 * and a pitch (one espeak-ng run each).
 */
export function planJobs(commands: Record<VoiceSplit, CommandLine[]>, intents: string[], s: ResolvedVoiceSettings, seed: number, quick: boolean): Job[] {
  const jobs: Job[] = [];
  for (const split of VOICE_SPLITS) {
    const lines = commands[split];
    const limit = (quick ? s.quickUtterances[split] : undefined) ?? s.utterances[split] ?? lines.length;
    const chosen = limit >= lines.length ? lines.map((_, i) => i) : order(lines.length, new Rng(seed, split, 'order')).slice(0, limit).sort((a, b) => a - b);
    const train = trainSplit(split);
    const count = (ratio: number) => Math.round(chosen.length * ratio);
    const kinds: [JobKind, number][] = [['command', chosen.length], ['speech', count(s.none.speech)], ['noise', count(s.none.noise)], ['wake', count(s.none.wakeWordOnly)]];
    const splitJobs: Job[] = [];
    for (const [kind, n] of kinds) {
      for (let k = 0; k < n; k++) {
        const rngSeed = `${seed}/${split}/${kind}/${k}`;
        const rng = new Rng(rngSeed);
        const line = kind === 'command' ? lines[chosen[k]] : undefined;
        // Its own stream, so saying a command in full changes no other choice of the utterance.
        const text = kind === 'command' ? spokenForm(line!.text, new Rng(rngSeed, 'spoken'), s.fullForms) : kind === 'speech' ? noneSentence(rng, !train) : '';
        const prefixed = kind === 'wake' || ((kind === 'command' || kind === 'speech') && rng.chance(s.wakeWordPrefix));
        const wakeWord = prefixed ? rng.pick(s.wakeWords) : undefined;
        const gapSeconds = rng.uniform(0.1, 0.5);
        const streamStart = kind !== 'noise' && rng.chance(s.streamStart);
        const leadSeconds = streamStart ? rng.uniform(0.3, 0.8) : rng.uniform(1.0, 1.6);
        // A wake word alone: the stage keeps running while the voice gate is open (16 chunks after the speech).
        const jitterRange: [number, number] = kind === 'wake' ? [0, 16] : s.jitterChunks;
        const tailSamples = (jitterRange[1] + 2) * chunkSamples + rng.int(0, chunkSamples - 1);
        const gainDb = rng.uniform(s.gainDb[0], s.gainDb[1]);
        const noisy = kind === 'noise' || rng.chance(s.noise.probability);
        const noiseKind = rng.pick(NOISE_KINDS);
        const snrDb = rng.uniform(s.noise.snrDb[0], s.noise.snrDb[1]);
        const backgroundDbfs = rng.uniform(-75, -25);
        const windows = train ? s.windowsPerUtterance.train : s.windowsPerUtterance.eval;
        const jitters = drawJitters(rng, windows, jitterRange);
        // none.cut windows per command on average: its whole part always, one more with the fractional part's probability.
        const cutCount = kind === 'command' ? Math.floor(s.none.cut) + (rng.chance(s.none.cut % 1) ? 1 : 0) : 0;
        const cuts = Array.from({ length: cutCount }, () => rng.next());
        const intent = kind === 'command' ? line!.intent : 'none';
        splitJobs.push({
          split, index: k, kind, text, intent, label: kind === 'command' ? intents.indexOf(intent) + 1 : 0,
          voice: '', speed: 0, pitch: 0, session: 0, wakeWord, gapSeconds, leadSeconds, tailSamples, gainDb,
          noise: noisy ? { kind: noiseKind, snrDb } : undefined, backgroundDbfs, jitters, cuts, rngSeed, streamStart,
          minSamples: streamStart ? (s.frames + jitterRange[1] + 1) * chunkSamples : 0,
        });
      }
    }
    const shuffled = order(splitJobs.length, new Rng(seed, split, 'shuffle')).map((i) => splitJobs[i]);
    shuffled.forEach((job, i) => {
      const session = Math.floor(i / SESSION);
      const rng = new Rng(seed, split, 'session', session);
      job.session = session;
      job.voice = rng.pick(train ? s.voices.train : s.voices.test);
      const [speedLow, speedHigh] = train ? s.speeds.train : s.speeds.test;
      job.speed = Math.round(rng.uniform(speedLow, speedHigh));
      job.pitch = Math.round(rng.uniform(s.pitch[0], s.pitch[1]));
    });
    jobs.push(...shuffled);
  }
  return jobs;
}

/** The spoken parts of one session's utterances at 16 kHz (int16 scale, silence trimmed): one espeak-ng run. */
export async function synthesizeSession(jobs: Job[]): Promise<Map<Job, { wake?: Float32Array; main?: Float32Array }>> {
  const texts: string[] = [];
  const slots: [Job, 'wake' | 'main'][] = [];
  for (const job of jobs) {
    if (job.wakeWord !== undefined) {
      texts.push(job.wakeWord);
      slots.push([job, 'wake']);
    }
    if (job.kind === 'command' || job.kind === 'speech') {
      texts.push(job.text);
      slots.push([job, 'main']);
    }
  }
  const { voice, speed, pitch } = jobs[0];
  const { sampleRate: rate, segments } = await speakMany(texts, { voice, speed, pitch });
  const out = new Map<Job, { wake?: Float32Array; main?: Float32Array }>(jobs.map((j) => [j, {}]));
  segments.forEach((segment, i) => {
    const [job, part] = slots[i];
    const resampled = resample(Float32Array.from(segment), rate, sampleRate);
    const [start, end] = speechBounds(resampled, sampleRate);
    out.get(job)![part] = resampled.slice(start, Math.max(end, start + 1));
  });
  return out;
}

/** The job's clip: background lead, [wake word, pause], [speech], tail; gain and noise applied; int16 scale. */
export function render(job: Job, speech: { wake?: Float32Array; main?: Float32Array }): Rendered {
  const rng = new Rng(job.rngSeed, 'audio');
  const parts: Float32Array[] = [];
  const lead = Math.round(job.leadSeconds * sampleRate);
  let length = lead;
  const speechSpans: [number, number][] = [];
  let wakeEnd = lead;
  if (speech.wake !== undefined) {
    parts.push(speech.wake);
    speechSpans.push([length, length + speech.wake.length]);
    length += speech.wake.length;
    wakeEnd = length;
    const gap = Math.round(job.gapSeconds * sampleRate);
    parts.push(new Float32Array(gap));
    length += gap;
  }
  const commandStart = length;
  if (speech.main !== undefined) {
    parts.push(speech.main);
    speechSpans.push([length, length + speech.main.length]);
    length += speech.main.length;
  } else if (job.kind === 'noise') {
    length += Math.round(rng.uniform(1.0, 2.0) * sampleRate);
  }
  const speechEnd = length;
  length = Math.max(length + job.tailSamples, job.minSamples);
  length = Math.ceil(length / chunkSamples) * chunkSamples;
  const audio = new Float32Array(length);
  const gain = 10 ** (job.gainDb / 20);
  let at = lead;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) audio[at + i] = part[i] * gain;
    at += part.length;
  }
  let level: number;
  if (speechSpans.length > 0) {
    let energy = 0;
    let n = 0;
    for (const [a, b] of speechSpans) {
      const r = rms(audio, a, b);
      energy += r * r * (b - a);
      n += b - a;
    }
    level = Math.sqrt(energy / n);
  } else {
    level = 32768 * 10 ** (job.backgroundDbfs / 20);
  }
  if (job.noise !== undefined) {
    const background = noise(job.noise.kind, length, rng, sampleRate);
    const noiseLevel = speechSpans.length > 0 ? level / 10 ** (job.noise.snrDb / 20) : level;
    for (let i = 0; i < length; i++) audio[i] += background[i] * noiseLevel;
  }
  // Triangular dither of one LSB (as sox adds): a clean clip's "silence" is never exactly zero.
  for (let i = 0; i < length; i++) audio[i] += rng.next() - rng.next();
  return { audio: toInt16Scale(audio), speechStart: speechSpans.length > 0 ? speechSpans[0][0] : length, speechEnd, commandStart, wakeEnd };
}
