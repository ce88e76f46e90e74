/**
 * ModelPool: named variants of one model (e.g. int8 / fp16 / fp32, or a smaller model) behind one infer().
 * One variant serves at a time; use() switches it. A call is admitted to the variant serving when infer() is
 * called and finishes there, whatever switches happen meanwhile: every variant stays loaded, so a switch
 * never drops or re-routes a request. The pool keeps per-variant stats and a recent-latency window that a
 * DegradationPolicy (lib/degradation.ts) reads. It knows nothing of backends: it talks to Engines.
 */
import { EventEmitter } from 'node:events';

import { plansPerShape } from './batch-target';
import { Engine, type EngineOptions } from './engine';
import { EdgeInferError } from './errors';
import { createLatencyHistogram, summarize, type LatencyHistogram, type LatencySummary } from './latency-histogram';
import { checkOwnedFeed, type Tensor, type TensorInfo } from './tensor';
import { checkInteger, checkOptions, invalid } from './validate';

/** What a pool variant must offer: an Engine, or anything shaped like one (a wrapper, a test double). */
export interface PoolEngine {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  infer(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  inferSync?(feeds: Record<string, Tensor>): Record<string, Tensor>;
  validateFeeds?(feeds: Record<string, Tensor>): void;
  info?(): { modelVersion?: string; backend?: string };
  /** Whether each batch size costs it a plan (an Engine on the native backend; see BatchScheduler batchBuckets). */
  [plansPerShape]?(): boolean;
  dispose?(): unknown;
  readonly disposed?: boolean;
}

/** A variant the pool loads itself (and disposes with the pool). */
export interface PoolVariantSpec {
  source: string | Uint8Array;
  options?: EngineOptions;
}

export interface ModelPoolOptions {
  /** The variant served at first and whenever no degradation rule is active. Default: the first variant listed. */
  default?: string;
  /** Recent-latency window per variant: the last this many calls … Default 256. */
  latencyWindowSize?: number;
  /** … that completed within this many ms. Default 30000. */
  latencyWindowMs?: number;
}

export interface PoolInferOptions {
  /** Run on this variant instead of the serving one (pinned; not affected by switches). */
  variant?: string;
  /**
   * Reject with EDGEINFER_ABORTED when aborted. The variant's run, once started, still finishes (its memory is
   * in use) and its result is dropped.
   */
  signal?: AbortSignal;
  /** Reject with EDGEINFER_TIMEOUT after this many ms (the run itself finishes, as with signal). */
  timeoutMs?: number;
}

/** Which variant answered a call (see poolResultInfo). */
export interface PoolResultInfo {
  variant: string;
  /** The variant engine's info().modelVersion, when it has one. */
  modelVersion?: string;
  /** The variant engine's info().backend, when it has one. */
  backend?: string;
  /** Admission order of the call in this pool (0, 1, …). */
  sequence: number;
}

export interface PoolSwitchEvent {
  from: string;
  to: string;
  /** 'manual' for use(name) without a reason; a DegradationPolicy says which rule and reading. */
  reason: string;
}

export interface PoolVariantStats {
  /** Calls admitted to this variant. */
  calls: number;
  completed: number;
  failed: number;
  /** Admitted and not yet settled. */
  inflight: number;
  /** Whether the pool loaded this variant itself (and disposes it). */
  owned: boolean;
  /** Wall time of each completed call, µs, since the pool was made. */
  latencyMicros: LatencySummary;
  /** The same over the recent window (latencyWindowSize / latencyWindowMs). */
  recentLatencyMicros: LatencySummary;
}

export interface ModelPoolStats {
  current: string;
  default: string;
  switches: number;
  variants: Record<string, PoolVariantStats>;
}

interface Variant {
  name: string;
  engine: PoolEngine;
  owned: boolean;
  calls: number;
  completed: number;
  failed: number;
  inflight: number;
  histogram: LatencyHistogram;
  /** Ring of recent (completedAt ms, micros) samples. */
  recentAt: Float64Array;
  recentMicros: Float64Array;
  recentNext: number;
  recentCount: number;
}

const resultInfo = new WeakMap<object, PoolResultInfo>();

/** Which pool variant produced these outputs (the object a ModelPool's infer / inferSync returned), else undefined. */
export function poolResultInfo(outputs: object): PoolResultInfo | undefined {
  return outputs !== null && typeof outputs === 'object' ? resultInfo.get(outputs) : undefined;
}

const now = () => performance.now();

function isPoolEngine(value: unknown): value is PoolEngine {
  if (value instanceof Engine) return true;
  const v = value as Partial<PoolEngine> | null;
  return v !== null && typeof v === 'object' && typeof v.infer === 'function' && Array.isArray(v.inputs) && Array.isArray(v.outputs);
}

const describeSignature = (infos: readonly TensorInfo[]) => infos.map((info) => `${info.name}: ${info.type}[${info.dims.join(', ')}]`).join('; ');

/**
 * Checks every variant's signature against the first's (same input and output names, dtypes and ranks;
 * fixed dims that two variants both fix must agree) and returns the pool's signature: a dim is fixed when any
 * variant fixes it, so feeds the pool accepts are accepted by every variant.
 */
function mergeSignatures(variants: Variant[], which: 'inputs' | 'outputs'): TensorInfo[] {
  const [first, ...rest] = variants;
  const merged: TensorInfo[] = first.engine[which].map((info) => ({ name: info.name, type: info.type, dims: info.dims.slice() }));
  for (const variant of rest) {
    const infos = variant.engine[which];
    const mismatch = (why: string, extra: Record<string, unknown> = {}) =>
      invalid(`variant '${variant.name}' is not compatible with '${first.name}': ${why}`, {
        argument: 'variants',
        variant: variant.name,
        [which]: { expected: describeSignature(first.engine[which]), got: describeSignature(infos) },
        ...extra,
      });
    const names = infos.map((info) => info.name).sort();
    const expected = merged.map((info) => info.name).sort();
    if (names.join('\u0000') !== expected.join('\u0000')) {
      throw mismatch(`its ${which} are [${names.join(', ')}], expected [${expected.join(', ')}]`);
    }
    for (const info of infos) {
      const target = merged.find((each) => each.name === info.name)!;
      if (info.type !== target.type) throw mismatch(`${which.slice(0, -1)} '${info.name}' is ${info.type}, expected ${target.type}`, { name: info.name });
      if (info.dims.length !== target.dims.length) {
        throw mismatch(`${which.slice(0, -1)} '${info.name}' has rank ${info.dims.length}, expected ${target.dims.length}`, { name: info.name });
      }
      info.dims.forEach((dim, i) => {
        const current = target.dims[i];
        if (typeof dim === 'number' && typeof current === 'number' && dim !== current) {
          throw mismatch(`${which.slice(0, -1)} '${info.name}' has dim ${i} = ${dim}, expected ${current}`, { name: info.name });
        }
        if (typeof dim === 'number') target.dims[i] = dim;
      });
    }
  }
  return merged;
}

export interface ModelPool {
  /** 'switch': the serving variant changed. 'dispose': dispose() began (no new calls are admitted). */
  on(event: 'switch', listener: (event: PoolSwitchEvent) => void): this;
  on(event: 'dispose', listener: () => void): this;
  once(event: 'switch', listener: (event: PoolSwitchEvent) => void): this;
  once(event: 'dispose', listener: () => void): this;
  off(event: 'switch', listener: (event: PoolSwitchEvent) => void): this;
  off(event: 'dispose', listener: () => void): this;
  emit(event: 'switch', payload: PoolSwitchEvent): boolean;
  emit(event: 'dispose'): boolean;
}

export class ModelPool extends EventEmitter {
  /** The pool's signature: the variants' common inputs (a dim fixed by any variant is fixed here) and outputs. */
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  readonly #variants = new Map<string, Variant>();
  readonly #default: string;
  readonly #windowSize: number;
  readonly #windowMs: number;
  #current: string;
  #servingSince = now();
  #switches = 0;
  #sequence = 0;
  #disposed = false;
  #disposing: Promise<void> | undefined;
  #idle: (() => void)[] = [];

