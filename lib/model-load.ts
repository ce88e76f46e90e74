/**
 * From EngineOptions and a model (path or bytes) to a loaded backend session and the facts info() reports:
 * what Engine.load does once and Engine.swap does per new model.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

import type { BackendLoadOptions, BackendSession } from './backends/backend';
import { backends, findBackend, loadOnBackend, type AutoSelect } from './backends/index';
import type { EngineInfo, EngineOptions } from './engine';
import { sha256Hex } from './model-verify';
import { readValidatedModel } from './onnx/pipeline';
import { checkInteger, checkOneOf, checkOptions, invalid } from './validate';

/** EngineOptions, validated. `raw` is a copy of the caller's object (backends read their own keys from it). */
export interface ResolvedOptions {
  backend: string;
  autoSelect: AutoSelect;
  load: BackendLoadOptions;
  allowNonFinite: boolean;
  version?: string;
  maxConcurrentRuns: number;
  raw: Readonly<Record<string, unknown>>;
}

export function resolveOptions(options: EngineOptions | undefined): ResolvedOptions {
  const o = { ...checkOptions(options, 'options') };
  const names = ['auto', ...backends().map((backend) => backend.name)];
  const backend = checkOneOf(o.backend ?? 'auto', names, 'backend');
  const autoSelect = checkOneOf(o.autoSelect ?? 'first', ['first', 'fastest'] as const, 'autoSelect');
  const precision = checkOneOf(o.precision ?? 'float32', ['float32', 'int8', 'fp16'] as const, 'precision');
  const threads = checkInteger(o.threads ?? defaultThreads(), 'threads', 1, 256);
  if (o.allowNonFinite !== undefined && typeof o.allowNonFinite !== 'boolean') throw invalid('allowNonFinite must be a boolean', { argument: 'allowNonFinite' });
  if (o.version !== undefined && (typeof o.version !== 'string' || o.version === '')) throw invalid('version must be a non-empty string', { argument: 'version' });
  const maxConcurrentRuns = checkInteger(o.maxConcurrentRuns ?? 1, 'maxConcurrentRuns', 1, 1024);
  const load: BackendLoadOptions = { precision, threads, raw: o };
  // Every backend checks its own options, used or not, so a typo fails here rather than on another machine.
  for (const each of backends()) each.checkOptions(load);
  if (backend !== 'auto' && !findBackend(backend)!.isAvailable()) throw findBackend(backend)!.unavailableError();
  return { backend, autoSelect, load, allowNonFinite: o.allowNonFinite === true, version: o.version as string | undefined, maxConcurrentRuns, raw: o };
}

export interface ModelBytes {
  bytes: Uint8Array;
  /** The file they were read from. */
  file?: string;
  /** Where external data files are resolved. */
  baseDir?: string;
}

/**
 * Reads a model file (asynchronously) or takes the caller's bytes. `copy`: bytes the caller owns are copied, so
 * what is verified is what is loaded even if the caller changes its buffer meanwhile.
 */
export async function readModelSource(source: string | Uint8Array, copy = false): Promise<ModelBytes> {
  if (typeof source === 'string') {
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(source);
    } catch (error) {
      throw invalid(`cannot read model file '${source}': ${(error as Error).message}`, { path: source });
    }
    return { bytes, file: source, baseDir: path.dirname(path.resolve(source)) };
  }
  if (source instanceof Uint8Array) return { bytes: copy ? new Uint8Array(source) : source };
  throw invalid('source must be a file path or a Uint8Array of ONNX bytes');
}

/** Parses, validates and loads the model on the backend the options ask for; the facts info() reports. */
export async function loadModel(source: ModelBytes, options: ResolvedOptions, sha256?: string): Promise<{ session: BackendSession; info: EngineInfo }> {
  const model = readValidatedModel(source.bytes, { baseDir: source.baseDir });
  // Parsing and the backend's preparation both run on this thread: let the calls that completed meanwhile through.
  await new Promise((resolve) => setImmediate(resolve));
  const modelVersion = options.version ?? (sha256 ?? sha256Hex(source.bytes)).slice(0, 12);
  const { session, reason } = await loadOnBackend(options.backend, { bytes: source.bytes, path: source.file, baseDir: source.baseDir, model }, options.load, options.autoSelect);
  const notes = session.info.notes ?? [];
  const info: EngineInfo = {
    backend: session.backend,
    backendReason: notes.length > 0 ? `${reason}; ${notes.join('; ')}` : reason,
    modelVersion,
    precision: session.stats().precision,
    threads: options.load.threads,
    opset: model.opsets.get('') ?? 0,
    producer: model.producerName,
    producerVersion: model.producerVersion,
    metadata: { ...model.metadata },
    nodes: session.info.nodes,
    optimizations: session.info.optimizations,
    inputs: session.inputs,
    outputs: session.outputs,
    ...(session.info.details ? { [session.backend]: session.info.details } : {}),
  };
  return { session, info };
}

function defaultThreads(): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const os = require('node:os') as typeof import('node:os');
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}
