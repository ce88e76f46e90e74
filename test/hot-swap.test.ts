// The engine's run queue (priority, abort, timeout, copies of waiting inputs), warmup, dispose({ drain }),
// resultInfo, and verified hot-swap. Models are tiny affine maps y = a*x + b (made with the ONNX writer) with a
// per-version a and b, so every answer can be checked against the version its call was admitted on.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { BatchScheduler, EdgeInferError, Engine, resultInfo, type EngineOptions, type Tensor } from '../lib';
import type { Model, TensorData } from '../lib/onnx/ir';
import { writeModel } from '../lib/onnx/writer';
import { affineModel } from './fixtures/affine-model';
import { measureSwaps, type SwapFigures } from './helpers/service-measures';
import { emulated } from './helpers/node-child';
import { fetchModels } from './helpers/repo';
import { rng } from './helpers/random';

const WIDTH = 4;
const ortAvailable = Engine.backends().some((backend) => backend.name === 'onnxruntime' && backend.available);

const scalar = (value: number): TensorData => ({ dtype: 'float32', dims: [], data: Float32Array.of(value) });

/** y = a*x + b on x: float32 [batch, width]. */
function affine(a: number, b: number, { width = WIDTH, input = 'x' }: { width?: number; input?: string } = {}): Uint8Array {
  return affineModel({ a, b, width, input });
}

/** y = x + 1 + 1 + … (`steps` Adds) on x: float32 [1, width]: a run long enough (tens of ms) to time out. */
function slowModel(steps = 60, width = 1 << 20): Uint8Array {
  const nodes = Array.from({ length: steps }, (_, i) => ({ name: `add${i}`, opType: 'Add', domain: '', inputs: [i === 0 ? 'x' : `t${i - 1}`, 'one'], outputs: [i === steps - 1 ? 'y' : `t${i}`], attributes: {} }));
  return writeModel({
    irVersion: 8,
    opsets: new Map([['', 13]]),
    producerName: 'edgeinfer-test',
    producerVersion: '0',
    metadata: {},
    graph: {
      name: 'slow',
      nodes,
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, width] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, width] }],
      initializers: new Map([['one', scalar(1)]]),
      valueInfo: new Map(),
    },
  });
}

interface Variant {
  a: number;
  b: number;
  bytes: Uint8Array;
  sha256: string;
}

