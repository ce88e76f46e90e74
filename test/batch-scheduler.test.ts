// BatchScheduler on real Engines: a tiny affine model (y = 2x + 1, symbolic batch) made with the ONNX writer,
// and the generated BERT-style encoder for sequence padding. A gate around the engine holds batches open
// so queueing is deterministic; every answer is checked against the request's own expected value.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

import { BatchScheduler, EdgeInferError, Engine, type BatchTarget, type Tensor } from '../lib';
import { affineModel as affine } from './fixtures/affine-model';
import { makeBertEncoder } from './fixtures/bert-encoder';
import { workerPrelude } from './helpers/node-child';
import { rng } from './helpers/random';

const WIDTH = 4;

/** y = 2x + 1 on x: float32 [batch, 4]. */
const affineModel = (fixedBatch?: number) => affine({ fixedBatch });

const feed = (values: number[], rows = 1): Record<string, Tensor> => ({ x: { type: 'float32', data: Float32Array.from(values), dims: [rows, WIDTH] } });
const rowOf = (id: number) => [id, id + 0.5, -id, id * 0.25];
const expectedRow = (id: number) => rowOf(id).map((v) => Math.fround(2 * Math.fround(v) + 1));

function assertAnswer(outputs: Record<string, Tensor>, id: number) {
  assert.deepEqual(outputs.y.dims, [1, WIDTH]);
  assert.deepEqual(Array.from(outputs.y.data as Float32Array), expectedRow(id), `answer for request ${id}`);
}

