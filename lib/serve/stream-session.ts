/**
 * One InferStream call: int16 little-endian PCM in messages of any length, re-chunked into 80 ms frames
 * (1280 samples) for the openWakeWord pipeline, and wake-word events out; with a command stage configured,
 * the frames after a wake word also go through the command model (lib/wakeword/command-stage.ts) and a
 * command event follows when it recognises one (one per wake word). Frames are processed one at a
 * time in arrival order; while more than `maxPendingMs` of audio waits, the call stops reading (HTTP/2 flow
 * control holds the client back) instead of buffering without bound. When the client half-closes, the frames
 * received are finished, a chunk_stats event is sent and the call ends OK (a trailing partial frame is not
 * scored). A cancelled call aborts its frame's model runs.
 */
import { status as Status, type ServerDuplexStream } from '@grpc/grpc-js';
import * as hdr from 'hdr-histogram-js';

import type { Tensor } from '../tensor';
import { CommandStage, type CommandStageOptions } from '../wakeword/command-stage';
import { chunkSamples, sampleRate, WakeWordPipeline, type ModelRunner } from '../wakeword/pipeline';
import { serviceError, StatusError, toStatus, type CallStatus } from './status';

/** A model shared by every stream (an Engine behind a BatchScheduler), run on behalf of one call. */
export interface SharedRunner {
  /** dims as the Engine states them (the command stage reads its input length from them). */
  readonly inputs: { name: string; dims?: readonly (number | string)[] }[];
  readonly outputs: { name: string }[];
  infer(feeds: Record<string, Tensor>, options: { signal: AbortSignal }): Promise<Record<string, Tensor>>;
}

export interface SharedWakeWordModels {
  melspectrogram: SharedRunner;
  embedding: SharedRunner;
  heads: Record<string, SharedRunner>;
  /** The command stage's model and settings; each stream gets its own CommandStage over it. */
  command?: { runner: SharedRunner; options: Omit<CommandStageOptions, 'model'> };
}

export interface StreamSessionOptions {
  models: SharedWakeWordModels;
  /** A head fires when its score reaches this, once per crossing (it re-arms when the score drops below). */
  threshold: number;
  /** Audio waiting to be processed beyond which the call stops reading. */
  maxPendingMs: number;
  /** Called once per processed frame with its processing time, and per event sent. */
  onChunk(seconds: number): void;
  onWakeWord(name: string): void;
  onCommand?(command: string, intent: string): void;
  /** Called once when the call is over, with the status it ended with (and the error behind it, if any). */
  onClose(status: CallStatus, error?: unknown): void;
}

export interface AudioChunkMessage {
  pcm: Uint8Array;
  sample_rate: number;
}

const frameBytes = chunkSamples * 2;
const frameMs = (chunkSamples / sampleRate) * 1000;

export class StreamSession {
  readonly #call: ServerDuplexStream<AudioChunkMessage, unknown>;
  readonly #options: StreamSessionOptions;
  readonly #abort = new AbortController();
  readonly #pipeline: WakeWordPipeline;
  readonly #command: CommandStage | undefined;
  readonly #armed = new Map<string, boolean>();
  /** Bytes received and not yet processed (less than a frame once the loop has caught up). */
  #pending: Buffer = Buffer.alloc(0);
  #frames = 0;
  #running = false;
  #paused = false;
  /** The client half-closed, or the server stops the stream (then it ends UNAVAILABLE). */
  #ending: CallStatus | undefined;
  #closed = false;
  // Per-frame latency in µs; packed buckets keep a long stream's histogram a few KB.
  readonly #latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 1e8, numberOfSignificantValueDigits: 2, bitBucketSize: 'packed' });

  constructor(call: ServerDuplexStream<AudioChunkMessage, unknown>, options: StreamSessionOptions) {
    this.#call = call;
    this.#options = options;
    const signal = this.#abort.signal;
    const bind = (runner: SharedRunner): ModelRunner & { inputs: SharedRunner['inputs'] } => ({ inputs: runner.inputs, outputs: runner.outputs, infer: (feeds) => runner.infer(feeds, { signal }) });
    const heads = Object.fromEntries(Object.entries(options.models.heads).map(([name, runner]) => [name, bind(runner)]));
    this.#pipeline = new WakeWordPipeline({ melspectrogram: bind(options.models.melspectrogram), embedding: bind(options.models.embedding), heads });
    for (const name of Object.keys(heads)) this.#armed.set(name, true);
    const command = options.models.command;
    this.#command = command === undefined ? undefined : new CommandStage({ ...command.options, model: bind(command.runner) });

    call.on('data', (message: AudioChunkMessage) => this.#guard(() => this.#receive(message)));
    call.on('end', () => this.#guard(() => this.#end({ code: Status.OK, details: 'OK', internal: false })));
    call.on('cancelled', () => this.#close({ code: Status.CANCELLED, details: 'cancelled by the client', internal: false }, false));
    call.on('error', () => this.#close({ code: Status.CANCELLED, details: 'the call failed', internal: false }, false));
  }

  /** Server shutdown: finish the frames received, send chunk_stats, end UNAVAILABLE so the client reconnects elsewhere. */
  stop(): void {
    this.#guard(() => {
      this.#call.pause();
      this.#end({ code: Status.UNAVAILABLE, details: 'the server is shutting down', internal: false });
    });
  }

  /** Any failure of this call ends this call only, with its status. */
  #guard(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.#fail(error);
    }
  }

