/**
 * The gRPC inference server (proto/edgeinfer.proto): Infer through a BatchScheduler over one Engine,
 * InferStream over the openWakeWord pipeline, ModelInfo, SwapModel (admin, verified as Engine.swap does),
 * grpc.health.v1.Health, and Prometheus metrics on an optional loopback HTTP port.
 *
 * Every handler runs inside one wrapper that turns any failure into a status (status.ts) and counts it:
 * a bad request, a failing model or a client that vanishes ends its own call and nothing else.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import fs from 'node:fs';
import http2 from 'node:http2';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation } from 'grpc-health-check';

import { BatchScheduler } from '../batch-scheduler';
import { Engine, resultInfo } from '../engine';
import { EdgeInferError } from '../errors';
import { checkOptions, checkInteger, invalid } from '../validate';
import { CommandStage } from '../wakeword/command-stage';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from './config';
import { ServerMetrics } from './metrics';
import { inferenceServiceName, protoLoaderOptions, protoPath } from './proto';
import { serviceError, statusName, StatusError, toStatus, type CallStatus } from './status';
import { StreamSession, type AudioChunkMessage, type SharedRunner, type SharedWakeWordModels } from './stream-session';
import { decodeInputs, encodeOutputs, tensorSpec, type WireTensor } from './tensor-codec';

export interface ServerAddress {
  /** The bound gRPC port. */
  port: number;
  /** The bound metrics port, when metricsPort was given. */
  metricsPort?: number;
}

export interface ShutdownOptions {
  /**
   * How long in-flight calls may take to finish before they are cancelled. Default 10000 ms. Open streams
   * (InferStream, health Watch) are asked to end at once; InferStream finishes the audio it has received.
   */
  graceMs?: number;
}

interface InferRequestMessage {
  inputs: WireTensor[];
}

interface SwapModelRequestMessage {
  source?: 'model' | 'path';
  model?: Uint8Array;
  path?: string;
  sha256: string;
  signature: Uint8Array;
  token: string;
  version: string;
  allow_signature_change: boolean;
}

type State = 'new' | 'starting' | 'serving' | 'stopping' | 'stopped';

const ok: CallStatus = { code: grpc.status.OK, details: 'OK', internal: false };

/** Milliseconds left before the call's deadline, or undefined when it has none. */
function timeLeft(deadline: grpc.Deadline): number | undefined {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  const left = Math.floor(at - Date.now());
  // Past ~24 days (the scheduler's timer limit) a deadline bounds nothing in practice: treat it as none.
  return Number.isFinite(left) && left < 2 ** 31 ? left : undefined;
}

let service: grpc.ServiceDefinition | undefined;

/** The Inference service definition, loaded once per process. */
function inferenceService(): grpc.ServiceDefinition {
  if (service === undefined) {
    if (!fs.existsSync(protoPath)) throw new EdgeInferError('EDGEINFER_INTERNAL', `the service definition is missing: ${protoPath} (the package must ship proto/)`);
    const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, protoLoaderOptions));
    service = (((loaded.edgeinfer as grpc.GrpcObject).v1 as grpc.GrpcObject).Inference as grpc.ServiceClientConstructor).service;
  }
  return service;
}

/**
 * grpc-js answers a request the client has not finished sending (a message over maxMessageBytes, a stream the
 * server ends first) without RST_STREAM, and its client then stops sending without one either: the stream
 * stays half-open until the connection closes, holding memory on both sides (measured: ~16 KB per refused
 * oversized message in this server, twice the message in the client). As HTTP/2 allows (RFC 9113 §8.1) and
 * gRPC's C++ and Go servers do, such a stream is reset with NO_ERROR once the response is complete.
 * grpc-js keeps its HTTP/2 servers in a private field: when it is not there, nothing is hooked (the tests'
 * RSS check would then show the leak again).
 */
