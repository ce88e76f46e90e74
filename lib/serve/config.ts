/** createServer()'s options: their types, documented defaults, and the checks (EDGEINFER_INVALID_ARGUMENT). */
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

import type { ServerCredentials } from '@grpc/grpc-js';

import type { BatchSchedulerOptions } from '../batch-scheduler';
import { Engine, type EngineOptions } from '../engine';
import { checkInteger, checkOptions, invalid } from '../validate';
import { isCommandScoreBy, type CommandScoreBy } from '../wakeword/command-stage';

/**
 * The command stage after a wake word (lib/wakeword/command-stage.ts): a model over the embeddings that follow,
 * [1, frames, 96] in, class probabilities (one class "no command") or one score out. openWakeWord's timer head
 * today; a distilled command model with the same contract replaces it by changing `model` (and `name`).
 */
export interface CommandServeOptions {
  /** The command model: a path or its bytes. */
  model: string | Uint8Array;
  /** The stage's name in events (CommandEvent.command), e.g. 'timer'. Default 'command'. */
  name?: string;
  /** A command fires when its score (`scoreBy`; a single-score model's score) reaches this. Default 0.5. */
  threshold?: number;
  /** 'command' (default): 1 - P(no command); 'intent': the likeliest intent's probability (a distilled classifier). */
  scoreBy?: CommandScoreBy;
  /** 80 ms chunks after the wake word during which the model runs. Default: the model's frames + 6. */
  windowChunks?: number;
  /** Consecutive chunks one intent must hold the threshold before it fires. Default 1: the first crossing. */
  confirmChunks?: number;
  /** Embeddings per model input when the model does not state it (its input's second dim). */
  frames?: number;
  /** Intent per output index, null for "no command". Default: from the output's name (openWakeWord's JSON), else `name`. */
  labels?: (string | null)[];
}

export interface WakeWordServeOptions {
  /** openWakeWord melspectrogram.onnx: a path or its bytes. */
  melspectrogram: string | Uint8Array;
  /** openWakeWord embedding_model.onnx. */
  embedding: string | Uint8Array;
  /** Heads by the name events carry (e.g. { hey_jarvis: '…/hey_jarvis_v0.1.onnx' }); at least one. */
  heads: Record<string, string | Uint8Array>;
  /** Score at which a head fires (once per crossing). Default 0.5, openWakeWord's. */
  threshold?: number;
  /** Engine options for these models. Default: the Engine's defaults (float32, native when it can). */
  engineOptions?: EngineOptions;
  /** Audio a stream may have waiting before the server stops reading from it. Default 1000 ms. */
  maxPendingMs?: number;
  /** A command stage after each wake word: CommandEvents on InferStream. Default: none (wake words only). */
  command?: CommandServeOptions;
}

export interface ServerOptions {
  /** The model Infer serves: a path or ONNX bytes, loaded by start() and disposed by shutdown(). Give this or `engine`. */
  model?: string | Uint8Array;
  /** An Engine already loaded: served as is (SwapModel swaps it), not disposed by shutdown(). Give this or `model`. */
  engine?: Engine;
  /** Options for loading `model`. Default: the Engine's defaults. */
  engineOptions?: EngineOptions;
  /** The BatchScheduler Infer goes through (maxBatchSize default 8, maxQueueDelayMicros 0, maxQueueSize 1024, …). */
  scheduler?: BatchSchedulerOptions;
  /** Models of the InferStream pipeline. Without them InferStream answers UNIMPLEMENTED. */
  wakeWord?: WakeWordServeOptions;
  /** The token SwapModel requires. Without it SwapModel is disabled (PERMISSION_DENIED). */
  adminToken?: string;
  /**
   * The publisher's Ed25519 public key (KeyObject or PEM): when set, SwapModel requires a signature of the model
   * bytes by it. Without it, a request carrying a signature is refused (nothing to check it against).
   */
  swapPublicKey?: KeyObject | string | Uint8Array;
  /** Address to bind. Default '127.0.0.1': reachable from other machines only when told so. */
  host?: string;
  /** Port to bind; 0 (default) takes an ephemeral one (start() returns it). */
  port?: number;
  /** Transport security. Default: insecure (plaintext), fit for loopback. */
  credentials?: ServerCredentials;
  /** Serve Prometheus text on http://<metricsHost>:<metricsPort>/metrics (0: ephemeral). Default: no metrics endpoint. */
  metricsPort?: number;
  /** Default '127.0.0.1'. */
  metricsHost?: string;
  /** Largest request message; larger ones get RESOURCE_EXHAUSTED from grpc-js. Default 4 MiB (gRPC's default). */
  maxMessageBytes?: number;
  /** Errors that are not the caller's fault (sent as INTERNAL without detail). Default: one line on stderr. */
  onInternalError?: (error: unknown, method: string) => void;
}

