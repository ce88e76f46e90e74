/**
 * The backend registry, in order of preference, and the choice of a backend for a model: a named one, or
 * 'auto' (the first that is available and supports every node; with autoSelect 'fastest', every one that
 * does, timed on warm-up inputs, the fastest kept). A new backend is one file here plus one line below.
 */
import { EdgeInferError } from '../errors';
import type { TensorType } from '../tensor';
import { allocateTensorData, type Tensor } from '../tensor';
import type { Backend, BackendLoadOptions, BackendSession, ModelSource, Support } from './backend';
import { nativeBackend } from './native-backend';
import { onnxRuntimeBackend } from './onnxruntime-backend';

const registry: Backend[] = [nativeBackend, onnxRuntimeBackend];

/** The registered backends, in order of preference. */
export function backends(): readonly Backend[] {
  return registry;
}

export function findBackend(name: string): Backend | undefined {
  return registry.find((backend) => backend.name === name);
}

/** Each registered backend and whether it can run in this process (and if not, why). */
export function listBackends(): { name: string; available: boolean; reason?: string }[] {
  return registry.map((backend) =>
    backend.isAvailable() ? { name: backend.name, available: true } : { name: backend.name, available: false, reason: backend.unavailableError().message },
  );
}

export type AutoSelect = 'first' | 'fastest';

export interface Selection {
  session: BackendSession;
  /** Why this backend runs the model, in words (Engine.info().backendReason). */
  reason: string;
}

/** Loads the model on the backend asked for ('auto' or a registered name). */
export async function loadOnBackend(request: string, source: ModelSource, options: BackendLoadOptions, autoSelect: AutoSelect): Promise<Selection> {
  if (request !== 'auto') {
    const backend = findBackend(request)!;
    if (!backend.isAvailable()) throw backend.unavailableError();
    return { session: await backend.load(source, options), reason: `backend '${backend.name}' was requested` };
  }
  const refusals: { backend: Backend; support: Extract<Support, { ok: false }> }[] = [];
  const unavailable: Backend[] = [];
  const candidates: Backend[] = [];
  for (const backend of registry) {
    const support = backend.supports(source.model, options);
    if (!support.ok) refusals.push({ backend, support });
    else if (!backend.isAvailable()) unavailable.push(backend);
    else candidates.push(backend);
  }
  const refused = refusals.map(({ support }) => support.reason);
  const loadFailures: EdgeInferError[] = [];
  const loaded: BackendSession[] = [];
  for (const backend of candidates) {
    try {
      loaded.push(await backend.load(source, options));
    } catch (error) {
      // A backend that finds a node it cannot run after all (e.g. a lowering limit) leaves it to the next one.
      if (!(error instanceof EdgeInferError) || error.code !== 'EDGEINFER_UNSUPPORTED_OP') {
        for (const session of loaded) session.dispose();
        throw error;
      }
      loadFailures.push(error);
      refused.push(`${backend.name} could not prepare it: ${error.message}`);
    }
    if (loaded.length > 0 && autoSelect === 'first') break;
  }
  if (loaded.length === 0) throw noBackend(refusals, unavailable, loadFailures);
  const why = refused.length > 0 ? `${refused.join('; ')}` : '';
  if (loaded.length === 1) {
    const session = loaded[0];
    const reason = why === '' ? `auto: the ${session.backend} backend runs every node of the model` : `auto: ${why}; ${session.backend} runs it`;
    return { session, reason: autoSelect === 'fastest' && why === '' ? `${reason} (the only backend available for it)` : reason };
  }
  return fastest(loaded, why);
}

