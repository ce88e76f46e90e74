/**
 * The ONNX Runtime backend, over onnxruntime-node as an optional peer dependency (loaded on first use; when
 * it is missing, asking for this backend is EDGEINFER_BACKEND_UNAVAILABLE with the install command). The
 * model runs as stored: edgeinfer reads it only for its signature, ONNX Runtime optimises it itself.
 *
 * onnxruntime-node's session.run is a synchronous native call (it blocks the event loop for the whole
 * inference, its issue #19611), so infer() runs the session in a worker thread, one per engine: the inputs
 * are copied (never the caller's buffers) and transferred to it, the outputs transferred back. inferSync()
 * runs a second session on the calling thread, created on first use from the same bytes.
 */
import path from 'node:path';
import type { Worker } from 'node:worker_threads';

import { EdgeInferError, type EdgeInferErrorCode } from '../errors';
import { startModuleWorker } from '../module-worker';
import type { Model } from '../onnx/ir';
import { declaredSignature, weightLayers } from '../onnx/pipeline';
import { tensorBytes } from '../onnx/tensor';
import { arrayClass, type Tensor, type TensorInfo } from '../tensor';
import { checkInteger, checkOneOf, checkOptions, invalid, sameMemoryView } from '../validate';
import type { Backend, BackendLoadOptions, BackendSession, BackendStats, ModelSource, SessionInfo } from './backend';
import {
  createSession,
  ortFailure,
  plainTensor,
  providerKeysNotApplied,
  requireOnnxRuntime,
  sessionOptions,
  type OrtConfig,
  type OrtModule,
  type PlainError,
  type ProviderFallback,
  type ProviderSpec,
} from './onnxruntime-session';

/** An execution provider by name, or with its options (TensorRT's map to onnxruntime-node's trt_* keys). */
export type OnnxRuntimeProvider = ProviderSpec['name'] | ProviderSpec;

/** EngineOptions.onnxruntime: passed to onnxruntime-node when the ONNX Runtime backend runs the model. */
export interface OnnxRuntimeOptions {
  /** Intra-op threads (intraOpNumThreads). Default: EngineOptions.threads. */
  threads?: number;
  /** Inter-op threads (interOpNumThreads). Default: ONNX Runtime's. */
  interOpThreads?: number;
  /** Default: ONNX Runtime's ('all'). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
  /**
   * In order of preference. Default ['cpu']. A provider the installed onnxruntime-node lacks is
   * EDGEINFER_BACKEND_UNAVAILABLE naming it, unless 'cpu' comes after it: then it is dropped and info() says so.
   */
  executionProviders?: OnnxRuntimeProvider[];
  /** ONNX Runtime's log level, 0 (verbose) … 4 (fatal). Default: its own (2, warnings). */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
}

const installCommand = 'npm install onnxruntime-node';

let loaded: ReturnType<typeof requireOnnxRuntime> | undefined;
function onnxRuntime(): ReturnType<typeof requireOnnxRuntime> {
  loaded ??= requireOnnxRuntime();
  return loaded;
}

function fromPlain(error: PlainError): EdgeInferError {
  return new EdgeInferError(error.code as EdgeInferErrorCode, error.message, error.detail);
}

const optionKeys = ['threads', 'interOpThreads', 'graphOptimizationLevel', 'executionProviders', 'logSeverityLevel'];
const providerKeys: Record<ProviderSpec['name'], string[]> = {
  cpu: ['name'],
  cuda: ['name', 'deviceId'],
  tensorrt: ['name', 'deviceId', 'fp16', 'int8', 'engineCache', 'engineCachePath', 'timingCache', 'timingCachePath', 'maxWorkspaceSize'],
};

