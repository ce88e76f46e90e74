/**
 * The command stage of a smart speaker: after a wake word, a command model scores the audio that follows, and
 * a command event fires when its score crosses a threshold. It reads the 96-value embeddings the wake-word
 * pipeline computes anyway (one per 80 ms chunk), so a command costs one small model run per chunk, and only
 * while a window is open: nothing runs between wake words.
 *
 * Model-agnostic: any runner taking [1, frames, 96] embeddings and giving either class probabilities (one
 * class being "no command") or a single score. openWakeWord's `timer` head is the first (34 embeddings,
 * 2.72 s; 7 softmax classes, index 0 none, the others named in its output's name as JSON); a distilled
 * command model with the same contract replaces it without changes here.
 */
import { invalid } from '../validate';
import type { ChunkResult, ModelRunner } from './pipeline';
import { chunkSamples, sampleRate } from './pipeline';

const embeddingSize = 96;
const chunkMs = (chunkSamples / sampleRate) * 1000;

export interface CommandModel extends ModelRunner {
  /** An Engine's inputs carry dims: [1, frames, 96] gives the default `frames`. */
  readonly inputs: { name: string; dims?: readonly (number | string)[] }[];
}

export interface CommandStageOptions {
  /** The command's name in events (e.g. 'timer'). */
  name: string;
  model: CommandModel;
  /** Embeddings per model input. Default: the input's second dim when the model states it. */
  frames?: number;
  /**
   * Intent per output index, null for "no command". Default: parsed from the output's name when it is JSON
   * ({"1": "1_minute_timer", …}, openWakeWord's multi-class convention: indexes it leaves out are "no
   * command"), else a single-score model whose intent is `name`.
   */
  labels?: (string | null)[];
  /** A command fires when its score (see `scoreBy`; a single-score model's score) reaches this. Default 0.5. */
  threshold?: number;
  /**
   * What a multi-class model's score is. 'command' (default): 1 - P(no command), for heads whose classes are
   * variants of one command (openWakeWord's timer head: 1, 5, 10, ... minute timers share the mass). 'intent':
   * the most probable intent's own probability, for a classifier over distinct intents (a distilled command
   * model), where little "no command" mass spread over several confusable intents means it has not decided yet.
   */
  scoreBy?: CommandScoreBy;
  /**
   * Chunks after the wake word during which the model runs. Default: `frames` + 6, i.e. as long as the
   * model's input (a command it can judge fits in it) plus 0.48 s for the score to peak after the speech ends.
   * For the timer head: 40 chunks, 3.2 s; on the espeak clips it fires 1.6-2.0 s after the wake word.
   */
  windowChunks?: number;
  /**
   * A command fires once the same intent has reached the threshold in this many consecutive chunks of the open
   * window (chunks where the model ran). Default 1: the first crossing. 2 waits one more chunk (80 ms) for the
   * model to agree with itself, so a single chunk said mid-command ("set a timer" scoring cancel_timer before the
   * duration is heard) does not decide; the event reports the last of those chunks.
   */
  confirmChunks?: number;
}

export const COMMAND_SCORE_BY = ['command', 'intent'] as const;
export type CommandScoreBy = (typeof COMMAND_SCORE_BY)[number];

export function isCommandScoreBy(value: unknown): value is CommandScoreBy {
  return (COMMAND_SCORE_BY as readonly unknown[]).includes(value);
}

export interface CommandEvent {
  /** The stage's name ('timer'). */
  command: string;
  /** The most probable intent at the crossing (e.g. '5_minute_timer'). */
  intent: string;
  /** The score at the crossing: 1 - P(no command) or the intent's probability (`scoreBy`), or the model's single score. */
  score: number;
  /** Stream time at the end of the chunk that fired, in ms of audio since the stream began (as the proto's CommandEvent). */
  timeMs: number;
  /** The wake word that opened the window. */
  wakeWord: string;
}

/** What the model said for one chunk of an open window. */
export interface CommandScore {
  score: number;
  intent: string;
}

export interface CommandPushOptions {
  /** A wake word fired in this chunk: (re)open the window. */
  wakeWord?: string;
  /** Voice activity: when false the model does not run for this chunk (default true). */
  voiceActive?: boolean;
}

export class CommandStage {
  readonly name: string;
  readonly frames: number;
  readonly threshold: number;
  readonly windowChunks: number;
  readonly scoreBy: CommandScoreBy;
  readonly confirmChunks: number;
  readonly #model: CommandModel;
  readonly #labels: (string | null)[] | undefined;
  /** The last `frames` embeddings, oldest first. */
  readonly #history: Float32Array[] = [];
  readonly #input: Float32Array;
  #chunks = 0;
  /** Chunks left in the open window (0: closed) and the wake word that opened it. */
  #left = 0;
  #wakeWord = '';
  /** The intent that reached the threshold in the last model runs, and in how many in a row. */
  #streak = { intent: '', chunks: 0 };
  /** The model's score for the chunk pushed last; undefined when the model did not run for it. */
  last: CommandScore | undefined;

