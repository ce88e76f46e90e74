/**
 * Worker entry of the voice feature workers (voice-feature-workers.ts): loads its own melspectrogram and
 * embedding Engines (and the embedding's span form) from workerData { models, threads, frames }, posts
 * { ready: true, embeddingWindowsPerRun } (or { error }), then for
 * each { id, jobs, speech } received renders and embeds that session (sessionExamples) and posts { id, examples }
 * with the feature arrays transferred, or { id, error: { code, message } }. { close: true } disposes the
 * Engines and lets the thread end.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { EdgeInferError } from '../errors';
import { sessionExamples, type FrontEnd } from './voice-examples';
import { disposeFrontEnd, loadFrontEnd, type Speech, type VoiceFeatureWorkerData } from './voice-feature-workers';
import type { Job } from './voice-utterances';

const { frames } = workerData as VoiceFeatureWorkerData;
const port = parentPort!;

function describe(error: unknown): { code: string; message: string } {
  return { code: error instanceof EdgeInferError ? error.code : 'EDGEINFER_INTERNAL', message: (error as Error)?.message ?? String(error) };
}

async function main(): Promise<void> {
  let engines: FrontEnd;
  try {
    engines = await loadFrontEnd(workerData as VoiceFeatureWorkerData);
  } catch (error) {
    port.postMessage({ error: describe(error) });
    return;
  }
  port.postMessage({ ready: true, embeddingWindowsPerRun: engines.embeddingSpan?.windows ?? 1 });
  port.on('message', (message: { close: true } | { id: number; jobs: Job[]; speech: Speech[] }) => {
    if ('close' in message) {
      void disposeFrontEnd(engines).finally(() => port.close());
      return;
    }
    sessionExamples(engines, message.jobs, message.speech, frames).then(
      (examples) => port.postMessage({ id: message.id, examples }, examples.flatMap((perJob) => perJob.map((e) => e.features.buffer as ArrayBuffer))),
      (error: unknown) => port.postMessage({ id: message.id, error: describe(error) }),
    );
  });
}

void main();