function checkProvider(value: unknown, index: number): ProviderSpec {
  const where = `onnxruntime.executionProviders[${index}]`;
  if (typeof value === 'string') return { name: checkOneOf(value, ['cpu', 'cuda', 'tensorrt'] as const, where) };
  const o = checkOptions(value, where);
  const name = checkOneOf(o.name, ['cpu', 'cuda', 'tensorrt'] as const, `${where}.name`);
  for (const key of Object.keys(o)) {
    if (!providerKeys[name].includes(key)) throw invalid(`${where}: '${key}' is not an option of the ${name} provider (${providerKeys[name].join(', ')})`, { argument: `${where}.${key}` });
  }
  if (o.deviceId !== undefined) checkInteger(o.deviceId, `${where}.deviceId`, 0, 1024);
  for (const key of ['fp16', 'int8', 'engineCache', 'timingCache']) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw invalid(`${where}.${key} must be a boolean`, { argument: `${where}.${key}` });
  }
  for (const key of ['engineCachePath', 'timingCachePath']) {
    if (o[key] !== undefined && (typeof o[key] !== 'string' || o[key] === '')) throw invalid(`${where}.${key} must be a non-empty string`, { argument: `${where}.${key}` });
  }
  if (o.maxWorkspaceSize !== undefined) checkInteger(o.maxWorkspaceSize, `${where}.maxWorkspaceSize`, 1);
  return { ...(o as object), name } as ProviderSpec;
}

/** EngineOptions.onnxruntime, validated, with the engine's thread count as the default. */
function ortConfig(options: BackendLoadOptions): OrtConfig {
  const o = checkOptions(options.raw.onnxruntime, 'onnxruntime');
  for (const key of Object.keys(o)) {
    if (!optionKeys.includes(key)) throw invalid(`onnxruntime.${key} is not an option (${optionKeys.join(', ')})`, { argument: `onnxruntime.${key}` });
  }
  const config: OrtConfig = {
    intraOpNumThreads: checkInteger(o.threads ?? options.threads, 'onnxruntime.threads', 1, 256),
    executionProviders: [{ name: 'cpu' }],
  };
  if (o.interOpThreads !== undefined) config.interOpNumThreads = checkInteger(o.interOpThreads, 'onnxruntime.interOpThreads', 1, 256);
  if (o.graphOptimizationLevel !== undefined) {
    config.graphOptimizationLevel = checkOneOf(o.graphOptimizationLevel, ['disabled', 'basic', 'extended', 'layout', 'all'] as const, 'onnxruntime.graphOptimizationLevel');
  }
  if (o.logSeverityLevel !== undefined) config.logSeverityLevel = checkInteger(o.logSeverityLevel, 'onnxruntime.logSeverityLevel', 0, 4) as OrtConfig['logSeverityLevel'];
  if (o.executionProviders !== undefined) {
    if (!Array.isArray(o.executionProviders) || o.executionProviders.length === 0) {
      throw invalid('onnxruntime.executionProviders must be a non-empty array', { argument: 'onnxruntime.executionProviders' });
    }
    config.executionProviders = o.executionProviders.map(checkProvider);
    const names = config.executionProviders.map((spec) => spec.name);
    if (new Set(names).size !== names.length) throw invalid(`onnxruntime.executionProviders lists a provider twice: ${names.join(', ')}`, { argument: 'onnxruntime.executionProviders' });
  }
  return config;
}

function usesExternalData(model: Model): boolean {
  const visit = (graph: Model['graph']): boolean =>
    [...graph.initializers.values()].some((tensor) => tensor.external !== undefined) ||
    graph.nodes.some((node) => Object.values(node.attributes).some((a) => (a.type === 'graph' ? visit(a.value) : a.type === 'graphs' ? a.value.some(visit) : false)));
  return visit(model.graph);
}

function initializerBytes(model: Model): number {
  let bytes = 0;
  const visit = (graph: Model['graph']) => {
    for (const tensor of graph.initializers.values()) if (tensor.dtype !== 'string') bytes += tensorBytes(tensor).byteLength;
    for (const node of graph.nodes) for (const a of Object.values(node.attributes)) if (a.type === 'graph') visit(a.value);
  };
  visit(model.graph);
  return bytes;
}

