// A hostile caller against every async API: buffers transferred, detached, resized or collected right after
// the call starts, SharedArrayBuffer and Proxy arguments. Each scenario runs 100 times per API with canary
// arrays around: no crash, canaries untouched, every result correct or a clear EdgeInferError.
import assert from 'node:assert/strict';
import vm from 'node:vm';
import v8 from 'node:v8';

import {
  dequantize,
  dequantizeSync,
  EdgeInferError,
  Engine,
  gelu,
  geluSync,
  gemmS8,
  gemmS8Sync,
  layerNorm,
  layerNormSync,
  packWeights,
  quantize,
  quantizeSync,
} from '../lib';
import { native } from '../lib/native';
import { codeOf } from './helpers/error-code';
import { fillFloat, fillInt, rng } from './helpers/random';
import { fetchModels } from './helpers/repo';

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

// 100 per the acceptance; fewer under emulation (scripts/test-arm64.js).
const REPEATS = Number(process.env.EDGEINFER_HOSTILE_REPEATS ?? 100);

/** Arrays of a known pattern allocated around the calls; a stray write into any of them is a failure. */
class Canaries {
  readonly arrays: Float64Array[] = [];
  constructor(count = 64) {
    for (let i = 0; i < count; i++) this.arrays.push(new Float64Array(256).fill(i + 0.25));
  }
  check(what: string) {
    this.arrays.forEach((array, i) => {
      for (let j = 0; j < array.length; j++) if (array[j] !== i + 0.25) assert.fail(`${what}: canary ${i}[${j}] overwritten with ${array[j]}`);
    });
  }
}

/** Detaches a typed array's buffer the way a caller handing it to another thread does. */
function transferAway(view: ArrayBufferView) {
  structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
}

// Resizable ArrayBuffers (ES2024) are in Node 20's V8 but not in this project's TypeScript lib setting.
type ResizableArrayBuffer = ArrayBuffer & { resize(byteLength: number): void };
const ResizableBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableArrayBuffer;
const resize = (view: ArrayBufferView, byteLength: number) => (view.buffer as ResizableArrayBuffer).resize(byteLength);

/** A typed array over a resizable ArrayBuffer, filled from `source`. */
function resizable<T extends Float32Array | Uint8Array | Int8Array>(source: T): T {
  const Kind = source.constructor as new (buffer: ArrayBuffer) => T;
  const buffer = new ResizableBuffer(source.byteLength, { maxByteLength: source.byteLength * 2 });
  const view = new Kind(buffer);
  view.set(source as never);
  return view;
}

function shared<T extends Float32Array | Uint8Array | Int8Array>(source: T): T {
  const Kind = source.constructor as new (buffer: SharedArrayBuffer) => T;
  const view = new Kind(new SharedArrayBuffer(source.byteLength));
  view.set(source as never);
  return view;
}

async function expectCode(promise: Promise<unknown>, code: string, what: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof EdgeInferError, `${what}: ${String(error)} is not an EdgeInferError`);
    assert.equal(error.code, code, `${what}: ${error.message}`);
    return true;
  });
}

/**
 * One async API under attack. `start(input, out)` starts the async call on these arrays and resolves to its
 * result; `expected` is the correct result computed synchronously on untouched copies.
 */
interface Target<I extends ArrayBufferView, O extends ArrayBufferView> {
  name: string;
  input: () => I;
  out: () => O;
  start: (input: I, out: O | undefined) => Promise<ArrayLike<number>>;
  expected: ArrayLike<number>;
}

function assertSame(got: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
  assert.equal(got.length, expected.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], expected[i])) assert.fail(`${what}: element ${i} is ${got[i]}, expected ${expected[i]}`);
  }
}

