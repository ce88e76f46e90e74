// 100 000 inferences in a loop must not grow the process: the native side allocates nothing per run and
// JS garbage is collected. Measured in a child process with --expose-gc so collections are explicit; the
// warm-up (20 000 runs) lets V8 size its heap for the per-call output garbage first.
import assert from 'node:assert/strict';
import path from 'node:path';

import { spawnNode } from './helpers/node-child';
import { fetchModels } from './helpers/repo';


describe('Engine memory', function () {
  this.timeout(900000);

  it('100 000 inferences: RSS grows by less than 2 MB after warm-up', () => {
    const model = fetchModels()['hey_mycroft_v0.1.onnx'];
    const runs = Number(process.env.EDGEINFER_MEMORY_RUNS ?? 100000);
    const script = `
      const { Engine } = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
      (async () => {
        const engine = await Engine.load(${JSON.stringify(model)}, { threads: 1 });
        const name = engine.inputs[0].name;
        const feeds = { [name]: { type: 'float32', data: new Float32Array(16 * 96).map((_, i) => Math.sin(i)), dims: [1, 16, 96] } };
        const settle = () => { for (let i = 0; i < 4; i++) global.gc(); return process.memoryUsage().rss; };
        for (let i = 0; i < 20000; i++) engine.inferSync(feeds);
        const before = settle();
        for (let i = 0; i < ${runs}; i++) engine.inferSync(feeds);
        const after = settle();
        console.log(JSON.stringify({ before, after, runs: engine.stats().runs }));
      })();`;
    const result = spawnNode(['--expose-gc', '-e', script]);
    assert.equal(result.status, 0, result.stderr);
    const { before, after, runs: done } = JSON.parse(result.stdout.trim().split('\n').pop() as string) as { before: number; after: number; runs: number };
    assert.equal(done, runs + 20000);
    console.log(`      RSS after warm-up ${(before / 2 ** 20).toFixed(1)} MB, after ${runs} more inferences ${(after / 2 ** 20).toFixed(1)} MB`);
    assert.ok(after - before < 2 * 2 ** 20, `RSS grew by ${((after - before) / 2 ** 20).toFixed(2)} MB over ${runs} inferences`);
  });
});
