/**
 * Engine: load a model once, run it many times, on a backend chosen per model (lib/backends/: 'native', the
 * C++ executor, or 'onnxruntime'; 'auto' picks). The interface (load / infer / info / stats / dispose) is the
 * one the scheduler and hot-swap use; neither they nor this file know any backend by name.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { types } from 'node:util';

import type { BackendLoadOptions, BackendSession, BackendStats, Precision, StepProfile } from './backends/backend';
import { backends, findBackend, listBackends, loadOnBackend, type AutoSelect } from './backends/index';
import type { OnnxRuntimeOptions } from './backends/onnxruntime-backend';
import { EdgeInferError } from './errors';
import { readValidatedModel } from './onnx/pipeline';
import { checkFeed, type Tensor, type TensorInfo } from './tensor';
import { checkInteger, checkOneOf, checkOptions, invalid } from './validate';

/** 'auto' or a registered backend's name. */
export type BackendName = 'auto' | 'native' | 'onnxruntime';
/** @deprecated use BackendName */
export type Backend = BackendName;

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
  /** ONNX Runtime backend: threads, graph optimisation level, execution providers (see OnnxRuntimeOptions). */
  onnxruntime?: OnnxRuntimeOptions;
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

export type EngineStats = BackendStats;

export class Engine {
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  #session: BackendSession | undefined;
  readonly #info: EngineInfo;

  readonly #layers: string[];
  readonly #allowNonFinite: boolean;

  private constructor(session: BackendSession, allowNonFinite: boolean, info: EngineInfo) {
    this.#layers = session.info.layers;
    this.#allowNonFinite = allowNonFinite;
    this.#session = session;
    this.#info = info;
    this.inputs = session.inputs;
    this.outputs = session.outputs;
  }

  /** The registered backends, in the order 'auto' tries them, and whether each can run in this process (if not, why). */
  static backends(): { name: string; available: boolean; reason?: string }[] {
    return listBackends();
  }

  /** Loads an ONNX model from a file path or its bytes, validates it and prepares it on a backend (see EngineOptions.backend). */
  static async load(source: string | Uint8Array, options?: EngineOptions): Promise<Engine> {
    const o = checkOptions(options, 'options');
    const names = ['auto', ...backends().map((backend) => backend.name)];
    const backend = checkOneOf(o.backend ?? 'auto', names, 'backend');
    const autoSelect = checkOneOf(o.autoSelect ?? 'first', ['first', 'fastest'] as const, 'autoSelect');
    const precision = checkOneOf(o.precision ?? 'float32', ['float32', 'int8', 'fp16'] as const, 'precision');
    const threads = checkInteger(o.threads ?? defaultThreads(), 'threads', 1, 256);
    if (o.allowNonFinite !== undefined && typeof o.allowNonFinite !== 'boolean') throw invalid('allowNonFinite must be a boolean', { argument: 'allowNonFinite' });
    const allowNonFinite = o.allowNonFinite === true;
    if (o.version !== undefined && (typeof o.version !== 'string' || o.version === '')) throw invalid('version must be a non-empty string', { argument: 'version' });
    const loadOptions: BackendLoadOptions = { precision, threads, raw: o };
    // Every backend checks its own options, used or not, so a typo fails here rather than on another machine.
    for (const each of backends()) each.checkOptions(loadOptions);
    if (backend !== 'auto' && !findBackend(backend)!.isAvailable()) throw findBackend(backend)!.unavailableError();
    let bytes: Uint8Array;
    let file: string | undefined;
    let baseDir: string | undefined;
    if (typeof source === 'string') {
      try {
        bytes = await fs.readFile(source);
      } catch (error) {
        throw invalid(`cannot read model file '${source}': ${(error as Error).message}`, { path: source });
      }
      file = source;
      baseDir = path.dirname(path.resolve(source));
    } else if (source instanceof Uint8Array) {
      bytes = source;
    } else {
      throw invalid('source must be a file path or a Uint8Array of ONNX bytes');
    }
    const model = readValidatedModel(bytes, { baseDir });
    const modelVersion = (o.version as string | undefined) ?? createHash('sha256').update(bytes).digest('hex').slice(0, 12);
    const { session, reason } = await loadOnBackend(backend, { bytes, path: file, baseDir, model }, loadOptions, autoSelect);
    const notes = session.info.notes ?? [];
    return new Engine(session, allowNonFinite, {
      backend: session.backend,
      backendReason: notes.length > 0 ? `${reason}; ${notes.join('; ')}` : reason,
      modelVersion,
      precision: session.stats().precision,
      threads,
      opset: model.opsets.get('') ?? 0,
      producer: model.producerName,
      producerVersion: model.producerVersion,
      metadata: { ...model.metadata },
      nodes: session.info.nodes,
      optimizations: session.info.optimizations,
      inputs: session.inputs,
      outputs: session.outputs,
      ...(session.info.details ? { [session.backend]: session.info.details } : {}),
    });
  }

