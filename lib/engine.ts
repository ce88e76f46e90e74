/**
 * Engine: load a model once, run it many times, on a backend chosen per model (lib/backends/: 'native', the
 * C++ executor, or 'onnxruntime'; 'auto' picks). The interface (load / infer / info / stats / dispose) is the
 * one the scheduler and hot-swap use; neither they nor this file know any backend by name.
 *
 * Calls go through the engine's run queue (lib/run-queue.ts): a few runs in flight, the rest wait by priority.
 * The model serving is a version: each call is admitted on the version current at that moment and runs on
 * it; swap() verifies, loads and warms a new version off the serving path and makes it current in one step;
 * a version's session is released when its last admitted call ends (reference count).
 */
import { EventEmitter } from 'node:events';
import { types } from 'node:util';

import { inferObserved, type BackendSession, type BackendStats, type OutputObservers, type Precision, type StepProfile } from './backends/backend';
import { listBackends, warmupFeeds, type AutoSelect } from './backends/index';
import type { OnnxRuntimeOptions } from './backends/onnxruntime-backend';
import { EdgeInferError } from './errors';
import { checkSwapRequest, prepareSwap, type SwapOptions, type SwapRequest, type SwapResult } from './hot-swap';
import { loadModel, readModelSource, resolveOptions, type ResolvedOptions } from './model-load';
import { inferPrescanned, plansPerShape } from './batch-target';
import { tagResult, type ResultInfo } from './result-info';
import { checkRunOptions, RunQueue, type RunOptions, type RunQueueStats } from './run-queue';
import { allocateTensorData, checkFeed, checkOwnedFeed, type Tensor, type TensorInfo } from './tensor';
import { checkInteger, checkOptions, invalid } from './validate';

export type { SwapOptions, SwapResult } from './hot-swap';
export { resultInfo, type ResultInfo } from './result-info';
export type { RunOptions, RunPriority } from './run-queue';

/** 'auto' or a registered backend's name. */
export type BackendName = 'auto' | 'native' | 'onnxruntime';
/** @deprecated use BackendName */
export type Backend = BackendName;

// #check's snapshot objects when it makes none (validateFeeds): never written.
const noFeeds: Record<string, Tensor> = Object.freeze({});
const noDims: Record<string, number[]> = Object.freeze({});

export interface EngineOptions {
  /**
   * Default 'auto': the native backend when it supports every node of the model, ONNX Runtime otherwise
   * (when onnxruntime-node is installed). info().backend and info().backendReason say which runs and why.
   */
  backend?: BackendName;
  /**
   * With backend 'auto': 'first' (default) takes the first backend, in the order native, onnxruntime, that is
   * installed and supports the model; 'fastest' loads every one that does, times them on warm-up inputs
   * (the input shapes with symbolic dims = 1) and keeps the fastest.
   */
  autoSelect?: AutoSelect;
  /** The version every result of this engine is attributed to (info().modelVersion). Default: the first 12 hex digits of the model's sha256. */
  version?: string;
  /**
   * 'float32' (default); 'int8': MatMul/Gemm/Conv weights quantized per output channel at load, activations
   * per call; 'fp16': their weights stored as IEEE halves (half the memory), math in float32. int8 and fp16
   * are native-backend modes (ONNX Runtime runs the model's own precision).
   */
  precision?: Precision;
  /** Intra-op threads (native and ONNX Runtime). Default: the machine's available parallelism. */
  threads?: number;
  /**
   * Native, with precision 'int8' or 'fp16': names of MatMul/Gemm/Conv nodes to keep in float32 (sensitive layers, e.g. the
   * last layer before a score). Names are those of the optimised graph: `engine.layers()` lists them.
   */
  keepFloat?: string[];
  /**
   * Native: infer() runs a model on the JS thread, like onnxruntime-node does, when its runs take less than this
   * many µs (measured per input shape): a hop to the libuv pool costs ~30-40 µs, more than a wake-word head
   * takes. Longer runs go to the pool and leave the event loop free. 0: always off-thread. Default 1000.
   */
  inlineBelowMicroseconds?: number;
  /** Native: time every step of the plan (two clock reads per step); read with engine.profile(). Default false. */
  profile?: boolean;
  /**
   * Accept NaN and ±Infinity in float inputs. Default false: such a feed is refused with
   * EDGEINFER_INVALID_ARGUMENT (an overflow upstream should not become a plausible score). When allowed,
   * non-finite values propagate through the model the way ONNX Runtime propagates them.
   */
  allowNonFinite?: boolean;
  /**
   * Native backend: distinct input shapes (e.g. batch sizes) kept planned while idle, each with its own arena.
   * Calls in flight share the plan of their shape and may keep as many again alive; past that, an off-thread
   * call needing yet another shape waits for one to drain, so memory stays bounded whatever the mix. Default 4.
   */
  maxPlans?: number;
  /**
   * Native: run the graph preparation (shape inference, fusions, layout passes: most of a load's CPU time) in
   * a worker thread, so a load beside serving traffic leaves the event loop free. Default false for load()
   * (a worker's start costs more than a small model's preparation); swap() defaults to true.
   */
  prepareOffThread?: boolean;
  /** ONNX Runtime backend: threads, graph optimisation level, execution providers (see OnnxRuntimeOptions). */
  onnxruntime?: OnnxRuntimeOptions;
  /**
   * infer() runs in flight at once; further calls wait in the engine's queue (by priority, FIFO within a level),
   * where an AbortSignal or timeout removes them. Default 1: the native backend runs one call of a plan at a time
   * anyway and ONNX Runtime's worker one call at a time, so more in flight only ties up libuv threads.
   */
  maxConcurrentRuns?: number;
}

