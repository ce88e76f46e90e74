/**
 * The ONNX Runtime backend's worker thread (one per engine): it creates the session (with the provider
 * fallback rule) and runs it, so onnxruntime-node's synchronous run never blocks the caller's event loop.
 * Messages in: { id, feeds: { name: { type, data, dims } } } with the input buffers transferred (copies the
 * engine made). Out: { ready } / { failed } once, then { id, outputs } or { id, error } per call, output
 * buffers transferred back.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { createSession, ortFailure, plainTensor, requireOnnxRuntime, type OrtConfig, type PlainError } from './onnxruntime-session';

interface Init {
  model: Uint8Array | string;
  config: OrtConfig;
}

interface Request {
  id: number;
  feeds: Record<string, { type: string; data: ArrayBufferView; dims: number[] }>;
}

const port = parentPort!;

async function main(): Promise<void> {
  const { model, config } = workerData as Init;
  const loaded = requireOnnxRuntime();
  if ('error' in loaded) {
    port.postMessage({ failed: { code: 'EDGEINFER_BACKEND_UNAVAILABLE', message: `onnxruntime-node cannot be loaded in a worker thread: ${loaded.error.message}` } satisfies PlainError });
    return;
  }
  const { ort } = loaded;
  const created = await createSession(ort, config, (options) => ort.InferenceSession.create(model, options));
  if ('error' in created) {
    port.postMessage({ failed: created.error });
    return;
  }
  const session = created.session as { run(feeds: unknown): Promise<Record<string, { type: string; cpuData?: unknown; data?: unknown; dims: readonly number[] }>>; outputNames: string[] };
  port.on('message', (request: Request) => {
    void run(ort, session, request);
  });
  port.postMessage({ ready: { providers: created.providers.map((spec) => spec.name), fallbacks: created.fallbacks } });
}

async function run(ort: { Tensor: new (type: string, data: unknown, dims: number[]) => unknown }, session: { run(feeds: unknown): Promise<Record<string, { type: string; cpuData?: unknown; data?: unknown; dims: readonly number[] }>> }, request: Request): Promise<void> {
  let results: Record<string, { type: string; data: ArrayBufferView; dims: number[] }>;
  try {
    const feeds: Record<string, unknown> = {};
    for (const [name, tensor] of Object.entries(request.feeds)) feeds[name] = new ort.Tensor(tensor.type, tensor.data, tensor.dims);
    const outputs = await session.run(feeds);
    results = {};
    for (const [name, value] of Object.entries(outputs)) results[name] = plainTensor(value);
  } catch (error) {
    port.postMessage({ id: request.id, error: ortFailure(error, 'run') });
    return;
  }
  // Transfer each output's buffer when the output owns all of it (one buffer per output); copy otherwise.
  const transfer: ArrayBuffer[] = [];
  for (const tensor of Object.values(results)) {
    const buffer = tensor.data.buffer;
    if (buffer instanceof ArrayBuffer && tensor.data.byteOffset === 0 && tensor.data.byteLength === buffer.byteLength && !transfer.includes(buffer)) transfer.push(buffer);
  }
  try {
    port.postMessage({ id: request.id, outputs: results }, transfer);
  } catch {
    port.postMessage({ id: request.id, outputs: results });
  }
}

main().catch((error: unknown) => {
  port.postMessage({ failed: { code: 'EDGEINFER_INTERNAL', message: `ONNX Runtime worker: ${error instanceof Error ? error.message : String(error)}` } satisfies PlainError });
});