export interface ResolvedServerOptions {
  model?: string | Uint8Array;
  engine?: Engine;
  engineOptions?: EngineOptions;
  scheduler: BatchSchedulerOptions;
  wakeWord?: Required<Omit<WakeWordServeOptions, 'engineOptions' | 'command'>> & { engineOptions?: EngineOptions; command?: CommandServeOptions & { name: string } };
  adminToken?: string;
  swapPublicKey?: KeyObject | string | Uint8Array;
  host: string;
  port: number;
  credentials?: ServerCredentials;
  metricsPort?: number;
  metricsHost: string;
  maxMessageBytes: number;
  onInternalError: (error: unknown, method: string) => void;
}

const known = new Set([
  'model',
  'engine',
  'engineOptions',
  'scheduler',
  'wakeWord',
  'adminToken',
  'swapPublicKey',
  'host',
  'port',
  'credentials',
  'metricsPort',
  'metricsHost',
  'maxMessageBytes',
  'onInternalError',
]);

function checkSource(value: unknown, name: string): string | Uint8Array {
  if ((typeof value !== 'string' || value === '') && !(value instanceof Uint8Array)) throw invalid(`${name} must be a model path or its bytes (Uint8Array)`, { argument: name });
  return value as string | Uint8Array;
}

function checkHost(value: unknown, name: string): string {
  // An IP address or a host name: no scheme, port or path (they would silently bind something else).
  if (typeof value !== 'string' || value === '' || (isIP(value) === 0 && !/^[A-Za-z0-9.-]+$/.test(value))) {
    throw invalid(`${name} must be an IP address or host name, got ${String(value)}`, { argument: name });
  }
  return value;
}

const defaultInternalError = (error: unknown, method: string) => {
  process.stderr.write(`edgeinfer serve: internal error in ${method}: ${(error as Error)?.stack ?? String(error)}\n`);
};

export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  const o = checkOptions(options, 'options');
  if (options === undefined) throw invalid('createServer needs options with a model or an engine');
  for (const key of Object.keys(o)) if (!known.has(key)) throw invalid(`'${key}' is not an option of createServer (${[...known].join(', ')})`, { argument: key });
  if ((o.model === undefined) === (o.engine === undefined)) throw invalid('give exactly one of model (a path or bytes) and engine (a loaded Engine)', { argument: 'model' });
  if (o.engine !== undefined && !(o.engine instanceof Engine)) throw invalid('engine must be an Engine', { argument: 'engine' });
  if (o.engine !== undefined && o.engineOptions !== undefined) throw invalid('engineOptions apply to model; an engine given is used as loaded', { argument: 'engineOptions' });
  const resolved: ResolvedServerOptions = {
    model: o.model === undefined ? undefined : checkSource(o.model, 'model'),
    engine: o.engine as Engine | undefined,
    engineOptions: checkOptions(o.engineOptions, 'engineOptions') as EngineOptions,
    scheduler: checkOptions(o.scheduler, 'scheduler') as BatchSchedulerOptions,
    host: o.host === undefined ? '127.0.0.1' : checkHost(o.host, 'host'),
    port: checkInteger(o.port ?? 0, 'port', 0, 65535),
    metricsHost: o.metricsHost === undefined ? '127.0.0.1' : checkHost(o.metricsHost, 'metricsHost'),
    metricsPort: o.metricsPort === undefined ? undefined : checkInteger(o.metricsPort, 'metricsPort', 0, 65535),
    maxMessageBytes: checkInteger(o.maxMessageBytes ?? 4 * 1024 * 1024, 'maxMessageBytes', 1024, 2 ** 31 - 1),
    onInternalError: (o.onInternalError as ResolvedServerOptions['onInternalError'] | undefined) ?? defaultInternalError,
  };
  if (typeof resolved.onInternalError !== 'function') throw invalid('onInternalError must be a function', { argument: 'onInternalError' });
  if (o.adminToken !== undefined) {
    // A short token is guessable by a loop of SwapModel calls.
    if (typeof o.adminToken !== 'string' || o.adminToken.trim().length < 16) throw invalid('adminToken must be a string of at least 16 characters', { argument: 'adminToken' });
    resolved.adminToken = o.adminToken.trim();
  }
  if (o.swapPublicKey !== undefined) resolved.swapPublicKey = o.swapPublicKey as ResolvedServerOptions['swapPublicKey'];
  if (o.credentials !== undefined) {
    if (o.credentials === null || typeof o.credentials !== 'object' || typeof (o.credentials as ServerCredentials)._isSecure !== 'function') {
      throw invalid('credentials must be grpc.ServerCredentials', { argument: 'credentials' });
    }
    resolved.credentials = o.credentials as ServerCredentials;
  }
  if (o.wakeWord !== undefined) {
    const w = checkOptions(o.wakeWord, 'wakeWord');
    const heads = checkOptions(w.heads, 'wakeWord.heads');
    if (Object.keys(heads).length === 0) throw invalid('wakeWord.heads must name at least one head model', { argument: 'wakeWord.heads' });
    for (const [name, head] of Object.entries(heads)) {
      if (!/^[\w.-]+$/.test(name)) throw invalid(`wakeWord.heads: '${name}' is not a usable head name (letters, digits, _ . -)`, { argument: 'wakeWord.heads' });
      checkSource(head, `wakeWord.heads.${name}`);
    }
    const threshold = w.threshold ?? 0.5;
    if (typeof threshold !== 'number' || !(threshold > 0 && threshold <= 1)) throw invalid(`wakeWord.threshold must be in (0, 1], got ${String(threshold)}`, { argument: 'wakeWord.threshold' });
    resolved.wakeWord = {
      melspectrogram: checkSource(w.melspectrogram, 'wakeWord.melspectrogram'),
      embedding: checkSource(w.embedding, 'wakeWord.embedding'),
      heads: heads as Record<string, string | Uint8Array>,
      threshold,
      maxPendingMs: checkInteger(w.maxPendingMs ?? 1000, 'wakeWord.maxPendingMs', 80, 600_000),
      engineOptions: checkOptions(w.engineOptions, 'wakeWord.engineOptions') as EngineOptions,
    };
    if (w.command !== undefined) resolved.wakeWord.command = checkCommand(w.command);
  }
  return resolved;
}