/** A view of this realm on the same memory as a validated feed (another realm's arrays fail ORT's instanceof). */
function ownView(tensor: Tensor): Tensor['data'] {
  return sameMemoryView(tensor.data, arrayClass(tensor.type) as unknown as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Tensor['data']);
}

interface Pending {
  resolve: (outputs: Record<string, Tensor>) => void;
  reject: (error: unknown) => void;
}

interface SyncSession {
  run(feeds: Record<string, unknown>, fetches: Record<string, null>, options: Record<string, unknown>): Record<string, { type: string; cpuData?: unknown; data?: unknown; dims: readonly number[] }>;
  dispose(): void;
}

export class OnnxRuntimeSession implements BackendSession {
  readonly backend = 'onnxruntime';
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private runs = 0;
  private readonly copies = { calls: 0, bytes: 0, microseconds: 0 };
  private syncSession: SyncSession | undefined;
  private disposed = false;
  /** Why the worker can no longer run calls (it exited or failed), once it cannot. */
  private broken: EdgeInferError | undefined;

  private constructor(
    private readonly ort: OrtModule,
    private readonly version: string,
    private readonly worker: Worker,
    private readonly model: Uint8Array | string,
    private readonly config: OrtConfig,
    private readonly providers: ProviderSpec[],
    readonly inputs: TensorInfo[],
    readonly outputs: TensorInfo[],
    readonly info: SessionInfo,
    private readonly weightBytes: number,
  ) {
    worker.on('message', (message: { id: number; outputs?: Record<string, Tensor>; error?: PlainError }) => this.settle(message));
    worker.on('error', (error) => this.fail(new EdgeInferError('EDGEINFER_INTERNAL', `the ONNX Runtime worker failed: ${error.message}`, { backend: 'onnxruntime' })));
    worker.on('exit', (code) => {
      if (!this.disposed) this.fail(new EdgeInferError('EDGEINFER_INTERNAL', `the ONNX Runtime worker exited (code ${code})`, { backend: 'onnxruntime' }));
    });
  }