  /**
   * A pool over already-loaded engines, by variant name. The pool does not own them: dispose() leaves them
   * loaded (ModelPool.load owns what it loads). Incompatible signatures: EDGEINFER_INVALID_ARGUMENT.
   */
  constructor(variants: Record<string, PoolEngine>, options?: ModelPoolOptions) {
    super();
    this.#init(variants);
    const o = checkOptions(options, 'options');
    const names = [...this.#variants.keys()];
    if (o.default !== undefined && (typeof o.default !== 'string' || !this.#variants.has(o.default))) {
      throw invalid(`default must name a variant (${names.map((n) => `'${n}'`).join(', ')}), got ${String(o.default)}`, { argument: 'default', got: o.default });
    }
    this.#default = (o.default as string | undefined) ?? names[0];
    this.#current = this.#default;
    this.#windowSize = checkInteger(o.latencyWindowSize ?? 256, 'latencyWindowSize', 1, 1 << 20);
    this.#windowMs = checkInteger(o.latencyWindowMs ?? 30000, 'latencyWindowMs', 1, 2 ** 31);
    for (const variant of this.#variants.values()) {
      variant.recentAt = new Float64Array(this.#windowSize);
      variant.recentMicros = new Float64Array(this.#windowSize);
    }
    const list = [...this.#variants.values()];
    this.inputs = mergeSignatures(list, 'inputs');
    this.outputs = mergeSignatures(list, 'outputs');
  }

  #init(variants: Record<string, PoolEngine>): void {
    if (variants === null || typeof variants !== 'object' || Array.isArray(variants)) {
      throw invalid('variants must be an object of variant name -> Engine', { argument: 'variants' });
    }
    const entries = Object.entries(variants);
    if (entries.length === 0) throw invalid('a pool needs at least one variant', { argument: 'variants' });
    for (const [name, engine] of entries) {
      if (name === '') throw invalid('variant names must not be empty', { argument: 'variants' });
      if (!isPoolEngine(engine)) throw invalid(`variant '${name}' must be an Engine (or an object with inputs, outputs and infer())`, { argument: 'variants', variant: name });
      if (engine.disposed === true) throw new EdgeInferError('EDGEINFER_DISPOSED', `variant '${name}' is a disposed engine`, { variant: name });
      this.#variants.set(name, {
        name,
        engine,
        owned: false,
        calls: 0,
        completed: 0,
        failed: 0,
        inflight: 0,
        histogram: createLatencyHistogram(),
        recentAt: new Float64Array(0),
        recentMicros: new Float64Array(0),
        recentNext: 0,
        recentCount: 0,
      });
    }
  }

  /**
   * Loads the variants given as { source, options } (in order, one at a time: peak memory is one load) and
   * takes the ones given as Engines as they are. The pool owns and disposes what it loaded. If a load fails or
   * the signatures disagree, what was loaded is disposed and the error is thrown.
   */
  static async load(variants: Record<string, PoolEngine | PoolVariantSpec>, options?: ModelPoolOptions): Promise<ModelPool> {
    if (variants === null || typeof variants !== 'object' || Array.isArray(variants)) {
      throw invalid('variants must be an object of variant name -> Engine or { source, options }', { argument: 'variants' });
    }
    const engines: Record<string, PoolEngine> = {};
    const loaded: Engine[] = [];
    const owned = new Set<string>();
    try {
      for (const [name, value] of Object.entries(variants)) {
        if (isPoolEngine(value)) {
          engines[name] = value;
          continue;
        }
        const spec = value as Partial<PoolVariantSpec> | null;
        if (spec === null || typeof spec !== 'object' || !(typeof spec.source === 'string' || spec.source instanceof Uint8Array)) {
          throw invalid(`variant '${name}' must be an Engine or { source: path or bytes, options? }`, { argument: 'variants', variant: name });
        }
        const engine = await Engine.load(spec.source, spec.options);
        loaded.push(engine);
        engines[name] = engine;
        owned.add(name);
      }
      return ModelPool.#create(engines, owned, options);
    } catch (error) {
      for (const engine of loaded) engine.dispose();
      throw error;
    }
  }

  static #create(engines: Record<string, PoolEngine>, owned: Set<string>, options?: ModelPoolOptions): ModelPool {
    const pool = new ModelPool(engines, options);
    for (const name of owned) pool.#variants.get(name)!.owned = true;
    return pool;
  }

  /** The serving variant's name. */
  get current(): string {
    return this.#current;
  }

  /** When the serving variant began serving (a performance.now() timestamp). */
  get servingSince(): number {
    return this.#servingSince;
  }

  /** The variant served when no degradation rule is active (options.default). */
  get defaultVariant(): string {
    return this.#default;
  }

  /** Variant names, in the order given. */
  get variants(): string[] {
    return [...this.#variants.keys()];
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  #variant(name: unknown, argument: string): Variant {
    const variant = typeof name === 'string' ? this.#variants.get(name) : undefined;
    if (variant === undefined) {
      throw invalid(`${argument} must name a variant (${this.variants.map((n) => `'${n}'`).join(', ')}), got ${String(name)}`, { argument, got: name });
    }
    return variant;
  }

  /** The engine behind a variant. */
  engine(name: string): PoolEngine {
    return this.#variant(name, 'name').engine;
  }

  /**
   * Serves `name` from now on. Calls already admitted finish on the variant they were admitted to; calls made
   * after this returns go to `name`. Emits 'switch' { from, to, reason } when the variant changes; returns
   * whether it did.
   */
  use(name: string, reason = 'manual'): boolean {
    this.#live();
    const variant = this.#variant(name, 'name');
    if (typeof reason !== 'string') throw invalid('reason must be a string', { argument: 'reason' });
    if (variant.name === this.#current) return false;
    const from = this.#current;
    this.#current = variant.name;
    this.#servingSince = now();
    this.#switches++;
    this.emit('switch', { from, to: variant.name, reason });
    return true;
  }

  #live(): void {
    if (this.#disposed) throw new EdgeInferError('EDGEINFER_DISPOSED', 'the model pool was disposed');
  }

  /** As the serving variant: a BatchScheduler over the pool pads its batches to a few sizes when that variant plans per shape. */
  [plansPerShape](): boolean {
    return !this.#disposed && this.#variants.get(this.#current)?.engine[plansPerShape]?.() === true;
  }

  /** Checks feeds against the pool's signature and the serving variant (as its infer would) without running them. */
  validateFeeds(feeds: Record<string, Tensor>): void {
    this.#live();
    this.#validate(feeds, this.#variants.get(this.#current)!);
  }

  #validate(feeds: Record<string, Tensor>, variant: Variant): void {
    if (feeds === null || typeof feeds !== 'object') throw invalid('feeds must be a plain object of input name -> tensor');
    for (const input of this.inputs) {
      if (!(input.name in feeds)) throw invalid(`input '${input.name}' is missing`, { input: input.name });
      checkOwnedFeed(input.name, feeds[input.name], input, { allowNonFinite: true });
    }
    variant.engine.validateFeeds?.(feeds);
  }

  /**
   * Runs the feeds on the serving variant (or options.variant). The variant is chosen when this is called and
   * the call finishes there even if the pool switches meanwhile. poolResultInfo(outputs) says which answered.
   */
  infer(feeds: Record<string, Tensor>, options?: PoolInferOptions): Promise<Record<string, Tensor>> {
    try {
      return this.#admit(feeds, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #admit(feeds: Record<string, Tensor>, options?: PoolInferOptions): Promise<Record<string, Tensor>> {
    this.#live();
    const o = checkOptions(options, 'options');
    const variant = o.variant === undefined ? this.#variants.get(this.#current)! : this.#variant(o.variant, 'variant');
    const signal = o.signal as AbortSignal | undefined;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('signal must be an AbortSignal', { argument: 'signal' });
    const timeoutMs = o.timeoutMs === undefined ? undefined : checkInteger(o.timeoutMs, 'timeoutMs', 0, 2 ** 31);
    if (signal?.aborted) throw new EdgeInferError('EDGEINFER_ABORTED', 'the request was aborted before it was admitted');
    this.#validate(feeds, variant);
    const sequence = this.#sequence++;
    const info = this.#resultInfo(variant, sequence);
    const startedAt = now();
    variant.calls++;
    variant.inflight++;
    let run: Promise<Record<string, Tensor>>;
    try {
      run = variant.engine.infer(feeds);
    } catch (error) {
      this.#settled(variant, startedAt, false);
      throw error;
    }
    const answer = run.then(
      (outputs) => {
        this.#settled(variant, startedAt, true);
        if (outputs !== null && typeof outputs === 'object') resultInfo.set(outputs, info);
        return outputs;
      },
      (error: unknown) => {
        this.#settled(variant, startedAt, false);
        throw error;
      },
    );
    if (signal === undefined && timeoutMs === undefined) return answer;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        cleanup();
        reject(new EdgeInferError('EDGEINFER_ABORTED', 'the request was aborted', { variant: variant.name }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          cleanup();
          reject(new EdgeInferError('EDGEINFER_TIMEOUT', `no result within ${timeoutMs} ms`, { variant: variant.name }));
        }, timeoutMs);
      }
      answer.then(
        (outputs) => {
          cleanup();
          resolve(outputs);
        },
        (error: unknown) => {
          cleanup();
          reject(error);
        },
      );
    });
  }

