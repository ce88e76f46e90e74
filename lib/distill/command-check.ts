/**
 * Streams WAV clips through the smart-speaker pipeline as the demo does (examples/wake-word.js): 80 ms chunks,
 * energy voice activity, melspectrogram -> embedding -> wake-word heads, and after a wake word the command
 * stage with a given command model (e.g. the distilled INT8 student). Returns each clip's wake-word and command
 * events, so a distilled command model can be checked on real clips before it replaces the demo's.
 */
import fs from 'node:fs';
import path from 'node:path';

import { Engine } from '../engine';
import { EdgeInferError } from '../errors';
import { CommandStage, type CommandScoreBy } from '../wakeword/command-stage';
import { DEMO_COMMAND_MODEL } from '../wakeword/demo';
import { chunkSamples, readWav16, sampleRate, WakeWordPipeline, type ModelRunner } from '../wakeword/pipeline';
import { EnergyVoiceActivity } from '../wakeword/voice-activity';

export interface CommandCheckOptions {
  /** The command model (command-stage contract: [1, F, 96] -> probabilities, output named by its labels). */
  commandModel: string | Uint8Array;
  /** 16 kHz 16-bit mono WAV files. */
  clips: string[];
  melspectrogram: string;
  embedding: string;
  /** Wake-word heads by name. */
  heads: Record<string, string>;
  /** Native precision of the embedding, heads and command model (the melspectrogram stays FP32). Default 'int8', the demo's. */
  precision?: 'int8' | 'float32';
  wakeThreshold?: number;
  commandThreshold?: number;
  /** How the command stage scores the model's classes (CommandStageOptions.scoreBy). Default 'intent', a distilled classifier's. */
  scoreBy?: CommandScoreBy;
  /** Consecutive chunks an intent must hold the threshold for (CommandStageOptions.confirmChunks). Default: the demo's. */
  confirmChunks?: number;
}

export interface CheckEvent {
  type: 'wake_word' | 'command';
  name: string;
  score: number;
  timeSeconds: number;
}

export interface ClipCheck {
  clip: string;
  events: CheckEvent[];
  /** The highest command score in any open window (undefined when the stage never ran). */
  bestCommandScore: number | undefined;
}

/** See the file comment. */
export async function streamCommandClips(options: CommandCheckOptions): Promise<ClipCheck[]> {
  const precision = options.precision ?? 'int8';
  const wakeThreshold = options.wakeThreshold ?? 0.5;
  const refractoryChunks = 16;
  const engines: Engine[] = [];
  const load = async (source: string | Uint8Array, p: 'int8' | 'float32') => {
    const engine = await Engine.load(source, { backend: 'native', threads: 1, precision: p });
    engines.push(engine);
    return engine;
  };
  const runner = (e: Engine): ModelRunner => ({ inputs: e.inputs, outputs: e.outputs, infer: (feeds) => e.infer(feeds) });
  try {
    const melspectrogram = runner(await load(options.melspectrogram, 'float32'));
    const embedding = runner(await load(options.embedding, precision));
    const heads: Record<string, ModelRunner> = {};
    for (const [name, file] of Object.entries(options.heads)) heads[name] = runner(await load(file, precision));
    const command = await load(options.commandModel, precision);
    const results: ClipCheck[] = [];
    for (const clip of options.clips) {
      const wav = readWav16(new Uint8Array(fs.readFileSync(clip)));
      if (wav.sampleRate !== sampleRate) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${clip}: ${wav.sampleRate} Hz, the pipeline takes ${sampleRate} Hz`);
      const vad = new EnergyVoiceActivity();
      const pipeline = new WakeWordPipeline({ melspectrogram, embedding, heads });
      const stage = new CommandStage({ name: 'command', model: command, threshold: options.commandThreshold, scoreBy: options.scoreBy ?? 'intent', confirmChunks: options.confirmChunks ?? DEMO_COMMAND_MODEL.confirmChunks });
      const firedAt: Record<string, number> = {};
      const events: CheckEvent[] = [];
      let best: number | undefined;
      for (let start = 0, index = 0; start + chunkSamples <= wav.samples.length; start += chunkSamples, index++) {
        const chunk = Float32Array.from(wav.samples.subarray(start, start + chunkSamples));
        const voice = vad.push(chunk);
        const result = await pipeline.push(chunk);
        const time = ((index + 1) * chunkSamples) / sampleRate;
        let fired: string | undefined;
        for (const [name, score] of Object.entries(result.scores)) {
          if (name in firedAt) {
            if (score < wakeThreshold && index - firedAt[name] >= refractoryChunks) delete firedAt[name];
          } else if (score >= wakeThreshold && voice.active) {
            firedAt[name] = index;
            events.push({ type: 'wake_word', name, score, timeSeconds: time });
            if (fired === undefined || score > result.scores[fired]) fired = name;
          }
        }
        const event = await stage.push(result, { wakeWord: fired, voiceActive: voice.active });
        if (stage.last) best = Math.max(best ?? 0, stage.last.score);
        if (event) events.push({ type: 'command', name: event.intent, score: event.score, timeSeconds: event.timeMs / 1000 });
      }
      results.push({ clip: path.basename(clip), events, bestCommandScore: best });
    }
    return results;
  } finally {
    for (const engine of engines) await engine.dispose();
  }
}