function resetHalfOpenStreams(server: grpc.Server): void {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) return;
  for (const h2 of servers.keys() as IterableIterator<http2.Http2Server>) {
    if (typeof h2?.on !== 'function') continue;
    h2.on('stream', (stream: http2.ServerHttp2Stream) => {
      stream.once('finish', () =>
        // After the response's frames were handed to nghttp2, so the RST_STREAM follows the trailers.
        setImmediate(() => {
          if (!stream.closed && !stream.destroyed && !stream.readableEnded) stream.close(http2.constants.NGHTTP2_NO_ERROR);
        }),
      );
    });
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

interface WakeWordRuntime {
  engines: Engine[];
  schedulers: BatchScheduler[];
  models: SharedWakeWordModels;
}

export class InferenceServer {
  readonly #options: ResolvedServerOptions;
  readonly #metrics: ServerMetrics;
  readonly #health = new HealthImplementation({ '': 'NOT_SERVING', [inferenceServiceName]: 'NOT_SERVING' });
  readonly #sessions = new Set<StreamSession>();
  readonly #onSwitched = ({ to, backend }: { to: string; backend: string }) => this.#metrics.model(to, backend);
  #state: State = 'new';
  #grpc: grpc.Server | undefined;
  #engine: Engine | undefined;
  #scheduler: BatchScheduler | undefined;
  #wake: WakeWordRuntime | undefined;
  #address: ServerAddress | undefined;
  #stopped: Promise<void> | undefined;

  constructor(options: ServerOptions) {
    this.#options = resolveServerOptions(options);
    this.#metrics = new ServerMetrics({ queueDepth: () => (this.#scheduler === undefined ? 0 : this.#scheduler.stats().queued) });
  }

  /** host:port once started ('[::1]:50051' for IPv6), else undefined. */
  get address(): string | undefined {
    if (this.#address === undefined) return undefined;
    const host = this.#options.host.includes(':') ? `[${this.#options.host}]` : this.#options.host;
    return `${host}:${this.#address.port}`;
  }

  /** The Engine serving Infer (after start()). */
  get engine(): Engine | undefined {
    return this.#engine;
  }

  /** The metrics registry (also served on metricsPort when set). */
  get metrics(): ServerMetrics {
    return this.#metrics;
  }

  /** Loads the models, binds host:port (and the metrics port) and starts serving; health turns SERVING. */
  async start(): Promise<ServerAddress> {
    if (this.#state !== 'new') throw invalid(`start() was already called (the server is ${this.#state})`);
    this.#state = 'starting';
    const o = this.#options;
    try {
      this.#engine = o.engine ?? (await Engine.load(o.model!, o.engineOptions));
      this.#engine.on('swap:switched', this.#onSwitched);
      const info = this.#engine.info();
      this.#metrics.model(info.modelVersion, info.backend);
      this.#scheduler = new BatchScheduler(this.#engine, o.scheduler);
      if (o.wakeWord !== undefined) this.#wake = await this.#loadWakeWord(o.wakeWord);

      const server = new grpc.Server({ 'grpc.max_receive_message_length': o.maxMessageBytes });
      this.#grpc = server;
      server.addService(inferenceService(), {
        Infer: this.#unary('Infer', (call, signal) => this.#infer(call as grpc.ServerUnaryCall<InferRequestMessage, unknown>, signal)),
        ModelInfo: this.#unary('ModelInfo', async () => this.#modelInfo()),
        SwapModel: this.#unary('SwapModel', (call) => this.#swapModel(call as grpc.ServerUnaryCall<SwapModelRequestMessage, unknown>)),
        InferStream: (call: grpc.ServerDuplexStream<AudioChunkMessage, unknown>) => this.#inferStream(call),
      });
      this.#health.addToServer(server);
      const port = await new Promise<number>((resolve, reject) => {
        server.bindAsync(`${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`, o.credentials ?? grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
      });
      resetHalfOpenStreams(server);
      this.#address = { port };
      if (o.metricsPort !== undefined) this.#address.metricsPort = await this.#metrics.listen(o.metricsHost, o.metricsPort);
    } catch (error) {
      this.#state = 'stopping';
      await this.#release();
      this.#state = 'stopped';
      if (error instanceof EdgeInferError) throw error;
      throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `the server could not start: ${(error as Error)?.message ?? String(error)}`);
    }
    this.#state = 'serving';
    this.#health.setStatus('', 'SERVING');
    this.#health.setStatus(inferenceServiceName, 'SERVING');
    return { ...this.#address };
  }

  async #loadWakeWord(w: NonNullable<ResolvedServerOptions['wakeWord']>): Promise<WakeWordRuntime> {
    const runtime: WakeWordRuntime = { engines: [], schedulers: [], models: undefined as unknown as SharedWakeWordModels };
    // Each model behind its own scheduler, shared by every stream: frames of concurrent streams batch together,
    // except where a batch's rows are not independent, so one stream's audio would change another's result:
    // the melspectrogram clips to 80 dB below a ReduceMax over its whole input, and native dynamic INT8
    // quantizes a call's activations with one scale for the whole batch. Those run one request per call.
    // The melspectrogram stays FP32 whatever the precision asked for: its STFT conv is not accurate in INT8
    // (cosine 0.906 to ONNX Runtime, bench/results/latest-models.jsonl), and it is the cheap stage.
    const shared = async (source: string | Uint8Array, rowsCoupled = false, float32 = false): Promise<SharedRunner> => {
      const engine = await Engine.load(source, float32 ? { ...w.engineOptions, precision: 'float32' } : w.engineOptions);
      runtime.engines.push(engine);
      const coupled = rowsCoupled || (engine.info().backend === 'native' && engine.info().precision === 'int8');
      const scheduler = new BatchScheduler(engine, coupled ? { maxBatchSize: 1 } : {});
      runtime.schedulers.push(scheduler);
      return { inputs: engine.inputs, outputs: engine.outputs, infer: (feeds, options) => scheduler.infer(feeds, options) };
    };
    this.#wake = runtime; // released by #release() if a later load fails
    const melspectrogram = await shared(w.melspectrogram, true, true);
    const embedding = await shared(w.embedding);
    const heads: Record<string, SharedRunner> = {};
    for (const [name, source] of Object.entries(w.heads)) heads[name] = await shared(source);
    runtime.models = { melspectrogram, embedding, heads };
    if (w.command !== undefined) {
      const { model, ...options } = w.command;
      runtime.models.command = { runner: await shared(model), options };
      // A model the stage cannot use (no stated input length, several inputs) fails start(), not the first stream.
      const runner = runtime.models.command.runner;
      new CommandStage({ ...options, model: { inputs: runner.inputs, outputs: runner.outputs, infer: () => Promise.reject(new Error('not run')) } });
    }
    return runtime;
  }

  /**
   * Stops serving: health turns NOT_SERVING, new calls are refused (UNAVAILABLE), calls in flight finish
   * within graceMs and are cancelled after; then the schedulers close and the models this server loaded are
   * released. Idempotent: later calls return the same promise.
   */
  shutdown(options?: ShutdownOptions): Promise<void> {
    const o = checkOptions(options, 'options');
    const graceMs = checkInteger(o.graceMs ?? 10_000, 'graceMs', 0, 3_600_000);
    if (this.#stopped !== undefined) return this.#stopped;
    if (this.#state === 'new') {
      this.#state = 'stopped';
      this.#stopped = Promise.resolve();
      return this.#stopped;
    }
    this.#stopped = this.#stop(graceMs);
    return this.#stopped;
  }

  async #stop(graceMs: number): Promise<void> {
    // A start() in progress finishes first (its models are then released here).
    while (this.#state === 'starting') await new Promise((resolve) => setTimeout(resolve, 10));
    if (this.#state === 'stopped') return;
    this.#state = 'stopping';
    this.#health.setStatus('', 'NOT_SERVING');
    this.#health.setStatus(inferenceServiceName, 'NOT_SERVING');
    for (const session of this.#sessions) session.stop();
    const server = this.#grpc;
    if (server !== undefined) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    }
    await this.#release();
    this.#state = 'stopped';
  }

  /** Closes schedulers, releases the engines this server loaded, closes the metrics endpoint. */
  async #release(): Promise<void> {
    this.#grpc?.forceShutdown();
    const closing: Promise<unknown>[] = [this.#metrics.close()];
    if (this.#scheduler !== undefined) closing.push(this.#scheduler.close({ drain: false }));
    if (this.#engine !== undefined) {
      this.#engine.off('swap:switched', this.#onSwitched);
      if (this.#options.engine === undefined) closing.push(this.#engine.dispose({ drain: false }));
    }
    for (const scheduler of this.#wake?.schedulers ?? []) closing.push(scheduler.close({ drain: false }));
    for (const engine of this.#wake?.engines ?? []) closing.push(engine.dispose({ drain: false }));
    await Promise.allSettled(closing);
  }

  #serving(): void {
    if (this.#state !== 'serving') throw new StatusError(grpc.status.UNAVAILABLE, 'the server is shutting down');
  }

  /** Reports a call's end: metrics, and INTERNAL errors to onInternalError. */
  #record(method: string, status: CallStatus, error: unknown, started: number): void {
    this.#metrics.request(method, statusName(status.code), (performance.now() - started) / 1000);
    if (status.internal) {
      try {
        this.#options.onInternalError(error, method);
      } catch {
        // A failing logger must not take the call (or the server) down with it.
      }
    }
  }

  /** A unary handler: one promise, its result or its failure sent exactly once; a cancelled call aborts its signal. */
  #unary(method: string, handle: (call: grpc.ServerUnaryCall<unknown, unknown>, signal: AbortSignal) => Promise<unknown>): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      const started = performance.now();
      const controller = new AbortController();
      call.on('cancelled', () => controller.abort());
      let result: Promise<unknown>;
      try {
        result = handle(call, controller.signal);
      } catch (error) {
        result = Promise.reject(error);
      }
      result.then(
        (response) => {
          this.#record(method, ok, undefined, started);
          try {
            callback(null, response);
          } catch (error) {
            this.#options.onInternalError(error, method);
          }
        },
        (error: unknown) => {
          const status = toStatus(error);
          this.#record(method, status, error, started);
          try {
            callback(serviceError(status, error instanceof EdgeInferError ? error.code : undefined));
          } catch {
            // The call is gone (cancelled, deadline): nothing to answer.
          }
        },
      );
    };
  }

  async #infer(call: grpc.ServerUnaryCall<InferRequestMessage, unknown>, signal: AbortSignal): Promise<unknown> {
    this.#serving();
    const feeds = decodeInputs(call.request.inputs);
    // The call's deadline becomes the scheduler's timeout: a request that cannot be answered in time leaves the queue.
    const left = timeLeft(call.getDeadline());
    if (left !== undefined && left <= 0) throw new EdgeInferError('EDGEINFER_TIMEOUT', 'the deadline passed before the request was queued');
    const outputs = await this.#scheduler!.infer(feeds, { signal, timeoutMs: left });
    const origin = resultInfo(outputs);
    return { outputs: encodeOutputs(outputs), model_version: origin?.modelVersion ?? '', backend: origin?.backend ?? '' };
  }

  async #modelInfo(): Promise<unknown> {
    this.#serving();
    const info = this.#engine!.info();
    const batching = this.#scheduler!.info();
    return {
      model_version: info.modelVersion,
      backend: info.backend,
      backend_reason: info.backendReason,
      precision: info.precision,
      inputs: info.inputs.map(tensorSpec),
      outputs: info.outputs.map(tensorSpec),
      metadata: { ...info.metadata },
      wake_words: this.#wake === undefined ? [] : Object.keys(this.#wake.models.heads),
      command: this.#wake?.models.command?.options.name ?? '',
      batching: batching.batching,
      max_batch_size: batching.maxBatchSize,
    };
  }

  /** The admin token from `authorization: Bearer …` metadata or the request's token field, compared in constant time. */
  #authorize(call: grpc.ServerUnaryCall<SwapModelRequestMessage, unknown>): void {
    const expected = this.#options.adminToken;
    if (expected === undefined) throw new StatusError(grpc.status.PERMISSION_DENIED, 'SwapModel is disabled: the server was started without an admin token');
    const header = call.metadata.get('authorization').find((value): value is string => typeof value === 'string');
    const bearer = header === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    const token = bearer ?? (call.request.token || undefined);
    if (token === undefined) throw new StatusError(grpc.status.UNAUTHENTICATED, 'SwapModel needs the admin token: metadata "authorization: Bearer <token>" or the token field');
    if (!timingSafeEqual(digest(token), digest(expected))) throw new StatusError(grpc.status.PERMISSION_DENIED, 'the admin token is not valid');
  }

  async #swapModel(call: grpc.ServerUnaryCall<SwapModelRequestMessage, unknown>): Promise<unknown> {
    this.#serving();
    this.#authorize(call);
    const request = call.request;
    let source: string | Uint8Array;
    if (request.source === 'model' && request.model !== undefined && request.model.byteLength > 0) source = new Uint8Array(request.model);
    else if (request.source === 'path' && request.path) source = request.path;
    else throw invalid('SwapModel needs the model: its bytes (model) or a path on the server (path)');
    const signature = request.signature.byteLength > 0 ? new Uint8Array(request.signature) : undefined;
    const publicKey = this.#options.swapPublicKey;
    if (publicKey !== undefined && signature === undefined) throw invalid('signature is missing: this server only accepts models signed by its publisher key');
    if (publicKey === undefined && signature !== undefined) throw invalid('the request carries a signature but the server has no public key to check it against (swapPublicKey)');
    const result = await this.#engine!.swap(source, {
      sha256: request.sha256 || undefined,
      ...(signature === undefined ? {} : { signature, publicKey }),
      version: request.version || undefined,
      allowSignatureChange: request.allow_signature_change,
    });
    const t = result.timings;
    return {
      from_version: result.from,
      to_version: result.to,
      backend: result.backend,
      sha256: result.sha256,
      signed: result.signed,
      signature_changes: result.signatureChanges,
      prepare_ms: t.readMs + t.verifyMs + t.loadMs + t.warmupMs,
    };
  }

  #inferStream(call: grpc.ServerDuplexStream<AudioChunkMessage, unknown>): void {
    const started = performance.now();
    const refuse = (status: CallStatus) => {
      this.#record('InferStream', status, undefined, started);
      call.emit('error', serviceError(status));
    };
    try {
      if (this.#state !== 'serving') return refuse({ code: grpc.status.UNAVAILABLE, details: 'the server is shutting down', internal: false });
      const wake = this.#wake;
      if (wake === undefined) {
        return refuse({ code: grpc.status.UNIMPLEMENTED, details: 'InferStream needs the wake-word models: this server was started without them (wakeWord option, --wake-word-dir)', internal: false });
      }
      this.#metrics.streamOpened();
      const session: StreamSession = new StreamSession(call, {
        models: wake.models,
        threshold: this.#options.wakeWord!.threshold,
        maxPendingMs: this.#options.wakeWord!.maxPendingMs,
        onChunk: (seconds) => this.#metrics.chunk(seconds),
        onWakeWord: (name) => this.#metrics.wakeWord(name),
        onCommand: (command, intent) => this.#metrics.command(command, intent),
        onClose: (status, error) => {
          this.#sessions.delete(session);
          this.#metrics.streamClosed();
          this.#record('InferStream', status, error, started);
        },
      });
      this.#sessions.add(session);
    } catch (error) {
      refuse(toStatus(error));
    }
  }
}

/** A server for one model (see ServerOptions); call start() to bind and serve. Bad options throw EDGEINFER_INVALID_ARGUMENT. */
export function createServer(options: ServerOptions): InferenceServer {
  return new InferenceServer(options);
}