/** The error when no backend can run the model: the first refusal's code and detail, every reason, install hints. */
function noBackend(refusals: { backend: Backend; support: Extract<Support, { ok: false }> }[], unavailable: Backend[], loadFailures: EdgeInferError[]): EdgeInferError {
  const hints = unavailable.map((backend) => backend.installHint ?? backend.unavailableError().message);
  if (loadFailures.length > 0 && refusals.length === 0) {
    const first = loadFailures[0];
    return new EdgeInferError(first.code, [first.message, ...hints].join('; '), { ...first.detail, ...(hints.length ? { hints } : {}) });
  }
  const unsupported = refusals.flatMap(({ support }) => (support.unsupported ? [support.unsupported] : []))[0];
  const reasons = [...refusals.map(({ support }) => support.reason), ...loadFailures.map((error) => error.message)];
  const message = `no backend can run this model: ${reasons.join('; ')}${hints.length ? `; ${hints.join('; ')}` : ''}`;
  // Missing ops first (the native error, with how to get a backend that has them); then a refused option; else nothing installed.
  const code = unsupported || loadFailures.length > 0 ? 'EDGEINFER_UNSUPPORTED_OP' : reasons.length > 0 ? 'EDGEINFER_INVALID_ARGUMENT' : 'EDGEINFER_BACKEND_UNAVAILABLE';
  return new EdgeInferError(code, message, { ...(loadFailures[0]?.detail ?? {}), ...(unsupported ? { unsupported } : {}), reasons, ...(hints.length ? { hints } : {}) });
}

/** Random feeds of the input shapes (symbolic dims = 1): floats in [-1, 1], integers and bools 0 (a valid index). */
export function warmupFeeds(session: BackendSession): { feeds: Record<string, Tensor>; dims: Record<string, number[]> } {
  let state = 0x9e3779b9;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const feeds: Record<string, Tensor> = {};
  const dims: Record<string, number[]> = {};
  for (const input of session.inputs) {
    const shape = input.dims.map((dim) => (typeof dim === 'number' ? dim : 1));
    const data = allocateTensorData(input.type as TensorType, shape.reduce((a, b) => a * b, 1));
    if (data instanceof Float32Array || data instanceof Float64Array) for (let i = 0; i < data.length; i++) data[i] = random() * 2 - 1;
    feeds[input.name] = { type: input.type, data, dims: shape };
    dims[input.name] = shape;
  }
  return { feeds, dims };
}

const timedRuns = 5;

/** Times every loaded session on the same warm-up inputs (one untimed run, then the median of five) and keeps the fastest. */
async function fastest(sessions: BackendSession[], why: string): Promise<Selection> {
  const { feeds, dims } = warmupFeeds(sessions[0]);
  const timed: { session: BackendSession; median: number }[] = [];
  const failed: string[] = [];
  for (const session of sessions) {
    try {
      await session.run(feeds, dims, false);
      const times: number[] = [];
      for (let i = 0; i < timedRuns; i++) {
        const start = performance.now();
        await session.run(feeds, dims, false);
        times.push(performance.now() - start);
      }
      times.sort((a, b) => a - b);
      timed.push({ session, median: times[timedRuns >> 1] });
    } catch (error) {
      failed.push(`${session.backend} failed on the warm-up inputs (${(error as Error).message})`);
      session.dispose();
    }
  }
  if (timed.length === 0) throw new EdgeInferError('EDGEINFER_INTERNAL', `autoSelect 'fastest': every backend failed on the warm-up inputs: ${failed.join('; ')}`);
  timed.sort((a, b) => a.median - b.median);
  for (const { session } of timed.slice(1)) session.dispose();
  const shapes = Object.entries(dims).map(([name, shape]) => `${name} [${shape.join(', ')}]`).join(', ');
  const times = timed.map(({ session, median }) => `${session.backend} ${median < 1 ? median.toFixed(3) : median.toFixed(2)} ms`).join(', ');
  const reason = `autoSelect 'fastest': ${times} (median of ${timedRuns} warm-up runs on ${shapes}); kept ${timed[0].session.backend}${failed.length ? `; ${failed.join('; ')}` : ''}${why ? `; ${why}` : ''}`;
  return { session: timed[0].session, reason };
}