async function attack<I extends Float32Array | Uint8Array | Int8Array, O extends Float32Array | Int32Array | Int8Array | Uint8Array>(target: Target<I, O>) {
  const canaries = new Canaries();
  const what = (scenario: string) => `${target.name}: ${scenario}`;
  for (let i = 0; i < REPEATS; i++) {
    // The input is transferred away and collected while the call runs: the result is still correct.
    {
      const input = target.input();
      const pending = target.start(input, undefined);
      transferAway(input);
      collectGarbage();
      assertSame(await pending, target.expected, what('input transferred'));
    }
    // The input's resizable buffer shrinks to nothing right after the call.
    {
      const input = resizable(target.input());
      const pending = target.start(input, undefined);
      resize(input, 0);
      assertSame(await pending, target.expected, what('input resized to 0'));
    }
    // The caller's out is transferred away during the call: a clear error, nothing written anywhere.
    {
      const out = target.out();
      const pending = target.start(target.input(), out);
      transferAway(out);
      collectGarbage();
      await expectCode(pending, 'EDGEINFER_INVALID_ARGUMENT', what('out transferred'));
    }
    // The caller's out shrinks during the call: a clear error; grown instead, the result is delivered.
    {
      const out = resizable(target.out() as unknown as Float32Array) as unknown as O;
      const pending = target.start(target.input(), out);
      resize(out, 8);
      await expectCode(pending, 'EDGEINFER_INVALID_ARGUMENT', what('out shrunk'));
      const grown = resizable(target.out() as unknown as Float32Array) as unknown as O;
      const pendingGrown = target.start(target.input(), grown);
      resize(grown, grown.byteLength * 2);
      // The view tracks its buffer's length: the result fills the first part, the grown part stays zero.
      const result = await pendingGrown;
      assertSame(Array.from(result).slice(0, target.expected.length), target.expected, what('out grown'));
      assert.ok(Array.from(result).slice(target.expected.length).every((v) => v === 0), what('out grown: tail untouched'));
    }
    // SharedArrayBuffer-backed input and output work; another writer after submission cannot change the input.
    {
      const input = shared(target.input());
      const pending = target.start(input, undefined);
      input.fill(0 as never);
      assertSame(await pending, target.expected, what('shared input overwritten after submission'));
      const out = shared(target.out() as unknown as Float32Array) as unknown as O;
      assertSame(await target.start(target.input(), out), target.expected, what('shared out'));
    }
  }
  canaries.check(target.name);
  // Proxies and look-alikes are refused with a code, never a TypeError from inside.
  const input = target.input();
  for (const fake of [new Proxy(input, {}), { length: input.length, buffer: input.buffer, byteOffset: 0, byteLength: input.byteLength }]) {
    await expectCode(Promise.resolve().then(() => target.start(fake as I, undefined)), 'EDGEINFER_INVALID_ARGUMENT', what('proxy input'));
  }
  await expectCode(Promise.resolve().then(() => target.start(target.input(), new Proxy(target.out(), {}))), 'EDGEINFER_INVALID_ARGUMENT', what('proxy out'));
}