  static async load(source: ModelSource, options: BackendLoadOptions): Promise<OnnxRuntimeSession> {
    const runtime = onnxRuntime();
    if ('error' in runtime) throw onnxRuntimeBackend.unavailableError();
    const config = ortConfig(options);
    if (options.precision !== 'float32') {
      throw invalid(`precision '${options.precision}' is a native-backend option: ONNX Runtime runs the model's own precision (quantize the model to QDQ for INT8)`, { argument: 'precision' });
    }
    const keepFloat = options.raw.keepFloat as unknown[] | undefined;
    if (keepFloat !== undefined && keepFloat.length > 0) throw invalid('keepFloat is a native-backend option', { argument: 'keepFloat' });
    const { inputs, outputs } = declaredSignature(source.model);
    // The bytes that were read (and hashed) are what runs; a path only where ONNX Runtime must find external data.
    const model = usesExternalData(source.model) && source.path !== undefined ? path.resolve(source.path) : source.bytes;
    // A copy for the worker (new Uint8Array: Buffer.prototype.slice would share the memory being transferred).
    const copy = typeof model === 'string' ? model : new Uint8Array(model);
    const worker = startModuleWorker(path.join(__dirname, 'onnxruntime-worker'), {
      workerData: { model: copy, config },
      transferList: typeof copy === 'string' ? [] : [copy.buffer as ArrayBuffer],
    });
    const ready = await new Promise<{ providers: string[]; fallbacks: ProviderFallback[] }>((resolve, reject) => {
      const onMessage = (message: { ready?: { providers: string[]; fallbacks: ProviderFallback[] }; failed?: PlainError }) => {
        cleanup();
        if (message.ready) resolve(message.ready);
        else reject(fromPlain(message.failed ?? { code: 'EDGEINFER_INTERNAL', message: 'the ONNX Runtime worker sent no answer' }));
      };
      const onError = (error: Error) => {
        cleanup();
        reject(new EdgeInferError('EDGEINFER_INTERNAL', `the ONNX Runtime worker failed to start: ${error.message}`, { backend: 'onnxruntime' }));
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new EdgeInferError('EDGEINFER_INTERNAL', `the ONNX Runtime worker exited while loading (code ${code})`, { backend: 'onnxruntime' }));
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    }).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
    worker.unref();
    const providers = ready.providers.map((name) => config.executionProviders.find((spec) => spec.name === name)!);
    const notes = ready.fallbacks.map((fallback) => `execution provider '${fallback.provider}' is not available (${fallback.reason}); fell back to ${providers.map((spec) => spec.name).join(', ')}`);
    const notApplied = providerKeysNotApplied(providers);
    if (notApplied.length > 0) notes.push(`onnxruntime-node ${runtime.version} does not pass these provider options to ONNX Runtime (it forwards only deviceId): ${notApplied.join(', ')}`);
    const info: SessionInfo = {
      nodes: source.model.graph.nodes.length,
      optimizations: {},
      layers: weightLayers(source.model),
      details: {
        version: runtime.version,
        executionProviders: providers.map((spec) => spec.name),
        requestedProviders: config.executionProviders.map((spec) => spec.name),
        fallbacks: ready.fallbacks,
        ...(config.graphOptimizationLevel ? { graphOptimizationLevel: config.graphOptimizationLevel } : {}),
        intraOpThreads: config.intraOpNumThreads,
      },
      notes,
    };
    // inferSync's session is created later from these: bytes the caller still owns are copied, so it runs what was hashed.
    const retained = typeof model === 'string' ? model : source.path !== undefined ? source.bytes : new Uint8Array(source.bytes);
    return new OnnxRuntimeSession(runtime.ort, runtime.version, worker, retained, config, providers, inputs, outputs, info, initializerBytes(source.model));
  }

  private settle(message: { id: number; outputs?: Record<string, Tensor>; error?: PlainError }): void {
    const call = this.pending.get(message.id);
    if (call === undefined) return;
    this.pending.delete(message.id);
    if (this.pending.size === 0) this.idle();
    if (message.error) call.reject(fromPlain(message.error));
    else call.resolve(message.outputs!);
  }

  /** No call in flight: let the process exit, and finish a dispose that waited for the calls. */
  private idle(): void {
    if (this.disposed) void this.worker.terminate();
    else this.worker.unref();
  }