export interface EngineInfo {
  /** The backend that runs the model ('native' or 'onnxruntime'). */
  backend: string;
  /** Why: requested, or what 'auto' found (missing ops, warm-up times), and any fallback (e.g. of an execution provider). */
  backendReason: string;
  /** options.version, else the first 12 hex digits of the sha256 of the model bytes. */
  modelVersion: string;
  precision: Precision;
  threads: number;
  opset: number;
  producer: string;
  producerVersion: string;
  /** The model's metadata_props. */
  metadata: Record<string, string>;
  /** Nodes of the graph the backend runs (native: after its optimisations). */
  nodes: number;
  /** How many times each of the backend's graph optimisations fired (empty for ONNX Runtime, which optimises internally). */
  optimizations: Record<string, number>;
  /** Inputs and outputs, symbolic dims as names (e.g. 'batch'). */
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** ONNX Runtime backend: its version, the execution providers in effect and requested, fallbacks. */
  onnxruntime?: Record<string, unknown>;
}

export interface EngineStats extends BackendStats {
  /** The engine's run queue and model versions. */
  engine: RunQueueStats & {
    maxConcurrentRuns: number;
    /** Model versions whose session is still held: the serving one plus retired ones with calls still running. */
    versionsLive: number;
    /** Successful swap() calls. */
    swaps: number;
  };
}

/** Events of an Engine (engine.on(name, listener)). */
export interface EngineEvents {
  'swap:started': [{ from: string; source: string }];
  'swap:verified': [{ from: string; sha256: string; signed: boolean }];
  'swap:switched': [{ from: string; to: string; backend: string }];
  'swap:failed': [{ from: string; error: EdgeInferError }];
}

/** One loaded model: its session, what info() says of it, and the calls admitted on it and not yet ended. */
interface Version {
  readonly id: string;
  readonly session: BackendSession;
  readonly info: EngineInfo;
  readonly origin: Readonly<ResultInfo>;
  refs: number;
  retired: boolean;
}

const disposedError = (message = 'the engine was disposed') => new EdgeInferError('EDGEINFER_DISPOSED', message);

// The intrinsic TypedArray.prototype.set: copies from a validated array by its internal slots, whatever own
// properties a caller put on it.
const typedArraySet = (Object.getPrototypeOf(Uint8Array.prototype) as { set: (this: Tensor['data'], source: Tensor['data']) => void }).set;

/** Copies of validated feeds, for a call that waits in the queue (the caller may reuse its buffers at once). */
function copyFeeds(feeds: Record<string, Tensor>): Record<string, Tensor> {
  const copies: Record<string, Tensor> = {};
  for (const [name, tensor] of Object.entries(feeds)) {
    const copy = allocateTensorData(tensor.type, tensor.dims.reduce((a, b) => a * b, 1));
    typedArraySet.call(copy, tensor.data);
    copies[name] = { type: tensor.type, data: copy, dims: tensor.dims };
  }
  return copies;
}

export class Engine extends EventEmitter<EngineEvents> {
  /** The version new calls are admitted on. */
  #current: Version;
  /** Every version whose session is held (the current one and retired ones with calls still running). */
  readonly #live = new Set<Version>();
  readonly #options: ResolvedOptions;
  readonly #queue: RunQueue;
  #closing = false;
  #closed: Promise<void> | undefined;
  #onClosed: (() => void) | undefined;
  /** swap() calls run one after another. */
  #swapChain: Promise<unknown> = Promise.resolve();
  #swaps = 0;

