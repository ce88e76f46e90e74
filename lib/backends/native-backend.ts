/**
 * The native backend: the model is checked against the native op list, optimised (fusions, channels-last,
 * QDQ -> INT8: rewrites into native-only ops), and the optimized graph is lowered to a plan per distinct set
 * of input shapes (a model with a symbolic batch gets one plan per batch size seen, kept in a small cache);
 * each plan becomes a native model with its own arena, and an inference is one N-API call that allocates
 * nothing natively.
 */
import { awaitNative, callNative, EdgeInferError } from '../errors';
import { native, type NativeModel } from '../native';
import type { Model } from '../onnx/ir';
import { lowerToPlan } from '../onnx/lower';
import { checkNativeSupport, nativeOps } from '../onnx/native-ops';
import { prepareModelOffThread } from '../onnx/prepare-off-thread';
import { cloneModel, prepareModel, specializeForShapes, weightLayers } from '../onnx/pipeline';
import { allocateTensorData, type Tensor, type TensorInfo } from '../tensor';
import { checkInteger, checkOptions, invalid } from '../validate';
import type { Backend, BackendLoadOptions, BackendSession, BackendStats, OutputObservers, Precision, SessionInfo, StepProfile } from './backend';

interface CachedPlan {
  key: string;
  model: NativeModel;
  inputNames: string[];
  outputNames: string[];
  outputs: { type: Tensor['type']; dims: number[] }[];
  arenaBytes: number;
  intermediateBytes: number;
  steps: number;
  /** Smoothed wall time of a run (µs), undefined before the first; decides inline vs off-thread. */
  runMicros?: number;
  /** Off-thread runs not yet settled (an inline run would wait for them on the JS thread). */
  inFlight: number;
}

export interface NativeBackendOptions {
  precision: Precision;
  threads: number;
  /** Nodes kept float32 under precision 'int8'. */
  keepFloat?: ReadonlySet<string>;
  /**
   * infer() runs on the JS thread when this plan's runs take less than this many µs (the thread hop costs
   * ~30-40 µs, more than a small head takes), otherwise on the libuv pool. Default 1000.
   */
  inlineBelowMicroseconds?: number;
  /** Time every native step (see Engine profile()). */
  profile?: boolean;
  /**
   * Distinct input shape sets to keep planned when idle (least recently used is dropped). Calls in flight may
   * keep as many again alive; beyond that, an off-thread call that needs another plan waits for one to drain,
   * so plan memory stays bounded whatever the mix of shapes. Default 4.
   */
  maxPlans?: number;
  /** Run the graph preparation (shape inference, the optimiser) in a worker thread. Default false. */
  prepareOffThread?: boolean;
}

/** Updates a plan's smoothed run time (off-thread runs include the hop, so they over-estimate: safe side). */
function observe(plan: CachedPlan, start: number): void {
  const micros = (performance.now() - start) * 1000;
  plan.runMicros = plan.runMicros === undefined ? micros : 0.8 * plan.runMicros + 0.2 * micros;
}

export class NativeBackendSession implements BackendSession {
  readonly backend = 'native';
  /** Every live plan, least recently used first: the idle ones (cache) and those calls in flight still hold. */
  private readonly plans = new Map<string, CachedPlan>();
  /** Calls waiting in the engine's queue, by plan key: their plans are kept while idle (within 2 x maxPlans). */
  private readonly expected = new Map<string, number>();
  /** Off-thread calls waiting for a plan slot (all live plans busy); woken when a run settles. */
  private waiters: { wake: () => void; fail: (error: unknown) => void }[] = [];
  private runs = 0;
  private inlineRuns = 0;
  private plansBuilt = 0;
  private disposed = false;
  /** Copy counters of plans already dropped (live plans report their own). */
  private readonly droppedCopies = { calls: 0, bytes: 0, microseconds: 0 };

  constructor(
    private readonly model: Model,
    readonly inputs: TensorInfo[],
    readonly outputs: TensorInfo[],
    private readonly options: NativeBackendOptions,
    readonly info: SessionInfo = { nodes: model.graph.nodes.length, optimizations: {}, layers: weightLayers(model) },
  ) {}

  private get maxPlans(): number {
    return this.options.maxPlans ?? 4;
  }

  private key(dims: Record<string, number[]>): string {
    return this.inputs.map((input) => `${input.name}:${dims[input.name].join('x')}`).join(',');
  }