  private fail(error: EdgeInferError): void {
    this.broken ??= error;
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls) call.reject(error);
  }

  run(feeds: Record<string, Tensor>, dims: Record<string, number[]>, sync: boolean): Promise<Record<string, Tensor>> | Record<string, Tensor> {
    this.runs++;
    if (sync) return this.runSync(feeds, dims);
    if (this.broken) return Promise.reject(this.broken);
    // Copies taken now, before infer() returns: the caller may reuse or transfer its buffers at once.
    const start = performance.now();
    const message: Record<string, { type: string; data: Tensor['data']; dims: number[] }> = {};
    const transfer: ArrayBuffer[] = [];
    let bytes = 0;
    for (const input of this.inputs) {
      const copy = ownView(feeds[input.name]).slice();
      message[input.name] = { type: input.type, data: copy, dims: dims[input.name] };
      transfer.push(copy.buffer as ArrayBuffer);
      bytes += copy.byteLength;
    }
    this.copies.calls++;
    this.copies.bytes += bytes;
    this.copies.microseconds += (performance.now() - start) * 1000;
    const id = this.nextId++;
    return new Promise<Record<string, Tensor>>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ id, feeds: message }, transfer);
    });
  }

  private runSync(feeds: Record<string, Tensor>, dims: Record<string, number[]>): Record<string, Tensor> {
    const session = (this.syncSession ??= this.createSyncSession());
    const ortFeeds: Record<string, unknown> = {};
    for (const input of this.inputs) ortFeeds[input.name] = new this.ort.Tensor(input.type, ownView(feeds[input.name]), dims[input.name]);
    let outputs: ReturnType<SyncSession['run']>;
    try {
      outputs = session.run(ortFeeds, Object.fromEntries(this.outputs.map((output) => [output.name, null])), {});
    } catch (error) {
      throw fromPlain(ortFailure(error, 'run'));
    }
    const results: Record<string, Tensor> = {};
    for (const [name, value] of Object.entries(outputs)) results[name] = plainTensor(value) as unknown as Tensor;
    return results;
  }

  /**
   * inferSync's session, on the calling thread: onnxruntime-node's public create is asynchronous, so this uses
   * its synchronous binding (dist/binding, present since 1.17) with the providers the worker ended up with.
   */
  private createSyncSession(): SyncSession {
    let internals: { binding: { InferenceSession: new () => SyncSession & { loadModel(...args: unknown[]): void } }; initOrt?: () => void };
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      internals = require('onnxruntime-node/dist/binding');
      if (typeof internals?.binding?.InferenceSession !== 'function') throw new Error('no InferenceSession in onnxruntime-node/dist/binding');
    } catch (error) {
      throw new EdgeInferError(
        'EDGEINFER_BACKEND_UNAVAILABLE',
        `inferSync on the onnxruntime backend needs onnxruntime-node's synchronous binding, which onnxruntime-node ${this.version} does not offer (${(error as Error).message}); use infer()`,
        { backend: 'onnxruntime' },
      );
    }
    try {
      internals.initOrt?.();
      const session = new internals.binding.InferenceSession();
      const options = sessionOptions(this.config, this.providers);
      if (typeof this.model === 'string') session.loadModel(this.model, options);
      else session.loadModel(this.model.buffer, this.model.byteOffset, this.model.byteLength, options);
      return session;
    } catch (error) {
      throw fromPlain(ortFailure(error, 'load'));
    }
  }

  stats(): BackendStats {
    return {
      backend: 'onnxruntime',
      precision: 'float32',
      weightBytes: this.weightBytes,
      runs: this.runs,
      inlineRuns: 0,
      asyncCopies: { ...this.copies },
      onnxruntime: {
        version: this.version,
        executionProviders: this.providers.map((spec) => spec.name),
        inFlight: this.pending.size,
        syncSession: this.syncSession !== undefined,
      },
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.syncSession?.dispose();
    this.syncSession = undefined;
    // Calls in flight finish first: the worker stops when the last one is answered.
    if (this.pending.size === 0) void this.worker.terminate();
  }
}

export const onnxRuntimeBackend: Backend = {
  name: 'onnxruntime',

  installHint: `install onnxruntime-node to run it on ONNX Runtime: ${installCommand}`,

  isAvailable: () => !('error' in onnxRuntime()),

  unavailableError() {
    const runtime = onnxRuntime();
    const why = 'error' in runtime ? runtime.error.message.split('\n')[0] : 'unknown';
    return new EdgeInferError('EDGEINFER_BACKEND_UNAVAILABLE', `the onnxruntime backend needs the optional peer dependency onnxruntime-node (${why}): ${installCommand}`, {
      backend: 'onnxruntime',
      install: installCommand,
    });
  },

  checkOptions(options) {
    ortConfig(options);
  },

  supports(_model, options) {
    if (options.precision !== 'float32') return { ok: false, reason: `ONNX Runtime runs the model's own precision, not precision '${options.precision}'` };
    const keepFloat = options.raw.keepFloat as unknown[] | undefined;
    if (keepFloat !== undefined && keepFloat.length > 0) return { ok: false, reason: 'keepFloat is a native-backend option' };
    return { ok: true };
  },

  load: (source, options) => OnnxRuntimeSession.load(source, options),
};
