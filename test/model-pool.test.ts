// ModelPool and DegradationPolicy on real engines: openWakeWord's hey_jarvis head loaded at float32, fp16 and
// int8 as three variants (their outputs differ in the last digits, so an answer says which variant computed
// it), a generated affine model for the incompatible signature. Readings (temperature, memory, p99) are
// injected and the policy stepped with evaluate(); every answer is checked against the expected value of the
// variant in effect when the request was admitted.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  BatchScheduler,
  DegradationPolicy,
  EdgeInferError,
  Engine,
  ModelPool,
  poolResultInfo,
  type DegradationEvent,
  type PoolEngine,
  type PoolSwitchEvent,
  type Tensor,
} from '../lib';
import type { Model, TensorData } from '../lib/onnx/ir';
import { writeModel } from '../lib/onnx/writer';
import { affineModel as affine } from './fixtures/affine-model';
import { fetchModels } from './helpers/repo';
import { fillFloat, rng } from './helpers/random';

const INPUT = 'x.1';
const OUTPUT = '53';
const FEEDS = 64;

/** y = 2x + 1 on x: float32 [batch, 4] — a signature no wake-word head has. */
const affineModel = () => affine();

const feedOf = (seed: number): Record<string, Tensor> => ({
  [INPUT]: { type: 'float32', data: fillFloat(new Float32Array(16 * 96), rng(seed + 1), -3, 3), dims: [1, 16, 96] },
});

