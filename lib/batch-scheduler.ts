/**
 * BatchScheduler: Triton's dynamic batcher for one model. Requests wait in a queue; compatible ones (same
 * dtypes and the same dims apart from the batch axis, or apart from a padded sequence axis too) are
 * concatenated along the batch axis, run as one call, and the outputs split back. While a batch runs the
 * next one fills, so a queue delay of 0 does not mean batches of one under load (Triton #3624).
 * The scheduler knows nothing of backends: it talks to anything with inputs, outputs and infer().
 */
import { types } from 'node:util';

import { EdgeInferError, type EdgeInferErrorCode } from './errors';
import type { TensorArray } from './onnx/ir';
import { allocateTensorData, checkFeed, type Tensor, type TensorInfo } from './tensor';
import { checkInteger, checkOptions, invalid, typedArrayKind } from './validate';
import { inferPrescanned, plansPerShape, type BatchTarget } from './batch-target';

export type { BatchTarget } from './batch-target';
import { CopySlab } from './copy-slab';
import { setPreciseTimeout } from './precise-timer';
import { originOf, tagResult } from './result-info';
import { createLatencyHistogram, summarize, type LatencySummary, type LatencyHistogram } from './latency-histogram';

export type Priority = 'high' | 'normal' | 'low';
const priorities: readonly Priority[] = ['high', 'normal', 'low'];

export interface SequencePadding {
  /** The axis (>= 1) along which requests of different lengths are padded to the longest in the batch. */
  axis: number;
  /** Value padded into each input, by name (e.g. 0 for input_ids and attention_mask, so the mask masks it). Default 0. */
  values?: Record<string, number>;
}

export interface BatchSchedulerOptions {
  /** Largest sum of request batch sizes in one call. Default 8. */
  maxBatchSize?: number;
  /** How long the oldest request may wait for more to join its batch. Default 0: dispatch as soon as the target is free. */
  maxQueueDelayMicros?: number;
  /** Batch sizes to dispatch at as soon as they can be formed, without waiting for the delay. */
  preferredBatchSizes?: number[];
  /** Requests queued (not running) beyond which infer() rejects at once with EDGEINFER_QUEUE_FULL. Default 1024. */
  maxQueueSize?: number;
  /** Batches running at once. Default 1 (the next one fills meanwhile). */
  maxInflightBatches?: number;
  /** Resolve requests in the order they were admitted. Default false. */
  preserveOrdering?: boolean;
  /** Timeout applied to requests that give none. Default: none. */
  defaultTimeoutMs?: number;
  /** Pad a sequence axis so requests of different lengths share a batch. */
  padding?: SequencePadding;
  /**
   * Batch sizes (rows) a batch is padded up to: the smallest listed size that holds it (larger batches run as
   * they are); the extra rows repeat the batch's last row and their outputs are dropped. A native-backend
   * engine plans each batch size it sees (shape inference, lowering, an arena; a few kept), so batches of
   * every size from 1 to maxBatchSize would keep replanning under a varying load. 'auto' (default): when the
   * target plans per shape, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, ... (at most a third of a batch is
   * padding, most batches under load none) and maxBatchSize; otherwise off. 'off': each batch runs at its own size.
   */
  batchBuckets?: 'auto' | 'off' | number[];
}

export interface SubmitOptions {
  /** Abort while queued or running: EDGEINFER_ABORTED, and the request leaves the queue. */
  signal?: AbortSignal;
  /** Reject with EDGEINFER_TIMEOUT this many ms after submission (queued: removed; running: its result dropped). */
  timeoutMs?: number;
  /** Served before lower levels; FIFO within a level. Default 'normal'. */
  priority?: Priority;
}

export interface BatchSchedulerStats {
  submitted: number;
  completed: number;
  failed: number;
  queued: number;
  inflightBatches: number;
  batches: number;
  /** Completed requests per second since the first submission. */
  throughput: number;
  queueWaitMicros: LatencySummary;
  /** Requests per batch. */
  batchSize: LatencySummary;
  /** Wall time of each batch's infer call. */
  serviceMicros: LatencySummary;
  /** Submission to settlement of each completed request. */
  latencyMicros: LatencySummary;
  rejections: Partial<Record<EdgeInferErrorCode, number>>;
  /** Rows added to batches to reach a batch bucket (see batchBuckets): compute spent on padding. */
  paddedRows: number;
}