  /** Plans (or reuses the plan) for these input dims. Throws on shapes the model cannot take. */
  plan(dims: Record<string, number[]>): CachedPlan {
    if (this.disposed) throw new EdgeInferError('EDGEINFER_DISPOSED', 'the engine was disposed');
    const key = this.key(dims);
    const live = this.plans.get(key);
    if (live) {
      this.plans.delete(key);
      this.plans.set(key, live);
      return live;
    }
    this.makeRoom();
    const plan = this.build(key, dims);
    this.plans.set(key, plan);
    return plan;
  }

  private build(key: string, dims: Record<string, number[]>): CachedPlan {
    this.plansBuilt++;
    const specialized = specializeForShapes(this.model, dims);
    const lowered = lowerToPlan(specialized, { precision: this.options.precision, keepFloat: this.options.keepFloat });
    // Precision is chosen per step by the lowering (INT8 steps are the *S8Dynamic ops).
    const model = callNative(() => native.createModel(lowered.desc, { threads: this.options.threads, precision: 'float32', profile: this.options.profile ?? false }));
    const outputs = lowered.outputNames.map((name) => {
      const slot = lowered.desc.tensors[lowered.desc.outputs[lowered.outputNames.indexOf(name)]];
      const info = this.outputs.find((output) => output.name === name);
      return { type: (info?.type ?? 'float32') as Tensor['type'], dims: slot.dims.slice() };
    });
    return {
      key,
      model,
      inputNames: lowered.inputNames,
      outputNames: lowered.outputNames,
      outputs,
      arenaBytes: lowered.stats.arenaBytes,
      intermediateBytes: lowered.stats.intermediateBytes,
      steps: lowered.stats.steps,
      inFlight: 0,
    };
  }

  /**
   * Drops idle plans, least recently used first, until at most `limit` remain. Busy plans are never dropped;
   * plans that queued calls are expected to run on are kept too unless `keepExpected` is false.
   */
  private trim(limit: number, keepExpected = true): void {
    for (const [key, plan] of this.plans) {
      if (this.plans.size <= limit) break;
      if (plan.inFlight > 0 || (keepExpected && this.expected.has(key))) continue;
      this.drop(plan);
      this.plans.delete(key);
    }
  }

  private drop(plan: CachedPlan): void {
    const native = plan.model.stats();
    this.droppedCopies.calls += native.asyncCalls;
    this.droppedCopies.bytes += native.asyncCopyBytes;
    this.droppedCopies.microseconds += native.asyncCopyNanoseconds / 1000;
    plan.model.dispose();
  }

  /** True when a call needing a new plan must wait: every live slot is taken by plans with calls in flight. */
  private mustWait(dims: Record<string, number[]>): boolean {
    if (this.plans.has(this.key(dims))) return false;
    this.makeRoom();
    return this.plans.size >= 2 * this.maxPlans;
  }

  /** Before a new plan: idle plans down to maxPlans - 1, sparing expected ones while the live plans stay under 2 x maxPlans. */
  private makeRoom(): void {
    this.trim(this.maxPlans - 1);
    if (this.plans.size >= 2 * this.maxPlans) this.trim(2 * this.maxPlans - 1, false);
  }

