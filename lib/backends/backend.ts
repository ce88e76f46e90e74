import type { NativeCalibrator } from '../native';
/**
 * The backend boundary. A backend says whether it can run in this process (isAvailable), whether it can run
 * a given model with the given options (supports), and loads a session (load). Everything specific to one
 * backend (its op list, the graph passes it runs, its session, its stats) lives in its own file in this
 * folder; the registry (index.ts) lists them in order of preference and does the 'auto' selection, so
 * Engine, the scheduler and hot-swap know no backend by name.
 */
import type { EdgeInferError } from '../errors';
import type { Model } from '../onnx/ir';
import type { Tensor, TensorInfo } from '../tensor';

export type Precision = 'float32' | 'int8' | 'fp16';

/** The model as Engine.load read it: the bytes (and where they came from) and the parsed, validated graph. */
export interface ModelSource {
  bytes: Uint8Array;
  /** The file the bytes were read from, when loaded from a path. */
  path?: string;
  /** Folder against which external data files are resolved. */
  baseDir?: string;
  /**
   * The parsed and validated model, shared by every backend loaded from this source: read it, never change
   * it (a backend that rewrites the graph works on cloneModel(model)).
   */
  model: Model;
}

/**
 * The validated options every backend receives. Backend-specific options arrive unvalidated in `raw` (the
 * caller's EngineOptions); each backend checks its own in checkOptions().
 */
export interface BackendLoadOptions {
  precision: Precision;
  threads: number;
  raw: Readonly<Record<string, unknown>>;
}

export type Support = { ok: true } | { ok: false; reason: string; unsupported?: { op: string; nodes: string[] }[] };

export interface Backend {
  /** The name callers use in EngineOptions.backend and that info() / stats() report. */
  readonly name: string;
  /** Whether this backend can run in this process at all (its runtime is installed and loads). */
  isAvailable(): boolean;
  /** EDGEINFER_BACKEND_UNAVAILABLE saying why and how to install what is missing (when !isAvailable()). */
  unavailableError(): EdgeInferError;
  /** A short hint for an error raised when no backend could run a model: how to make this one usable. */
  readonly installHint?: string;
  /** Throws EDGEINFER_INVALID_ARGUMENT for a bad value of an option this backend reads. Called for every backend. */
  checkOptions(options: BackendLoadOptions): void;
  /** Whether this backend can run every node of the model with these options (it need not be available). */
  supports(model: Model, options: BackendLoadOptions): Support;
  /** Loads a session. Throws an EdgeInferError (EDGEINFER_UNSUPPORTED_OP when it finds it cannot run a node after all). */
  load(source: ModelSource, options: BackendLoadOptions): Promise<BackendSession>;
}

/** Counters every backend keeps, plus a part of its own under its name. */
export interface BackendStats {
  backend: string;
  precision: Precision;
  /**
   * Bytes of weights and constants the backend holds. native: the largest plan's packed weights in the
   * precision's form plus the constants still needed at run time. onnxruntime: the model's initializer bytes
   * (ONNX Runtime's own copies and arena are not visible from JS).
   */
  weightBytes: number;
  /** infer() and inferSync() calls run. */
  runs: number;
  /** infer() calls that ran on the JS thread because the model is fast (native, see inlineBelowMicroseconds). */
  inlineRuns: number;
  /**
   * What owning their memory cost the off-thread runs: inputs are copied at submission and outputs delivered
   * at completion (the inline and sync paths copy nothing).
   */
  asyncCopies: { calls: number; bytes: number; microseconds: number };
  /**
   * native: the live plans, by input shape (arena bytes vs. the sum of all intermediates), and how many plans
   * were built in all (more than the shapes seen: plans were dropped and rebuilt, see maxPlans).
   */
  native?: { plans: { shapes: string; arenaBytes: number; intermediateBytes: number; steps: number }[]; plansBuilt: number };
  /** onnxruntime: version, execution providers in effect, worker and session state. */
  onnxruntime?: {
    version: string;
    executionProviders: string[];
    /** Calls sent to the worker and not yet answered. */
    inFlight: number;
    /** Whether inferSync() created its calling-thread session yet. */
    syncSession: boolean;
  };
}

/** Per-step times of one plan, from a session created with profile: true. */
export interface StepProfile {
  op: string;
  name: string;
  kernel: string;
  calls: number;
  /** Mean wall time per call. */
  meanMicroseconds: number;
  totalMicroseconds: number;
}

/** What a loaded backend reports about the graph it runs (for Engine.info()). */
export interface SessionInfo {
  /** Nodes of the graph the backend runs (native: after its optimisations). */
  nodes: number;
  /** How many times each of the backend's own graph optimisations fired (empty where the runtime optimises internally). */
  optimizations: Record<string, number>;
  /** MatMul/Gemm/Conv node names in graph order (what keepFloat takes, native). */
  layers: string[];
  /** Facts only this backend has (onnxruntime: version, execution providers in effect, fallbacks), under its name. */
  details?: Record<string, unknown>;
  /** Something the caller asked for that this backend could not do as asked (e.g. a provider fallback). */
  notes?: string[];
}

/**
 * Outputs handed straight to native calibrators (output name -> its NativeCalibrator) instead of to JS: the
 * statistics are added on the thread that ran the model, and those outputs are left out of the result.
 */
export type OutputObservers = Record<string, NativeCalibrator>;

/**
 * Engine's internal method for calibration (not public API): infer() with OutputObservers, on a session that
 * takes them (observesOutputs); the observed outputs are left out of the result.
 */
export const inferObserved = Symbol('edgeinfer.inferObserved');

export interface BackendSession {
  readonly backend: string;
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  readonly info: SessionInfo;
  /**
   * Runs validated feeds (Engine checked names, dtypes, dims and values and took a snapshot). sync: on the
   * calling thread, reading the inputs in place. Otherwise the session decides where to run, but a run that
   * leaves the JS thread works on copies of the inputs taken before this returns.
   */
  run(feeds: Record<string, Tensor>, dims: Record<string, number[]>, sync: boolean, observers?: OutputObservers): Promise<Record<string, Tensor>> | Record<string, Tensor>;
  /** Whether run() takes observers (native only). */
  readonly observesOutputs?: boolean;
  /** Whether each distinct set of input shapes costs a plan (native); absent: shapes are free (onnxruntime). */
  readonly plansPerShape?: boolean;
  /**
   * Whether run(feeds, dims, false) would complete synchronously on the calling thread right now (a model
   * faster than a thread hop). Engine then runs it at once instead of queueing it. Absent: never.
   */
  inlineNow?(dims: Record<string, number[]>): boolean;
  /**
   * A call with these input dims waits in the engine's queue and will run later: the session may keep what it
   * needs for them (native: the plan of that shape). Call the returned function when the call starts or leaves.
   */
  expectRun?(dims: Record<string, number[]>): () => void;
  stats(): BackendStats;
  /** Step times of the plan for these input shapes (the most recently used plan when omitted); absent where the backend has none. */
  profile?(shapes?: string): StepProfile[];
  /** Releases the session; calls in flight finish first. Idempotent. */
  dispose(): void;
}
