/**
 * An engine's run queue: at most `maxConcurrent` runs in flight, the rest wait here, in JS, by priority
 * ('high' before 'normal' before 'low', FIFO within a level). A waiting call leaves the queue on its
 * AbortSignal (EDGEINFER_ABORTED) or timeout (EDGEINFER_TIMEOUT); a running one is never interrupted: its
 * promise is rejected at once and its result dropped when it arrives. Without this queue every off-thread
 * call would go straight to the libuv pool and block its threads on the model's mutex (starving fs and dns).
 * The queue knows nothing of models: a job says how to run, how to take its own copies before it waits, and
 * what to release when it ends.
 */
import { EdgeInferError } from './errors';
import { checkOneOf, checkOptions, invalid } from './validate';

export type RunPriority = 'high' | 'normal' | 'low';
const levels: readonly RunPriority[] = ['high', 'normal', 'low'];

/** Options of one call: Engine.infer(feeds, options). */
export interface RunOptions {
  /** Aborting removes a waiting call from the queue; a running call's result is dropped. Either way: EDGEINFER_ABORTED at once. */
  signal?: AbortSignal;
  /** EDGEINFER_TIMEOUT this many ms after the call (waiting: removed from the queue; running: its result dropped). */
  timeoutMs?: number;
  /** Served before lower levels; FIFO within a level. Default 'normal'. */
  priority?: RunPriority;
}

export interface CheckedRunOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  level: number;
}

export function checkRunOptions(options: unknown): CheckedRunOptions {
  if (options === undefined) return { level: 1 };
  const o = checkOptions(options, 'options');
  for (const key of Object.keys(o)) {
    if (key !== 'signal' && key !== 'timeoutMs' && key !== 'priority') throw invalid(`'${key}' is not an option of infer (signal, timeoutMs, priority)`, { argument: key });
  }
  const signal = o.signal as AbortSignal | undefined;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('signal must be an AbortSignal', { argument: 'signal' });
  const timeoutMs = o.timeoutMs as number | undefined;
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || timeoutMs > 2 ** 31 - 1)) {
    throw invalid('timeoutMs must be a number of milliseconds > 0 (and below 2^31)', { argument: 'timeoutMs', got: timeoutMs });
  }
  const level = levels.indexOf(checkOneOf(o.priority ?? 'normal', levels, 'priority'));
  return { signal, timeoutMs, level };
}

export interface Job<T> {
  /** Starts the run. May throw, or settle synchronously (an inline run). */
  run(): Promise<T> | T;
  /** True when the run would happen synchronously on this thread right now (sub-millisecond models). */
  inlineNow?(): boolean;
  /** The call is about to wait: take copies of whatever the caller may reuse once the call returned. */
  detach(): void;
  /** Called exactly once, when the run ended or the call left the queue without running. */
  done(): void;
}

interface Entry<T> {
  /** Dropped once done() was called, so a call that left the queue frees its copies before it is reached. */
  job: Job<T> | undefined;
  level: number;
  /** waiting: in the queue; running: started, not ended; answered: promise settled (the run may still be going). */
  state: 'waiting' | 'running' | 'answered';
  started: boolean;
  resolve(value: T): void;
  reject(error: unknown): void;
  timer?: NodeJS.Timeout;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export interface RunQueueStats {
  /** Calls waiting for a slot. */
  queued: number;
  /** Runs in flight (their promise may already be answered: an aborted or timed-out run still holds its slot). */
  running: number;
  /** Calls answered with EDGEINFER_ABORTED / EDGEINFER_TIMEOUT, while waiting or running. */
  aborted: number;
  timedOut: number;
}

export class RunQueue {
  readonly #maxConcurrent: number;
  /** One FIFO per level, with a head index (shift is O(n)); answered entries are skipped when reached. */
  readonly #levels: { items: Entry<unknown>[]; head: number }[] = levels.map(() => ({ items: [], head: 0 }));
  #waiting = 0;
  #running = 0;
  #aborted = 0;
  #timedOut = 0;
  #idle: (() => void)[] = [];

  constructor(maxConcurrent: number) {
    this.#maxConcurrent = maxConcurrent;
  }

  get maxConcurrent(): number {
    return this.#maxConcurrent;
  }