  /**
   * A call with these input dims waits in the engine's queue: keep its plan when idle (a queue cycling through
   * more shapes than maxPlans would otherwise rebuild a plan per call). The returned function ends that.
   */
  expectRun(dims: Record<string, number[]>): () => void {
    const key = this.key(dims);
    this.expected.set(key, (this.expected.get(key) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const count = this.expected.get(key)! - 1;
      if (count === 0) this.expected.delete(key);
      else this.expected.set(key, count);
    };
  }

  /** Whether an infer() with these input dims would run on the JS thread now: a plan that is fast and has no call in flight. */
  inlineNow(dims: Record<string, number[]>): boolean {
    if (this.disposed) return false;
    const plan = this.plans.get(this.key(dims));
    return plan !== undefined && this.runsInline(plan);
  }

  private runsInline(plan: CachedPlan): boolean {
    return plan.inFlight === 0 && plan.runMicros !== undefined && plan.runMicros < (this.options.inlineBelowMicroseconds ?? 1000);
  }

  readonly observesOutputs = true;
  readonly plansPerShape = true;

  run(feeds: Record<string, Tensor>, dims: Record<string, number[]>, sync: boolean, observers?: OutputObservers): Promise<Record<string, Tensor>> | Record<string, Tensor> {
    if (!sync && this.mustWait(dims)) {
      // The run starts later: copy the inputs now, the caller may reuse its buffers once infer() returned.
      const copies: Record<string, Tensor> = {};
      for (const [name, tensor] of Object.entries(feeds)) copies[name] = { ...tensor, data: tensor.data.slice() as Tensor['data'] };
      return new Promise<void>((wake, fail) => this.waiters.push({ wake, fail })).then(() => this.run(copies, dims, false, observers));
    }
    const plan = this.plan(dims);
    const inputs = plan.inputNames.map((name) => feeds[name].data);
    const results: Record<string, Tensor> = {};
    const observing = observers === undefined ? undefined : plan.outputNames.map((name) => observers[name] ?? null);
    const outputs = plan.outputNames.map((name, i) => {
      if (observing?.[i]) return null;
      const { type, dims: outDims } = plan.outputs[i];
      const data = allocateTensorData(type, outDims.reduce((a, b) => a * b, 1));
      results[name] = { type, data, dims: outDims };
      return data;
    });
    this.runs++;
    const start = performance.now();
    if (sync || this.runsInline(plan)) {
      try {
        callNative(() => plan.model.run(inputs, outputs, false, observing));
      } finally {
        // A synchronous run past the limit (sync calls never wait) leaves its plan idle: trim it away now.
        if (this.plans.size > this.maxPlans) this.trim(this.maxPlans);
      }
      observe(plan, start);
      if (sync) return results;
      this.inlineRuns++;
      return Promise.resolve(results);
    }
    plan.inFlight++;
    const settle = () => {
      plan.inFlight--;
      observe(plan, start);
      this.trim(this.maxPlans);
      // Wake the waiters: each re-checks for a slot and waits again if there is none.
      const waiters = this.waiters;
      this.waiters = [];
      for (const waiter of waiters) waiter.wake();
    };
    return awaitNative(callNative(() => plan.model.run(inputs, outputs, true, observing)) as Promise<void>).then(
      () => (settle(), results),
      (error: unknown) => {
        settle();
        throw error;
      },
    );
  }

  stats(): BackendStats {
    let weightBytes = 0;
    const asyncCopies = { ...this.droppedCopies };
    for (const plan of this.plans.values()) {
      const native = plan.model.stats();
      weightBytes = Math.max(weightBytes, native.weightBytes + native.constantBytes);
      asyncCopies.calls += native.asyncCalls;
      asyncCopies.bytes += native.asyncCopyBytes;
      asyncCopies.microseconds += native.asyncCopyNanoseconds / 1000;
    }
    return {
      backend: 'native',
      precision: this.options.precision,
      weightBytes,
      runs: this.runs,
      inlineRuns: this.inlineRuns,
      asyncCopies,
      native: {
        plans: [...this.plans.values()].map((plan) => ({ shapes: plan.key, arenaBytes: plan.arenaBytes, intermediateBytes: plan.intermediateBytes, steps: plan.steps })),
        plansBuilt: this.plansBuilt,
      },
    };
  }

  profile(shapes?: string): StepProfile[] {
    if (this.disposed) throw new EdgeInferError('EDGEINFER_DISPOSED', 'the engine was disposed');
    if (!this.options.profile) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', 'profiling is off: load the engine with { profile: true }');
    const plan = shapes === undefined ? [...this.plans.values()].at(-1) : this.plans.get(shapes);
    if (plan === undefined) return [];
    return plan.model.stats().steps.map((step) => ({
      op: step.op,
      name: step.name,
      kernel: step.kernel,
      calls: step.calls,
      totalMicroseconds: step.totalNanoseconds / 1000,
      meanMicroseconds: step.calls > 0 ? step.totalNanoseconds / 1000 / step.calls : 0,
    }));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.fail(new EdgeInferError('EDGEINFER_DISPOSED', 'the engine was disposed while the call waited for a plan'));
    for (const plan of this.plans.values()) plan.model.dispose();
    this.plans.clear();
  }
}

/** The native options of EngineOptions, validated. */
function nativeOptions(options: BackendLoadOptions): NativeBackendOptions & { keepFloat: ReadonlySet<string> } {
  const o = options.raw;
  if (o.keepFloat !== undefined && (!Array.isArray(o.keepFloat) || o.keepFloat.some((name) => typeof name !== 'string'))) {
    throw invalid('keepFloat must be an array of node names', { argument: 'keepFloat' });
  }
  if (o.profile !== undefined && typeof o.profile !== 'boolean') throw invalid('profile must be a boolean', { argument: 'profile' });
  const inlineBelowMicroseconds = o.inlineBelowMicroseconds ?? 1000;
  if (typeof inlineBelowMicroseconds !== 'number' || !(inlineBelowMicroseconds >= 0)) {
    throw invalid('inlineBelowMicroseconds must be a number >= 0', { argument: 'inlineBelowMicroseconds' });
  }
  const maxPlans = checkInteger(o.maxPlans ?? 4, 'maxPlans', 1, 1024);
  if (o.prepareOffThread !== undefined && typeof o.prepareOffThread !== 'boolean') throw invalid('prepareOffThread must be a boolean', { argument: 'prepareOffThread' });
  return {
    precision: options.precision,
    threads: options.threads,
    keepFloat: new Set((o.keepFloat as string[] | undefined) ?? []),
    profile: o.profile === true,
    inlineBelowMicroseconds,
    maxPlans,
    prepareOffThread: o.prepareOffThread === true,
  };
}

export const nativeBackend: Backend = {
  name: 'native',

  isAvailable: () => true,

  unavailableError: () => new EdgeInferError('EDGEINFER_BACKEND_UNAVAILABLE', 'the native backend is always available'),

  checkOptions(options) {
    checkOptions(options.raw, 'options');
    nativeOptions(options);
  },

  supports(model: Model) {
    try {
      checkNativeSupport(model);
      return { ok: true };
    } catch (error) {
      if (!(error instanceof EdgeInferError) || error.code !== 'EDGEINFER_UNSUPPORTED_OP') throw error;
      return { ok: false, reason: `the native backend lacks ${error.message.replace(/^unsupported ops: /, '')}`, unsupported: error.detail?.unsupported as { op: string; nodes: string[] }[] };
    }
  },

  async load(source, options) {
    const o = nativeOptions(options);
    checkNativeSupport(source.model);
    // The optimiser rewrites the graph: work on a copy (weights shared), the source may serve another backend;
    // off the JS thread on request (a worker gets its own copy).
    const prepared = o.prepareOffThread
      ? await prepareModelOffThread(source.model, nativeOps)
      : prepareModel(cloneModel(source.model), { supportedOps: nativeOps });
    const layers = weightLayers(prepared.model);
    const unknown = [...o.keepFloat].filter((name) => !layers.includes(name));
    if (unknown.length > 0) throw invalid(`keepFloat names nodes that are not MatMul/Gemm/Conv layers: ${unknown.join(', ')}`, { argument: 'keepFloat', unknown, layers });
    const session = new NativeBackendSession(prepared.model, prepared.inputs, prepared.outputs, o, {
      nodes: prepared.model.graph.nodes.length,
      optimizations: prepared.optimizations,
      layers,
      ...(o.prepareOffThread ? { notes: ['graph prepared in a worker thread'] } : {}),
    });
    // Plan eagerly (symbolic dims at 1 when there are any), so errors surface at load, not at the first infer.
    // With symbolic inputs the probe shapes may simply not fit the model (a 512-wide STFT window on 1 sample):
    // such a failure says nothing and is dropped. One that would fail at every shape, a dim the shape inference
    // cannot resolve (e.g. a Reshape target from Shape arithmetic), is a limit of this backend: UNSUPPORTED_OP,
    // which 'auto' hands on to the next backend.
    const symbolic = prepared.inputs.some((input) => input.dims.some((dim) => typeof dim !== 'number'));
    try {
      session.plan(Object.fromEntries(prepared.inputs.map((input) => [input.name, input.dims.map((dim) => (typeof dim === 'number' ? dim : 1))])));
    } catch (error) {
      if (!symbolic) {
        session.dispose();
        throw error;
      }
      if (error instanceof EdgeInferError && /has a symbolic dimension .* after shape inference/.test(error.message)) {
        session.dispose();
        throw new EdgeInferError('EDGEINFER_UNSUPPORTED_OP', `the native backend cannot resolve this model's shapes: ${error.message}`, { ...error.detail });
      }
    }
    return session;
  },
};
