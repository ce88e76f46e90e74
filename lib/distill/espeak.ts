/**
 * Speech from espeak-ng (the Debian package `espeak-ng`), as the committed speech fixtures were made
 * (scripts/make-speech-fixtures.sh). A voice is `language[+variant]`, e.g. `en-gb-scotland+f4`; espeak-ng
 * silently falls back to a default voice for a name it does not know, so names are checked against
 * `espeak-ng --voices` first (MBROLA voices are left out: they need the separate mbrola program and data).
 */
import { spawn, spawnSync } from 'node:child_process';

import { EdgeInferError } from '../errors';
import { parseWav } from './audio';

const INSTALL = 'install it with `apt-get install espeak-ng` (Debian / Ubuntu) or your system\'s package manager, or set EDGEINFER_ESPEAK to its path';

export function espeakCommand(): string {
  return process.env.EDGEINFER_ESPEAK || 'espeak-ng';
}

function unavailable(detail: string): EdgeInferError {
  return new EdgeInferError('EDGEINFER_BACKEND_UNAVAILABLE', `espeak-ng is needed for the voice features and ${detail}; ${INSTALL}`, { command: espeakCommand() });
}

export interface EspeakVoices {
  version: string;
  /** Language voices (the `Language` column), MBROLA ones excluded. */
  languages: Set<string>;
  /** Variants (`+f3`, `+klatt`, ...), by file name. */
  variants: Set<string>;
}

let voicesCache: EspeakVoices | undefined;

/** The installed espeak-ng's version and voices (cached per process). */
export function espeakVoices(): EspeakVoices {
  if (voicesCache) return voicesCache;
  const run = (args: string[]) => {
    const r = spawnSync(espeakCommand(), args, { encoding: 'utf8' });
    if (r.error) throw unavailable(`'${espeakCommand()}' could not be run (${r.error.message})`);
    if (r.status !== 0) throw unavailable(`'${espeakCommand()} ${args.join(' ')}' failed: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const version = run(['--version']).trim();
  const rows = (text: string) => text.split('\n').slice(1).map((line) => line.trim().split(/\s+/)).filter((cols) => cols.length >= 5);
  const languages = new Set(rows(run(['--voices'])).filter((c) => !c[4].startsWith('mb/')).map((c) => c[1]));
  const variants = new Set(rows(run(['--voices=variant'])).map((c) => c[4].replace(/^!v\//, '')));
  voicesCache = { version, languages, variants };
  return voicesCache;
}

/** Throws EDGEINFER_INVALID_ARGUMENT naming every voice espeak-ng does not have. */
export function checkVoices(voices: readonly string[], where: string): void {
  const { languages, variants } = espeakVoices();
  const bad = voices.filter((voice) => {
    const [language, variant, extra] = voice.split('+');
    return extra !== undefined || !languages.has(language) || (variant !== undefined && !variants.has(variant));
  });
  if (bad.length > 0) {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${where}: espeak-ng has no voice ${bad.map((v) => `'${v}'`).join(', ')} (languages: see \`espeak-ng --voices=en\`; variants \`espeak-ng --voices=variant\`, written language+variant, e.g. en-us+f3)`, {
      argument: where,
      got: bad,
    });
  }
}

export interface SpeakOptions {
  voice: string;
  /** Words per minute (espeak-ng -s; its default 175). */
  speed: number;
  /** 0-99 (espeak-ng -p; default 50). */
  pitch: number;
}

/** Renders text to 16-bit mono samples at espeak-ng's rate (22050 Hz). The text goes through stdin. */
export function speak(text: string, options: SpeakOptions): Promise<{ sampleRate: number; samples: Int16Array }> {
  return run(text, options, []);
}

function run(text: string, options: SpeakOptions, extra: string[]): Promise<{ sampleRate: number; samples: Int16Array }> {
  return new Promise((resolve, reject) => {
    const args = [...extra, '-v', options.voice, '-s', String(Math.round(options.speed)), '-p', String(Math.round(options.pitch)), '--stdout'];
    const child = spawn(espeakCommand(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (error) => reject(unavailable(`'${espeakCommand()}' could not be run (${error.message})`)));
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new EdgeInferError('EDGEINFER_INTERNAL', `espeak-ng ${args.join(' ')} failed (exit ${code}): ${err.trim()}`, { text }));
        return;
      }
      try {
        resolve(parseWav(new Uint8Array(Buffer.concat(out)), `espeak-ng output for '${text}'`));
      } catch (error) {
        reject(error);
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(`${text}\n`);
  });
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Speech segments of one espeak-ng rendering separated by `minGapMs` or more of near-silence (10 ms frames whose
 * peak stays under 300), each trimmed to its audible part.
 */
export function splitAtSilences(samples: Int16Array, sampleRate: number, minGapMs: number): Int16Array[] {
  const frame = Math.round(sampleRate / 100);
  const minGap = Math.ceil(minGapMs / 10);
  const frames = Math.ceil(samples.length / frame);
  const segments: Int16Array[] = [];
  let start = -1;
  let lastLoud = -1;
  for (let f = 0; f < frames; f++) {
    let peak = 0;
    for (let i = f * frame, end = Math.min(samples.length, (f + 1) * frame); i < end; i++) peak = Math.max(peak, Math.abs(samples[i]));
    if (peak < 300) continue;
    if (start >= 0 && f - lastLoud - 1 >= minGap) {
      segments.push(samples.slice(start * frame, (lastLoud + 1) * frame));
      start = -1;
    }
    if (start < 0) start = f;
    lastLoud = f;
  }
  if (start >= 0) segments.push(samples.slice(start * frame, Math.min(samples.length, (lastLoud + 1) * frame)));
  return segments;
}

/**
 * Several texts in one espeak-ng run (one process instead of one per text: starting the process costs more
 * than rendering a short sentence). The texts are SSML sentences separated by 1 s breaks and split again at the
 * silences; espeak-ng sometimes shortens a break (a click inside it), so a split that does not give exactly one
 * segment per text is retried on each half, down to single texts. Returns the audible part of each text.
 */
export async function speakMany(texts: readonly string[], options: SpeakOptions): Promise<{ sampleRate: number; segments: Int16Array[]; runs: number }> {
  if (texts.length === 0) return { sampleRate: 22050, segments: [], runs: 0 };
  if (texts.length === 1) {
    const { sampleRate, samples } = await speak(texts[0], options);
    const segments = splitAtSilences(samples, sampleRate, 1e9);
    if (segments.length !== 1) throw new EdgeInferError('EDGEINFER_INTERNAL', `espeak-ng produced no audible speech for '${texts[0]}' (voice ${options.voice})`, { text: texts[0] });
    return { sampleRate, segments, runs: 1 };
  }
  const ssml = `<speak>${texts.map(escapeXml).join('<break time="1000ms"/>')}</speak>`;
  const { sampleRate, samples } = await run(ssml, options, ['-m']);
  // Breaks measure 840-1040 ms at the 300 threshold; pauses inside a sentence at most ~520 ms.
  const segments = splitAtSilences(samples, sampleRate, 700);
  if (segments.length === texts.length) return { sampleRate, segments, runs: 1 };
  const half = texts.length >> 1;
  const [a, b] = await Promise.all([speakMany(texts.slice(0, half), options), speakMany(texts.slice(half), options)]);
  return { sampleRate, segments: [...a.segments, ...b.segments], runs: 1 + a.runs + b.runs };
}