  stats(): RunQueueStats {
    return { queued: this.#waiting, running: this.#running, aborted: this.#aborted, timedOut: this.#timedOut };
  }

  submit<T>(job: Job<T>, options: CheckedRunOptions): Promise<T> {
    if (options.signal?.aborted) {
      job.done();
      this.#aborted++;
      return Promise.reject(aborted());
    }
    return new Promise<T>((resolve, reject) => {
      const entry: Entry<T> = { job, level: options.level, state: 'waiting', started: false, resolve, reject };
      this.#watch(entry as Entry<unknown>, options);
      if (this.#waiting === 0 && job.inlineNow?.()) {
        // Nothing waits and the run is shorter than a thread hop: run it here, outside the slot count.
        this.#start(entry as Entry<unknown>, false);
      } else if (this.#waiting === 0 && this.#running < this.#maxConcurrent) {
        this.#start(entry as Entry<unknown>, true);
      } else {
        try {
          job.detach();
        } catch (error) {
          this.#answer(entry as Entry<unknown>, error, false);
          this.#done(entry as Entry<unknown>);
          return;
        }
        const level = this.#levels[entry.level];
        level.items.push(entry as Entry<unknown>);
        this.#waiting++;
      }
    });
  }

  /** Rejects every waiting call with `error` (running ones go on). */
  rejectWaiting(error: EdgeInferError): void {
    for (const level of this.#levels) {
      const items = level.items.slice(level.head);
      level.items = [];
      level.head = 0;
      for (const entry of items) {
        if (entry.state !== 'waiting') continue;
        this.#waiting--;
        this.#answer(entry, error, false);
        this.#done(entry);
      }
    }
    this.#checkIdle();
  }

  /** Resolves when nothing waits and nothing runs. */
  idle(): Promise<void> {
    if (this.#waiting === 0 && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #watch(entry: Entry<unknown>, options: CheckedRunOptions): void {
    if (options.timeoutMs !== undefined) {
      entry.timer = setTimeout(() => {
        this.#timedOut++;
        this.#cancel(entry, new EdgeInferError('EDGEINFER_TIMEOUT', `the call did not complete within ${options.timeoutMs} ms`, { timeoutMs: options.timeoutMs, state: entry.state }));
      }, options.timeoutMs);
    }
    if (options.signal !== undefined) {
      entry.signal = options.signal;
      entry.onAbort = () => {
        this.#aborted++;
        this.#cancel(entry, aborted(entry.state));
      };
      options.signal.addEventListener('abort', entry.onAbort, { once: true });
    }
  }

  /** Abort or timeout: a waiting call leaves the queue, a running one is answered now and its result dropped later. */
  #cancel(entry: Entry<unknown>, error: EdgeInferError): void {
    if (entry.state === 'answered') return;
    const waiting = entry.state === 'waiting';
    this.#answer(entry, error, false);
    if (waiting) {
      this.#waiting--;
      this.#done(entry);
      this.#checkIdle();
    }
  }

  #answer(entry: Entry<unknown>, outcome: unknown, ok: boolean): void {
    if (entry.state === 'answered') return;
    entry.state = 'answered';
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    if (entry.onAbort !== undefined) entry.signal!.removeEventListener('abort', entry.onAbort);
    entry.timer = undefined;
    entry.onAbort = undefined;
    entry.signal = undefined;
    if (ok) entry.resolve(outcome);
    else entry.reject(outcome);
  }

  #start(entry: Entry<unknown>, counted: boolean): void {
    entry.state = 'running';
    if (counted) this.#running++;
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(entry.job!.run());
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (value) => this.#end(entry, value, true, counted),
      (error: unknown) => this.#end(entry, error, false, counted),
    );
  }

  #end(entry: Entry<unknown>, outcome: unknown, ok: boolean, counted: boolean): void {
    if (counted) this.#running--;
    this.#done(entry);
    this.#answer(entry, outcome, ok);
    this.#pump();
    this.#checkIdle();
  }

  #done(entry: Entry<unknown>): void {
    const job = entry.job;
    entry.job = undefined;
    job?.done();
  }

  #pump(): void {
    while (this.#running < this.#maxConcurrent && this.#waiting > 0) {
      const entry = this.#next();
      if (entry === undefined) break;
      this.#waiting--;
      this.#start(entry, true);
    }
  }

  /** The first waiting entry of the highest level, skipping those already answered. */
  #next(): Entry<unknown> | undefined {
    for (let index = 0; index < this.#levels.length; index++) {
      const level = this.#levels[index];
      while (level.head < level.items.length) {
        const entry = level.items[level.head];
        level.items[level.head++] = undefined as unknown as Entry<unknown>;
        if (entry.state === 'waiting') {
          this.#compact(index);
          return entry;
        }
      }
      level.items = [];
      level.head = 0;
    }
    return undefined;
  }

  /** Drops the consumed head of a level's array once it is most of it (answered entries are skipped lazily). */
  #compact(index: number): void {
    const level = this.#levels[index];
    if (level.head > 1024 && level.head * 2 > level.items.length) {
      level.items = level.items.slice(level.head);
      level.head = 0;
    }
  }

  #checkIdle(): void {
    if (this.#waiting !== 0 || this.#running !== 0 || this.#idle.length === 0) return;
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }
}

function aborted(state?: string): EdgeInferError {
  return new EdgeInferError('EDGEINFER_ABORTED', 'the call was aborted', state ? { state } : undefined);
}
