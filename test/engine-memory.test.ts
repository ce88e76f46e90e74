// 100 000 inferences in a loop must not grow the process: the native side allocates nothing per run and
// JS garbage is collected. Measured in a child process with --expose-gc so collections are explicit; the
// warm-up (20 000 runs) lets V8 size its heap for the per-call output garbage first.
import assert from 'node:assert/strict';
import path from 'node:path';

import { EdgeInferError, Engine } from '../lib';
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

  // 2000 concurrent off-thread calls rotating input shapes on the embedding model (batch 1..N). Before the
  // fix every queued call built and held its own plan once the shapes outnumbered the cache (6.0 GB peak).
  it('2000 queued calls over 6 shapes: plans shared per shape, peak RSS within 2x of 4 shapes', () => {
    const model = fetchModels()['embedding_model.onnx'];
    const calls = Number(process.env.EDGEINFER_QUEUE_CALLS ?? 2000);
    const measure = (shapes: number) => {
      const script = `
        const { Engine } = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
        (async () => {
          const engine = await Engine.load(${JSON.stringify(model)}, { threads: 1, inlineBelowMicroseconds: 0 });
          const name = engine.inputs[0].name;
          const feeds = [];
          for (let b = 1; b <= ${shapes}; b++) feeds.push({ [name]: { type: 'float32', data: new Float32Array(b * 76 * 32).map((_, i) => Math.sin(i)), dims: [b, 76, 32, 1] } });
          let maxPlans = 0;
          const pending = [];
          for (let i = 0; i < ${calls}; i++) {
            pending.push(engine.infer(feeds[i % ${shapes}]).then((out) => { maxPlans = Math.max(maxPlans, engine.stats().native.plans.length); return out; }));
            maxPlans = Math.max(maxPlans, engine.stats().native.plans.length);
          }
          const results = await Promise.all(pending);
          const firsts = results.map((r) => Object.values(r)[0].dims[0]);
          for (let i = 0; i < ${calls}; i++) if (firsts[i] !== (i % ${shapes}) + 1) throw new Error('answer ' + i + ' has batch ' + firsts[i]);
          for (let i = 0; i < 4; i++) global.gc();
          console.log(JSON.stringify({ peak: process.resourceUsage().maxRSS * 1024, after: process.memoryUsage().rss, maxPlans, plansAfter: engine.stats().native.plans.length }));
        })().catch((e) => { console.error(e); process.exit(1); });`;
      const result = spawnNode(['--expose-gc', '-e', script]);
      assert.equal(result.status, 0, result.stderr);
      return JSON.parse(result.stdout.trim().split('\n').pop() as string) as { peak: number; after: number; maxPlans: number; plansAfter: number };
    };
    const four = measure(4);
    const six = measure(6);
    const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
    console.log(`      ${calls} queued calls: 4 shapes peak RSS ${mb(four.peak)} MB (${four.maxPlans} plans), 6 shapes ${mb(six.peak)} MB (${six.maxPlans} plans, ${mb(six.after)} MB after GC)`);
    assert.ok(six.maxPlans <= 8, `6 shapes kept ${six.maxPlans} plans alive at once (limit 2 x maxPlans = 8)`);
    assert.ok(six.plansAfter <= 4, `${six.plansAfter} plans kept when idle`);
    assert.ok(six.peak <= 2 * four.peak, `6 shapes peak RSS ${mb(six.peak)} MB > 2 x ${mb(four.peak)} MB`);
  });

  it('more shapes in flight than 2 x maxPlans: calls wait for a plan to drain, every answer right', async () => {
    const engine = await Engine.load(fetchModels()['embedding_model.onnx'], { threads: 1, inlineBelowMicroseconds: 0, maxPlans: 1 });
    const name = engine.inputs[0].name;
    const feed = (b: number) => ({ [name]: { type: 'float32' as const, data: new Float32Array(b * 76 * 32).map((_, i) => Math.cos(i * b)), dims: [b, 76, 32, 1] } });
    const expected = [1, 2, 3, 4, 5].map((b) => engine.inferSync(feed(b)));
    let most = 0;
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 60; i++) {
      const b = (i % 5) + 1;
      const input = feed(b);
      pending.push(engine.infer(input).then((out) => {
        most = Math.max(most, engine.stats().native!.plans.length);
        assert.deepEqual(out, expected[b - 1]);
      }));
      input[name].data.fill(NaN); // the waiting calls must have copied their inputs
      most = Math.max(most, engine.stats().native!.plans.length);
    }
    await Promise.all(pending);
    assert.ok(most <= 2, `${most} plans alive with maxPlans 1`);
    assert.equal(engine.stats().native!.plans.length, 1);
    const waiting = [engine.infer(feed(1)), engine.infer(feed(2)), engine.infer(feed(3))];
    // Without drain, calls still waiting (in the engine's queue, or for a plan) are refused; the running one finishes.
    engine.dispose({ drain: false });
    const settled = await Promise.allSettled(waiting);
    assert.equal(settled[0].status, 'fulfilled');
    assert.ok(settled.slice(1).some((s) => s.status === 'rejected' && (s.reason as EdgeInferError).code === 'EDGEINFER_DISPOSED'));
    await assert.rejects(Engine.load(fetchModels()['embedding_model.onnx'], { maxPlans: 0 }), EdgeInferError);
  });
});