interface Request {
  seq: number;
  feeds: Record<string, Tensor>;
  /** Its admission copies went back to the slab. */
  released?: boolean;
  /** Rows along the batch axis. */
  rows: number;
  /** Length along the padded axis (0 without padding). */
  length: number;
  key: string;
  priority: number;
  submittedAt: number;
  state: 'queued' | 'running' | 'done';
  resolve: (outputs: Record<string, Tensor>) => void;
  reject: (error: unknown) => void;
  cleanup?: () => void;
}

const now = () => performance.now();
/** infer() without options reads its defaults from this (no object per request). */
const noOptions: SubmitOptions = Object.freeze({});

/** Powers of two and three times powers of two up to maxBatchSize, and maxBatchSize itself, ascending. */
export function defaultBatchBuckets(maxBatchSize: number): number[] {
  const sizes = new Set<number>([maxBatchSize]);
  for (let power = 1; power <= maxBatchSize; power *= 2) {
    sizes.add(power);
    if (3 * power <= maxBatchSize) sizes.add(3 * power);
  }
  return [...sizes].sort((a, b) => a - b);
}

/** A request's resolve / reject before promiseFor() set them, and after (never called twice: state 'done'). */
const settled = (): void => {};

/** The request promiseFor() is making a promise for: the executor runs synchronously, so one slot suffices. */
let executing: Request | undefined;
const takeResolvers = (resolve: (outputs: Record<string, Tensor>) => void, reject: (error: unknown) => void): void => {
  executing!.resolve = resolve;
  executing!.reject = reject;
};

/** The promise a request settles, without a closure per request (one shared executor). */
function promiseFor(request: Request): Promise<Record<string, Tensor>> {
  executing = request;
  try {
    return new Promise(takeResolvers);
  } finally {
    executing = undefined;
  }
}

/** Whether two requests' dims agree except on the batch axis (0) and the padded axis. */
function sameFreeDims(a: readonly number[], b: readonly number[], paddedAxis: number | undefined): boolean {
  if (a.length !== b.length) return false;
  for (let i = 1; i < a.length; i++) if (i !== paddedAxis && a[i] !== b[i]) return false;
  return true;
}

/** Each feed read once: its typed array copied, its dims copied; anything that is not a tensor refused. */
function ownedCopy(feeds: Record<string, Tensor>, slab: CopySlab): Record<string, Tensor> {
  if (feeds === null || typeof feeds !== 'object' || types.isProxy(feeds)) throw invalid('feeds must be a plain object of input name -> tensor');
  const copy: Record<string, Tensor> = {};
  // for-in over own properties (Object.keys' set) without the array: this runs for every request.
  for (const name in feeds) {
    if (!Object.hasOwn(feeds, name)) continue;
    const tensor = feeds[name] as unknown;
    if (tensor === null || typeof tensor !== 'object' || types.isProxy(tensor)) throw invalid(`input '${name}' must be a tensor { type, data, dims }`, { input: name });
    const { type, data, dims } = tensor as Tensor;
    if (typedArrayKind(data) === undefined) throw invalid(`input '${name}' data must be a typed array (not a Proxy or look-alike)`, { input: name });
    if (!Array.isArray(dims)) throw invalid(`input '${name}' dims must be an array of non-negative integers`, { input: name });
    copy[name] = { type, data: slab.copy(data), dims: dims.slice() };
  }
  return copy;
}

export class BatchScheduler {
  readonly #target: BatchTarget;
  readonly #maxBatchSize: number;
  readonly #delayMs: number;
  readonly #preferred: number[];
  readonly #maxQueueSize: number;
  readonly #maxInflight: number;
  readonly #preserveOrdering: boolean;
  readonly #defaultTimeoutMs: number | undefined;
  readonly #padding: SequencePadding | undefined;
  /** Sizes batches are padded up to (ascending; empty: none). */
  readonly #buckets: number[];
  /** batchBuckets 'auto': #buckets apply only while the target plans per shape (asked per batch: a swap may change it). */
  readonly #bucketsIfPlanned: boolean;
  /** Why requests are not concatenated (a fixed batch dim), or undefined when they are. */
  readonly #unbatchableReason: string | undefined;