const commandKeys = new Set(['model', 'name', 'threshold', 'scoreBy', 'windowChunks', 'confirmChunks', 'frames', 'labels']);

function checkCommand(value: unknown): CommandServeOptions & { name: string } {
  const c = checkOptions(value, 'wakeWord.command');
  for (const key of Object.keys(c)) if (!commandKeys.has(key)) throw invalid(`'${key}' is not an option of wakeWord.command (${[...commandKeys].join(', ')})`, { argument: `wakeWord.command.${key}` });
  const name = c.name ?? 'command';
  if (typeof name !== 'string' || !/^[\w.-]+$/.test(name)) throw invalid(`wakeWord.command.name must be a name of letters, digits, _ . -, got ${String(name)}`, { argument: 'wakeWord.command.name' });
  const threshold = c.threshold ?? 0.5;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold <= 1)) throw invalid(`wakeWord.command.threshold must be in (0, 1], got ${String(threshold)}`, { argument: 'wakeWord.command.threshold' });
  if (c.scoreBy !== undefined && !isCommandScoreBy(c.scoreBy)) {
    throw invalid(`wakeWord.command.scoreBy must be 'command' or 'intent', got ${String(c.scoreBy)}`, { argument: 'wakeWord.command.scoreBy' });
  }
  const labels = c.labels;
  if (labels !== undefined && (!Array.isArray(labels) || labels.some((l) => l !== null && typeof l !== 'string'))) {
    throw invalid('wakeWord.command.labels must be an array of intent names (null for "no command")', { argument: 'wakeWord.command.labels' });
  }
  return {
    model: checkSource(c.model, 'wakeWord.command.model'),
    name,
    threshold,
    ...(c.scoreBy === undefined ? {} : { scoreBy: c.scoreBy }),
    ...(c.windowChunks === undefined ? {} : { windowChunks: checkInteger(c.windowChunks, 'wakeWord.command.windowChunks', 1, 10_000) }),
    ...(c.confirmChunks === undefined ? {} : { confirmChunks: checkInteger(c.confirmChunks, 'wakeWord.command.confirmChunks', 1, 10_000) }),
    ...(c.frames === undefined ? {} : { frames: checkInteger(c.frames, 'wakeWord.command.frames', 1, 10_000) }),
    ...(labels === undefined ? {} : { labels: labels as (string | null)[] }),
  };
}