const variant = (a: number, b: number): Variant => {
  const bytes = affine(a, b);
  return { a, b, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
};
const variants = [variant(2, 1), variant(3, -1), variant(5, 0.5)];

/** Request `id`'s input: multiples of 1/8 (a*x and a*x + b are exact in float32, fused or not). */
const xOf = (id: number) => Float32Array.from({ length: WIDTH }, (_, j) => ((id * 7 + j * 3) % 2000) / 8 - 100);
const feedOf = (id: number, data = xOf(id)): Record<string, Tensor> => ({ x: { type: 'float32', data, dims: [1, WIDTH] } });
const expectedOf = (v: { a: number; b: number }, id: number) => Array.from(xOf(id), (x) => Math.fround(Math.fround(v.a * x) + v.b));

function assertAnswer(outputs: Record<string, Tensor>, v: { a: number; b: number }, id: number, what = `request ${id}`) {
  assert.deepEqual(Object.keys(outputs), ['y'], `${what}: outputs carry no extra enumerable keys`);
  assert.deepEqual(outputs.y.dims, [1, WIDTH], what);
  assert.deepEqual(Array.from(outputs.y.data as Float32Array), expectedOf(v, id), what);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'fulfilled';
  } catch (error) {
    assert.ok(error instanceof EdgeInferError, `not an EdgeInferError: ${String(error)}`);
    return error.code;
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Engine run queue', function () {
  this.timeout(120000);

  it('serves by priority, FIFO within a level, one run in flight by default', async () => {
    const engine = await Engine.load(variants[0].bytes, { threads: 1, inlineBelowMicroseconds: 0 });
    assert.equal(engine.stats().engine.maxConcurrentRuns, 1);
    const order: string[] = [];
    const call = (name: string, id: number, priority?: 'high' | 'normal' | 'low') =>
      engine.infer(feedOf(id), priority ? { priority } : undefined).then((outputs) => {
        assertAnswer(outputs, variants[0], id);
        order.push(name);
      });
    const calls = [call('first', 0), call('low', 1, 'low'), call('normal1', 2), call('high1', 3, 'high'), call('normal2', 4, 'normal'), call('high2', 5, 'high')];
    assert.deepEqual({ queued: engine.stats().engine.queued, running: engine.stats().engine.running }, { queued: 5, running: 1 });
    await Promise.all(calls);
    assert.deepEqual(order, ['first', 'high1', 'high2', 'normal1', 'normal2', 'low']);
    await engine.dispose();
  });

  it('abort and timeout remove a waiting call (it never runs); a running call is answered at once, its result dropped', async () => {
    const engine = await Engine.load(variants[0].bytes, { threads: 1, inlineBelowMicroseconds: 0 });
    const runsBefore = engine.stats().runs;
    const events: string[] = [];
    const running = engine.infer(feedOf(0)).then(() => events.push('running done'));
    const controller = new AbortController();
    const aborted = codeOf(engine.infer(feedOf(1), { signal: controller.signal })).then((code) => events.push(`queued ${code}`));
    const behind = engine.infer(feedOf(2)).then((outputs) => (assertAnswer(outputs, variants[0], 2), events.push('behind done')));
    controller.abort();
    assert.equal(engine.stats().engine.queued, 1);
    await Promise.all([running, aborted, behind]);
    assert.deepEqual(events, ['queued EDGEINFER_ABORTED', 'running done', 'behind done']);
    assert.equal(engine.stats().runs - runsBefore, 2, 'the aborted call never ran');
    // Already aborted: refused at once.
    assert.equal(await codeOf(engine.infer(feedOf(3), { signal: AbortSignal.abort() })), 'EDGEINFER_ABORTED');
    // A timeout while waiting behind many calls (a low-priority call behind 2000 normal ones).
    const many = Array.from({ length: 2000 }, (_, i) => engine.infer(feedOf(i)));
    const late = codeOf(engine.infer(feedOf(5), { timeoutMs: 1, priority: 'low' }));
    assert.equal(await late, 'EDGEINFER_TIMEOUT');
    (await Promise.all(many)).forEach((outputs, i) => assertAnswer(outputs, variants[0], i));
    assert.equal(engine.stats().engine.timedOut, 1);
    assert.equal(engine.stats().engine.aborted, 2);
    // Abort of the running call: rejected at once while the run still holds its slot.
    const abortRunning = new AbortController();
    const runningCall = engine.infer(feedOf(6), { signal: abortRunning.signal });
    assert.equal(engine.stats().engine.running, 1);
    abortRunning.abort();
    assert.equal(await codeOf(runningCall), 'EDGEINFER_ABORTED');
    await engine.dispose();
    await assert.rejects(engine.infer(feedOf(0), { priority: 'urgent' as never }), (e: EdgeInferError) => e.code === 'EDGEINFER_DISPOSED');
    const other = await Engine.load(variants[0].bytes, { threads: 1 });
    for (const bad of [{ priority: 'urgent' }, { timeoutMs: -1 }, { timeoutMs: 'soon' }, { signal: {} }, { deadline: 3 }]) {
      assert.equal(await codeOf(other.infer(feedOf(0), bad as never)), 'EDGEINFER_INVALID_ARGUMENT', JSON.stringify(bad));
    }
    await other.dispose();
  });

  it('timeoutMs on a running call (a model of tens of ms) rejects at once; the slot is held until the run ends', async () => {
    const engine = await Engine.load(slowModel(), { threads: 1, inlineBelowMicroseconds: 0 });
    const x = new Float32Array(1 << 20);
    const start = performance.now();
    const timedOut = engine.infer({ x: { type: 'float32', data: x, dims: [1, 1 << 20] } }, { timeoutMs: 2 });
    const next = engine.infer({ x: { type: 'float32', data: x, dims: [1, 1 << 20] } });
    assert.equal(await codeOf(timedOut), 'EDGEINFER_TIMEOUT');
    const rejectedAfter = performance.now() - start;
    const stats = engine.stats().engine;
    const outputs = await next;
    const runMs = performance.now() - start;
    assert.equal((outputs.y.data as Float32Array)[123], 60);
    // "At once" by order, not by the clock: when the rejection is seen, the timed-out run still holds its slot
    // and the next call still waits (a rejection that waited for the run's end would find the next call
    // running). The wall times are printed only: a GC pause of the test process can hold its event loop for
    // as long as a run (CI, 2026-12-02: rejected after 39.7 ms of two 39 ms runs, on a loaded machine).
    console.log(`      rejected after ${rejectedAfter.toFixed(1)} ms; the two runs took ${runMs.toFixed(1)} ms`);
    assert.equal(stats.running, 1, 'the timed-out run still holds its slot');
    assert.equal(stats.queued, 1, 'the next call still waits for that slot');
    await engine.dispose();
  });

  it('queued calls leave the libuv pool to others: a file read issued behind 20 long runs completes at once', async () => {
    const engine = await Engine.load(slowModel(), { threads: 1, inlineBelowMicroseconds: 0 });
    const x = new Float32Array(1 << 20);
    let done = 0;
    const calls = Array.from({ length: 20 }, () => engine.infer({ x: { type: 'float32', data: x, dims: [1, 1 << 20] } }).then(() => done++));
    assert.equal(engine.stats().engine.running, 1);
    await fs.promises.readFile(__filename);
    // Were every call a libuv job, the read (four pool hops) would queue behind ~16 runs on the default pool of 4;
    // a loaded machine may let a few runs end while the read hops between pool and loop (3 seen in CI).
    assert.ok(done < 10, `the read waited for ${done} runs`);
    await Promise.all(calls);
    await engine.dispose();
  });

  it('a waiting call owns copies of its inputs: the caller may overwrite or transfer its buffers at once', async () => {
    const engine = await Engine.load(variants[1].bytes, { threads: 1, inlineBelowMicroseconds: 0 });
    const pending: Promise<void>[] = [];
    for (let id = 0; id < 200; id++) {
      const data = xOf(id);
      pending.push(engine.infer(feedOf(id, data)).then((outputs) => assertAnswer(outputs, variants[1], id)));
      if (id % 2 === 0) data.fill(NaN);
      else structuredClone(data.buffer, { transfer: [data.buffer] });
    }
    assert.ok(engine.stats().engine.queued > 100);
    await Promise.all(pending);
    await engine.dispose();
  });

  it('maxConcurrentRuns keeps that many in flight; the inline path stays for sub-millisecond models when nothing waits', async () => {
    const two = await Engine.load(variants[0].bytes, { threads: 1, inlineBelowMicroseconds: 0, maxConcurrentRuns: 2 });
    const calls = Array.from({ length: 10 }, (_, id) => two.infer(feedOf(id)));
    assert.deepEqual({ running: two.stats().engine.running, queued: two.stats().engine.queued }, { running: 2, queued: 8 });
    (await Promise.all(calls)).forEach((outputs, id) => assertAnswer(outputs, variants[0], id));
    await two.dispose();
    await assert.rejects(Engine.load(variants[0].bytes, { maxConcurrentRuns: 0 }), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');

    // A threshold no run can miss even on a loaded machine: what is checked is the queue's inline path, not timing.
    const fast = await Engine.load(variants[0].bytes, { threads: 1, inlineBelowMicroseconds: 1e6 });
    await fast.warmup(3);
    const inlineBefore = fast.stats().inlineRuns;
    for (let id = 0; id < 20; id++) assertAnswer(await fast.infer(feedOf(id)), variants[0], id);
    assert.equal(fast.stats().inlineRuns - inlineBefore, 20, 'a fast model runs inline when nothing waits');
    await fast.dispose();
  });

  it('warmup(n) runs n inferences on generated inputs (symbolic dims 1) and builds the plans', async () => {
    const engine = await Engine.load(variants[0].bytes, { threads: 1 });
    assert.equal(engine.stats().runs, 0);
    await engine.warmup(3);
    assert.equal(engine.stats().runs, 3);
    assert.deepEqual(engine.stats().native!.plans.map((plan) => plan.shapes), ['x:1x4']);
    await engine.warmup();
    assert.equal(engine.stats().runs, 4);
    await assert.rejects(engine.warmup(-1), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
    await engine.dispose();
  });
});

describe('resultInfo', () => {
  it('says which model version and backend produced a result, without a key on the outputs', async () => {
    const engine = await Engine.load(variants[0].bytes, { threads: 1, version: 'release-7' });
    const async = await engine.infer(feedOf(1));
    const sync = engine.inferSync(feedOf(2));
    for (const outputs of [async, sync]) {
      assert.deepEqual(resultInfo(outputs), { modelVersion: 'release-7', backend: 'native' });
      assert.deepEqual(Object.keys(outputs), ['y']);
    }
    assert.equal(resultInfo({}), undefined);
    assert.equal(resultInfo(null as never), undefined);
    // The record is invisible to copies and serialisation, and cannot be forged or read through a Proxy.
    assert.deepEqual(Object.keys({ ...async }), ['y']);
    assert.equal(resultInfo({ ...async }), undefined);
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify({ y: 1, ...async }))), ['y']);
    assert.equal(resultInfo(structuredClone(async)), undefined);
    for (const symbol of Object.getOwnPropertySymbols(async)) {
      assert.equal(resultInfo({ [symbol]: { modelVersion: 'forged', backend: 'native' } } as never), undefined);
    }
    assert.equal(resultInfo(new Proxy(async, { get: () => { throw new Error('trap'); }, getOwnPropertyDescriptor: () => { throw new Error('trap'); } })), undefined);
    const unnamed = await Engine.load(variants[1].bytes, { threads: 1 });
    assert.equal(resultInfo(await unnamed.infer(feedOf(1)))!.modelVersion, variants[1].sha256.slice(0, 12));
    await Promise.all([engine.dispose(), unnamed.dispose()]);
  });

  it('passes through a BatchScheduler: each request share of a batch says which version produced it', async () => {
    const engine = await Engine.load(variants[0].bytes, { threads: 1, version: 'batched' });
    const scheduler = new BatchScheduler(engine, { maxBatchSize: 8 });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, id) => scheduler.infer(feedOf(id))));
    answers.forEach((outputs, id) => {
      assertAnswer(outputs, variants[0], id);
      assert.deepEqual(resultInfo(outputs), { modelVersion: 'batched', backend: 'native' });
    });
    assert.ok(scheduler.stats().batchSize.max > 1);
    await scheduler.close();
    await engine.dispose();
  });
});

