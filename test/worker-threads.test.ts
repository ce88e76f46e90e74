// The addon keeps per-environment state: it loads and computes inside worker_threads, several at once.
import assert from 'node:assert/strict';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import { workerPrelude } from './helpers/node-child';
import { gemmReference } from './helpers/reference';

const workerSource = `
  ${workerPrelude()}
  const { parentPort, workerData } = require('node:worker_threads');
  const edge = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
  (async () => {
    const { seed, m, k, n } = workerData;
    const a = new Uint8Array(m * k).map((_, i) => (i * 31 + seed) % 256);
    const w = new Int8Array(k * n).map((_, i) => ((i * 17 + seed) % 256) - 128);
    const packed = edge.packWeights(w, { k, n });
    const arena = new edge.Arena({ capacity: 1 << 20 });
    const out = arena.alloc('int32', m * n);
    await edge.gemmS8(a, packed, { m, out, aZeroPoint: 5 });
    const q = await edge.quantize(new Float32Array([seed, -seed]), { scale: 1 });
    parentPort.postMessage({ c: Array.from(out), q: Array.from(q), a: Array.from(a), w: Array.from(w) });
    arena.dispose();
  })().catch((e) => { parentPort.postMessage({ error: e.code + ' ' + e.message }); });
`;

describe('worker_threads', () => {
  it('runs kernels in several workers at once with correct, unmixed results', async () => {
    const shapes = [1, 2, 3, 4].map((seed) => ({ seed, m: seed + 1, k: 33 * seed, n: 7 + seed }));
    const results = await Promise.all(
      shapes.map(
        (shape) =>
          new Promise<{ c: number[]; q: number[]; a: number[]; w: number[]; error?: string }>((resolve, reject) => {
            const worker = new Worker(workerSource, { eval: true, workerData: shape });
            worker.once('message', (message) => {
              resolve(message);
              void worker.terminate();
            });
            worker.once('error', reject);
          }),
      ),
    );
    results.forEach((result, i) => {
      assert.equal(result.error, undefined, result.error);
      const { seed, m, k, n } = shapes[i];
      assert.deepEqual(result.c, Array.from(gemmReference(result.a, result.w, m, k, n, { aZeroPoint: 5 })));
      assert.deepEqual(result.q, [Math.min(127, seed), -Math.min(128, seed)]);
    });
  });
});