  /** infer on the calling thread (the variant's inferSync), for small models. */
  inferSync(feeds: Record<string, Tensor>, options?: Pick<PoolInferOptions, 'variant'>): Record<string, Tensor> {
    this.#live();
    const o = checkOptions(options, 'options');
    const variant = o.variant === undefined ? this.#variants.get(this.#current)! : this.#variant(o.variant, 'variant');
    if (typeof variant.engine.inferSync !== 'function') throw invalid(`variant '${variant.name}' has no inferSync()`, { variant: variant.name });
    this.#validate(feeds, variant);
    const info = this.#resultInfo(variant, this.#sequence++);
    const startedAt = now();
    variant.calls++;
    variant.inflight++;
    let outputs: Record<string, Tensor>;
    try {
      outputs = variant.engine.inferSync(feeds);
    } catch (error) {
      this.#settled(variant, startedAt, false);
      throw error;
    }
    this.#settled(variant, startedAt, true);
    if (outputs !== null && typeof outputs === 'object') resultInfo.set(outputs, info);
    return outputs;
  }

  #resultInfo(variant: Variant, sequence: number): PoolResultInfo {
    const info: PoolResultInfo = { variant: variant.name, sequence };
    try {
      const engineInfo = variant.engine.info?.();
      if (engineInfo?.modelVersion !== undefined) info.modelVersion = engineInfo.modelVersion;
      if (engineInfo?.backend !== undefined) info.backend = engineInfo.backend;
    } catch {
      // A disposed engine has no info; its infer will say so.
    }
    return info;
  }