  /** One FIFO per priority level. */
  readonly #queues: Request[][] = priorities.map(() => []);
  /** Admission copies; recycled when the target is an Engine, which is done with its feeds once infer() returned. */
  readonly #slab: CopySlab;
  /** Engine targets: one reused buffer per input for concatenated batches (same contract). */
  readonly #batchBuffers: Map<string, TensorArray> | undefined;
  /** #describe's outputs besides the key, and the last key it built (see there). */
  #describedRows = 0;
  #describedLength = 0;
  #lastKey: { key: string; types: string[]; dims: number[][] } | undefined;
  #queued = 0;
  /** Sum of the queued requests' rows: below maxBatchSize no batch can be full, so there is nothing to collect yet. */
  #queuedRows = 0;
  #inflight = 0;
  #seq = 0;
  /** Cancels the pending queue-delay wake-up (microsecond resolution: Node's timers count milliseconds). */
  #timer: (() => void) | undefined;
  #closed = false;
  #drained: (() => void)[] = [];
  // preserveOrdering: settled results waiting for earlier requests.
  #nextToSettle = 0;
  readonly #held = new Map<number, { request: Request; ok: boolean; value: unknown }>();

  #submitted = 0;
  #completed = 0;
  #failed = 0;
  #batches = 0;
  #paddedRows = 0;
  #firstSubmitAt = 0;
  readonly #rejections: Partial<Record<EdgeInferErrorCode, number>> = {};
  readonly #queueWait: LatencyHistogram = createLatencyHistogram();
  readonly #batchSize: LatencyHistogram = createLatencyHistogram();
  readonly #service: LatencyHistogram = createLatencyHistogram();
  readonly #latency: LatencyHistogram = createLatencyHistogram();

