/**
 * The voice features' rendering and embedding on worker threads. Making them is bound by one JS thread: an
 * utterance is ~50 small model runs (the melspectrogram on every 80 ms chunk, then the embedding model over spans
 * of 16 windows where the examples need them), each about a millisecond and so run inline, plus the audio
 * rendering. Each worker owns its own
 * melspectrogram and embedding Engines and takes whole espeak-ng sessions; the caller puts the results back in
 * session order, so the features are the same bytes whatever the number of workers (every clip is rendered from
 * its own seed, and an Engine's result does not depend on the thread that runs it).
 */
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';

import { Engine } from '../engine';
import { EdgeInferError, type EdgeInferErrorCode } from '../errors';
import { startModuleWorker } from '../module-worker';
import { loadEmbeddingSpan } from '../wakeword/embedding-span';
import { sessionExamples, type Example, type FrontEnd } from './voice-examples';
import type { Job } from './voice-utterances';

/** One job's spoken parts, as synthesizeSession gives them. */
export type Speech = { wake?: Float32Array; main?: Float32Array };

export interface VoiceFeatureWorkerData {
  models: { melspectrogram: string; embedding: string };
  /** Engine threads per worker. */
  threads: number;
  /** Embeddings per example window. */
  frames: number;
}

/** Renders and embeds one session at a time per lane; `run` resolves to one list of examples per job. */
export interface SessionRunner {
  readonly lanes: number;
  /** Embedding windows per model run: the span form's (embedding-span.ts), 1 where it did not check out. */
  readonly embeddingWindowsPerRun: number;
  run(jobs: Job[], speech: Speech[]): Promise<Example[][]>;
  close(): Promise<void>;
}

/** Default worker count: one per core, at most 4 (beyond that espeak-ng, on the same cores, is the limit). */
export function defaultFeatureWorkers(): number {
  return Math.max(1, Math.min(os.availableParallelism(), 4));
}

/**
 * The front-end models on `threads` Engine threads, with the embedding model's span form where it checks out
 * (embedding-span.ts: the same embeddings, ~5x less work per window). Whatever loaded is released on failure.
 */
export async function loadFrontEnd(data: VoiceFeatureWorkerData): Promise<FrontEnd> {
  const loaded: Engine[] = [];
  try {
    const melspectrogram = await Engine.load(data.models.melspectrogram, { backend: 'native', threads: data.threads });
    loaded.push(melspectrogram);
    const embedding = await Engine.load(data.models.embedding, { backend: 'native', threads: data.threads });
    loaded.push(embedding);
    const embeddingSpan = await loadEmbeddingSpan(data.models.embedding, embedding, { threads: data.threads });
    return { melspectrogram, embedding, ...(embeddingSpan ? { embeddingSpan } : {}) };
  } catch (error) {
    await Promise.all(loaded.map((engine) => engine.dispose()));
    throw error;
  }
}

export async function disposeFrontEnd(engines: FrontEnd): Promise<void> {
  await Promise.all([engines.melspectrogram.dispose(), engines.embedding.dispose(), engines.embeddingSpan?.engine.dispose()]);
}

interface Task {
  id: number;
  jobs: Job[];
  speech: Speech[];
  resolve: (examples: Example[][]) => void;
  reject: (error: EdgeInferError) => void;
}

interface Lane {
  worker: Worker;
  task?: Task;
  exited: boolean;
}

type Reply = { ready: true; embeddingWindowsPerRun: number } | { id?: number; error: { code: string; message: string } } | { id: number; examples: Example[][] };

class WorkerPool implements SessionRunner {
  readonly lanes: number;
  /** The fewest over the lanes (each checks its own span form; on one machine they agree). */
  embeddingWindowsPerRun = Infinity;
  #idle: Lane[] = [];
  #all: Lane[] = [];
  #queue: Task[] = [];
  #failure: EdgeInferError | undefined;
  #closing = false;
  #nextId = 1;

  private constructor(lanes: number) {
    this.lanes = lanes;
  }