describe('Engine.dispose({ drain })', function () {
  this.timeout(120000);

  it('drain (default): admits nothing more, lets waiting and running calls finish, then releases', async () => {
    const engine = await Engine.load(variants[0].bytes, { threads: 1, inlineBelowMicroseconds: 0 });
    const order: string[] = [];
    const calls = Array.from({ length: 6 }, (_, id) => engine.infer(feedOf(id)).then((outputs) => (assertAnswer(outputs, variants[0], id), order.push(`call ${id}`))));
    const closing = engine.dispose().then(() => order.push('released'));
    assert.equal(engine.disposed, true);
    assert.equal(await codeOf(engine.infer(feedOf(9))), 'EDGEINFER_DISPOSED');
    assert.throws(() => engine.inferSync(feedOf(9)), (e: EdgeInferError) => e.code === 'EDGEINFER_DISPOSED');
    assert.throws(() => engine.stats(), (e: EdgeInferError) => e.code === 'EDGEINFER_DISPOSED');
    await Promise.all([...calls, closing]);
    assert.deepEqual(order, ['call 0', 'call 1', 'call 2', 'call 3', 'call 4', 'call 5', 'released']);
    await engine.dispose(); // idempotent
    assert.throws(() => engine.dispose({ drain: 'yes' as never }), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
  });

  it('drain false: waiting calls are refused, the running one finishes before the release', async () => {
    const engine = await Engine.load(variants[0].bytes, { threads: 1, inlineBelowMicroseconds: 0 });
    const calls = Array.from({ length: 6 }, (_, id) => codeOf(engine.infer(feedOf(id))));
    let released = false;
    const closing = engine.dispose({ drain: false }).then(() => (released = true));
    assert.deepEqual(await Promise.all(calls), ['fulfilled', ...Array(5).fill('EDGEINFER_DISPOSED')]);
    await closing;
    assert.equal(released, true);
  });

  it('the old synchronous form still releases safely with calls in flight; a swap in progress is refused', async () => {
    const engine = await Engine.load(variants[0].bytes, { threads: 1, inlineBelowMicroseconds: 0 });
    const calls = Array.from({ length: 20 }, (_, id) => engine.infer(feedOf(id)));
    const swapping = engine.swap(variants[1].bytes);
    const failures: EdgeInferError[] = [];
    engine.on('swap:failed', ({ error }) => failures.push(error));
    engine.dispose();
    (await Promise.all(calls)).forEach((outputs, id) => assertAnswer(outputs, variants[0], id));
    assert.equal(await codeOf(swapping), 'EDGEINFER_DISPOSED');
    assert.equal(failures.length, 1);
    assert.equal(await codeOf(engine.swap(variants[1].bytes)), 'EDGEINFER_DISPOSED');
  });

  (ortAvailable ? it : it.skip)('on the onnxruntime backend: drain lets queued calls finish; drain false refuses them; the worker stops', async () => {
    const engine = await Engine.load(variants[2].bytes, { backend: 'onnxruntime', threads: 1 });
    const calls = Array.from({ length: 8 }, (_, id) => engine.infer(feedOf(id)));
    await engine.dispose();
    (await Promise.all(calls)).forEach((outputs, id) => assertAnswer(outputs, variants[2], id));
    const second = await Engine.load(variants[2].bytes, { backend: 'onnxruntime', threads: 1 });
    const codes = Array.from({ length: 8 }, (_, id) => codeOf(second.infer(feedOf(id))));
    await second.dispose({ drain: false });
    assert.deepEqual(await Promise.all(codes), ['fulfilled', ...Array(7).fill('EDGEINFER_DISPOSED')]);
  });
});

describe('Engine.swap: verified hot-swap', function () {
  this.timeout(600000);

  it('verifies, loads, warms up and switches; events in order; info() and resultInfo follow the switch', async () => {
    const engine = await Engine.load(variants[0].bytes, { threads: 1, version: 'one' });
    const events: string[] = [];
    engine.on('swap:started', ({ from, source }) => events.push(`started ${from} ${source}`));
    engine.on('swap:verified', ({ sha256, signed }) => events.push(`verified ${sha256.slice(0, 8)} ${signed}`));
    engine.on('swap:switched', ({ from, to, backend }) => events.push(`switched ${from} -> ${to} on ${backend}`));
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'swap-')), 'two.onnx');
    fs.writeFileSync(file, variants[1].bytes);
    const result = await engine.swap(file, { sha256: variants[1].sha256.toUpperCase(), version: 'two', warmup: 2 });
    assert.deepEqual(events, [`started one ${file}`, `verified ${variants[1].sha256.slice(0, 8)} false`, 'switched one -> two on native']);
    assert.equal(result.from, 'one');
    assert.equal(result.to, 'two');
    assert.equal(result.sha256, variants[1].sha256);
    assert.deepEqual(result.signatureChanges, []);
    // The switch is a pointer swap under a lock: a millisecond bounds it on hardware; under qemu (the arm64 run,
    // ~20x slower, on a shared machine) it measured 1.03 ms once, so the bound there only catches a gross stall.
    const switchBound = emulated ? 20000 : 1000;
    assert.ok(result.timings.switchMicros < switchBound, `switch took ${result.timings.switchMicros} µs`);
    assert.equal(engine.info().modelVersion, 'two');
    assert.equal(engine.info().metadata.a, '3');
    const outputs = await engine.infer(feedOf(4));
    assertAnswer(outputs, variants[1], 4);
    assert.deepEqual(resultInfo(outputs), { modelVersion: 'two', backend: 'native' });
    assert.equal(engine.stats().runs, 3, 'the two warm-up runs happened before the switch, on the new session');
    assert.equal(engine.stats().engine.versionsLive, 1);
    assert.equal(engine.stats().engine.swaps, 1);
    // Bytes: the default version is the sha256 prefix (the engine's own version option does not carry over).
    await engine.swap(variants[2].bytes);
    assert.equal(engine.info().modelVersion, variants[2].sha256.slice(0, 12));
    await engine.dispose();
  });

  it('prepares the new model in a worker thread by default (prepareOffThread); its errors keep their codes; on request on the JS thread', async () => {
    const engine = await Engine.load(variants[0].bytes, { threads: 1 });
    assert.ok(!/worker/.test(engine.info().backendReason), 'load() prepares on the JS thread by default');
    await engine.swap(variants[1].bytes);
    assert.match(engine.info().backendReason, /graph prepared in a worker thread/);
    assertAnswer(await engine.infer(feedOf(5)), variants[1], 5);
    // A model whose shapes contradict each other fails in the worker's shape inference: same code as on the thread.
    const bad: Model = {
      irVersion: 8, opsets: new Map([['', 13]]), producerName: 'test', producerVersion: '', metadata: {},
      graph: {
        name: 'bad', inputs: [{ name: 'x', dtype: 'float32', shape: [1, WIDTH] }], outputs: [{ name: 'y', dtype: 'float32' }],
        nodes: [{ name: 'mismatch', opType: 'Add', domain: '', inputs: ['x', 'c'], outputs: ['y'], attributes: {} }],
        initializers: new Map([['c', { dtype: 'float32', dims: [WIDTH + 1], data: new Float32Array(WIDTH + 1) }]]), valueInfo: new Map(),
      },
    };
    for (const prepareOffThread of [true, false]) {
      const code = await codeOf(engine.swap(writeModel(bad), { prepareOffThread, allowSignatureChange: true }));
      assert.equal(code, 'EDGEINFER_SHAPE_MISMATCH', `prepareOffThread ${prepareOffThread}`);
      assertAnswer(await engine.infer(feedOf(6)), variants[1], 6, 'the old model still serves');
    }
    await engine.swap(variants[2].bytes, { prepareOffThread: false });
    assert.ok(!/worker/.test(engine.info().backendReason));
    assertAnswer(await engine.infer(feedOf(7)), variants[2], 7);
    assert.equal(await codeOf(engine.swap(variants[0].bytes, { prepareOffThread: 'yes' as unknown as boolean })), 'EDGEINFER_INVALID_ARGUMENT');
    await engine.dispose();
  });

  it('calls admitted before the switch finish on their version; the old session is released when the last ends', async () => {
    // Whether calls are still pending at the switch depends on how fast the swap's preparation (a worker) is
    // against the calls: the state is read in the synchronous 'swap:switched' listener, and a run where every
    // call had already finished is repeated with four times as many, so the pending case is always checked.
    let checked = false;
    for (let count = 300; !checked && count <= 300 * 4 ** 3; count *= 4) {
      const engine = await Engine.load(variants[0].bytes, { threads: 1, inlineBelowMicroseconds: 0, version: 'old' });
      let finished = 0;
      const before = Array.from({ length: count }, (_, id) => engine.infer(feedOf(id)).then((outputs) => (finished++, outputs)));
      let atSwitch: { pending: number; live: number } | undefined;
      engine.once('swap:switched', () => (atSwitch = { pending: count - finished, live: engine.stats().engine.versionsLive }));
      await engine.swap(variants[1].bytes, { version: 'new' });
      const after = Array.from({ length: 50 }, (_, id) => engine.infer(feedOf(id)));
      const answered = await Promise.all(before);
      answered.forEach((outputs, id) => {
        assert.equal(resultInfo(outputs)!.modelVersion, 'old');
        assertAnswer(outputs, variants[0], id);
      });
      (await Promise.all(after)).forEach((outputs, id) => {
        assert.equal(resultInfo(outputs)!.modelVersion, 'new');
        assertAnswer(outputs, variants[1], id);
      });
      assert.ok(atSwitch, 'swap:switched was emitted');
      if (atSwitch.pending > 0) {
        assert.equal(atSwitch.live, 2, `${atSwitch.pending} calls of the old version were unanswered at the switch: its session must stay live`);
        checked = true;
      }
      assert.equal(engine.stats().engine.versionsLive, 1, 'the old session was released with its last call');
      await engine.dispose();
    }
    assert.ok(checked, 'no run had calls of the old version pending at the switch');
  });

  it('a tampered model (a byte flipped, wrong sha256, bad Ed25519 signature) is refused while the old one serves', async () => {
    const engine = await Engine.load(variants[0].bytes, { threads: 1, version: 'trusted' });
    const failures: string[] = [];
    engine.on('swap:failed', ({ error }) => failures.push(`${error.code} ${(error.detail as { check?: string } | undefined)?.check ?? ''}`.trim()));
    const publisher = generateKeyPairSync('ed25519');
    const attacker = generateKeyPairSync('ed25519');
    const good = variants[1].bytes;
    const signature = sign(null, good, publisher.privateKey);
    // One byte flipped inside the weight a = 3 (still a valid model: only verification can catch it).
    const tampered = new Uint8Array(good);
    const weight = Buffer.from(good).indexOf(Buffer.from(Float32Array.of(3).buffer));
    assert.ok(weight > 0);
    tampered[weight + 3] ^= 0x01;
    const serving = async () => assertAnswer(await engine.infer(feedOf(7)), variants[0], 7, 'the old model serves');

    const refusals: [string, Promise<unknown>, string][] = [
      ['byte flipped, sha256 of the original', engine.swap(tampered, { sha256: variants[1].sha256 }), 'sha256'],
      ['wrong sha256', engine.swap(good, { sha256: variants[2].sha256 }), 'sha256'],
      ['signed by another key', engine.swap(good, { signature: sign(null, good, attacker.privateKey), publicKey: publisher.publicKey }), 'signature'],
      ['byte flipped, signature of the original', engine.swap(tampered, { signature, publicKey: publisher.publicKey }), 'signature'],
      ['signature bytes flipped', engine.swap(good, { signature: Buffer.from(signature).map((b, i) => (i === 0 ? b ^ 1 : b)), publicKey: publisher.publicKey }), 'signature'],
    ];
    for (const [what, swap, check] of refusals) {
      await assert.rejects(swap, (error: unknown) => {
        assert.ok(error instanceof EdgeInferError, what);
        assert.equal(error.code, 'EDGEINFER_VERIFY_FAILED', `${what}: ${error.message}`);
        assert.equal((error.detail as { check: string }).check, check, what);
        return true;
      });
      assert.equal(engine.info().modelVersion, 'trusted', what);
      await serving();
    }
    assert.deepEqual(failures, ['EDGEINFER_VERIFY_FAILED sha256', 'EDGEINFER_VERIFY_FAILED sha256', 'EDGEINFER_VERIFY_FAILED signature', 'EDGEINFER_VERIFY_FAILED signature', 'EDGEINFER_VERIFY_FAILED signature']);
    // Not a model at all (no hash given): the load's own code, the old model still serving.
    assert.equal(await codeOf(engine.swap(new Uint8Array([1, 2, 3, 4]))), 'EDGEINFER_MODEL_INVALID');
    assert.equal(await codeOf(engine.swap('/nonexistent/model.onnx')), 'EDGEINFER_INVALID_ARGUMENT');
    await serving();
    // Malformed options are the caller's error.
    assert.equal(await codeOf(engine.swap(good, { sha256: 'abc' })), 'EDGEINFER_INVALID_ARGUMENT');
    assert.equal(await codeOf(engine.swap(good, { signature })), 'EDGEINFER_INVALID_ARGUMENT');
    assert.equal(await codeOf(engine.swap(good, { signature, publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey })), 'EDGEINFER_INVALID_ARGUMENT');
    assert.equal(await codeOf(engine.swap(good, { shaa256: variants[1].sha256 } as never)), 'EDGEINFER_INVALID_ARGUMENT');
    assert.equal(engine.stats().engine.versionsLive, 1, 'no refused model left loaded');
    // The genuine update: sha256 + signature (base64, PEM key) verify, and it serves.
    const pem = publisher.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const verified: boolean[] = [];
    engine.on('swap:verified', ({ signed }) => verified.push(signed));
    const result = await engine.swap(good, { sha256: variants[1].sha256, signature: signature.toString('base64'), publicKey: pem, version: 'update' });
    assert.equal(result.signed, true);
    assert.deepEqual(verified, [true]);
    assertAnswer(await engine.infer(feedOf(7)), variants[1], 7);
    // The caller's buffer is copied at the call: changing it afterwards cannot slip past the check.
    const mutable = new Uint8Array(variants[2].bytes);
    const pending = engine.swap(mutable, { sha256: variants[2].sha256, version: 'third' });
    mutable.fill(0);
    await pending;
    assertAnswer(await engine.infer(feedOf(7)), variants[2], 7);
    await engine.dispose();
  });

  it('an incompatible signature is refused unless allowSignatureChange', async () => {
    const engine = await Engine.load(variants[0].bytes, { threads: 1 });
    const wider = affine(2, 1, { width: 8 });
    const renamed = affine(2, 1, { input: 'input' });
    for (const [what, bytes, expected] of [
      ['wider', wider, /input 'x' dim 1 is 8, was 4.*output 'y' dim 1 is 8, was 4/],
      ['renamed', renamed, /input 'x' is missing; input 'input' is new/],
    ] as const) {
      await assert.rejects(engine.swap(bytes), (error: unknown) => {
        assert.ok(error instanceof EdgeInferError);
        assert.equal(error.code, 'EDGEINFER_VERIFY_FAILED', what);
        assert.match(error.message, expected);
        assert.equal((error.detail as { check: string }).check, 'signature');
        return true;
      });
      assertAnswer(await engine.infer(feedOf(1)), variants[0], 1);
    }
    // A renamed symbolic dim is compatible.
    const result = await engine.swap(wider, { allowSignatureChange: true, version: 'wide' });
    assert.ok(result.signatureChanges.length >= 2);
    assert.deepEqual(engine.inputs[0].dims, ['batch', 8]);
    const out = await engine.infer({ x: { type: 'float32', data: new Float32Array(8).fill(1), dims: [1, 8] } });
    assert.deepEqual(Array.from(out.y.data as Float32Array), Array(8).fill(3));
    await engine.dispose();
  });

  it('concurrent swaps run one after another', async () => {
    const engine = await Engine.load(variants[0].bytes, { threads: 1, version: 'v0' });
    const events: string[] = [];
    for (const name of ['swap:started', 'swap:verified', 'swap:switched', 'swap:failed'] as const) engine.on(name, () => events.push(name.slice(5)));
    const swaps = [1, 2, 0, 1].map((index, i) => engine.swap(variants[index].bytes, { version: `v${i + 1}`, sha256: i === 2 ? variants[1].sha256 : undefined }));
    const codes = await Promise.all(swaps.map(codeOf));
    assert.deepEqual(codes, ['fulfilled', 'fulfilled', 'EDGEINFER_VERIFY_FAILED', 'fulfilled']);
    assert.deepEqual(events, ['started', 'verified', 'switched', 'started', 'verified', 'switched', 'started', 'failed', 'started', 'verified', 'switched']);
    assert.equal(engine.info().modelVersion, 'v4');
    await engine.dispose();
  });

  (ortAvailable ? it : it.skip)('works on the onnxruntime backend, and across backends with an override', async () => {
    const engine = await Engine.load(variants[0].bytes, { backend: 'onnxruntime', threads: 1, version: 'ort-1' });
    assertAnswer(await engine.infer(feedOf(3)), variants[0], 3);
    const flipped = new Uint8Array(variants[1].bytes);
    flipped[flipped.length - 5] ^= 0x40;
    assert.equal(await codeOf(engine.swap(flipped, { sha256: variants[1].sha256 })), 'EDGEINFER_VERIFY_FAILED');
    const queued = Array.from({ length: 30 }, (_, id) => engine.infer(feedOf(id)));
    await engine.swap(variants[1].bytes, { sha256: variants[1].sha256, version: 'ort-2' });
    const after = await engine.infer(feedOf(3));
    assertAnswer(after, variants[1], 3);
    assert.deepEqual(resultInfo(after), { modelVersion: 'ort-2', backend: 'onnxruntime' });
    (await Promise.all(queued)).forEach((outputs, id) => assertAnswer(outputs, variants[0], id));
    await engine.swap(variants[2].bytes, { backend: 'native', version: 'native-3' });
    const native = await engine.infer(feedOf(3));
    assertAnswer(native, variants[2], 3);
    assert.deepEqual(resultInfo(native), { modelVersion: 'native-3', backend: 'native' });
    assert.equal(engine.info().backend, 'native');
    assert.equal(engine.stats().engine.versionsLive, 1);
    await engine.dispose();
  });

  // Thousands of requests (random priorities, aborts, timeouts) around 100 swaps issued at once between three
  // models: every request is answered by the version it was admitted on, exactly, or fails with the code of
  // what was done to it; none lost, none answered twice.
  const configurations: [string, EngineOptions, boolean][] = [
    ['native, off-thread, 2 runs in flight', { backend: 'native', threads: 1, inlineBelowMicroseconds: 0, maxConcurrentRuns: 2 }, true],
    ['native, default (inline for this model)', { backend: 'native', threads: 1 }, true],
    ['onnxruntime', { backend: 'onnxruntime', threads: 1 }, ortAvailable],
  ];
  for (const [name, options, available] of configurations) {
    (available ? it : it.skip)(`100 swaps in flight under load, random aborts and timeouts: ${name}`, async () => {
      const SWAPS = 100;
      const engine = await Engine.load(variants[0].bytes, { ...options, version: 'v0' });
      const versions = new Map<string, Variant>([['v0', variants[0]]]);
      const random = rng(20260906);
      interface Outcome {
        id: number;
        admitted: string;
        aborted: boolean;
        timeoutMs?: number;
        settled: number;
        result?: Record<string, Tensor>;
        error?: unknown;
      }
      const outcomes: Outcome[] = [];
      const pending: Promise<void>[] = [];
      const submit = (count: number) => {
        for (let k = 0; k < count; k++) {
          const id = outcomes.length;
          const controller = random() < 0.1 ? new AbortController() : undefined;
          const timeoutMs = random() < 0.1 ? 1 + Math.floor(random() * 8) : undefined;
          const priority = (['high', 'normal', 'low'] as const)[Math.floor(random() * 3)];
          const outcome: Outcome = { id, admitted: engine.info().modelVersion, aborted: controller !== undefined, timeoutMs, settled: 0 };
          outcomes.push(outcome);
          const data = xOf(id);
          const promise = engine.infer(feedOf(id, data), { signal: controller?.signal, timeoutMs, priority });
          data.fill(NaN); // the caller reuses its buffer at once
          pending.push(
            promise.then(
              (result) => {
                outcome.settled++;
                outcome.result = result;
              },
              (error: unknown) => {
                outcome.settled++;
                outcome.error = error;
              },
            ),
          );
          if (controller) {
            if (random() < 0.3) controller.abort();
            else setTimeout(() => controller.abort(), Math.floor(random() * 4));
          }
        }
      };
      const switched: string[] = [];
      engine.on('swap:started', () => submit(8));
      engine.on('swap:verified', () => submit(8));
      engine.on('swap:switched', ({ to }) => {
        switched.push(to);
        submit(16);
      });
      // Background load between the events too.
      let background = true;
      const pump = async () => {
        while (background && outcomes.length < 12000) {
          submit(4);
          await new Promise((resolve) => setTimeout(resolve, random() < 0.5 ? 0 : 1));
        }
      };
      const pumping = pump();
      submit(200);
      const swaps = Array.from({ length: SWAPS }, (_, i) => {
        const v = variants[(i + 1) % variants.length];
        versions.set(`v${i + 1}`, v);
        return engine.swap(v.bytes, { sha256: v.sha256, version: `v${i + 1}` });
      });
      const results = await Promise.all(swaps);
      background = false;
      await pumping;
      submit(200);
      await Promise.all(pending);

      assert.deepEqual(switched, Array.from({ length: SWAPS }, (_, i) => `v${i + 1}`), 'swaps switched in the order they were called');
      assert.deepEqual(results.map((r) => r.to), switched);
      const backend = options.backend!;
      const counts: Record<string, number> = {};
      const answeredBy = new Set<string>();
      for (const outcome of outcomes) {
        assert.equal(outcome.settled, 1, `request ${outcome.id} settled ${outcome.settled} times`);
        if (outcome.result !== undefined) {
          const info = resultInfo(outcome.result);
          assert.deepEqual(info, { modelVersion: outcome.admitted, backend }, `request ${outcome.id}: answered by the version it was admitted on`);
          assertAnswer(outcome.result, versions.get(outcome.admitted)!, outcome.id);
          answeredBy.add(outcome.admitted);
          counts.fulfilled = (counts.fulfilled ?? 0) + 1;
        } else {
          const error = outcome.error;
          assert.ok(error instanceof EdgeInferError, `request ${outcome.id}: ${String(error)}`);
          if (error.code === 'EDGEINFER_ABORTED') assert.ok(outcome.aborted, `request ${outcome.id} aborted without being aborted`);
          else if (error.code === 'EDGEINFER_TIMEOUT') assert.ok(outcome.timeoutMs !== undefined, `request ${outcome.id} timed out without a timeout`);
          else assert.fail(`request ${outcome.id}: unexpected ${error.code}: ${error.message}`);
          counts[error.code] = (counts[error.code] ?? 0) + 1;
        }
      }
      const stats = engine.stats().engine;
      assert.equal(stats.aborted, counts.EDGEINFER_ABORTED ?? 0);
      assert.equal(stats.timedOut, counts.EDGEINFER_TIMEOUT ?? 0);
      assert.deepEqual({ queued: stats.queued, running: stats.running, versionsLive: stats.versionsLive, swaps: stats.swaps }, { queued: 0, running: 0, versionsLive: 1, swaps: SWAPS });
      assert.ok(outcomes.length >= 3000, `${outcomes.length} requests`);
      assert.ok(answeredBy.size >= 50, `answers came from ${answeredBy.size} versions`);
      console.log(`      ${outcomes.length} requests: ${JSON.stringify(counts)}; answered by ${answeredBy.size} of ${SWAPS + 1} versions`);
      await engine.dispose();
    });
  }
});

