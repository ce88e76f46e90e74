/**
 * prepareModel in a worker thread: the optimiser's graph work (9-16 ms for openWakeWord's embedding model,
 * far more for a transformer) then runs beside the event loop instead of on it, which is what a hot swap
 * under load needs. The model travels by structured clone both ways (a copy of its weights each way, at
 * memcpy speed). One worker serves every call of the process, one after another; it is started on first use
 * and ended after `idleMilliseconds` without work (an idle isolate holds memory), and never keeps the
 * process alive while idle.
 */
import path from 'node:path';
import type { Worker } from 'node:worker_threads';

import { EdgeInferError, type EdgeInferErrorCode } from '../errors';
import { startModuleWorker } from '../module-worker';
import type { Model } from './ir';
import type { PreparedModel } from './pipeline';

const entry = path.join(__dirname, 'prepare-worker');
const idleMilliseconds = 10_000;

interface Reply {
  id: number;
  prepared?: PreparedModel;
  error?: { code: EdgeInferErrorCode; message: string; detail?: Record<string, unknown> };
}

interface SharedWorker {
  worker: Worker;
  pending: Map<number, { resolve: (prepared: PreparedModel) => void; reject: (error: EdgeInferError) => void }>;
  idle?: NodeJS.Timeout;
}

let shared: SharedWorker | undefined;
let nextId = 1;


function failAll(current: SharedWorker, error: EdgeInferError): void {
  if (shared === current) shared = undefined;
  for (const { reject } of current.pending.values()) reject(error);
  current.pending.clear();
}

function acquire(): SharedWorker {
  if (shared) return shared;
  const current: SharedWorker = { worker: startModuleWorker(entry), pending: new Map() };
  current.worker.on('message', (reply: Reply) => {
    const waiter = current.pending.get(reply.id);
    if (!waiter) return;
    current.pending.delete(reply.id);
    if (reply.prepared) waiter.resolve(reply.prepared);
    else waiter.reject(new EdgeInferError(reply.error!.code, reply.error!.message, reply.error!.detail));
    if (current.pending.size === 0) {
      current.worker.unref();
      current.idle = setTimeout(() => {
        if (shared === current) shared = undefined;
        void current.worker.terminate();
      }, idleMilliseconds).unref();
    }
  });
  current.worker.on('error', (error) => failAll(current, new EdgeInferError('EDGEINFER_MODEL_INVALID', `preparing the model off the JS thread failed: ${error.message}`)));
  current.worker.on('exit', (code) => failAll(current, new EdgeInferError('EDGEINFER_MODEL_INVALID', `the model preparation worker exited (${code}) before answering`)));
  shared = current;
  return current;
}

export function prepareModelOffThread(model: Model, supportedOps: ReadonlySet<string>): Promise<PreparedModel> {
  const current = acquire();
  clearTimeout(current.idle);
  current.worker.ref(); // work pending: the process waits for the answer
  const id = nextId++;
  return new Promise((resolve, reject) => {
    current.pending.set(id, { resolve, reject });
    current.worker.postMessage({ id, model, supportedOps: [...supportedOps] });
  });
}