  #receive(message: AudioChunkMessage): void {
    if (this.#closed || this.#ending !== undefined) return;
    const rate = message.sample_rate ?? 0;
    if (rate !== 0 && rate !== sampleRate) throw new StatusError(Status.INVALID_ARGUMENT, `sample_rate is ${rate}: InferStream takes ${sampleRate} Hz mono int16 (the server does not resample)`);
    const pcm = message.pcm instanceof Uint8Array ? message.pcm : new Uint8Array(0);
    if (pcm.byteLength === 0) return;
    // Copy: the message's bytes are a view into grpc-js's receive buffer.
    this.#pending = this.#pending.byteLength === 0 ? Buffer.from(pcm) : Buffer.concat([this.#pending, pcm]);
    if (!this.#paused && this.#pendingMs() > this.#options.maxPendingMs) {
      this.#paused = true;
      this.#call.pause();
    }
    this.#run();
  }

  #pendingMs(): number {
    return (this.#pending.byteLength / 2 / sampleRate) * 1000;
  }

  #end(status: CallStatus): void {
    if (this.#closed || this.#ending !== undefined) return;
    this.#ending = status;
    this.#run();
  }

  /** Processes whole frames until none is left; finishes the call if it is ending. One loop at a time. */
  #run(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    this.#loop().then(
      () => {
        this.#running = false;
        if (this.#closed) return;
        if (this.#pending.byteLength >= frameBytes) this.#run();
        else if (this.#ending !== undefined) this.#finish(this.#ending);
      },
      (error) => {
        this.#running = false;
        this.#fail(error);
      },
    );
  }

  async #loop(): Promise<void> {
    while (!this.#closed && this.#pending.byteLength >= frameBytes) {
      const samples = new Int16Array(chunkSamples);
      new Uint8Array(samples.buffer).set(this.#pending.subarray(0, frameBytes));
      this.#pending = this.#pending.subarray(frameBytes);
      if (this.#paused && this.#ending === undefined && this.#pendingMs() <= this.#options.maxPendingMs / 2) {
        this.#paused = false;
        this.#call.resume();
      }
      const start = performance.now();
      const result = await this.#pipeline.push(Float32Array.from(samples));
      const ms = performance.now() - start;
      this.#latency.recordValue(Math.max(1, Math.round(ms * 1000)));
      this.#options.onChunk(ms / 1000);
      this.#frames++;
      if (this.#closed) return;
      const timeMs = Math.round(this.#frames * frameMs);
      // The wake word that opens the command window: the highest-scoring one that fired in this frame.
      let fired: string | undefined;
      for (const [name, score] of Object.entries(result.scores)) {
        if (score >= this.#options.threshold) {
          if (this.#armed.get(name)) {
            this.#armed.set(name, false);
            this.#call.write({ wake_word: { name, score, time_ms: timeMs } });
            this.#options.onWakeWord(name);
            if (fired === undefined || score > result.scores[fired]) fired = name;
          }
        } else {
          this.#armed.set(name, true);
        }
      }
      if (this.#command === undefined) continue;
      const event = await this.#command.push(result, { wakeWord: fired });
      if (this.#closed || event === undefined) continue;
      this.#call.write({ command: { command: event.command, intent: event.intent, score: event.score, time_ms: timeMs, wake_word: event.wakeWord } });
      this.#options.onCommand?.(event.command, event.intent);
    }
  }

  #finish(status: CallStatus): void {
    if (this.#closed) return;
    const ms = (percentile: number) => (this.#latency.totalCount === 0 ? 0 : this.#latency.getValueAtPercentile(percentile) / 1000);
    this.#call.write({ chunk_stats: { chunks: this.#frames, p50_ms: ms(50), p99_ms: ms(99) } });
    this.#close(status, true);
  }

  #fail(error: unknown): void {
    this.#close(toStatus(error), true, error);
  }

  #close(status: CallStatus, send: boolean, error?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#pending = Buffer.alloc(0);
    if (send) {
      try {
        if (status.code === Status.OK) this.#call.end();
        else this.#call.emit('error', serviceError(status));
      } catch {
        // The call went away meanwhile: nothing to send to.
      }
    }
    this.#options.onClose(status, error);
  }
}