  constructor(target: BatchTarget, options?: BatchSchedulerOptions) {
    if (target === null || typeof target !== 'object' || typeof target.infer !== 'function' || !Array.isArray(target.inputs)) {
      throw invalid('target must be an Engine (or an object with inputs, outputs and infer())', { argument: 'target' });
    }
    const o = checkOptions(options, 'options');
    this.#target = target;
    // An Engine (it offers inferPrescanned) copies or finishes reading its feeds before infer() returns, so
    // the memory of a dispatched batch can be reused at once. Any other target keeps what it is given.
    const reusesFeeds = typeof target[inferPrescanned] === 'function';
    this.#slab = new CopySlab({ recycle: reusesFeeds });
    this.#batchBuffers = reusesFeeds ? new Map() : undefined;
    this.#maxBatchSize = checkInteger(o.maxBatchSize ?? 8, 'maxBatchSize', 1, 65536);
    this.#delayMs = checkInteger(o.maxQueueDelayMicros ?? 0, 'maxQueueDelayMicros', 0, 60e6) / 1000;
    const preferred = o.preferredBatchSizes ?? [];
    if (!Array.isArray(preferred)) throw invalid('preferredBatchSizes must be an array of batch sizes', { argument: 'preferredBatchSizes' });
    this.#preferred = preferred.map((size, i) => checkInteger(size, `preferredBatchSizes[${i}]`, 1, this.#maxBatchSize)).sort((a, b) => b - a);
    this.#maxQueueSize = checkInteger(o.maxQueueSize ?? 1024, 'maxQueueSize', 1, 2 ** 31);
    this.#maxInflight = checkInteger(o.maxInflightBatches ?? 1, 'maxInflightBatches', 1, 1024);
    if (o.preserveOrdering !== undefined && typeof o.preserveOrdering !== 'boolean') throw invalid('preserveOrdering must be a boolean', { argument: 'preserveOrdering' });
    this.#preserveOrdering = o.preserveOrdering === true;
    this.#defaultTimeoutMs = o.defaultTimeoutMs === undefined ? undefined : checkInteger(o.defaultTimeoutMs, 'defaultTimeoutMs', 1, 2 ** 31);
    if (o.padding !== undefined) {
      const p = checkOptions(o.padding, 'padding');
      const axis = checkInteger(p.axis, 'padding.axis', 1, 32);
      const values = checkOptions(p.values, 'padding.values') as Record<string, number>;
      for (const [name, value] of Object.entries(values)) {
        if (!target.inputs.some((input) => input.name === name)) throw invalid(`padding.values names '${name}', not an input`, { argument: 'padding.values' });
        if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`padding.values.${name} must be a finite number`, { argument: 'padding.values' });
      }
      this.#padding = { axis, values };
    }
    const buckets = o.batchBuckets ?? 'auto';
    this.#bucketsIfPlanned = buckets === 'auto';
    if (buckets === 'auto' || buckets === 'off') {
      this.#buckets = buckets === 'off' ? [] : defaultBatchBuckets(this.#maxBatchSize);
    } else if (Array.isArray(buckets)) {
      this.#buckets = [...new Set(buckets.map((size, i) => checkInteger(size, `batchBuckets[${i}]`, 1, this.#maxBatchSize)))].sort((a, b) => a - b);
    } else {
      throw invalid(`batchBuckets must be 'auto', 'off' or an array of batch sizes, got ${String(buckets)}`, { argument: 'batchBuckets' });
    }
    const fixed = target.inputs.find((input) => typeof input.dims[0] === 'number' || input.dims.length === 0);
    this.#unbatchableReason = fixed === undefined ? undefined : `input '${fixed.name}' has a fixed first dimension (${fixed.dims[0]}): requests run one per call`;
  }

  /** Whether requests are concatenated, and why not when they are not. */
  info(): { batching: boolean; reason?: string; maxBatchSize: number } {
    return { batching: this.#unbatchableReason === undefined, reason: this.#unbatchableReason, maxBatchSize: this.#maxBatchSize };
  }

  /** Queues one request (its own batch dim may be > 1); resolves to its share of the batch's outputs. */
  infer(feeds: Record<string, Tensor>, options?: SubmitOptions): Promise<Record<string, Tensor>> {
    try {
      return this.#admit(feeds, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #reject(code: EdgeInferErrorCode, message: string, detail?: Record<string, unknown>): EdgeInferError {
    this.#rejections[code] = (this.#rejections[code] ?? 0) + 1;
    return new EdgeInferError(code, message, detail);
  }

  #admit(feeds: Record<string, Tensor>, options?: SubmitOptions): Promise<Record<string, Tensor>> {
    const o = options === undefined ? noOptions : checkOptions(options, 'options');
    if (this.#closed) throw this.#reject('EDGEINFER_DISPOSED', 'the scheduler was closed');
    const priority = priorities.indexOf((o.priority ?? 'normal') as Priority);
    if (priority < 0) throw invalid(`priority must be one of ${priorities.join(', ')}, got ${String(o.priority)}`, { argument: 'priority' });
    const timeoutMs = o.timeoutMs === undefined ? this.#defaultTimeoutMs : checkInteger(o.timeoutMs, 'timeoutMs', 0, 2 ** 31);
    const signal = o.signal as AbortSignal | undefined;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('signal must be an AbortSignal', { argument: 'signal' });
    if (signal?.aborted) throw this.#reject('EDGEINFER_ABORTED', 'the request was aborted before it was queued');
    // The request may wait in the queue: it runs on its own copy, read once (the caller may reuse, transfer or
    // change its arrays as soon as infer() returned; a getter cannot show the check one thing and the batch another).
    feeds = ownedCopy(feeds, this.#slab);
    const validated = this.#target.validateFeeds !== undefined;
    if (validated) this.#target.validateFeeds!(feeds);
    const key = this.#describe(feeds, validated);
    const rows = this.#describedRows;
    const length = this.#describedLength;
    if (rows > this.#maxBatchSize) throw invalid(`the request has batch ${rows}, more than maxBatchSize ${this.#maxBatchSize}`, { argument: 'feeds' });
    if (this.#queued >= this.#maxQueueSize) throw this.#reject('EDGEINFER_QUEUE_FULL', `the queue holds ${this.#queued} requests (maxQueueSize ${this.#maxQueueSize})`, { queued: this.#queued });

    if (this.#submitted === 0) this.#firstSubmitAt = now();
    this.#submitted++;
    const request: Request = { seq: this.#seq++, feeds, rows, length, key, priority, submittedAt: now(), state: 'queued', resolve: settled, reject: settled };
    const answer = promiseFor(request);
    if (timeoutMs !== undefined || signal !== undefined) this.#watch(request, timeoutMs, signal);
    this.#queues[priority].push(request);
    this.#queued++;
    this.#queuedRows += rows;
    this.#pump();
    return answer;
  }

  /** Timeout and abort of one request: it leaves the queue, or its result is dropped if it is running. */
  #watch(request: Request, timeoutMs: number | undefined, signal: AbortSignal | undefined): void {
    const cancel = (code: 'EDGEINFER_TIMEOUT' | 'EDGEINFER_ABORTED', message: string) => {
      if (request.state === 'done') return;
      if (request.state === 'queued') this.#remove(request);
      this.#fail(request, this.#reject(code, message));
    };
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined) timer = setTimeout(() => cancel('EDGEINFER_TIMEOUT', `no result within ${timeoutMs} ms`), timeoutMs);
    const onAbort = () => cancel('EDGEINFER_ABORTED', 'the request was aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    request.cleanup = () => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
  }

  /**
   * A request's grouping key; its batch rows and padded-axis length go to #describedRows / #describedLength (no
   * object per request). Checks what the batch needs.
   */
  #describe(feeds: Record<string, Tensor>, validated: boolean): string {
    if (feeds === null || typeof feeds !== 'object') throw invalid('feeds must be an object of input name -> tensor');
    let rows = -1;
    let length = 0;
    const inputs = this.#target.inputs;
    const axis = this.#padding?.axis;
    // Most traffic has one shape: the last key is reused while dtypes and dims match it (building one costs a
    // few strings per request, and this runs for every request).
    const last = this.#lastKey;
    let same = last !== undefined && last.dims.length === inputs.length;
    for (let k = 0; k < inputs.length; k++) {
      const input = inputs[k];
      const tensor = feeds[input.name];
      if (tensor === null || typeof tensor !== 'object' || !Array.isArray(tensor.dims)) {
        throw invalid(`input '${input.name}' is missing or not a tensor { type, data, dims }`, { input: input.name });
      }
      // Dtype, kind of array, rank, fixed dims and element count: a request that would not fit its batch is
      // refused alone (the target's own validateFeeds did all that already when it has one).
      const dims = validated ? tensor.dims : checkFeed(input.name, tensor, input, { allowNonFinite: true });
      const n = dims.length > 0 ? dims[0] : 1;
      if (rows >= 0 && n !== rows) throw new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', `inputs disagree on the batch size (${rows} vs ${n} for '${input.name}')`, { input: input.name });
      rows = n;
      if (axis !== undefined && axis < dims.length) length = Math.max(length, dims[axis]);
      same &&= last!.types[k] === tensor.type && sameFreeDims(last!.dims[k], dims, axis);
    }
    if (!Number.isInteger(rows) || rows < 1) throw invalid('the batch dimension of each request must be >= 1', { argument: 'feeds' });
    this.#describedRows = rows;
    this.#describedLength = length;
    if (same) return last!.key;
    // type:*xD1xD2|… (the batch axis and the padded axis are free)
    let key = '';
    const types: string[] = [];
    const allDims: number[][] = [];
    for (let k = 0; k < inputs.length; k++) {
      // The request's own copy (ownedCopy), whose dims the loop above checked.
      const { type, dims } = feeds[inputs[k].name];
      types.push(type);
      allDims.push(dims.slice());
      key += key === '' ? type : `|${type}`;
      for (let i = 0; i < dims.length; i++) key += i === 0 || i === axis ? (i === 0 ? ':*' : 'x*') : `x${dims[i]}`;
    }
    this.#lastKey = { key, types, dims: allDims };
    return key;
  }

  /** Hands a request's admission copies back to the slab (once; a no-op unless the slab recycles). */
  #release(request: Request): void {
    if (request.released) return;
    request.released = true;
    for (const name in request.feeds) this.#slab.release(request.feeds[name].data);
  }

  #remove(request: Request): void {
    this.#release(request);
    const queue = this.#queues[request.priority];
    const index = queue.indexOf(request);
    if (index >= 0) {
      queue.splice(index, 1);
      this.#queued--;
      this.#queuedRows -= request.rows;
    }
  }

  /** Drops the requests just marked running from the queues (one pass each, not one search per request). */
  #takeRunning(): void {
    for (let level = 0; level < this.#queues.length; level++) {
      const queue = this.#queues[level];
      if (!queue.some((request) => request.state === 'running')) continue;
      let kept = 0;
      for (const request of queue) {
        if (request.state === 'running') {
          this.#queued--;
          this.#queuedRows -= request.rows;
        } else {
          queue[kept++] = request;
        }
      }
      queue.length = kept;
    }
  }

  /** The oldest queued request of the most urgent level. */
  #head(): Request | undefined {
    for (const queue of this.#queues) if (queue.length > 0) return queue[0];
    return undefined;
  }

  /** Requests that can join the head's batch, in service order, up to maxBatchSize rows. */
  #collect(head: Request): Request[] {
    if (this.#unbatchableReason !== undefined) return [head];
    const batch: Request[] = [];
    let rows = 0;
    for (const queue of this.#queues) {
      for (const request of queue) {
        if (request.key !== head.key || rows + request.rows > this.#maxBatchSize) continue;
        batch.push(request);
        rows += request.rows;
        if (rows === this.#maxBatchSize) return batch;
      }
    }
    return batch;
  }

  #pump(): void {
    while (this.#inflight < this.#maxInflight) {
      const head = this.#head();
      if (head === undefined) break;
      // Fewer rows queued than a full batch and no preferred size to meet: only the delay can dispatch now.
      if (this.#queuedRows < this.#maxBatchSize && this.#preferred.length === 0 && this.#unbatchableReason === undefined) {
        const waited = now() - head.submittedAt;
        if (waited < this.#delayMs) {
          this.#arm(this.#delayMs - waited);
          return;
        }
      }
      let batch = this.#collect(head);
      const rows = batch.reduce((sum, r) => sum + r.rows, 0);
      const waited = now() - head.submittedAt;
      const full = rows >= this.#maxBatchSize || this.#unbatchableReason !== undefined;
      if (!full && waited < this.#delayMs) {
        const preferred = this.#preferredPrefix(batch);
        if (preferred === undefined) {
          this.#arm(this.#delayMs - waited);
          return;
        }
        batch = preferred;
      }
      this.#dispatch(batch);
    }
  }

  /** The longest prefix of `batch` whose rows add up to a preferred size, if any. */
  #preferredPrefix(batch: Request[]): Request[] | undefined {
    if (this.#preferred.length === 0) return undefined;
    const sums: number[] = [];
    let rows = 0;
    for (const request of batch) sums.push((rows += request.rows));
    for (const size of this.#preferred) {
      const end = sums.indexOf(size);
      if (end >= 0) return batch.slice(0, end + 1);
    }
    return undefined;
  }

  #arm(delayMs: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setPreciseTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, delayMs);
  }

  #dispatch(batch: Request[]): void {
    if (this.#timer !== undefined) {
      this.#timer();
      this.#timer = undefined;
    }
    const startedAt = now();
    for (const request of batch) {
      request.state = 'running';
      this.#queueWait.recordValue((startedAt - request.submittedAt) * 1000);
    }
    this.#takeRunning();
    this.#inflight++;
    this.#batches++;
    this.#batchSize.recordValue(batch.length);
    let feeds: Record<string, Tensor>;
    let rows = 0;
    for (const request of batch) rows += request.rows;
    const runRows = this.#bucketFor(rows);
    this.#paddedRows += runRows - rows;
    try {
      feeds = batch.length === 1 && runRows === rows && this.#padding === undefined ? batch[0].feeds : this.#concatenate(batch, runRows);
    } catch (error) {
      this.#finishBatch(batch, runRows, startedAt, undefined, error);
      return;
    }
    const target = this.#target;
    // Every request was scanned for NaN/Inf at admission when the target validated it: the batch need not be again.
    let run: Promise<Record<string, Tensor>>;
    try {
      run = target.validateFeeds !== undefined && target[inferPrescanned] !== undefined ? target[inferPrescanned]!(feeds) : target.infer(feeds);
    } catch (error) {
      run = Promise.reject(error);
    }
    for (const request of batch) this.#release(request);
    run.then(
      (outputs) => this.#finishBatch(batch, runRows, startedAt, outputs, undefined),
      (error: unknown) => this.#finishBatch(batch, runRows, startedAt, undefined, error),
    );
  }

  /** The rows a batch of `rows` runs as: the smallest bucket that holds it, or `rows` itself. */
  #bucketFor(rows: number): number {
    if (this.#unbatchableReason !== undefined) return rows;
    if (this.#bucketsIfPlanned && this.#target[plansPerShape]?.() !== true) return rows;
    for (const size of this.#buckets) if (size >= rows) return size;
    return rows;
  }

  #finishBatch(batch: Request[], runRows: number, startedAt: number, outputs: Record<string, Tensor> | undefined, error: unknown): void {
    this.#inflight--;
    this.#service.recordValue((now() - startedAt) * 1000);
    let parts: Record<string, Tensor>[] | undefined;
    if (outputs !== undefined) {
      try {
        parts = batch.length === 1 && runRows === batch[0].rows && this.#padding === undefined ? [outputs] : this.#split(batch, outputs, runRows);
        // Each request's share says which model version and backend produced the batch (resultInfo).
        const origin = originOf(outputs);
        if (origin !== undefined) for (const part of parts) tagResult(part, origin);
      } catch (splitError) {
        error = splitError;
      }
    }
    batch.forEach((request, i) => {
      if (request.state === 'done') return; // timed out or aborted while running: its result is dropped
      if (parts !== undefined) this.#succeed(request, parts[i]);
      else this.#fail(request, error instanceof EdgeInferError ? error : new EdgeInferError('EDGEINFER_INTERNAL', String((error as Error)?.message ?? error)));
    });
    this.#pump();
    this.#checkDrained();
  }

  /** Resolves (ok) or rejects the request with `value`; with preserveOrdering, once every earlier one has settled. */
  #settle(request: Request, ok: boolean, value: unknown): void {
    request.state = 'done';
    request.cleanup?.();
    if (!this.#preserveOrdering) {
      if (ok) request.resolve(value as Record<string, Tensor>);
      else request.reject(value);
      return;
    }
    this.#held.set(request.seq, { request, ok, value });
    for (let next = this.#held.get(this.#nextToSettle); next !== undefined; next = this.#held.get(this.#nextToSettle)) {
      this.#held.delete(this.#nextToSettle++);
      if (next.ok) next.request.resolve(next.value as Record<string, Tensor>);
      else next.request.reject(next.value);
    }
  }

  #succeed(request: Request, outputs: Record<string, Tensor>): void {
    this.#completed++;
    this.#latency.recordValue((now() - request.submittedAt) * 1000);
    this.#settle(request, true, outputs);
  }

  #fail(request: Request, error: unknown): void {
    this.#failed++;
    if (error instanceof EdgeInferError && error.code !== 'EDGEINFER_TIMEOUT' && error.code !== 'EDGEINFER_ABORTED') {
      this.#rejections[error.code] = (this.#rejections[error.code] ?? 0) + 1;
    }
    this.#settle(request, false, error);
    this.#checkDrained();
  }

  /**
   * One tensor per input: the requests' tensors stacked along axis 0, padded along the sequence axis, then
   * the last row repeated up to `runRows` rows (a batch bucket).
   */
  #concatenate(batch: Request[], runRows: number): Record<string, Tensor> {
    const feeds: Record<string, Tensor> = {};
    const padAxis = this.#padding?.axis;
    const padLength = padAxis === undefined ? 0 : Math.max(...batch.map((r) => r.length));
    for (const input of this.#target.inputs) {
      const first = batch[0].feeds[input.name];
      const dims = first.dims.slice();
      dims[0] = runRows;
      if (padAxis !== undefined && padAxis < dims.length) dims[padAxis] = padLength;
      const total = dims.reduce((a, b) => a * b, 1);
      const data = this.#batchBuffer(input.name, first.type, total);
      if (this.#padding !== undefined) {
        const fill = this.#padding.values?.[input.name] ?? 0;
        (data as { fill(value: number | bigint): unknown }).fill(first.type === 'int64' || first.type === 'uint64' ? BigInt(fill) : fill);
      }
      let offset = 0;
      for (const request of batch) {
        const tensor = request.feeds[input.name];
        const source = tensor.data;
        if (padAxis === undefined || padAxis >= dims.length || tensor.dims[padAxis] === padLength) {
          (data as { set(array: ArrayLike<number | bigint>, offset: number): void }).set(source as ArrayLike<number>, offset);
          offset += source.length;
          continue;
        }
        // Copy blocks of the request's inner size into the padded layout.
        const outer = tensor.dims.slice(0, padAxis).reduce((a, b) => a * b, 1);
        const inner = tensor.dims.slice(padAxis + 1).reduce((a, b) => a * b, 1);
        const block = tensor.dims[padAxis] * inner;
        const paddedBlock = padLength * inner;
        for (let o = 0; o < outer; o++) {
          (data as { set(array: ArrayLike<number | bigint>, offset: number): void }).set(
            (source as Float32Array).subarray(o * block, (o + 1) * block) as ArrayLike<number>,
            offset + o * paddedBlock,
          );
        }
        offset += outer * paddedBlock;
      }
      // Filler rows up to the bucket: copies of the last real row (values the model has seen, never NaN).
      const rowSize = total / runRows;
      for (; offset < total; offset += rowSize) data.copyWithin(offset, offset - rowSize, offset);
      feeds[input.name] = { type: first.type, data, dims };
    }
    return feeds;
  }

  /** `length` elements to concatenate a batch into: a new array, or for an Engine a view of the input's reused buffer. */
  #batchBuffer(name: string, type: Tensor['type'], length: number): TensorArray {
    if (this.#batchBuffers === undefined) return allocateTensorData(type, length);
    let buffer = this.#batchBuffers.get(name);
    if (buffer === undefined || buffer.length < length) {
      buffer = allocateTensorData(type, length);
      this.#batchBuffers.set(name, buffer);
    }
    return buffer.subarray(0, length) as TensorArray;
  }

  /**
   * Each request's rows of every output (copies: one caller's buffer is never another's), padding trimmed;
   * the rows past the requests' (a batch bucket's filler) are dropped.
   */
  #split(batch: Request[], outputs: Record<string, Tensor>, total: number): Record<string, Tensor>[] {
    const padAxis = this.#padding?.axis;
    const padLength = padAxis === undefined ? 0 : Math.max(...batch.map((r) => r.length));
    const parts: Record<string, Tensor>[] = batch.map(() => ({}));
    for (const [name, tensor] of Object.entries(outputs)) {
      if (tensor.dims[0] !== total) {
        throw new EdgeInferError('EDGEINFER_INTERNAL', `output '${name}' has first dimension ${tensor.dims[0]}, not the batch's ${total}: the model does not batch along axis 0`, { output: name });
      }
      const rowSize = tensor.data.length / total;
      const trims = padAxis !== undefined && padAxis < tensor.dims.length && tensor.dims[padAxis] === padLength;
      let row = 0;
      batch.forEach((request, i) => {
        const slice = tensor.data.slice(row * rowSize, (row + request.rows) * rowSize);
        row += request.rows;
        const dims = tensor.dims.slice();
        dims[0] = request.rows;
        if (!trims || request.length === padLength) {
          parts[i][name] = { type: tensor.type, data: slice, dims };
          return;
        }
        dims[padAxis!] = request.length;
        const outer = dims.slice(0, padAxis).reduce((a, b) => a * b, 1);
        const inner = dims.slice(padAxis! + 1).reduce((a, b) => a * b, 1);
        const trimmed = allocateTensorData(tensor.type, outer * request.length * inner);
        for (let o = 0; o < outer; o++) {
          (trimmed as { set(array: ArrayLike<number | bigint>, offset: number): void }).set(
            (slice as Float32Array).subarray(o * padLength * inner, o * padLength * inner + request.length * inner) as ArrayLike<number>,
            o * request.length * inner,
          );
        }
        parts[i][name] = { type: tensor.type, data: trimmed, dims };
      });
    }
    return parts;
  }

  #checkDrained(): void {
    if (this.#queued > 0 || this.#inflight > 0) return;
    const waiting = this.#drained;
    this.#drained = [];
    for (const resolve of waiting) resolve();
  }

  /**
   * Stops admitting requests. drain (default true): resolves once every queued and running request has
   * settled. drain false: queued requests are rejected with EDGEINFER_ABORTED, running ones finish.
   */
  async close(options?: { drain?: boolean }): Promise<void> {
    const o = checkOptions(options, 'options');
    this.#closed = true;
    if (o.drain === false) {
      for (const queue of this.#queues) {
        for (const request of queue.splice(0)) {
          this.#queued--;
          this.#queuedRows -= request.rows;
          this.#release(request);
          this.#fail(request, this.#reject('EDGEINFER_ABORTED', 'the scheduler was closed without draining'));
        }
      }
    }
    if (this.#queued === 0 && this.#inflight === 0) return;
    await new Promise<void>((resolve) => this.#drained.push(resolve));
  }

  get closed(): boolean {
    return this.#closed;
  }

  stats(): BatchSchedulerStats {
    const seconds = this.#submitted === 0 ? 0 : (now() - this.#firstSubmitAt) / 1000;
    return {
      submitted: this.#submitted,
      completed: this.#completed,
      failed: this.#failed,
      queued: this.#queued,
      inflightBatches: this.#inflight,
      batches: this.#batches,
      throughput: seconds > 0 ? this.#completed / seconds : 0,
      queueWaitMicros: summarize(this.#queueWait),
      batchSize: summarize(this.#batchSize),
      serviceMicros: summarize(this.#service),
      latencyMicros: summarize(this.#latency),
      rejections: { ...this.#rejections },
      paddedRows: this.#paddedRows,
    };
  }
}