describe('hostile callers: async calls own their memory', function () {
  this.timeout(600000);

  it('gemmS8: A transferred / resized / shared, out transferred / shrunk / grown, proxies', async () => {
    const next = rng(8);
    const [m, k, n] = [7, 96, 40];
    const a = fillInt(new Uint8Array(m * k), next, 0, 255);
    const packed = packWeights(fillInt(new Int8Array(k * n), next, -128, 127), { k, n, scales: fillFloat(new Float32Array(n), next, 0.01, 0.02) });
    const options = { m, aZeroPoint: 3, output: 'float32' as const, aScale: 0.05, activation: 'relu' as const };
    await attack({
      name: 'gemmS8',
      input: () => a.slice(),
      out: () => new Float32Array(m * n),
      start: (input, out) => gemmS8(input, packed, { ...options, out }),
      expected: gemmS8Sync(a.slice(), packed, options),
    });
    packed.dispose();
  });

  it('gemmS8 with ldc > n: the gaps of a strided out keep the caller\'s values', async () => {
    const next = rng(9);
    const [m, k, n, ldc] = [5, 33, 17, 24];
    const a = fillInt(new Int8Array(m * k), next, -128, 127);
    const packed = packWeights(fillInt(new Int8Array(k * n), next, -128, 127), { k, n });
    const out = new Int32Array((m - 1) * ldc + n).fill(-7);
    const expected = gemmS8Sync(a, packed, { m, ldc, out: out.slice() });
    assertSame(await gemmS8(a, packed, { m, ldc, out }), expected, 'strided async');
    assert.equal(out[n], -7);
    packed.dispose();
  });

  it('quantize and dequantize', async () => {
    const x = fillFloat(new Float32Array(1000), rng(10), -3, 3);
    const params = { scale: 0.02, zeroPoint: 5 };
    await attack({
      name: 'quantize',
      input: () => x.slice(),
      out: () => new Int8Array(x.length),
      start: (input, out) => quantize(input, { ...params, out }),
      expected: quantizeSync(x.slice(), params),
    });
    const q = fillInt(new Uint8Array(1000), rng(11), 0, 255);
    await attack({
      name: 'dequantize',
      input: () => q.slice(),
      out: () => new Float32Array(q.length),
      start: (input, out) => dequantize(input, { ...params, out }),
      expected: dequantizeSync(q.slice(), params),
    });
  });

  it('layerNorm and gelu', async () => {
    const x = fillFloat(new Float32Array(16 * 64), rng(12), -2, 2);
    const gamma = fillFloat(new Float32Array(64), rng(13), 0.5, 1.5);
    await attack({
      name: 'layerNorm',
      input: () => x.slice(),
      out: () => new Float32Array(x.length),
      start: (input, out) => layerNorm(input, { width: 64, gamma, activation: 'gelu', out }),
      expected: layerNormSync(x.slice(), { width: 64, gamma, activation: 'gelu' }),
    });
    await attack({
      name: 'gelu',
      input: () => x.slice(),
      out: () => new Float32Array(x.length),
      start: (input, out) => gelu(input, { out }),
      expected: geluSync(x.slice()),
    });
  });

  it('layerNorm: gamma transferred during the call does not change the result', async () => {
    const x = fillFloat(new Float32Array(8 * 32), rng(14), -2, 2);
    const gamma = fillFloat(new Float32Array(32), rng(15), 0.5, 1.5);
    const expected = layerNormSync(x, { width: 32, gamma: gamma.slice() });
    for (let i = 0; i < REPEATS; i++) {
      const g = gamma.slice();
      const pending = layerNorm(x, { width: 32, gamma: g });
      transferAway(g);
      assertSame(await pending, expected, 'gamma transferred');
    }
  });

  it('Engine.infer off-thread on the embedding model: input transferred / resized / shared, proxies, dispose mid-call', async () => {
    const models = fetchModels();
    const engine = await Engine.load(models['embedding_model.onnx'], { inlineBelowMicroseconds: 0, threads: 1 });
    const dims = [1, 76, 32, 1];
    const data = fillFloat(new Float32Array(76 * 32), rng(16), -2, 2);
    const expected = engine.inferSync({ input_1: { type: 'float32', data: data.slice(), dims } });
    const outputName = engine.outputs[0].name;
    const inputName = engine.inputs[0].name;
    assert.equal(inputName, 'input_1');
    const canaries = new Canaries();
    const run = (input: Float32Array) => engine.infer({ [inputName]: { type: 'float32', data: input, dims } }).then((r) => r[outputName].data as Float32Array);
    for (let i = 0; i < REPEATS; i++) {
      const transferred = data.slice();
      const pending = run(transferred);
      transferAway(transferred);
      collectGarbage();
      assertSame(await pending, expected[outputName].data as Float32Array, 'input transferred');
      const shrunk = resizable(data.slice());
      const pendingShrunk = run(shrunk);
      resize(shrunk, 0);
      assertSame(await pendingShrunk, expected[outputName].data as Float32Array, 'input resized to 0');
      const sharedInput = shared(data.slice());
      const pendingShared = run(sharedInput);
      sharedInput.fill(0);
      assertSame(await pendingShared, expected[outputName].data as Float32Array, 'shared input overwritten after submission');
    }
    canaries.check('Engine.infer');
    await expectCode(Promise.resolve().then(() => run(new Proxy(data.slice(), {}))), 'EDGEINFER_INVALID_ARGUMENT', 'proxy data');
    await expectCode(Promise.resolve().then(() => engine.infer(new Proxy({ [inputName]: { type: 'float32', data, dims } }, {}))), 'EDGEINFER_INVALID_ARGUMENT', 'proxy feeds');
    await expectCode(
      Promise.resolve().then(() => engine.infer({ [inputName]: new Proxy({ type: 'float32', data, dims }, {}) as never })),
      'EDGEINFER_INVALID_ARGUMENT',
      'proxy tensor',
    );
    // A getter that hands out a different (wrong-sized) array on the second read cannot reach the run.
    let reads = 0;
    const shifty = { type: 'float32', dims, get data() { return ++reads === 1 ? data : new Float32Array(3); } };
    assertSame((await engine.infer({ [inputName]: shifty as never }))[outputName].data as Float32Array, expected[outputName].data as Float32Array, 'getter read once');
    // Dims behind a Proxy that turn to 0.5 after their first read: read once, and what was checked is what runs.
    let dimReads = 0;
    const shiftyDims = new Proxy(dims.slice(), {
      get: (target, key, receiver) => (typeof key === 'string' && /^\d+$/.test(key) && ++dimReads > dims.length ? 0.5 : Reflect.get(target, key, receiver)),
    });
    assertSame((await engine.infer({ [inputName]: { type: 'float32', data, dims: shiftyDims } }))[outputName].data as Float32Array, expected[outputName].data as Float32Array, 'dims read once');
    // Dispose with calls in flight: they finish on the memory they own.
    const inFlight = Array.from({ length: 20 }, () => run(data.slice()));
    engine.dispose();
    for (const result of await Promise.all(inFlight)) assertSame(result, expected[outputName].data as Float32Array, 'in flight at dispose');
    await expectCode(Promise.resolve().then(() => run(data.slice())), 'EDGEINFER_DISPOSED', 'after dispose');
  });

  it('Engine feeds: ±Infinity refused like NaN unless allowNonFinite', async () => {
    const models = fetchModels();
    const strict = await Engine.load(models['hey_jarvis_v0.1.onnx']);
    const input = strict.inputs[0];
    const dims = input.dims.map((d) => (typeof d === 'number' ? d : 1));
    const count = dims.reduce((a, b) => a * b, 1);
    for (const bad of [Infinity, -Infinity, NaN, 3.4e38 * 10]) {
      const data = new Float32Array(count).fill(0.1);
      data[count - 1] = bad;
      assert.throws(() => strict.inferSync({ [input.name]: { type: 'float32', data, dims } }), (error: unknown) => {
        assert.ok(error instanceof EdgeInferError);
        assert.equal(error.code, 'EDGEINFER_INVALID_ARGUMENT');
        assert.match(error.message, /allowNonFinite/);
        assert.equal((error.detail as { index: number }).index, count - 1);
        return true;
      });
    }
    const lenient = await Engine.load(models['hey_jarvis_v0.1.onnx'], { allowNonFinite: true });
    const data = new Float32Array(count).fill(0.1);
    data[3] = Infinity;
    const output = lenient.inferSync({ [input.name]: { type: 'float32', data, dims } });
    assert.ok(Object.values(output).every((t) => t.data.length > 0));
    await assert.rejects(Engine.load(models['hey_jarvis_v0.1.onnx'], { allowNonFinite: 'yes' as never }), EdgeInferError);
    strict.dispose();
    lenient.dispose();
  });
  it('native precise timer: handles that are not one, closed handles (also after a collection), bad deadlines', async () => {
    for (const handle of [undefined, null, {}, 7, 'timer', new Float32Array(2), native.preciseTimerStart]) {
      assert.equal(codeOf(() => native.preciseTimerStart(handle as never, 1)), 'EDGEINFER_INVALID_ARGUMENT', String(handle));
      assert.equal(codeOf(() => native.preciseTimerCancel(handle as never)), 'EDGEINFER_INVALID_ARGUMENT', String(handle));
      assert.equal(codeOf(() => native.preciseTimerClose(handle as never)), 'EDGEINFER_INVALID_ARGUMENT', String(handle));
    }
    let calls = 0;
    const timer = native.createPreciseTimer(() => calls++);
    native.preciseTimerStart(timer, 50);
    native.preciseTimerClose(timer);
    // The state outlives the close while the handle lives: its thread-safe function's finalizer must not free it.
    await new Promise((resolve) => setTimeout(resolve, 20));
    collectGarbage();
    for (const call of [() => native.preciseTimerStart(timer, 1), () => native.preciseTimerCancel(timer), () => native.preciseTimerClose(timer)]) {
      assert.equal(codeOf(call), 'EDGEINFER_DISPOSED');
    }
    assert.equal(calls, 0, 'a closed timer never calls back');
  });
});