async function code(promise: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    assert.ok(error instanceof EdgeInferError, `expected an EdgeInferError, got ${String(error)}`);
    return error.code;
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A variant that answers like `engine` but takes at least `ms` longer (a stand-in for a bigger model). */
function slowed(engine: Engine, ms: number): PoolEngine {
  return {
    inputs: engine.inputs,
    outputs: engine.outputs,
    validateFeeds: (feeds) => engine.validateFeeds(feeds),
    info: () => engine.info(),
    async infer(feeds) {
      await sleep(ms);
      return engine.infer(feeds);
    },
  };
}

/** Readings replayed one per evaluate(). */
function replay(values: number[]): () => number {
  let i = 0;
  return () => {
    assert.ok(i < values.length, 'more evaluations than readings');
    return values[i++];
  };
}

describe('ModelPool and DegradationPolicy', function () {
  this.timeout(600000);
  let head: string;
  const engines: Record<string, Engine> = {};
  /** expected[variant][feed]: the variant's own answer for feed i, computed directly on its engine. */
  const expected: Record<string, number[]> = {};
  const feeds = Array.from({ length: FEEDS }, (_, i) => feedOf(i));

  before(async () => {
    head = fetchModels()['hey_jarvis_v0.1.onnx'];
    // inlineBelowMicroseconds 0: every infer() runs off-thread, so calls are really in flight across switches.
    for (const [name, precision] of [['fp32', 'float32'], ['fp16', 'fp16'], ['int8', 'int8']] as const) {
      engines[name] = await Engine.load(head, { precision, threads: 1, inlineBelowMicroseconds: 0 });
      expected[name] = feeds.map((feed) => (engines[name].inferSync(feed)[OUTPUT].data as Float32Array)[0]);
      await engines[name].infer(feeds[0]); // the first off-thread call sets up its worker path: keep it out of timed tests
    }
    const distinct = feeds.filter((_, i) => expected.fp32[i] !== expected.int8[i] && expected.fp32[i] !== expected.fp16[i] && expected.fp16[i] !== expected.int8[i]);
    assert.ok(distinct.length > FEEDS / 2, 'the variants should disagree in the last digits on most feeds');
  });
  after(() => {
    for (const engine of Object.values(engines)) engine.dispose();
  });

  const answerOf = (outputs: Record<string, Tensor>) => (outputs[OUTPUT].data as Float32Array)[0];

  describe('ModelPool', () => {
    it('serves the default variant, switches with use(), attributes every result, and keeps per-variant stats', async () => {
      const pool = new ModelPool({ fp32: engines.fp32, int8: engines.int8 });
      const switches: PoolSwitchEvent[] = [];
      pool.on('switch', (event) => switches.push(event));
      assert.equal(pool.current, 'fp32');
      assert.equal(pool.defaultVariant, 'fp32');
      assert.deepEqual(pool.variants, ['fp32', 'int8']);
      assert.deepEqual(pool.inputs, engines.fp32.inputs);
      assert.deepEqual(pool.outputs, engines.fp32.outputs);

      const a = await pool.infer(feeds[0]);
      assert.equal(answerOf(a), expected.fp32[0]);
      assert.deepEqual(poolResultInfo(a), { variant: 'fp32', sequence: 0, modelVersion: engines.fp32.info().modelVersion, backend: 'native' });
      assert.equal(pool.use('int8', 'test'), true);
      assert.equal(pool.use('int8'), false, 'using the serving variant is no switch');
      const b = pool.inferSync(feeds[1]);
      assert.equal(answerOf(b), expected.int8[1]);
      assert.equal(poolResultInfo(b)?.variant, 'int8');
      const pinned = await pool.infer(feeds[2], { variant: 'fp32' });
      assert.equal(answerOf(pinned), expected.fp32[2]);
      assert.equal(poolResultInfo(pinned)?.variant, 'fp32');
      assert.equal(poolResultInfo({}), undefined);
      assert.deepEqual(switches, [{ from: 'fp32', to: 'int8', reason: 'test' }]);

      const stats = pool.stats();
      assert.equal(stats.current, 'int8');
      assert.equal(stats.switches, 1);
      assert.deepEqual([stats.variants.fp32.calls, stats.variants.fp32.completed, stats.variants.int8.calls], [2, 2, 1]);
      assert.equal(stats.variants.fp32.latencyMicros.count, 2);
      assert.ok(stats.variants.fp32.latencyMicros.p99 > 0);
      assert.equal(stats.variants.int8.recentLatencyMicros.count, 1);
      assert.equal(pool.recentLatency('int8', { since: performance.now() + 1 }).count, 0);
      await pool.dispose();
      assert.equal(engines.fp32.disposed, false, 'engines given to the pool stay loaded');
    });

    it('loads { source, options } variants itself, owns and disposes them; a failed load disposes what it loaded', async () => {
      const pool = await ModelPool.load(
        { int8: { source: head, options: { precision: 'int8', threads: 1 } }, fp32: engines.fp32 },
        { default: 'fp32' },
      );
      assert.equal(pool.current, 'fp32');
      const own = pool.engine('int8') as Engine;
      assert.equal(answerOf(await pool.infer(feeds[3], { variant: 'int8' })), expected.int8[3]);
      assert.equal(pool.stats().variants.int8.owned, true);
      assert.equal(pool.stats().variants.fp32.owned, false);
      await pool.dispose();
      assert.equal(own.disposed, true);
      assert.equal(engines.fp32.disposed, false);
      assert.equal(await code(pool.infer(feeds[0])), 'EDGEINFER_DISPOSED');
      assert.equal(await code(() => pool.use('int8')), 'EDGEINFER_DISPOSED');

      // Incompatible signatures after loading: what the pool loaded is disposed before the error is thrown.
      const loaded: Engine[] = [];
      const load = Engine.load;
      Engine.load = async (...args: Parameters<typeof Engine.load>) => {
        const engine = await load.apply(Engine, args);
        loaded.push(engine);
        return engine;
      };
      try {
        assert.equal(await code(ModelPool.load({ fp32: { source: head, options: { threads: 1 } }, tiny: { source: affineModel() } })), 'EDGEINFER_INVALID_ARGUMENT');
        assert.equal(await code(ModelPool.load({ fp32: { source: head, options: { threads: 1 } }, broken: { source: new Uint8Array([1, 2, 3]) } })), 'EDGEINFER_MODEL_INVALID');
      } finally {
        Engine.load = load;
      }
      assert.equal(loaded.length, 3);
      assert.ok(loaded.every((engine) => engine.disposed));
      assert.equal(await code(ModelPool.load({ fp32: { source: '/no/such/model.onnx' } })), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(await code(ModelPool.load({ fp32: { options: {} } as never })), 'EDGEINFER_INVALID_ARGUMENT');
    });

    it('refuses incompatible variants and bad arguments with EdgeInferError codes', async () => {
      const tiny = await Engine.load(affineModel(), { threads: 1 });
      try {
        let error: EdgeInferError | undefined;
        try {
          new ModelPool({ fp32: engines.fp32, tiny });
        } catch (e) {
          error = e as EdgeInferError;
        }
        assert.ok(error instanceof EdgeInferError);
        assert.equal(error.code, 'EDGEINFER_INVALID_ARGUMENT');
        assert.equal(error.detail?.variant, 'tiny');
        assert.match(error.message, /not compatible/);
      } finally {
        tiny.dispose();
      }
      const like = (inputDims: number[], outputType = 'float32'): PoolEngine => ({
        inputs: [{ name: INPUT, type: 'float32', dims: inputDims }],
        outputs: [{ name: OUTPUT, type: outputType as 'float32', dims: [1, 1] }],
        infer: async () => ({}),
      });
      const construct = (variants: Record<string, unknown>, options?: unknown) => () => new ModelPool(variants as never, options as never);
      assert.equal(await code(construct({ fp32: engines.fp32, other: like([1, 16, 95]) })), 'EDGEINFER_INVALID_ARGUMENT', 'fixed dims disagree');
      assert.equal(await code(construct({ fp32: engines.fp32, other: like([1, 16]) })), 'EDGEINFER_INVALID_ARGUMENT', 'rank');
      assert.equal(await code(construct({ fp32: engines.fp32, other: like([1, 16, 96], 'int8') })), 'EDGEINFER_INVALID_ARGUMENT', 'output dtype');
      assert.equal(await code(construct({ fp32: engines.fp32, other: like(['batch', 16, 96] as never) })), undefined, 'a symbolic dim is compatible');
      assert.equal(await code(construct({})), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(await code(construct({ fp32: {} })), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(await code(construct(null as never)), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(await code(construct({ fp32: engines.fp32 }, { default: 'int4' })), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(await code(construct({ fp32: engines.fp32 }, { latencyWindowSize: 0 })), 'EDGEINFER_INVALID_ARGUMENT');
      const gone = await Engine.load(head, { threads: 1 });
      gone.dispose();
      assert.equal(await code(construct({ fp32: engines.fp32, gone })), 'EDGEINFER_DISPOSED');

      const pool = new ModelPool({ fp32: engines.fp32, int8: engines.int8 });
      assert.equal(await code(() => pool.use('int4')), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(await code(pool.infer(feeds[0], { variant: 'int4' })), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(await code(pool.infer({})), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(await code(pool.infer({ [INPUT]: { type: 'float32', data: new Float32Array(10), dims: [1, 16, 96] } })), 'EDGEINFER_SHAPE_MISMATCH');
      assert.equal(await code(() => pool.validateFeeds({ [INPUT]: { type: 'int8', data: new Int8Array(1536), dims: [1, 16, 96] } })), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(pool.stats().variants.fp32.calls, 0, 'refused feeds are never admitted');
      await pool.dispose();
    });

    it('abort and timeout reject the caller at once; the run finishes and dispose() waits for it', async () => {
      const pool = new ModelPool({ slow: slowed(engines.fp32, 40), int8: engines.int8 });
      const controller = new AbortController();
      const aborted = pool.infer(feeds[0], { signal: controller.signal });
      controller.abort();
      assert.equal(await code(aborted), 'EDGEINFER_ABORTED');
      assert.equal(await code(pool.infer(feeds[0], { timeoutMs: 5 })), 'EDGEINFER_TIMEOUT');
      assert.equal(await code(pool.infer(feeds[0], { signal: controller.signal })), 'EDGEINFER_ABORTED', 'aborted before admission');
      assert.ok(pool.stats().variants.slow.inflight >= 1, 'the abandoned runs still hold the variant');
      const last = pool.infer(feeds[5]);
      await pool.dispose();
      assert.equal(pool.stats().variants.slow.inflight, 0, 'dispose() resolved after every admitted call settled');
      assert.equal(answerOf(await last), expected.fp32[5], 'an admitted call is answered even when the pool is disposed meanwhile');
    });

    it('a burst across many switches: every request answered once, by the variant in effect at admission', async () => {
      const pool = new ModelPool({ fp32: engines.fp32, fp16: engines.fp16, int8: engines.int8 });
      const order = ['int8', 'fp16', 'fp32'];
      const requests = 3000;
      const answered = new Uint8Array(requests);
      const admittedTo: string[] = [];
      const inflightAtSwitch: number[] = [];
      const pending: Promise<void>[] = [];
      let switches = 0;
      pool.on('switch', () => switches++);
      for (let i = 0; i < requests; i++) {
        if (i % 97 === 0 && i > 0) {
          const stats = pool.stats().variants[pool.current];
          inflightAtSwitch.push(stats.inflight);
          pool.use(order[(i / 97) % 3 | 0]);
        }
        admittedTo[i] = pool.current;
        const feed = i % FEEDS;
        pending.push(
          pool.infer(feeds[feed]).then((outputs) => {
            answered[i]++;
            const info = poolResultInfo(outputs);
            assert.equal(info?.variant, admittedTo[i], `request ${i} answered by ${info?.variant}, admitted to ${admittedTo[i]}`);
            assert.equal(answerOf(outputs), expected[admittedTo[i]][feed], `request ${i}: the answer is ${admittedTo[i]}'s`);
          }),
        );
        if (i % 13 === 0) await tick();
      }
      const results = await Promise.allSettled(pending);
      const failures = results.filter((r) => r.status === 'rejected');
      assert.deepEqual(failures, [], 'no request failed');
      assert.ok(answered.every((count) => count === 1), 'every request answered exactly once');
      assert.equal(switches, inflightAtSwitch.length);
      assert.ok(switches >= 30);
      assert.ok(inflightAtSwitch.filter((n) => n > 0).length >= switches / 2, `calls were in flight at most switches (${inflightAtSwitch})`);
      const stats = pool.stats();
      assert.equal(Object.values(stats.variants).reduce((sum, v) => sum + v.completed, 0), requests);
      for (const name of order) assert.equal(stats.variants[name].calls, admittedTo.filter((v) => v === name).length);
      await pool.dispose();
    });

    it('a BatchScheduler over a pool of native engines pads batches to a few sizes, as over an engine', async () => {
      const variants = { a: await Engine.load(affineModel(), { threads: 1 }), b: await Engine.load(affineModel(), { threads: 1 }) };
      const pool = new ModelPool(variants);
      const scheduler = new BatchScheduler(pool, { maxBatchSize: 16 });
      const rows = 5;
      const x = Float32Array.from({ length: rows * 4 }, (_, i) => i - 7.5);
      const out = await scheduler.infer({ x: { type: 'float32', data: x, dims: [rows, 4] } });
      assert.deepEqual(Array.from(out.y.data as Float32Array), Array.from(x, (v) => 2 * v + 1));
      assert.equal(scheduler.stats().paddedRows, 1, '5 rows run as a batch of 6');
      await scheduler.close();
      await pool.dispose();
      for (const engine of Object.values(variants)) engine.dispose();
    });

    it('serves as a BatchScheduler target: switches land between batches, nothing dropped', async () => {
      const pool = new ModelPool({ fp32: engines.fp32, int8: engines.int8 });
      const scheduler = new BatchScheduler(pool, { maxInflightBatches: 2 });
      assert.equal(scheduler.info().batching, false, 'the heads have a fixed batch of 1');
      const requests = 400;
      const answered = new Uint8Array(requests);
      const served: Record<string, number> = { fp32: 0, int8: 0 };
      const pending: Promise<void>[] = [];
      let settled = 0;
      for (let i = 0; i < requests; i++) {
        if (i % 50 === 0 && i > 0) {
          // Let the queue drain to ~20 requests, then switch with those still queued or running.
          while (i - settled > 20) await sleep(1);
          pool.use(pool.current === 'fp32' ? 'int8' : 'fp32');
        }
        const feed = i % FEEDS;
        pending.push(
          scheduler.infer(feeds[feed]).then((outputs) => {
            answered[i]++;
            settled++;
            const variant = poolResultInfo(outputs)!.variant;
            served[variant]++;
            assert.equal(answerOf(outputs), expected[variant][feed], `request ${i}`);
          }),
        );
        if (i % 10 === 0) await tick();
      }
      await Promise.all(pending);
      await scheduler.close();
      assert.ok(answered.every((count) => count === 1));
      assert.ok(served.fp32 > 0 && served.int8 > 0, JSON.stringify(served));
      assert.equal(scheduler.stats().completed, requests);
      assert.equal(await code(scheduler.infer({ [INPUT]: { type: 'float32', data: new Float32Array(3), dims: [1, 16, 96] } })), 'EDGEINFER_DISPOSED');
      await pool.dispose();
    });
  });

  describe('DegradationPolicy', () => {
    it("the seed device's rule: above 85 °C serve int8, back below 80, no flapping around 85", async () => {
      const pool = new ModelPool({ fp32: engines.fp32, int8: engines.int8 });
      const temperatures = [70, 84, 85, 86, 84, 86, 85.5, 84.9, 81, 80.5, 80, 79.9, 84, 85, 84.9, 85.1];
      // prettier-ignore
      const policy = new DegradationPolicy(pool, { rules: [{ when: { temperatureAbove: 85, recoverBelow: 80 }, use: 'int8' }], temperature: replay(temperatures), intervalMs: 0, minDwellMs: 0 });
      const events: [string, DegradationEvent][] = [];
      policy.on('degrade', (event) => events.push(['degrade', event]));
      policy.on('recover', (event) => events.push(['recover', event]));
      const switches: PoolSwitchEvent[] = [];
      pool.on('switch', (event) => switches.push(event));
      const served: string[] = [];
      for (const _ of temperatures) {
        await policy.evaluate();
        served.push(pool.current);
        assert.equal(answerOf(await pool.infer(feeds[7])), expected[pool.current][7]);
      }
      // prettier-ignore
      assert.deepEqual(served, ['fp32', 'fp32', 'fp32', 'int8', 'int8', 'int8', 'int8', 'int8', 'int8', 'int8', 'int8', 'fp32', 'fp32', 'fp32', 'fp32', 'int8']);
      assert.equal(switches.length, 3, 'readings oscillating around 85 switch only when they cross 85 up or 80 down');
      assert.deepEqual(
        events.map(([kind, event]) => [kind, event.from, event.to, event.rule, event.readings.temperature]),
        [
          ['degrade', 'fp32', 'int8', 'temperatureAbove 85', 86],
          ['recover', 'int8', 'fp32', 'temperatureAbove 85', 79.9],
          ['degrade', 'fp32', 'int8', 'temperatureAbove 85', 85.1],
        ],
      );
      assert.match(events[0][1].reason, /temperature 86 °C > 85 °C/);
      assert.match(switches[1].reason, /^recover: .*temperature 79\.9 °C < 80 °C/);
      const info = policy.info();
      assert.equal(info.sources.temperature?.origin, 'injected');
      assert.equal(info.rules[0].active, true);
      assert.equal(info.evaluations, temperatures.length);
      policy.stop();
      await pool.dispose();
    });

    it('holds a recovery for minDwellMs after the last change; escalations do not wait; async sources work', async () => {
      const pool = new ModelPool({ fp32: engines.fp32, int8: engines.int8 });
      let clock = 0;
      let temperature = 90;
      const policy = new DegradationPolicy(pool, {
        rules: [{ when: { temperatureAbove: 85 }, use: 'int8' }], // recoverBelow defaults to 80
        temperature: async () => temperature,
        now: () => clock,
        minDwellMs: 5000,
        intervalMs: 0,
      });
      assert.equal(policy.info().rules[0].recover, 80);
      let decision = await policy.evaluate();
      assert.deepEqual([decision.variant, decision.switched, decision.held], ['int8', true, false]);
      temperature = 60;
      clock = 1000;
      decision = await policy.evaluate();
      assert.deepEqual([decision.variant, decision.held, pool.current], ['int8', true, 'int8']);
      clock = 5000;
      decision = await policy.evaluate();
      assert.deepEqual([decision.variant, decision.switched, decision.held, pool.current], ['fp32', true, false, 'fp32']);
      temperature = 95;
      clock = 5001;
      decision = await policy.evaluate();
      assert.deepEqual([decision.variant, decision.switched], ['int8', true], 'degrading does not wait for the dwell');
      policy.stop();
      await pool.dispose();
    });

    it('reads the hottest thermal zone by default; without thermal files the rule never fires and info() says so', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-thermal-'));
      try {
        for (const [zone, milli] of [['thermal_zone0', '45000'], ['thermal_zone1', '86500\n'], ['thermal_zone7', 'garbage']]) {
          fs.mkdirSync(path.join(dir, zone));
          fs.writeFileSync(path.join(dir, zone, 'temp'), milli);
        }
        fs.mkdirSync(path.join(dir, 'thermal_zone2')); // no temp file
        fs.mkdirSync(path.join(dir, 'cooling_device0'));
        const pool = new ModelPool({ fp32: engines.fp32, int8: engines.int8 });
        const policy = new DegradationPolicy(pool, { rules: [{ when: { temperatureAbove: 85, recoverBelow: 80 }, use: 'int8' }], thermalDir: dir, intervalMs: 0, minDwellMs: 0 });
        assert.equal(policy.info().sources.temperature?.available, true);
        assert.match(policy.info().sources.temperature!.detail, /max of 3 thermal zones/);
        const decision = await policy.evaluate();
        assert.equal(decision.readings.temperature, 86.5);
        assert.equal(pool.current, 'int8');
        fs.writeFileSync(path.join(dir, 'thermal_zone1', 'temp'), '70000');
        await policy.evaluate();
        assert.equal(pool.current, 'fp32');
        policy.stop();

        const missing = new DegradationPolicy(pool, { rules: [{ when: { temperatureAbove: 1 }, use: 'int8' }], thermalDir: path.join(dir, 'nothing'), intervalMs: 0, minDwellMs: 0 });
        const source = missing.info().sources.temperature!;
        assert.equal(source.available, false);
        assert.match(source.detail, /^unavailable: no .*thermal_zone\*/);
        const none = await missing.evaluate();
        assert.deepEqual([none.readings, none.variant, pool.current], [{}, 'fp32', 'fp32']);
        missing.stop();
        await pool.dispose();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('degrades when the serving variant misses its p99 SLO and recovers on the lighter one, from the pool window', async () => {
      // The thresholds follow this machine's speed (under qemu the INT8 head alone takes ~10 ms): the rule's
      // recovery bound sits well above five concurrent INT8 calls, its trigger and the delay well above that.
      const probe = new ModelPool({ int8: engines.int8 });
      for (let round = 0; round < 2; round++) await Promise.all(Array.from({ length: 5 }, (_, i) => probe.infer(feeds[i])));
      const fastMs = probe.recentLatency('int8').max / 1000;
      await probe.dispose();
      const recoverBelow = Math.max(10, Math.ceil(4 * fastMs));
      const p99Above = 2 * recoverBelow;
      const delayMs = 3 * recoverBelow;
      // 'fp32' here is the head behind a delay: a stand-in for a bigger, slower model.
      const pool = new ModelPool({ fp32: slowed(engines.fp32, delayMs), int8: engines.int8 });
      const policy = new DegradationPolicy(pool, { rules: [{ when: { p99AboveMs: p99Above, recoverBelow }, use: 'int8' }], latencyMinSamples: 5, intervalMs: 0, minDwellMs: 0 });
      const events: string[] = [];
      // The rule's threshold, not the delay: a Node timer may fire a fraction of a millisecond early on the
      // performance.now() clock (the loop's cached time), so a slowed call can measure just under the delay.
      policy.on('degrade', (event) => events.push(`degrade ${event.readings.p99Ms! > p99Above}`));
      policy.on('recover', (event) => events.push(`recover ${event.readings.p99Ms! < recoverBelow}`));
      const run = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => pool.infer(feeds[i])));
      await run(4);
      let decision = await policy.evaluate();
      assert.deepEqual([decision.readings, pool.current], [{}, 'fp32'], 'fewer than latencyMinSamples calls: no reading');
      await run(2);
      decision = await policy.evaluate();
      assert.ok(decision.readings.p99Ms! >= delayMs - 5, `p99 ${decision.readings.p99Ms} ms behind a ${delayMs} ms delay`);
      assert.equal(pool.current, 'int8');
      const fast = await run(5);
      assert.ok(fast.every((outputs) => poolResultInfo(outputs)?.variant === 'int8'));
      await policy.evaluate();
      assert.equal(pool.current, 'fp32');
      decision = await policy.evaluate();
      assert.deepEqual([decision.readings, pool.current], [{}, 'fp32'], "fp32's samples from before it last served do not count");
      await run(5);
      await policy.evaluate();
      assert.equal(pool.current, 'int8');
      assert.deepEqual(events, ['degrade true', 'recover true', 'degrade true']);
      policy.stop();
      await pool.dispose();
    });

    it('memory pressure (free fraction, RSS) and rules composed by severity: the most severe active rule wins', async () => {
      const pool = new ModelPool({ fp32: engines.fp32, fp16: engines.fp16, int8: engines.int8 });
      const readings = [
        // [temperature, free fraction, rss]
        [60, 0.5, 1e8], // nothing active: fp32
        [60, 0.08, 1e8], // low memory: fp16
        [90, 0.12, 1e8], // hot, and memory still low (it recovers above 0.15): hot is more severe, still fp16
        [96, 0.12, 1e8], // critical: int8
        [92, 0.2, 3e9], // critical still (recovers below 90), rss high too
        [70, 0.2, 3e9], // critical and hot cleared, rss active: fp16
        [70, 0.2, 1.9e9], // rss recovers below 0.9 x 2e9 = 1.8e9: still fp16
        [70, 0.2, 1e9], // nothing: fp32
      ];
      let step = 0;
      const policy = new DegradationPolicy(pool, {
        rules: [
          { name: 'critical', when: { temperatureAbove: 95, recoverBelow: 90 }, use: 'int8' },
          { name: 'hot', when: { temperatureAbove: 85, recoverBelow: 80 }, use: 'fp16' },
          { name: 'low memory', when: { freeMemoryBelow: 0.1, recoverAbove: 0.15 }, use: 'fp16' },
          { name: 'rss', when: { rssAboveBytes: 2e9 }, use: 'fp16' },
        ],
        temperature: () => readings[step][0],
        freeMemory: () => readings[step][1],
        rss: () => readings[step][2],
        intervalMs: 0,
        minDwellMs: 0,
      });
      const events: string[] = [];
      policy.on('degrade', (event) => events.push(`degrade ${event.from}->${event.to} (${event.rule}; active: ${event.active.join(', ')})`));
      policy.on('recover', (event) => events.push(`recover ${event.from}->${event.to} (${event.rule})`));
      const served: (string | undefined)[][] = [];
      for (step = 0; step < readings.length; step++) {
        const decision = await policy.evaluate();
        served.push([pool.current, decision.rule]);
      }
      assert.deepEqual(served, [
        ['fp32', undefined],
        ['fp16', 'low memory'],
        ['fp16', 'hot'],
        ['int8', 'critical'],
        ['int8', 'critical'],
        ['fp16', 'rss'],
        ['fp16', 'rss'],
        ['fp32', undefined],
      ]);
      assert.deepEqual(events, [
        'degrade fp32->fp16 (low memory; active: low memory)',
        'degrade fp16->fp16 (hot; active: hot, low memory)',
        'degrade fp16->int8 (critical; active: critical, hot, low memory)',
        'recover int8->fp16 (critical)',
        'recover fp16->fp32 (rss)',
      ]);
      assert.equal(pool.stats().switches, 4);
      policy.stop();

      // The default memory sources read this process and machine.
      const defaults = new DegradationPolicy(pool, { rules: [{ when: { freeMemoryBelow: 0.0001 }, use: 'int8' }, { when: { rssAboveBytes: 1e15 }, use: 'int8' }], intervalMs: 0 });
      const decision = await defaults.evaluate();
      assert.ok(decision.readings.freeMemory! > 0 && decision.readings.freeMemory! <= 1);
      // The default RSS source is the process's; qemu-user reports 0 for it (the arm64 run), a real process megabytes.
      if (process.memoryUsage().rss > 0) assert.ok(decision.readings.rss! > 1e6);
      assert.deepEqual(Object.keys(defaults.info().sources).sort(), ['freeMemory', 'rss']);
      defaults.stop();
      await pool.dispose();
    });

    it('switches driven by the policy under load: every request answered once by its admission variant', async () => {
      const pool = new ModelPool({ fp32: engines.fp32, int8: engines.int8 });
      let hot = false;
      const policy = new DegradationPolicy(pool, { rules: [{ when: { temperatureAbove: 85, recoverBelow: 80 }, use: 'int8' }], temperature: () => (hot ? 90 : 60), intervalMs: 0, minDwellMs: 0 });
      let degrades = 0;
      let recovers = 0;
      policy.on('degrade', () => degrades++);
      policy.on('recover', () => recovers++);
      const requests = 2000;
      const answered = new Uint8Array(requests);
      const pending: Promise<void>[] = [];
      const evaluations: Promise<unknown>[] = [];
      for (let i = 0; i < requests; i++) {
        if (i % 100 === 50) {
          hot = !hot;
          evaluations.push(policy.evaluate()); // switches a microtask later, with calls in flight
        }
        const admitted = pool.current;
        const feed = i % FEEDS;
        pending.push(
          pool.infer(feeds[feed]).then((outputs) => {
            answered[i]++;
            assert.equal(poolResultInfo(outputs)?.variant, admitted);
            assert.equal(answerOf(outputs), expected[admitted][feed]);
          }),
        );
        if (i % 7 === 0) await tick();
      }
      await Promise.all(evaluations);
      await Promise.all(pending);
      assert.ok(answered.every((count) => count === 1));
      assert.equal(degrades, 10);
      assert.equal(recovers, 10);
      assert.equal(pool.stats().variants.fp32.completed + pool.stats().variants.int8.completed, requests);
      policy.stop();
      await pool.dispose();
    });

    it('samples on an unref-ed interval, stops with the pool, and allows one running policy per pool', async () => {
      const pool = new ModelPool({ fp32: engines.fp32, int8: engines.int8 });
      const policy = new DegradationPolicy(pool, { rules: [{ when: { temperatureAbove: 85 }, use: 'int8' }], temperature: () => 99, intervalMs: 5 });
      const degraded = new Promise<DegradationEvent>((resolve) => policy.once('degrade', resolve));
      assert.equal((await degraded).to, 'int8');
      assert.equal(pool.current, 'int8');
      assert.equal(await code(() => new DegradationPolicy(pool, { rules: [{ when: { temperatureAbove: 85 }, use: 'int8' }], intervalMs: 0 })), 'EDGEINFER_INVALID_ARGUMENT');
      await pool.dispose();
      assert.equal(policy.stopped, true, 'disposing the pool stops its policy');
      assert.equal(policy.info().running, false);
      assert.equal(await code(() => new DegradationPolicy(pool, { rules: [{ when: { temperatureAbove: 85 }, use: 'int8' }] })), 'EDGEINFER_DISPOSED');

      // A source that throws or returns junk is no reading; the error is in info().
      const pool2 = new ModelPool({ fp32: engines.fp32, int8: engines.int8 });
      const flaky = new DegradationPolicy(pool2, {
        rules: [{ when: { temperatureAbove: 85 }, use: 'int8' }],
        temperature: replay([NaN, 90]) as () => number,
        intervalMs: 0,
        minDwellMs: 0,
      });
      assert.equal((await flaky.evaluate()).variant, 'fp32');
      assert.match(flaky.info().sources.temperature!.error!, /not a finite number/);
      assert.equal((await flaky.evaluate()).variant, 'int8');
      assert.equal(flaky.info().sources.temperature!.error, undefined);
      flaky.stop();
      await pool2.dispose();
    });

    it('refuses bad configuration with EDGEINFER_INVALID_ARGUMENT', async () => {
      const pool = new ModelPool({ fp32: engines.fp32, int8: engines.int8 });
      const make = (options: unknown) => () => new DegradationPolicy(pool, { intervalMs: 0, ...(options as object) } as never);
      const bad: [string, unknown][] = [
        ['no rules', { rules: [] }],
        ['rules not an array', { rules: { when: { temperatureAbove: 85 }, use: 'int8' } }],
        ['unknown variant', { rules: [{ when: { temperatureAbove: 85 }, use: 'int4' }] }],
        ['recover not below enter', { rules: [{ when: { temperatureAbove: 85, recoverBelow: 85 }, use: 'int8' }] }],
        ['recoverAbove on an Above rule', { rules: [{ when: { temperatureAbove: 85, recoverAbove: 80 }, use: 'int8' }] }],
        ['recover not above enter', { rules: [{ when: { freeMemoryBelow: 0.1, recoverAbove: 0.05 }, use: 'int8' }] }],
        ['fraction out of range', { rules: [{ when: { freeMemoryBelow: 1.5 }, use: 'int8' }] }],
        ['two conditions in one rule', { rules: [{ when: { temperatureAbove: 85, p99AboveMs: 50 }, use: 'int8' }] }],
        ['no condition', { rules: [{ when: {}, use: 'int8' }] }],
        ['unknown condition', { rules: [{ when: { humidityAbove: 90 }, use: 'int8' }] }],
        ['threshold not a number', { rules: [{ when: { temperatureAbove: '85' }, use: 'int8' }] }],
        ['negative SLO', { rules: [{ when: { p99AboveMs: -1 }, use: 'int8' }] }],
        ['unknown rule key', { rules: [{ when: { temperatureAbove: 85 }, use: 'int8', then: 'x' }] }],
        ['duplicate rule names', { rules: [{ when: { temperatureAbove: 85 }, use: 'int8' }, { when: { temperatureAbove: 85 }, use: 'fp32' }] }],
        ['source not a function', { rules: [{ when: { temperatureAbove: 85 }, use: 'int8' }], temperature: 85 }],
        ['negative interval', { rules: [{ when: { temperatureAbove: 85 }, use: 'int8' }], intervalMs: -1 }],
        ['fractional dwell', { rules: [{ when: { temperatureAbove: 85 }, use: 'int8' }], minDwellMs: 0.5 }],
      ];
      for (const [what, options] of bad) assert.equal(await code(make(options)), 'EDGEINFER_INVALID_ARGUMENT', what);
      assert.equal(await code(() => new DegradationPolicy({} as never, { rules: [] })), 'EDGEINFER_INVALID_ARGUMENT');
      // None of those left a policy holding the pool.
      const ok = new DegradationPolicy(pool, { rules: [{ when: { temperatureAbove: 85, recoverBelow: 80 }, use: 'int8' }], temperature: () => 20, intervalMs: 0 });
      ok.stop();
      await pool.dispose();
    });
  });
});
