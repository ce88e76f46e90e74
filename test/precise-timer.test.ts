// setPreciseTimeout (lib/precise-timer.ts) over the native timer thread (binding/precise_timer.cc): order,
// cancellation, the setTimeout path, misuse of the native handle, process liveness (armed keeps the process
// alive, idle does not) and worker_threads (a worker ended while its timer is armed). How precise it is, is a
// benchmark's business (bench/scheduler.bench.ts: a 500 µs queue delay at one client).
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

import { EdgeInferError } from '../lib';
import { native } from '../lib/native';
import { preciseBelowMs, setPreciseTimeout } from '../lib/precise-timer';
import { spawnNode, workerPrelude } from './helpers/node-child';
import { codeOf } from './helpers/error-code';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const lib = JSON.stringify(require.resolve('../lib/precise-timer'));

describe('setPreciseTimeout', function () {
  this.timeout(60000);

  it('fires each callback once, earliest deadline first, never before its delay', async () => {
    // A deadline is the registration time plus the delay, so its window is [just before, just after] the call:
    // under qemu registering six timeouts can take longer than the gaps between their delays.
    const fired: number[] = [];
    const deadlines: { earliest: number; latest: number }[] = [];
    const firedAt: number[] = [];
    const delays = [3, 0.5, 2, 0.25, 1.5, 0];
    await new Promise<void>((resolve) => {
      delays.forEach((delay, id) => {
        const before = performance.now();
        setPreciseTimeout(() => {
          firedAt[id] = performance.now();
          fired.push(id);
          if (fired.length === delays.length) resolve();
        }, delay);
        deadlines[id] = { earliest: before + delay, latest: performance.now() + delay };
      });
    });
    await sleep(10);
    assert.deepEqual([...fired].sort(), [0, 1, 2, 3, 4, 5], 'each once');
    for (let i = 1; i < fired.length; i++) {
      const [a, b] = [fired[i - 1], fired[i]];
      assert.ok(deadlines[a].earliest <= deadlines[b].latest, `timeout ${a} (due ${deadlines[a].earliest.toFixed(3)}) fired before ${b} (due by ${deadlines[b].latest.toFixed(3)}): order ${fired}`);
    }
    for (const id of fired) assert.ok(firedAt[id] >= deadlines[id].earliest - 0.01, `timeout ${id} (${delays[id]} ms) fired ${(deadlines[id].earliest - firedAt[id]).toFixed(3)} ms early`);
  });

  it('cancel: a cancelled timeout never fires, the others still do; a second cancel is harmless', async () => {
    const fired: string[] = [];
    const cancelFirst = setPreciseTimeout(() => fired.push('first'), 0.5);
    // Cancelled by an earlier callback, even when both are due at the same wake-up (a loaded machine).
    let cancelThird = () => {};
    setPreciseTimeout(() => {
      fired.push('second');
      cancelThird();
    }, 1);
    cancelThird = setPreciseTimeout(() => fired.push('third'), 1.01);
    cancelFirst();
    cancelFirst();
    await sleep(15);
    assert.deepEqual(fired, ['second']);
    cancelThird();
  });

  it(`delays from ${preciseBelowMs} ms on go through setTimeout, cancellable the same way`, async () => {
    const fired: string[] = [];
    const start = performance.now();
    setPreciseTimeout(() => fired.push('long'), preciseBelowMs + 2);
    setPreciseTimeout(() => fired.push('cancelled'), preciseBelowMs + 1)();
    await sleep(preciseBelowMs + 30);
    assert.deepEqual(fired, ['long']);
    assert.ok(performance.now() - start >= preciseBelowMs + 2);
  });

  it('the native handle refuses bad arguments with codes; a closed timer is EDGEINFER_DISPOSED', () => {
    assert.equal(codeOf(() => native.createPreciseTimer(42 as never)), 'EDGEINFER_INVALID_ARGUMENT');
    let calls = 0;
    const timer = native.createPreciseTimer(() => calls++);
    for (const micros of [-1, NaN, Infinity, 1e12, '5' as never]) assert.equal(codeOf(() => native.preciseTimerStart(timer, micros)), 'EDGEINFER_INVALID_ARGUMENT', String(micros));
    assert.equal(codeOf(() => native.preciseTimerStart({} as never, 10)), 'EDGEINFER_INVALID_ARGUMENT');
    native.preciseTimerStart(timer, 1e6);
    native.preciseTimerClose(timer);
    assert.equal(codeOf(() => native.preciseTimerStart(timer, 10)), 'EDGEINFER_DISPOSED');
    assert.equal(codeOf(() => native.preciseTimerClose(timer)), 'EDGEINFER_DISPOSED');
    assert.equal(calls, 0);
    assert.ok(EdgeInferError);
  });

  it('a pending timeout keeps the process alive until it fires; an idle timer does not hold it', () => {
    const armed = spawnNode(['-e', `require(${lib}).setPreciseTimeout(() => console.log('fired'), 5);`], { timeout: 30000 });
    assert.equal(armed.status, 0, armed.stderr);
    assert.equal(armed.stdout.trim(), 'fired');
    // Armed then cancelled, and one fired: the process must still end by itself (a spawn timeout kills it: status null).
    const idle = spawnNode(['-e', `const t = require(${lib}); t.setPreciseTimeout(() => {}, 5)(); t.setPreciseTimeout(() => console.log('done'), 1);`], { timeout: 30000 });
    assert.equal(idle.status, 0, `exit ${idle.status} ${idle.signal ?? ''} ${idle.stderr}`);
    assert.equal(idle.stdout.trim(), 'done');
  });

  it('runs in worker_threads, and a worker ended while its timer is armed ends cleanly', async () => {
    const source = (body: string) => `${workerPrelude()}
      const { parentPort } = require('node:worker_threads');
      const { setPreciseTimeout } = require(${lib});
      ${body}`;
    const firing = new Worker(source(`setPreciseTimeout(() => parentPort.postMessage('fired'), 2);`), { eval: true });
    assert.equal(await new Promise((resolve, reject) => firing.once('message', resolve).once('error', reject)), 'fired');
    await firing.terminate();
    for (let i = 0; i < 5; i++) {
      const armed = new Worker(source(`setPreciseTimeout(() => parentPort.postMessage('too late'), 5000); parentPort.postMessage('armed');`), { eval: true });
      assert.equal(await new Promise((resolve, reject) => armed.once('message', resolve).once('error', reject)), 'armed');
      assert.equal(await armed.terminate(), 1);
    }
  });
});
