/**
 * Engine: load a model once, run it many times. Today's backend is 'native' (the C++ executor); the
 * interface (load / infer / info / stats / dispose) is the one the ONNX Runtime backend, the scheduler
 * and hot-swap will use too.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { types } from 'node:util';

import type { BackendSession, BackendStats, Precision, StepProfile } from './backends/backend';
import { NativeBackendSession } from './backends/native-backend';
import { EdgeInferError } from './errors';
import type { Model } from './onnx/ir';
import { prepareModel, type PreparedModel } from './onnx/pipeline';
import { checkFeed, type Tensor, type TensorInfo } from './tensor';
import { checkInteger, checkOneOf, checkOptions, invalid } from './validate';

export type Backend = 'native';

export interface EngineOptions {
  /** Default 'native'. */
  backend?: Backend;
  /**
   * 'float32' (default); 'int8': MatMul/Gemm/Conv weights quantized per output channel at load, activations
   * per call; 'fp16': their weights stored as IEEE halves (half the memory), math in float32.
   */
  precision?: Precision;
  /** Intra-op threads. Default: the machine's available parallelism. */
  threads?: number;
  /**
   * With precision 'int8' or 'fp16': names of MatMul/Gemm/Conv nodes to keep in float32 (sensitive layers, e.g. the
   * last layer before a score). Names are those of the optimised graph: `engine.layers()` lists them.
   */
  keepFloat?: string[];
  /**
   * infer() runs a model on the JS thread, like onnxruntime-node does, when its runs take less than this
   * many µs (measured per input shape): a hop to the libuv pool costs ~30-40 µs, more than a wake-word head
   * takes. Longer runs go to the pool and leave the event loop free. 0: always off-thread. Default 1000.
   */
  inlineBelowMicroseconds?: number;
  /** Time every step of the native plan (two clock reads per step); read with engine.profile(). Default false. */
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
}

export interface EngineInfo {
  backend: Backend;
  precision: Precision;
  threads: number;
  opset: number;
  producer: string;
  nodes: number;
  /** How many times each graph optimisation fired. */
  optimizations: Record<string, number>;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

export type EngineStats = BackendStats;

export class Engine {
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  #session: BackendSession | undefined;
  readonly #info: EngineInfo;

  readonly #layers: string[];
  readonly #allowNonFinite: boolean;

  private constructor(session: BackendSession, layers: string[], allowNonFinite: boolean, info: EngineInfo) {
    this.#layers = layers;
    this.#allowNonFinite = allowNonFinite;
    this.#session = session;
    this.#info = info;
    this.inputs = session.inputs;
    this.outputs = session.outputs;
  }

  /** Loads an ONNX model from a file path or its bytes, validates, optimises and prepares it. */
  static async load(source: string | Uint8Array, options?: EngineOptions): Promise<Engine> {
    const o = checkOptions(options, 'options');
    const backend = checkOneOf(o.backend ?? 'native', ['native'] as const, 'backend');
    const precision = checkOneOf(o.precision ?? 'float32', ['float32', 'int8', 'fp16'] as const, 'precision');
    const threads = checkInteger(o.threads ?? defaultThreads(), 'threads', 1, 256);
    if (o.keepFloat !== undefined && (!Array.isArray(o.keepFloat) || o.keepFloat.some((name) => typeof name !== 'string'))) {
      throw invalid('keepFloat must be an array of node names', { argument: 'keepFloat' });
    }
    if (o.profile !== undefined && typeof o.profile !== 'boolean') throw invalid('profile must be a boolean', { argument: 'profile' });
    const profile = o.profile === true;
    if (o.allowNonFinite !== undefined && typeof o.allowNonFinite !== 'boolean') throw invalid('allowNonFinite must be a boolean', { argument: 'allowNonFinite' });
    const allowNonFinite = o.allowNonFinite === true;
    const inlineBelowMicroseconds = o.inlineBelowMicroseconds ?? 1000;
    if (typeof inlineBelowMicroseconds !== 'number' || !(inlineBelowMicroseconds >= 0)) {
      throw invalid('inlineBelowMicroseconds must be a number >= 0', { argument: 'inlineBelowMicroseconds' });
    }
    const maxPlans = checkInteger(o.maxPlans ?? 4, 'maxPlans', 1, 1024);
    const keepFloat = new Set((o.keepFloat as string[] | undefined) ?? []);
    let bytes: Uint8Array;
    let baseDir: string | undefined;
    if (typeof source === 'string') {
      try {
        bytes = await fs.readFile(source);
      } catch (error) {
        throw invalid(`cannot read model file '${source}': ${(error as Error).message}`, { path: source });
      }
      baseDir = path.dirname(path.resolve(source));
    } else if (source instanceof Uint8Array) {
      bytes = source;
    } else {
      throw invalid('source must be a file path or a Uint8Array of ONNX bytes');
    }
    const prepared: PreparedModel = prepareModel(bytes, { baseDir });
    const layers = weightLayers(prepared.model);
    const unknown = [...keepFloat].filter((name) => !layers.includes(name));
    if (unknown.length > 0) throw invalid(`keepFloat names nodes that are not MatMul/Gemm/Conv layers: ${unknown.join(', ')}`, { argument: 'keepFloat', unknown, layers });
    const session = new NativeBackendSession(prepared.model, prepared.inputs, prepared.outputs, { precision, threads, keepFloat, profile, inlineBelowMicroseconds, maxPlans });
    // Plan eagerly when every input shape is fixed, so load-time errors surface here, not at first infer.
    if (prepared.inputs.every((input) => input.dims.every((dim) => typeof dim === 'number'))) {
      session.plan(Object.fromEntries(prepared.inputs.map((input) => [input.name, input.dims as number[]])));
    }
    return new Engine(session, layers, allowNonFinite, {
      backend,
      precision,
      threads,
      opset: prepared.model.opsets.get('') ?? 0,
      producer: prepared.model.producerName,
      nodes: prepared.model.graph.nodes.length,
      optimizations: prepared.optimizations,
      inputs: prepared.inputs,
      outputs: prepared.outputs,
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
   * Per-step wall time of the plan used last (or of `shapes`, as in stats().plans[].shapes), when loaded with
   * { profile: true }: op, node name, the kernel chosen, calls and mean / total microseconds.
   */
  profile(shapes?: string): StepProfile[] {
    return this.#live().profile(shapes);
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

const weightOps = new Set(['MatMul', 'Gemm', 'Conv', 'FusedMatMul', 'FusedGemm', 'FusedConv', 'NhwcConv']);

function weightLayers(model: Model): string[] {
  const names: string[] = [];
  const visit = (graph: Model['graph']) => {
    for (const node of graph.nodes) {
      if (weightOps.has(node.opType)) names.push(node.name);
      for (const attribute of Object.values(node.attributes)) if (attribute.type === 'graph') visit(attribute.value);
    }
  };
  visit(model.graph);
  return names;
}

function defaultThreads(): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const os = require('node:os') as typeof import('node:os');
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}