  #settled(variant: Variant, startedAt: number, ok: boolean): void {
    variant.inflight--;
    if (ok) {
      const at = now();
      const micros = Math.max(1, (at - startedAt) * 1000);
      variant.completed++;
      variant.histogram.recordValue(micros);
      variant.recentAt[variant.recentNext] = at;
      variant.recentMicros[variant.recentNext] = micros;
      variant.recentNext = (variant.recentNext + 1) % this.#windowSize;
      variant.recentCount = Math.min(variant.recentCount + 1, this.#windowSize);
    } else {
      variant.failed++;
    }
    if (this.#idle.length > 0 && this.#inflight() === 0) {
      const waiting = this.#idle;
      this.#idle = [];
      for (const resolve of waiting) resolve();
    }
  }

  #inflight(): number {
    let total = 0;
    for (const variant of this.#variants.values()) total += variant.inflight;
    return total;
  }

  /**
   * Latency (µs) of the recent window of a variant (default: the serving one): its last latencyWindowSize
   * completed calls that finished within latencyWindowMs, and at or after `since` (a performance.now()
   * timestamp) when given. What a DegradationPolicy's p99 rule reads (since the variant began serving).
   */
  recentLatency(name?: string, options?: { since?: number }): LatencySummary {
    const variant = name === undefined ? this.#variants.get(this.#current)! : this.#variant(name, 'name');
    const o = checkOptions(options, 'options');
    if (o.since !== undefined && (typeof o.since !== 'number' || Number.isNaN(o.since))) throw invalid('since must be a performance.now() timestamp', { argument: 'since' });
    const since = Math.max(now() - this.#windowMs, (o.since as number | undefined) ?? -Infinity);
    const values: number[] = [];
    for (let i = 0; i < variant.recentCount; i++) if (variant.recentAt[i] >= since) values.push(variant.recentMicros[i]);
    if (values.length === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    values.sort((a, b) => a - b);
    // Nearest rank, as the HDR summaries report it.
    const at = (p: number) => values[Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1))];
    return {
      count: values.length,
      mean: values.reduce((a, b) => a + b, 0) / values.length,
      p50: at(50),
      p90: at(90),
      p99: at(99),
      max: values[values.length - 1],
    };
  }