  #live(): BackendSession {
    if (this.#session === undefined) throw new EdgeInferError('EDGEINFER_DISPOSED', 'the engine was disposed');
    return this.#session;
  }

  /**
   * Validates the feeds once and returns a snapshot of them (dims copied, each tensor read once), so a getter
   * or a later change to the caller's objects cannot make the run see something other than what was checked.
   */
  #check(feeds: Record<string, Tensor>): { feeds: Record<string, Tensor>; dims: Record<string, number[]> } {
    if (feeds === null || typeof feeds !== 'object' || types.isProxy(feeds)) throw invalid('feeds must be a plain object of input name -> tensor');
    const checked: Record<string, Tensor> = {};
    const dims: Record<string, number[]> = {};
    const names = Object.keys(feeds);
    for (const name of names) {
      if (!this.inputs.some((input) => input.name === name)) throw invalid(`'${name}' is not an input of this model`, { input: name });
    }
    for (const input of this.inputs) {
      if (!names.includes(input.name)) throw invalid(`input '${input.name}' is missing`, { input: input.name });
      const tensor = feeds[input.name];
      if (tensor === null || typeof tensor !== 'object' || types.isProxy(tensor)) throw invalid(`input '${input.name}' must be a tensor { type, data, dims }`, { input: input.name });
      const snapshot = { type: tensor.type, data: tensor.data, dims: tensor.dims };
      dims[input.name] = checkFeed(input.name, snapshot, input, { allowNonFinite: this.#allowNonFinite });
      checked[input.name] = { type: snapshot.type, data: snapshot.data, dims: dims[input.name] };
    }
    return { feeds: checked, dims };
  }

  /**
   * Runs the model: off the JS thread on the libuv pool, or inline when its runs are shorter than
   * inlineBelowMicroseconds (see EngineOptions). Outputs are new arrays owned by the caller. An off-thread
   * run works on copies of the inputs taken before this returns, so the caller may reuse, transfer or
   * resize its buffers at once.
   */
  async infer(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const session = this.#live();
    const checked = this.#check(feeds);
    return session.run(checked.feeds, checked.dims, false);
  }

  /** The synchronous form of infer, for small models where a thread hop costs more than the run. Reads inputs in place. */
  inferSync(feeds: Record<string, Tensor>): Record<string, Tensor> {
    const session = this.#live();
    const checked = this.#check(feeds);
    return session.run(checked.feeds, checked.dims, true) as Record<string, Tensor>;
  }

  /** Checks feeds exactly as infer() does (names, dtypes, dims, length, NaN/±Infinity) without running them. */
  validateFeeds(feeds: Record<string, Tensor>): void {
    this.#live();
    this.#check(feeds);
  }

  /** Names of the MatMul/Gemm/Conv layers (after optimisation), in graph order: what keepFloat takes. */
  layers(): string[] {
    this.#live();
    return this.#layers.slice();
  }

  info(): EngineInfo {
    this.#live();
    return this.#info;
  }

  stats(): EngineStats {
    return this.#live().stats();
  }

  /**
   * Native: per-step wall time of the plan used last (or of `shapes`, as in stats().native.plans[].shapes), when loaded with
   * { profile: true }: op, node name, the kernel chosen, calls and mean / total microseconds.
   */
  profile(shapes?: string): StepProfile[] {
    const session = this.#live();
    if (session.profile === undefined) throw invalid(`the ${session.backend} backend has no per-step profile (profile() is a native-backend feature)`);
    return session.profile(shapes);
  }

  get disposed(): boolean {
    return this.#session === undefined;
  }

  /** Releases native memory; calls in flight finish first. Idempotent. */
  dispose(): void {
    this.#session?.dispose();
    this.#session = undefined;
  }
}

function defaultThreads(): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const os = require('node:os') as typeof import('node:os');
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}