  private constructor(session: BackendSession, info: EngineInfo, options: ResolvedOptions) {
    super();
    this.#options = options;
    this.#queue = new RunQueue(options.maxConcurrentRuns);
    this.#current = this.#version(session, info);
  }

  /** The registered backends, in the order 'auto' tries them, and whether each can run in this process (if not, why). */
  static backends(): { name: string; available: boolean; reason?: string }[] {
    return listBackends();
  }

  /** Loads an ONNX model from a file path or its bytes, validates it and prepares it on a backend (see EngineOptions.backend). */
  static async load(source: string | Uint8Array, options?: EngineOptions): Promise<Engine> {
    const resolved = resolveOptions(options);
    const { session, info } = await loadModel(await readModelSource(source), resolved);
    return new Engine(session, info, resolved);
  }

  /** The serving model's inputs (symbolic dims as names). */
  get inputs(): TensorInfo[] {
    return this.#current.session.inputs;
  }

  get outputs(): TensorInfo[] {
    return this.#current.session.outputs;
  }

  #version(session: BackendSession, info: EngineInfo): Version {
    const version: Version = { id: info.modelVersion, session, info, origin: Object.freeze({ modelVersion: info.modelVersion, backend: session.backend }), refs: 0, retired: false };
    this.#live.add(version);
    return version;
  }

  /** A call admitted on `version` ended (ran, or left the queue): the last one of a retired version releases it. */
  #release(version: Version): void {
    version.refs--;
    if (version.retired && version.refs === 0) this.#free(version);
  }

  /** No new call is admitted on `version`; it is released now if none is running or waiting, else by the last. */
  #retire(version: Version): void {
    version.retired = true;
    if (version.refs === 0) this.#free(version);
  }

  #free(version: Version): void {
    if (!this.#live.delete(version)) return;
    version.session.dispose();
    if (this.#closing && this.#live.size === 0) this.#onClosed?.();
  }

  #serving(): Version {
    if (this.#closing) throw disposedError();
    return this.#current;
  }

  /**
   * Validates the feeds once and returns a snapshot of them (dims copied, each tensor read once), so a getter
   * or a later change to the caller's objects cannot make the run see something other than what was checked.
   */
  #check(feeds: Record<string, Tensor>, inputs: readonly TensorInfo[], scanned?: boolean): { feeds: Record<string, Tensor>; dims: Record<string, number[]> };
  #check(feeds: Record<string, Tensor>, inputs: readonly TensorInfo[], scanned: boolean, snapshot: false): void;
  #check(feeds: Record<string, Tensor>, inputs: readonly TensorInfo[], scanned = false, snapshot = true): { feeds: Record<string, Tensor>; dims: Record<string, number[]> } | void {
    if (feeds === null || typeof feeds !== 'object' || types.isProxy(feeds)) throw invalid('feeds must be a plain object of input name -> tensor');
    const checked: Record<string, Tensor> = snapshot ? {} : noFeeds;
    const dims: Record<string, number[]> = snapshot ? {} : noDims;
    // Plain loops, no closures or key arrays: this runs for every call (twice per BatchScheduler request).
    for (const name in feeds) {
      if (!Object.hasOwn(feeds, name)) continue;
      let known = false;
      for (const input of inputs) known ||= input.name === name;
      if (!known) throw invalid(`'${name}' is not an input of this model`, { input: name });
    }
    for (const input of inputs) {
      if (!Object.hasOwn(feeds, input.name)) throw invalid(`input '${input.name}' is missing`, { input: input.name });
      const tensor = feeds[input.name];
      if (tensor === null || typeof tensor !== 'object' || types.isProxy(tensor)) throw invalid(`input '${input.name}' must be a tensor { type, data, dims }`, { input: input.name });
      const allowNonFinite = scanned || this.#options.allowNonFinite;
      // validateFeeds(): nothing runs on these feeds, so they are checked where they are, with no copies made.
      if (!snapshot) {
        checkOwnedFeed(input.name, tensor, input, { allowNonFinite });
        continue;
      }
      const copy = { type: tensor.type, data: tensor.data, dims: tensor.dims };
      copy.dims = dims[input.name] = checkFeed(input.name, copy, input, { allowNonFinite });
      checked[input.name] = copy;
    }
    if (snapshot) return { feeds: checked, dims };
  }

  /**
   * Runs the model on the version serving now. At most maxConcurrentRuns calls run at once (off the JS thread,
   * or inline when the model is faster than a thread hop and nothing waits); the others wait in the engine's
   * queue by `priority`, where `signal` (EDGEINFER_ABORTED) or `timeoutMs` (EDGEINFER_TIMEOUT) removes them. A
   * running call is not interrupted: its promise is rejected at once and its result dropped. Outputs are new
   * arrays owned by the caller, and resultInfo(outputs) says which model version and backend produced them. A
   * call that leaves the JS thread or waits works on copies of the inputs taken before this returns, so the
   * caller may reuse, transfer or resize its buffers at once.
   */
  infer(feeds: Record<string, Tensor>, options?: RunOptions): Promise<Record<string, Tensor>> {
    return this.#infer(feeds, options, false);
  }

  /**
   * BatchScheduler's call: a batch concatenated from requests each already checked by validateFeeds(). It is
   * checked again (a swap may have changed the inputs since) except for the NaN/Inf scan, which would read
   * every value a second time.
   */
  [inferPrescanned](feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return this.#infer(feeds, undefined, true);
  }

  /** Whether the backend serving now plans per input shape (BatchScheduler then pads batches to a few sizes). */
  [plansPerShape](): boolean {
    return !this.#closing && this.#current.session.plansPerShape === true;
  }

  /** Calibration's call (see inferObserved): EDGEINFER_INTERNAL on a session that takes no observers. */
  [inferObserved](feeds: Record<string, Tensor>, observers: OutputObservers): Promise<Record<string, Tensor>> {
    return this.#infer(feeds, undefined, false, observers);
  }

  #infer(feeds: Record<string, Tensor>, options: RunOptions | undefined, scanned: boolean, observers?: OutputObservers): Promise<Record<string, Tensor>> {
    let version: Version;
    let checked: { feeds: Record<string, Tensor>; dims: Record<string, number[]> };
    let run: ReturnType<typeof checkRunOptions>;
    try {
      version = this.#serving();
      run = checkRunOptions(options);
      checked = this.#check(feeds, version.session.inputs, scanned);
      if (observers !== undefined && version.session.observesOutputs !== true) throw new EdgeInferError('EDGEINFER_INTERNAL', `the ${version.session.backend} backend takes no output observers`);
    } catch (error) {
      return Promise.reject(error);
    }
    version.refs++;
    const { session, origin } = version;
    const dims = checked.dims;
    let inputs = checked.feeds;
    let unexpect: (() => void) | undefined;
    return this.#queue.submit<Record<string, Tensor>>(
      {
        run: () => {
          unexpect?.();
          const outputs = session.run(inputs, dims, false, observers);
          return outputs instanceof Promise ? outputs.then((result) => tagResult(result, origin)) : tagResult(outputs, origin);
        },
        inlineNow: session.inlineNow === undefined ? undefined : () => session.inlineNow!(dims),
        detach: () => {
          inputs = copyFeeds(inputs);
          unexpect = session.expectRun?.(dims);
        },
        done: () => {
          unexpect?.();
          this.#release(version);
        },
      },
      run,
    );
  }

  /** The synchronous form of infer, for small models where a thread hop costs more than the run. Reads inputs in place; bypasses the queue. */
  inferSync(feeds: Record<string, Tensor>): Record<string, Tensor> {
    const { session, origin } = this.#serving();
    const checked = this.#check(feeds, session.inputs);
    return tagResult(session.run(checked.feeds, checked.dims, true) as Record<string, Tensor>, origin);
  }

  /**
   * Runs `runs` inferences on generated inputs of the model's input shapes (symbolic dims 1; floats in [-1, 1],
   * integers and bools 0), so the first real call does not pay for building plans and packing weights.
   */
  async warmup(runs = 1): Promise<void> {
    checkInteger(runs, 'runs', 0, 1_000_000);
    for (let i = 0; i < runs; i++) await this.infer(warmupFeeds(this.#serving().session).feeds);
  }

  /** Checks feeds exactly as infer() does (names, dtypes, dims, length, NaN/±Infinity) without running them. */
  validateFeeds(feeds: Record<string, Tensor>): void {
    this.#check(feeds, this.#serving().session.inputs, false, false);
  }

  /** Names of the MatMul/Gemm/Conv layers (after optimisation), in graph order: what keepFloat takes. */
  layers(): string[] {
    return this.#serving().session.info.layers.slice();
  }

  /** The serving model: backend and why, version, precision, opset, producer, metadata, inputs and outputs. */
  info(): EngineInfo {
    return this.#serving().info;
  }

  stats(): EngineStats {
    const { session } = this.#serving();
    return {
      ...session.stats(),
      engine: { ...this.#queue.stats(), maxConcurrentRuns: this.#queue.maxConcurrent, versionsLive: this.#live.size, swaps: this.#swaps },
    };
  }

  /**
   * Native: per-step wall time of the plan used last (or of `shapes`, as in stats().native.plans[].shapes), when loaded with
   * { profile: true }: op, node name, the kernel chosen, calls and mean / total microseconds.
   */
  profile(shapes?: string): StepProfile[] {
    const { session } = this.#serving();
    if (session.profile === undefined) throw invalid(`the ${session.backend} backend has no per-step profile (profile() is a native-backend feature)`);
    return session.profile(shapes);
  }

  /** True once dispose() was called (no call is admitted any more). */
  get disposed(): boolean {
    return this.#closing;
  }

  /**
   * Replaces the serving model with a verified one, without dropping a call. In order, off the serving path:
   * read `source` (a path, read asynchronously, or bytes, copied now), check its sha256 and Ed25519 signature
   * when given (EDGEINFER_VERIFY_FAILED), load it with the engine's options (or the overrides given), check its
   * inputs and outputs match the serving model's (EDGEINFER_VERIFY_FAILED unless allowSignatureChange), warm
   * it up; then switch in one step: calls admitted from then on run on it, calls already admitted (waiting or
   * running) finish on the version they were admitted on, and the old session is released when the last of
   * them ends. On any failure the old model keeps serving and the promise rejects with the reason (the load's
   * own code where loading failed). Concurrent swaps run one after another. Emits 'swap:started',
   * 'swap:verified', 'swap:switched' and 'swap:failed'.
   */
  swap(source: string | Uint8Array, options?: SwapOptions): Promise<SwapResult> {
    let request: SwapRequest;
    try {
      if (this.#closing) throw disposedError();
      request = checkSwapRequest(source, options, this.#options.raw);
    } catch (error) {
      this.#emitSafely('swap:failed', { from: this.#current.id, error: error as EdgeInferError });
      return Promise.reject(error);
    }
    const swapped = this.#swapChain.then(() => this.#swap(request));
    this.#swapChain = swapped.catch(() => undefined);
    return swapped;
  }

  async #swap(request: SwapRequest): Promise<SwapResult> {
    const from = this.#current.id;
    const live = () => {
      if (this.#closing) throw disposedError('the engine was disposed during the swap');
    };
    try {
      live();
      this.#emitSafely('swap:started', { from, source: request.label });
      const prepared = await prepareSwap(request, {
        serving: () => this.#current.session,
        live,
        verified: (sha256, signed) => this.#emitSafely('swap:verified', { from, sha256, signed }),
      });
      // The switch: one synchronous step, so no call can be admitted between the two versions.
      const start = performance.now();
      const previous = this.#current;
      this.#current = this.#version(prepared.session, prepared.info);
      this.#retire(previous);
      this.#swaps++;
      const switchMicros = (performance.now() - start) * 1000;
      const to = prepared.info.modelVersion;
      const backend = prepared.session.backend;
      this.#emitSafely('swap:switched', { from: previous.id, to, backend });
      return { from: previous.id, to, backend, sha256: prepared.sha256, signed: prepared.signed, signatureChanges: prepared.signatureChanges, timings: { ...prepared.timings, switchMicros } };
    } catch (error) {
      const failure = error instanceof EdgeInferError ? error : new EdgeInferError('EDGEINFER_INTERNAL', `swap failed: ${(error as Error)?.message ?? String(error)}`);
      this.#emitSafely('swap:failed', { from, error: failure });
      throw failure;
    }
  }

  /** Emits an event; a listener that throws cannot leave a swap half-done: its error is rethrown on the next tick. */
  #emitSafely<K extends keyof EngineEvents>(event: K, ...args: EngineEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: EngineEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
    }
  }

  /**
   * Stops admitting calls (EDGEINFER_DISPOSED) and releases the model once nothing runs on it. drain true
   * (default): calls already admitted, waiting or running, finish first. drain false: waiting calls are rejected
   * with EDGEINFER_DISPOSED; running ones still finish (memory is never freed under a running kernel). A swap in
   * progress is rejected. The promise resolves when every session is released; not awaiting it is safe.
   * Idempotent (a later call with drain false still rejects the waiting calls).
   */
  dispose(options?: { drain?: boolean }): Promise<void> {
    const o = checkOptions(options, 'options');
    if (o.drain !== undefined && typeof o.drain !== 'boolean') throw invalid('drain must be a boolean', { argument: 'drain' });
    if (!this.#closing) {
      this.#closing = true;
      this.#closed = new Promise((resolve) => (this.#onClosed = resolve));
      this.#retire(this.#current); // released now when nothing runs or waits on it, else by the last call
    }
    if (o.drain === false) this.#queue.rejectWaiting(disposedError('the engine was disposed while the call waited'));
    return Promise.all([this.#closed, this.#swapChain]).then(() => undefined);
  }
}