  /** Empties the recent-latency window of every variant (e.g. after the load changed); all-time stats stay. */
  resetLatencyWindow(): void {
    for (const variant of this.#variants.values()) {
      variant.recentCount = 0;
      variant.recentNext = 0;
    }
  }

  stats(): ModelPoolStats {
    const variants: Record<string, PoolVariantStats> = {};
    for (const variant of this.#variants.values()) {
      variants[variant.name] = {
        calls: variant.calls,
        completed: variant.completed,
        failed: variant.failed,
        inflight: variant.inflight,
        owned: variant.owned,
        latencyMicros: summarize(variant.histogram),
        recentLatencyMicros: this.recentLatency(variant.name),
      };
    }
    return { current: this.#current, default: this.#default, switches: this.#switches, variants };
  }

  /**
   * Stops admitting calls (EDGEINFER_DISPOSED), waits for the admitted ones to settle, then disposes the engines
   * the pool loaded itself (engines it was given stay loaded). Idempotent.
   */
  dispose(): Promise<void> {
    if (this.#disposing !== undefined) return this.#disposing;
    this.#disposed = true;
    this.emit('dispose');
    this.#disposing = (async () => {
      if (this.#inflight() > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
      for (const variant of this.#variants.values()) if (variant.owned) variant.engine.dispose?.();
    })();
    return this.#disposing;
  }
}
