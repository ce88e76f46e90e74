/**
 * A worker thread running one of the library's own modules. From the TypeScript sources (tests, a checkout) the
 * worker needs the tsx loader too, so it starts from a two-line eval; the compiled package starts the .js file.
 */
import path from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `entry`: the module's path without its extension (`path.join(__dirname, 'name')` in the caller). */
export function startModuleWorker(entry: string, options: WorkerOptions = {}): Worker {
  const file = `${entry}${path.extname(__filename)}`;
  if (__filename.endsWith('.ts')) {
    return new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(file)});`, { ...options, eval: true });
  }
  return new Worker(file, options);
}