  constructor(options: CommandStageOptions) {
    const { model } = options;
    if (typeof options.name !== 'string' || options.name === '') throw invalid('name must be a non-empty string');
    if (model === null || typeof model !== 'object' || typeof model.infer !== 'function' || model.inputs.length !== 1 || model.outputs.length < 1) {
      throw invalid('model must be a runner with one input ([1, frames, 96] embeddings) and an output');
    }
    const stated = model.inputs[0].dims?.[1];
    this.frames = options.frames ?? (typeof stated === 'number' ? stated : NaN);
    if (!Number.isInteger(this.frames) || this.frames < 1) throw invalid('frames must be a positive integer (the model does not state its input length)');
    this.threshold = options.threshold ?? 0.5;
    if (!(this.threshold > 0 && this.threshold <= 1)) throw invalid('threshold must be in (0, 1]');
    const scoreBy: unknown = options.scoreBy ?? 'command';
    if (!isCommandScoreBy(scoreBy)) throw invalid(`scoreBy must be 'command' or 'intent', got ${String(scoreBy)}`);
    this.scoreBy = scoreBy;
    this.windowChunks = options.windowChunks ?? this.frames + 6;
    if (!Number.isInteger(this.windowChunks) || this.windowChunks < 1) throw invalid('windowChunks must be a positive integer');
    this.confirmChunks = options.confirmChunks ?? 1;
    if (!Number.isInteger(this.confirmChunks) || this.confirmChunks < 1 || this.confirmChunks > this.windowChunks) {
      throw invalid(`confirmChunks must be an integer from 1 to windowChunks (${this.windowChunks}), got ${String(options.confirmChunks)}`);
    }
    this.name = options.name;
    this.#model = model;
    this.#labels = options.labels ?? labelsFromOutputName(model.outputs[0].name);
    this.#input = new Float32Array(this.frames * embeddingSize);
  }

  /** Whether a window is open (the model will run on the next chunk). */
  get listening(): boolean {
    return this.#left > 0;
  }

  /**
   * One chunk's pipeline result, in stream order. Resolves to a command event when this chunk's score crossed
   * the threshold in an open window; the window then closes (one command per wake word).
   */
  async push(result: ChunkResult, options: CommandPushOptions = {}): Promise<CommandEvent | undefined> {
    this.#chunks++;
    this.last = undefined;
    if (result.embedding !== undefined) {
      this.#history.push(result.embedding);
      if (this.#history.length > this.frames) this.#history.shift();
    }
    if (options.wakeWord !== undefined) {
      this.#left = this.windowChunks;
      this.#wakeWord = options.wakeWord;
      this.#streak = { intent: '', chunks: 0 };
    }
    if (this.#left === 0) return undefined;
    this.#left--;
    // Too early in the stream for a full input, or silence: nothing to classify in this chunk.
    if (this.#history.length < this.frames || options.voiceActive === false) {
      this.#streak = { intent: '', chunks: 0 };
      return undefined;
    }
    this.last = await this.#score();
    if (this.last.score < this.threshold) {
      this.#streak = { intent: '', chunks: 0 };
      return undefined;
    }
    this.#streak = { intent: this.last.intent, chunks: this.#streak.intent === this.last.intent ? this.#streak.chunks + 1 : 1 };
    if (this.#streak.chunks < this.confirmChunks) return undefined;
    this.#left = 0;
    return { command: this.name, intent: this.last.intent, score: this.last.score, timeMs: this.#chunks * chunkMs, wakeWord: this.#wakeWord };
  }

  /** Runs the model on the last `frames` embeddings (the history is full). */
  async #score(): Promise<CommandScore> {
    this.#history.forEach((e, i) => this.#input.set(e, i * embeddingSize));
    const model = this.#model;
    const out = await model.infer({ [model.inputs[0].name]: { type: 'float32', data: this.#input, dims: [1, this.frames, embeddingSize] } });
    const values = out[model.outputs[0].name].data as Float32Array;
    const labels = this.#labels;
    if (labels === undefined || values.length === 1) return { score: values[0], intent: labels?.[0] ?? this.name };
    let none = 0;
    let best = -1;
    for (let i = 0; i < values.length; i++) {
      if (labels[i] == null) none += values[i];
      else if (best < 0 || values[i] > values[best]) best = i;
    }
    if (best < 0) return { score: 1 - none, intent: this.name };
    return { score: this.scoreBy === 'intent' ? values[best] : 1 - none, intent: labels[best]! };
  }

  /** Back to a fresh stream (history dropped, window closed). */
  reset(): void {
    this.#history.length = 0;
    this.#chunks = 0;
    this.#left = 0;
    this.#streak = { intent: '', chunks: 0 };
    this.last = undefined;
  }
}

/** openWakeWord names a multi-class head's output after its classes: {"1": "1_minute_timer", …}. */
function labelsFromOutputName(name: string): (string | null)[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(name);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const labels: (string | null)[] = [];
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || typeof value !== 'string') return undefined;
    labels[index] = value;
  }
  return Array.from(labels, (label) => label ?? null);
}