describe('Engine.swap: memory over repeated swaps', function () {
  this.timeout(900000);

  // In a child (test/helpers/service-measures.ts): 50 swaps to warm up, then 200 more, each verified by sha256,
  // with two clients inferring throughout. RSS is sampled after a full GC; growth is the floor of the second
  // half of the samples minus the floor of the first (single samples jump by up to ~10 MB with the allocator; a
  // leak raises the floor). The ONNX Runtime backend's figure is printed beside the native one.
  it('200 swaps under load: no request failed, lost or wrong; no native leak per swap (RSS within 20 MB); ONNX Runtime measured beside it', function () {
    const swaps = Number(process.env.EDGEINFER_SWAP_CYCLES ?? 200);
    const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    const report = (m: SwapFigures) =>
      `${m.mode}: RSS ${mb(m.before)} -> ${mb(m.after)} MB (${m.after >= m.before ? '+' : ''}${mb(m.after - m.before)} MB) over ${swaps} swaps ` +
      `[samples: ${m.samples.map(mb).join(' ')}], ${m.msPerSwap.toFixed(1)} ms per swap, ` +
      `switch ${m.switchMicrosMedian?.toFixed(1)} µs median / ${m.switchMicrosMax?.toFixed(1)} µs max, requests ${JSON.stringify(m.requests)}, ` +
      `latency p99 ${(m.latencyQuiet.p99 / 1000).toFixed(2)} ms quiet / ${(m.latencySwapping.p99 / 1000).toFixed(2)} ms swapping, event-loop delay p99 ${m.loopDelayP99Ms.toFixed(1)} ms`;
    const check = (m: SwapFigures) => {
      assert.equal(m.versionsLive, 1);
      assert.ok(m.requests.issued > swaps, `only ${m.requests.issued} requests ran across ${swaps} swaps`);
      assert.deepEqual({ failed: m.requests.failed, wrong: m.requests.wrong, lost: m.requests.lost }, { failed: {}, wrong: 0, lost: 0 });
      assert.equal(m.requests.ok, m.requests.issued);
    };
    const native = measureSwaps('native', swaps);
    console.log(`      ${report(native)}`);
    check(native);
    if (ortAvailable) {
      const ort = measureSwaps('onnxruntime', swaps);
      console.log(`      ${report(ort)}`);
      check(ort);
    }
    // A leaked model would add its weights and arena (~2 MB) per swap, 400 MB here. What is seen on this shared
    // 2-core machine is 0-12 MB over 200 swaps in steps (V8 and glibc keeping pages), no trend per swap: the
    // bound catches a leak per swap without failing on that. 1000 swaps are the benchmark's (npm run bench -- --only service).
    assert.ok(native.after - native.before < 20 * 2 ** 20, `native RSS grew by ${mb(native.after - native.before)} MB over ${swaps} swaps`);
  });
});