  static async start(lanes: number, data: VoiceFeatureWorkerData): Promise<WorkerPool> {
    const pool = new WorkerPool(lanes);
    const ready: Promise<void>[] = [];
    for (let i = 0; i < lanes; i++) ready.push(pool.#spawnLane(data));
    const started = await Promise.allSettled(ready);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await pool.close();
      throw failed.reason;
    }
    return pool;
  }

  #spawnLane(data: VoiceFeatureWorkerData): Promise<void> {
    const lane: Lane = { worker: startModuleWorker(path.join(__dirname, 'voice-feature-worker'), { workerData: data }), exited: false };
    this.#all.push(lane);
    return new Promise((resolve, reject) => {
      let ready = false;
      lane.worker.on('message', (reply: Reply) => {
        if (!ready) {
          if ('ready' in reply) {
            ready = true;
            this.embeddingWindowsPerRun = Math.min(this.embeddingWindowsPerRun, reply.embeddingWindowsPerRun);
            this.#idle.push(lane);
            this.#pump();
            resolve();
          } else if ('error' in reply) {
            reject(new EdgeInferError(reply.error.code as EdgeInferErrorCode, `a voice feature worker could not load the front-end models: ${reply.error.message}`));
          }
          return;
        }
        const task = lane.task;
        if (task === undefined || !('id' in reply) || reply.id !== task.id) return;
        lane.task = undefined;
        if ('examples' in reply) task.resolve(reply.examples);
        else task.reject(new EdgeInferError(reply.error.code as EdgeInferErrorCode, reply.error.message));
        this.#idle.push(lane);
        this.#pump();
      });
      const fail = (why: string) => {
        const error = new EdgeInferError('EDGEINFER_INTERNAL', `a voice feature worker ${why}`);
        if (!ready) reject(error);
        this.#fail(error);
      };
      lane.worker.on('error', (error) => fail(`failed: ${error.message}`));
      lane.worker.on('exit', (code) => {
        lane.exited = true;
        this.#idle = this.#idle.filter((l) => l !== lane);
        if (!this.#closing) fail(`exited (code ${code})${lane.task !== undefined ? ' with a session pending' : ''}`);
      });
    });
  }

  /** Once a worker fails, every task pending or asked for fails with its error. */
  #fail(error: EdgeInferError): void {
    this.#failure ??= error;
    for (const lane of this.#all) {
      lane.task?.reject(this.#failure);
      lane.task = undefined;
    }
    for (const task of this.#queue.splice(0)) task.reject(this.#failure);
  }

  #pump(): void {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const lane = this.#idle.shift()!;
      const task = this.#queue.shift()!;
      lane.task = task;
      const transfer = task.speech.flatMap((s) => [s.wake, s.main]).filter((a): a is Float32Array => a !== undefined).map((a) => a.buffer as ArrayBuffer);
      lane.worker.postMessage({ id: task.id, jobs: task.jobs, speech: task.speech }, [...new Set(transfer)]);
    }
  }

  run(jobs: Job[], speech: Speech[]): Promise<Example[][]> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, jobs, speech, resolve, reject });
      this.#pump();
    });
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#fail(this.#failure ?? new EdgeInferError('EDGEINFER_ABORTED', 'the voice feature workers were closed'));
    await Promise.all(
      this.#all.filter((lane) => !lane.exited).map(
        (lane) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void lane.worker.terminate(), 5000);
            lane.worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            lane.worker.postMessage({ close: true });
          }),
      ),
    );
    this.#all = [];
    this.#idle = [];
  }
}

/** The same work on the calling thread (one lane). */
async function inThread(data: VoiceFeatureWorkerData): Promise<SessionRunner> {
  const engines = await loadFrontEnd(data);
  return {
    lanes: 1,
    embeddingWindowsPerRun: engines.embeddingSpan?.windows ?? 1,
    run: (jobs, speech) => sessionExamples(engines, jobs, speech, data.frames),
    close: () => disposeFrontEnd(engines),
  };
}

/** `lanes` workers (more than 1), or the calling thread (1). */
export function startSessionRunner(lanes: number, data: VoiceFeatureWorkerData): Promise<SessionRunner> {
  return lanes > 1 ? WorkerPool.start(lanes, data) : inThread(data);
}
