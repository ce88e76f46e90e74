/**
 * Worker entry of prepareModelOffThread: for each { id, model, supportedOps } received, runs the native
 * backend's preparation (shape inference, the optimiser, the support checks) and posts { id, prepared } back,
 * or { id, error: { code, message, detail } }.
 */
import { parentPort } from 'node:worker_threads';

import { EdgeInferError } from '../errors';
import type { Model } from './ir';
import { prepareModel } from './pipeline';

parentPort?.on('message', ({ id, model, supportedOps }: { id: number; model: Model; supportedOps: string[] }) => {
  try {
    const prepared = prepareModel(model, { supportedOps: new Set(supportedOps) });
    parentPort!.postMessage({ id, prepared });
  } catch (error) {
    const e = error as Error;
    const code = error instanceof EdgeInferError ? error.code : 'EDGEINFER_MODEL_INVALID';
    parentPort!.postMessage({ id, error: { code, message: e?.message ?? String(error), detail: error instanceof EdgeInferError ? error.detail : undefined } });
  }
});