/** An Engine behind a gate: batches start at once but finish only when released (in any order). */
class GatedTarget implements BatchTarget {
  readonly batches: number[] = [];
  private readonly pending: (() => void)[] = [];
  auto = false;
  constructor(private readonly engine: Engine) {}
  get inputs() {
    return this.engine.inputs;
  }
  get outputs() {
    return this.engine.outputs;
  }
  async infer(feeds: Record<string, Tensor>) {
    this.batches.push(feeds.x.dims[0]);
    if (!this.auto) await new Promise<void>((resolve) => this.pending.push(resolve));
    return this.engine.infer(feeds);
  }
  get waiting() {
    return this.pending.length;
  }
  release(index = 0) {
    const [resolve] = this.pending.splice(index, 1);
    resolve?.();
  }
  releaseAll() {
    this.auto = true;
    while (this.pending.length > 0) this.release();
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function expectCode(promise: Promise<unknown>, code: string) {
  await assert.rejects(promise, (error: unknown) => error instanceof EdgeInferError && error.code === code);
}

describe('BatchScheduler', function () {
  this.timeout(300000);
  let engine: Engine;
  before(async () => {
    engine = await Engine.load(affineModel(), { threads: 1 });
  });
  after(() => engine.dispose());

  it('while a batch runs the next fills: delay 0 still batches under load; outputs split back per request', async () => {
    const target = new GatedTarget(engine);
    const scheduler = new BatchScheduler(target, { maxBatchSize: 4 });
    const answers = Array.from({ length: 9 }, (_, id) => scheduler.infer(feed(rowOf(id))));
    await tick();
    assert.deepEqual(target.batches, [1], 'the first request goes at once');
    target.releaseAll();
    const results = await Promise.all(answers);
    results.forEach((outputs, id) => assertAnswer(outputs, id));
    assert.deepEqual(target.batches, [1, 4, 4]);
    const stats = scheduler.stats();
    assert.equal(stats.completed, 9);
    assert.equal(stats.batches, 3);
    assert.equal(stats.batchSize.max, 4);
    await scheduler.close();
  });

  it('requests with their own batch > 1 are concatenated and split by rows', async () => {
    const target = new GatedTarget(engine);
    target.auto = true;
    const scheduler = new BatchScheduler(target, { maxBatchSize: 8, maxQueueDelayMicros: 20000 });
    const two = scheduler.infer(feed([...rowOf(1), ...rowOf(2)], 2));
    const three = scheduler.infer(feed([...rowOf(3), ...rowOf(4), ...rowOf(5)], 3));
    const [a, b] = await Promise.all([two, three]);
    assert.deepEqual(a.y.dims, [2, WIDTH]);
    assert.deepEqual(Array.from(a.y.data as Float32Array), [...expectedRow(1), ...expectedRow(2)]);
    assert.deepEqual(Array.from(b.y.data as Float32Array), [...expectedRow(3), ...expectedRow(4), ...expectedRow(5)]);
    assert.deepEqual(target.batches, [5]);
    assert.notEqual(a.y.data.buffer, b.y.data.buffer, 'each request owns its output buffer');
    await expectCode(scheduler.infer(feed(new Array(9 * WIDTH).fill(0), 9)), 'EDGEINFER_INVALID_ARGUMENT');
  });

  it('maxQueueDelayMicros gathers a batch; preferredBatchSizes dispatch without waiting', async () => {
    const target = new GatedTarget(engine);
    target.auto = true;
    const delayed = new BatchScheduler(target, { maxBatchSize: 8, maxQueueDelayMicros: 30000 });
    const started = performance.now();
    const first = [0, 1, 2].map((id) => delayed.infer(feed(rowOf(id))));
    (await Promise.all(first)).forEach((outputs, id) => assertAnswer(outputs, id));
    assert.ok(performance.now() - started >= 25, 'waited for the delay');
    assert.deepEqual(target.batches, [3]);
    const preferred = new BatchScheduler(target, { maxBatchSize: 8, maxQueueDelayMicros: 10_000_000, preferredBatchSizes: [2] });
    const quick = performance.now();
    (await Promise.all([5, 6].map((id) => preferred.infer(feed(rowOf(id)))))).forEach((outputs, i) => assertAnswer(outputs, 5 + i));
    assert.ok(performance.now() - quick < 1000, 'a preferred size goes without the 10 s delay');
  });

  it('maxQueueSize: EDGEINFER_QUEUE_FULL at once; timeouts and aborts leave the queue with their codes', async () => {
    const target = new GatedTarget(engine);
    const scheduler = new BatchScheduler(target, { maxBatchSize: 2, maxQueueSize: 3 });
    const running = scheduler.infer(feed(rowOf(0)));
    await tick();
    const queued = [1, 2, 3].map((id) => scheduler.infer(feed(rowOf(id))));
    await expectCode(scheduler.infer(feed(rowOf(4))), 'EDGEINFER_QUEUE_FULL');
    assert.equal(scheduler.stats().queued, 3);
    const controller = new AbortController();
    await expectCode(scheduler.infer(feed(rowOf(5)), { signal: AbortSignal.abort() }), 'EDGEINFER_ABORTED');
    // Make room: abort one queued request and time out another.
    const target2 = new GatedTarget(engine);
    const scheduler2 = new BatchScheduler(target2, { maxBatchSize: 1 });
    const head = scheduler2.infer(feed(rowOf(10)));
    await tick();
    const aborted = scheduler2.infer(feed(rowOf(11)), { signal: controller.signal });
    const timedOut = scheduler2.infer(feed(rowOf(12)), { timeoutMs: 20 });
    const kept = scheduler2.infer(feed(rowOf(13)));
    controller.abort();
    await expectCode(aborted, 'EDGEINFER_ABORTED');
    await expectCode(timedOut, 'EDGEINFER_TIMEOUT');
    assert.equal(scheduler2.stats().queued, 1);
    target2.releaseAll();
    assertAnswer(await head, 10);
    assertAnswer(await kept, 13);
    assert.deepEqual(target2.batches, [1, 1], 'the aborted and timed-out requests never ran');
    const stats = scheduler2.stats();
    assert.equal(stats.rejections.EDGEINFER_ABORTED, 1);
    assert.equal(stats.rejections.EDGEINFER_TIMEOUT, 1);
    target.releaseAll();
    assertAnswer(await running, 0);
    (await Promise.all(queued)).forEach((outputs, i) => assertAnswer(outputs, i + 1));
    assert.equal(scheduler.stats().rejections.EDGEINFER_QUEUE_FULL, 1);
  });

  it('a request timing out while its batch runs is rejected; its batch-mates are answered', async () => {
    const target = new GatedTarget(engine);
    const scheduler = new BatchScheduler(target, { maxBatchSize: 4, maxQueueDelayMicros: 5000 });
    const a = scheduler.infer(feed(rowOf(1)), { timeoutMs: 30 });
    const b = scheduler.infer(feed(rowOf(2)));
    await sleep(10);
    assert.equal(target.waiting, 1);
    await expectCode(a, 'EDGEINFER_TIMEOUT');
    target.releaseAll();
    assertAnswer(await b, 2);
  });

  it('priority: high is served before normal and low, FIFO within a level', async () => {
    const target = new GatedTarget(engine);
    const scheduler = new BatchScheduler(target, { maxBatchSize: 1 });
    const order: number[] = [];
    const first = scheduler.infer(feed(rowOf(0))).then(() => order.push(0));
    await tick();
    const rest = [
      scheduler.infer(feed(rowOf(1)), { priority: 'low' }).then(() => order.push(1)),
      scheduler.infer(feed(rowOf(2))).then(() => order.push(2)),
      scheduler.infer(feed(rowOf(3)), { priority: 'high' }).then(() => order.push(3)),
      scheduler.infer(feed(rowOf(4)), { priority: 'high' }).then(() => order.push(4)),
    ];
    target.releaseAll();
    await Promise.all([first, ...rest]);
    assert.deepEqual(order, [0, 3, 4, 2, 1]);
    await expectCode(scheduler.infer(feed(rowOf(5)), { priority: 'urgent' as never }), 'EDGEINFER_INVALID_ARGUMENT');
  });

  it('preserveOrdering: a later batch finishing first waits for the earlier one', async () => {
    for (const preserve of [true, false]) {
      const target = new GatedTarget(engine);
      const scheduler = new BatchScheduler(target, { maxBatchSize: 1, maxInflightBatches: 2, preserveOrdering: preserve });
      const order: number[] = [];
      const answers = [0, 1].map((id) => scheduler.infer(feed(rowOf(id))).then((outputs) => (assertAnswer(outputs, id), order.push(id))));
      await tick();
      assert.equal(target.waiting, 2);
      target.release(1); // the second batch finishes first
      await sleep(20);
      target.release(0);
      await Promise.all(answers);
      assert.deepEqual(order, preserve ? [0, 1] : [1, 0]);
    }
  });

  it('close(): drain waits for everything; without drain queued requests are aborted', async () => {
    const target = new GatedTarget(engine);
    const scheduler = new BatchScheduler(target, { maxBatchSize: 1 });
    const running = scheduler.infer(feed(rowOf(1)));
    await tick();
    const queued = scheduler.infer(feed(rowOf(2)));
    const closing = scheduler.close({ drain: false });
    await expectCode(queued, 'EDGEINFER_ABORTED');
    await expectCode(scheduler.infer(feed(rowOf(3))), 'EDGEINFER_DISPOSED');
    target.releaseAll();
    assertAnswer(await running, 1);
    await closing;
    const drained = new BatchScheduler(target, { maxBatchSize: 2 });
    const all = [4, 5, 6].map((id) => drained.infer(feed(rowOf(id))));
    await drained.close();
    assert.equal(drained.stats().completed, 3);
    (await Promise.all(all)).forEach((outputs, i) => assertAnswer(outputs, i + 4));
  });

  it('a model with a fixed batch dim: requests run one per call, and info() says why', async () => {
    const fixed = await Engine.load(affineModel(1), { threads: 1 });
    const scheduler = new BatchScheduler(fixed, { maxBatchSize: 8 });
    assert.equal(scheduler.info().batching, false);
    assert.match(scheduler.info().reason ?? '', /fixed first dimension/);
    (await Promise.all([1, 2, 3].map((id) => scheduler.infer(feed(rowOf(id)))))).forEach((outputs, i) => assertAnswer(outputs, i + 1));
    assert.equal(scheduler.stats().batchSize.max, 1);
    fixed.dispose();
  });

  it('sequence padding: BERT requests of lengths 5, 9 and 16 share a batch; each answer equals its own run', async () => {
    const bert = await Engine.load(makeBertEncoder({ layers: 2, hidden: 64, heads: 4, seq: 16, symbolicSequence: true }), { threads: 1 });
    const scheduler = new BatchScheduler(bert, { maxBatchSize: 8, maxQueueDelayMicros: 50000, padding: { axis: 1 } });
    const next = rng(3);
    const requests = [5, 9, 16].map((length) => {
      const ids = BigInt64Array.from({ length }, () => BigInt(1 + Math.floor(next() * 98)));
      return { input_ids: { type: 'int64' as const, data: ids, dims: [1, length] }, attention_mask: { type: 'int64' as const, data: new BigInt64Array(length).fill(1n), dims: [1, length] } };
    });
    const batched = await Promise.all(requests.map((r) => scheduler.infer(r)));
    assert.equal(scheduler.stats().batches, 1);
    for (let i = 0; i < requests.length; i++) {
      const alone = await bert.infer(requests[i]);
      const name = bert.outputs[0].name;
      assert.deepEqual(batched[i][name].dims, alone[name].dims);
      const a = batched[i][name].data as Float32Array;
      const b = alone[name].data as Float32Array;
      let worst = 0, scale = 0;
      for (let j = 0; j < a.length; j++) {
        worst = Math.max(worst, Math.abs(a[j] - b[j]));
        scale = Math.max(scale, Math.abs(b[j]));
      }
      assert.ok(worst <= 1e-4 * scale, `length ${requests[i].input_ids.dims[1]}: max diff ${worst} vs scale ${scale}`);
    }
    // Padded to a bucket of 4 rows as well: the filler row repeats the last (padded) one and is dropped.
    const bucketed = new BatchScheduler(bert, { maxBatchSize: 8, maxQueueDelayMicros: 50000, padding: { axis: 1 }, batchBuckets: [4] });
    const again = await Promise.all(requests.map((r) => bucketed.infer(r)));
    assert.equal(bucketed.stats().paddedRows, 1);
    for (let i = 0; i < requests.length; i++) {
      const name = bert.outputs[0].name;
      assert.deepEqual(again[i][name].dims, batched[i][name].dims);
      assert.deepEqual(Array.from(again[i][name].data as Float32Array), Array.from(batched[i][name].data as Float32Array), `length ${requests[i].input_ids.dims[1]} with a filler row`);
    }
    // Without padding, different lengths go in different batches.
    const unpadded = new BatchScheduler(bert, { maxBatchSize: 8, maxQueueDelayMicros: 20000 });
    await Promise.all(requests.map((r) => unpadded.infer(r)));
    assert.equal(unpadded.stats().batches, 3);
    bert.dispose();
  });

  // Inline runs read the batch in place; off-thread ones copy it at submission: either way the scheduler reuses
  // its admission slabs and batch buffers at once, which must never hand one request's rows to another.
  for (const where of ['inline', 'off-thread'] as const) it(`3000 concurrent requests with random aborts and timeouts: none lost, none answered twice, none mixed up (${where} runs)`, async () => {
    const target = where === 'inline' ? engine : await Engine.load(affineModel(), { threads: 1, inlineBelowMicroseconds: 0, maxConcurrentRuns: 2 });
    const scheduler = new BatchScheduler(target, { maxBatchSize: 16, maxQueueDelayMicros: 200, maxQueueSize: 100000, maxInflightBatches: 2 });
    const next = rng(77);
    const settled = new Map<number, string>();
    const jobs: Promise<void>[] = [];
    for (let id = 0; id < 3000; id++) {
      const roll = next();
      const controller = new AbortController();
      const options = roll < 0.1 ? { signal: controller.signal } : roll < 0.2 ? { timeoutMs: 1 + Math.floor(next() * 5) } : {};
      jobs.push(
        scheduler.infer(feed(rowOf(id)), options).then(
          (outputs) => {
            assert.ok(!settled.has(id), `request ${id} settled twice`);
            assertAnswer(outputs, id);
            settled.set(id, 'ok');
          },
          (error: unknown) => {
            assert.ok(!settled.has(id), `request ${id} settled twice`);
            assert.ok(error instanceof EdgeInferError, String(error));
            assert.ok(error.code === (roll < 0.1 ? 'EDGEINFER_ABORTED' : 'EDGEINFER_TIMEOUT'), `request ${id}: ${error.code}`);
            settled.set(id, error.code);
          },
        ),
      );
      if (roll < 0.1) setTimeout(() => controller.abort(), Math.floor(next() * 4));
      if (id % 100 === 0) await tick();
    }
    await Promise.all(jobs);
    assert.equal(settled.size, 3000);
    const stats = scheduler.stats();
    assert.equal(stats.completed + stats.failed, 3000);
    assert.ok(stats.batchSize.max > 1, 'requests were batched');
    await scheduler.close();
    if (target !== engine) await target.dispose();
  });

  // 6 KB rows (a wake-word window): 40 admission copies fill a slab, so slabs and batch buffers are reused
  // hundreds of times here. A copy handed back too early, or a buffer reused under a run, answers with
  // another request's rows.
  for (const where of ['inline', 'off-thread'] as const) it(`reused admission slabs and batch buffers never mix requests (6 KB rows, ${where} runs, random aborts)`, async () => {
    const width = 1536;
    const wide = await Engine.load(affine({ width }), { threads: 1, ...(where === 'off-thread' ? { inlineBelowMicroseconds: 0, maxConcurrentRuns: 2 } : {}) });
    const scheduler = new BatchScheduler(wide, { maxBatchSize: 24, maxQueueDelayMicros: 300, maxQueueSize: 100000, maxInflightBatches: 2 });
    const next = rng(91);
    const jobs: Promise<void>[] = [];
    let ok = 0;
    for (let id = 0; id < 4000; id++) {
      const data = new Float32Array(width);
      for (let j = 0; j < width; j++) data[j] = id + j / width;
      const controller = new AbortController();
      const aborts = next() < 0.15;
      jobs.push(
        scheduler.infer({ x: { type: 'float32', data, dims: [1, width] } }, aborts ? { signal: controller.signal } : {}).then(
          (outputs) => {
            const y = outputs.y.data as Float32Array;
            for (let j = 0; j < width; j++) assert.equal(y[j], Math.fround(2 * Math.fround(id + j / width) + 1), `request ${id}, element ${j}`);
            ok++;
          },
          (error: unknown) => assert.ok(aborts && error instanceof EdgeInferError && error.code === 'EDGEINFER_ABORTED', `request ${id}: ${String(error)}`),
        ),
      );
      data.fill(-1); // the caller reuses its array at once
      if (aborts) setTimeout(() => controller.abort(), Math.floor(next() * 3));
      if (id % 64 === 0) await tick();
    }
    await Promise.all(jobs);
    assert.ok(ok > 3000, `${ok} answered`);
    await scheduler.close();
    await wide.dispose();
  });

  it('runs in worker_threads', async () => {
    const bytes = affineModel();
    const source = `${workerPrelude()}
      const { parentPort, workerData } = require('node:worker_threads');
      const { Engine, BatchScheduler } = require(${JSON.stringify(require.resolve('../lib'))});
      (async () => {
        const engine = await Engine.load(new Uint8Array(workerData), { threads: 1 });
        const scheduler = new BatchScheduler(engine, { maxBatchSize: 8 });
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
          scheduler.infer({ x: { type: 'float32', data: Float32Array.of(i, i, i, i), dims: [1, 4] } })));
        await scheduler.close();
        parentPort.postMessage(results.map((r) => r.y.data[0]));
      })().catch((e) => parentPort.postMessage(String(e)));`;
    const worker = new Worker(source, { eval: true, workerData: bytes });
    const values = await new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    assert.deepEqual(values, Array.from({ length: 50 }, (_, i) => 2 * i + 1));
  });

  it('a queued request runs on its own copy: the caller may transfer or overwrite its arrays at once', async () => {
    const target = new GatedTarget(engine);
    const scheduler = new BatchScheduler(target, { maxBatchSize: 4 });
    const first = scheduler.infer(feed(rowOf(0)));
    await tick();
    const transferred = feed(rowOf(1));
    const overwritten = feed(rowOf(2));
    const pending = [scheduler.infer(transferred), scheduler.infer(overwritten)];
    structuredClone(transferred.x.data.buffer, { transfer: [transferred.x.data.buffer as ArrayBuffer] });
    (overwritten.x.data as Float32Array).fill(NaN);
    overwritten.x.dims = [9, 9] as never;
    target.releaseAll();
    assertAnswer(await first, 0);
    assertAnswer(await pending[0], 1);
    assertAnswer(await pending[1], 2);
    await expectCode(scheduler.infer({ x: new Proxy({ type: 'float32', data: new Float32Array(4), dims: [1, 4] }, {}) as never }), 'EDGEINFER_INVALID_ARGUMENT');
    await expectCode(scheduler.infer({ x: { type: 'float32', data: new Proxy(new Float32Array(4), {}), dims: [1, 4] } }), 'EDGEINFER_INVALID_ARGUMENT');
  });

  it('batch buckets: a native engine runs a few batch sizes (filler rows dropped), so a varying load does not replan', async () => {
    const rowsOf = (first: number, rows: number) => Array.from({ length: rows }, (_, r) => rowOf(first + r)).flat();
    const assertRows = (outputs: Record<string, Tensor>, first: number, rows: number) => {
      assert.deepEqual(outputs.y.dims, [rows, WIDTH]);
      assert.deepEqual(Array.from(outputs.y.data as Float32Array), Array.from({ length: rows }, (_, r) => expectedRow(first + r)).flat());
    };
    // Batches of 9 to 16 rows, three rounds: with buckets they run as 12 or 16 (two plans); without, as eight
    // sizes, more than the engine's four plans, so every batch builds its plan again.
    const builds = async (batchBuckets: 'auto' | 'off') => {
      const fresh = await Engine.load(affineModel(), { threads: 1 });
      const builtAtLoad = fresh.stats().native!.plansBuilt; // the load plans batch 1
      const scheduler = new BatchScheduler(fresh, { maxBatchSize: 16, batchBuckets });
      for (let round = 0; round < 3; round++) {
        for (let rows = 9; rows <= 16; rows++) assertRows(await scheduler.infer(feed(rowsOf(rows, rows), rows)), rows, rows);
      }
      const stats = fresh.stats().native!;
      const sizes = stats.plans.map((plan) => Number(/x:(\d+)x/.exec(plan.shapes)![1])).filter((rows) => rows > 1).sort((a, b) => a - b);
      const padded = scheduler.stats().paddedRows;
      await scheduler.close();
      fresh.dispose();
      return { built: stats.plansBuilt - builtAtLoad, sizes, padded };
    };
    const bucketed = await builds('auto');
    assert.equal(bucketed.built, 2, 'one plan for 12 rows, one for 16');
    assert.deepEqual(bucketed.sizes, [12, 16]);
    assert.equal(bucketed.padded, 3 * (3 + 2 + 1 + 0 + 3 + 2 + 1 + 0), 'rows added per round: 9-11 -> 12, 13-15 -> 16');
    const exact = await builds('off');
    assert.equal(exact.built, 24, 'eight sizes through four plans: rebuilt every time');
    assert.equal(exact.padded, 0);

    // An explicit list applies to any target; 'auto' pads only for targets that plan per shape.
    const target = new GatedTarget(engine);
    target.auto = true;
    const listed = new BatchScheduler(target, { maxBatchSize: 16, batchBuckets: [8, 4] });
    assertRows(await listed.infer(feed(rowsOf(1, 5), 5)), 1, 5);
    assertRows(await listed.infer(feed(rowsOf(2, 3), 3)), 2, 3);
    assertRows(await listed.infer(feed(rowsOf(3, 10), 10)), 3, 10);
    assert.deepEqual(target.batches, [8, 4, 10], 'padded to the smallest bucket that holds the batch; larger ones as they are');
    assert.equal(listed.stats().paddedRows, 4);
    const auto = new BatchScheduler(target, { maxBatchSize: 16 });
    assertRows(await auto.infer(feed(rowsOf(4, 5), 5)), 4, 5);
    assert.deepEqual(target.batches.slice(3), [5]);
    assert.equal(auto.stats().paddedRows, 0);
  });

  it('rejects bad options and bad requests with codes', async () => {
    for (const batchBuckets of [[0], [99], [2.5], 'sometimes', 5, {}]) {
      assert.throws(() => new BatchScheduler(engine, { maxBatchSize: 8, batchBuckets: batchBuckets as never }), (error: unknown) => error instanceof EdgeInferError && error.code === 'EDGEINFER_INVALID_ARGUMENT', String(batchBuckets));
    }
    assert.throws(() => new BatchScheduler(engine, { maxBatchSize: 0 }), EdgeInferError);
    assert.throws(() => new BatchScheduler(engine, { preferredBatchSizes: [99], maxBatchSize: 8 }), EdgeInferError);
    assert.throws(() => new BatchScheduler({} as never), EdgeInferError);
    const scheduler = new BatchScheduler(engine);
    await expectCode(scheduler.infer(null as never), 'EDGEINFER_INVALID_ARGUMENT');
    await expectCode(scheduler.infer({ x: { type: 'float32', data: new Float32Array(4), dims: [4] } }), 'EDGEINFER_SHAPE_MISMATCH');
    await expectCode(scheduler.infer(feed(rowOf(1)), { timeoutMs: -1 }), 'EDGEINFER_INVALID_ARGUMENT');
    await expectCode(scheduler.infer(feed(rowOf(1)), { signal: {} as never }), 'EDGEINFER_INVALID_ARGUMENT');
    // A bad request that passes the scheduler's checks fails alone, with the engine's code.
    await expectCode(scheduler.infer({ x: { type: 'float32', data: new Float32Array(3), dims: [1, WIDTH] } }), 'EDGEINFER_SHAPE_MISMATCH');
    // The engine's admission check (validateFeeds, run on the scheduler's own copy, copying nothing more) refuses
    // each of these alone; a good request beside them is answered.
    const withNaN = new Float32Array(WIDTH);
    withNaN[1] = NaN;
    const bad: [Record<string, unknown>, string][] = [
      [{ x: { type: 'float32', data: new Float32Array(WIDTH), dims: [1.5, WIDTH] } }, 'EDGEINFER_INVALID_ARGUMENT'],
      [{ x: { type: 'float32', data: new Float32Array(WIDTH), dims: [-1, WIDTH] } }, 'EDGEINFER_INVALID_ARGUMENT'],
      [{ x: { type: 'float32', data: new Float32Array(WIDTH), dims: [1, 'w'] } }, 'EDGEINFER_INVALID_ARGUMENT'],
      [{ x: { type: 'float32', data: new Float32Array(WIDTH), dims: [1, WIDTH, 1] } }, 'EDGEINFER_SHAPE_MISMATCH'],
      [{ x: { type: 'float32', data: withNaN, dims: [1, WIDTH] } }, 'EDGEINFER_INVALID_ARGUMENT'],
      [{ x: { type: 'int8', data: new Int8Array(WIDTH), dims: [1, WIDTH] } }, 'EDGEINFER_INVALID_ARGUMENT'],
      [{ x: { type: 'float32', data: new Float64Array(WIDTH), dims: [1, WIDTH] } }, 'EDGEINFER_INVALID_ARGUMENT'],
      [{ x: { type: 'float32', data: new Float32Array(WIDTH), dims: [1, WIDTH] }, extra: { type: 'float32', data: new Float32Array(1), dims: [1] } }, 'EDGEINFER_INVALID_ARGUMENT'],
    ];
    const good = scheduler.infer(feed(rowOf(2)));
    for (const [feeds, code] of bad) await expectCode(scheduler.infer(feeds as never), code);
    assert.deepEqual(Array.from((await good).y.data as Float32Array), expectedRow(2));
  });
});
