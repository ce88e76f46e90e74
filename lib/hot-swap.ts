/**
 * Preparing a hot-swap (Engine.swap), everything before the switch and off the serving path: read the new
 * model (asynchronously), verify its bytes (sha256, Ed25519), load it on a backend with the engine's options
 * or the overrides, check its inputs and outputs against the serving model's, and warm it up. Any failure
 * disposes what was loaded and leaves the serving model alone. The switch itself is the Engine's.
 */
import type { BackendSession } from './backends/backend';
import { warmupFeeds } from './backends/index';
import type { EngineInfo, EngineOptions } from './engine';
import { EdgeInferError } from './errors';
import { loadModel, readModelSource, resolveOptions, type ModelBytes, type ResolvedOptions } from './model-load';
import { checkVerification, signatureDifferences, verifyBytes, type BytesVerification, type CheckedVerification } from './model-verify';
import { checkInteger, checkOptions, invalid } from './validate';

/** Engine.swap(source, options). Backend options given here replace the engine's for the new model. */
export interface SwapOptions
  extends BytesVerification,
    Pick<EngineOptions, 'backend' | 'autoSelect' | 'precision' | 'threads' | 'keepFloat' | 'inlineBelowMicroseconds' | 'profile' | 'maxPlans' | 'onnxruntime' | 'prepareOffThread'> {
  /** Accept inputs/outputs that differ from the serving model's (names, dtypes, ranks, fixed dims). Default false: EDGEINFER_VERIFY_FAILED. */
  allowSignatureChange?: boolean;
  /** Runs on generated inputs before the switch (plans built, weights packed). Default 1; 0 skips. */
  warmup?: number;
  /** The new model's version (info().modelVersion, resultInfo()). Default: the first 12 hex digits of its sha256. */
  version?: string;
}

export interface SwapResult {
  from: string;
  to: string;
  backend: string;
  /** sha256 of the new model's bytes (hex). */
  sha256: string;
  /** Whether an Ed25519 signature was checked. */
  signed: boolean;
  /** Signature differences accepted under allowSignatureChange (empty when compatible). */
  signatureChanges: string[];
  /** Milliseconds per step; `switchMicros`: the switch itself (the only part on the serving path). */
  timings: { readMs: number; verifyMs: number; loadMs: number; warmupMs: number; switchMicros: number };
}

/** A swap() call, validated, with what must not change while it waits for earlier swaps (bytes, options). */
export interface SwapRequest {
  source: string | Uint8Array;
  /** The path, or 'N bytes' (for events). */
  label: string;
  options: ResolvedOptions;
  checks: CheckedVerification;
  warmup: number;
  allowSignatureChange: boolean;
}

/** Options that describe the new model's load; the rest of the engine's options (queue, feed checks) stay. */
const loadKeys = ['backend', 'autoSelect', 'precision', 'threads', 'keepFloat', 'inlineBelowMicroseconds', 'profile', 'maxPlans', 'onnxruntime', 'prepareOffThread', 'version'];
const swapKeys = new Set(['sha256', 'signature', 'publicKey', 'allowSignatureChange', 'warmup', ...loadKeys]);

/** Validates swap()'s arguments (EDGEINFER_INVALID_ARGUMENT) and copies caller-owned bytes. */
export function checkSwapRequest(source: string | Uint8Array, options: SwapOptions | undefined, engineOptions: Readonly<Record<string, unknown>>): SwapRequest {
  const o = checkOptions(options, 'options');
  for (const key of Object.keys(o)) {
    if (!swapKeys.has(key)) throw invalid(`'${key}' is not an option of swap (${[...swapKeys].join(', ')})`, { argument: key });
  }
  if (typeof source !== 'string' && !(source instanceof Uint8Array)) throw invalid('source must be a file path or a Uint8Array of ONNX bytes', { argument: 'source' });
  if (o.allowSignatureChange !== undefined && typeof o.allowSignatureChange !== 'boolean') throw invalid('allowSignatureChange must be a boolean', { argument: 'allowSignatureChange' });
  const warmup = checkInteger(o.warmup ?? 1, 'warmup', 0, 10_000);
  const checks = checkVerification(o as BytesVerification);
  // The engine's options with the overrides; the engine's version never carries over to another model.
  const raw: Record<string, unknown> = { ...engineOptions };
  delete raw.version;
  for (const key of loadKeys) if (o[key] !== undefined) raw[key] = o[key];
  // A swap loads beside serving traffic: its graph preparation runs in a worker unless told otherwise.
  if (o.prepareOffThread === undefined && engineOptions.prepareOffThread === undefined) raw.prepareOffThread = true;
  return {
    source: typeof source === 'string' ? source : new Uint8Array(source),
    label: typeof source === 'string' ? source : `${source.byteLength} bytes`,
    options: resolveOptions(raw as EngineOptions),
    checks,
    warmup,
    allowSignatureChange: o.allowSignatureChange === true,
  };
}

export interface PreparedSwap {
  session: BackendSession;
  info: EngineInfo;
  sha256: string;
  signed: boolean;
  signatureChanges: string[];
  timings: { readMs: number; verifyMs: number; loadMs: number; warmupMs: number };
}

export interface SwapHooks {
  /** The session serving now (the signature to stay compatible with). */
  serving(): BackendSession;
  /** Throws when the engine may no longer switch (disposed). Called after every wait. */
  live(): void;
  /** The bytes passed verification. */
  verified(sha256: string, signed: boolean): void;
}

const elapsed = (start: number) => performance.now() - start;

/** Reads, verifies, loads, checks and warms up the new model; the caller switches to it (or disposes it). */
export async function prepareSwap(request: SwapRequest, hooks: SwapHooks): Promise<PreparedSwap> {
  let start = performance.now();
  const bytes: ModelBytes = await readModelSource(request.source);
  const readMs = elapsed(start);
  hooks.live();
  start = performance.now();
  const verified = verifyBytes(bytes.bytes, request.checks);
  const verifyMs = elapsed(start);
  hooks.verified(verified.sha256, verified.signed);
  start = performance.now();
  const { session, info } = await loadModel(bytes, request.options, verified.sha256);
  const loadMs = elapsed(start);
  try {
    hooks.live();
    const signatureChanges = signatureDifferences(hooks.serving(), session);
    if (signatureChanges.length > 0 && !request.allowSignatureChange) {
      throw new EdgeInferError('EDGEINFER_VERIFY_FAILED', `the new model's inputs/outputs differ from the serving model's: ${signatureChanges.join('; ')} (swap with allowSignatureChange: true to accept)`, {
        check: 'signature',
        differences: signatureChanges,
      });
    }
    start = performance.now();
    if (request.warmup > 0) {
      const { feeds, dims } = warmupFeeds(session);
      for (let i = 0; i < request.warmup; i++) await session.run(feeds, dims, false);
    }
    const warmupMs = elapsed(start);
    hooks.live();
    return { session, info, sha256: verified.sha256, signed: verified.signed, signatureChanges, timings: { readMs, verifyMs, loadMs, warmupMs } };
  } catch (error) {
    session.dispose();
    throw error;
  }
}
