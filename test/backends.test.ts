// The backend boundary: the registry, the ONNX Runtime backend (same results as native on the openWakeWord
// models, int64 feeds, execution providers and their fallback, a worker thread that keeps the event loop
// free, dispose with calls in flight), 'auto' selection and info().
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { EdgeInferError, Engine, type EngineOptions, type Tensor } from '../lib';
import type { Model, Node, TensorData } from '../lib/onnx/ir';
import { nativeOps } from '../lib/onnx/native-ops';
import { writeModel } from '../lib/onnx/writer';
import { makeBertEncoder } from './fixtures/bert-encoder';
import { spawnNode } from './helpers/node-child';
import { rng } from './helpers/random';
import { fetchModels } from './helpers/repo';
import { measureEventLoop } from './helpers/service-measures';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ort = require('onnxruntime-node');

const lib = path.join(__dirname, '..', 'lib');

function randomFeed(dims: number[], scale: number, seed: number): Tensor {
  const next = rng(seed);
  return { type: 'float32', data: new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => (next() * 2 - 1) * scale), dims };
}

function maxAbs(values: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i]));
  return worst;
}

function assertClose(ours: Float32Array, theirs: Float32Array, what: string): void {
  assert.equal(ours.length, theirs.length, `${what}: length`);
  const bound = Math.max(1e-4 * maxAbs(theirs), 1e-7);
  let worst = 0;
  for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
  assert.ok(worst <= bound, `${what}: max |diff| ${worst} > ${bound}`);
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'none';
  } catch (error) {
    assert.ok(error instanceof EdgeInferError, `not an EdgeInferError: ${String(error)}`);
    return error.code;
  }
}

function node(name: string, opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = {}): Node {
  return { name, opType, domain: '', inputs, outputs, attributes };
}

/** y = Softsign(x · w), x [batch, 8]: Softsign is not a native op (ONNX Runtime runs it). */
function softsignModel(): Uint8Array {
  const next = rng(5);
  const w: TensorData = { dtype: 'float32', dims: [8, 8], data: Float32Array.from({ length: 64 }, () => next() * 2 - 1) };
  const model: Model = {
    irVersion: 8,
    opsets: new Map([['', 14]]),
    producerName: 'edgeinfer-test',
    producerVersion: '0.1',
    metadata: { author: 'backends.test', purpose: 'an op native lacks' },
    graph: {
      name: 'softsign',
      nodes: [node('mm', 'MatMul', ['x', 'w'], ['h']), node('ss', 'Softsign', ['h'], ['y'])],
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 8] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 8] }],
      initializers: new Map([['w', w]]),
      valueInfo: new Map(),
    },
  };
  return writeModel(model);
}

/** y = Reshape(x, [4, -1]) for x [1, 6]: fine to load, fails at run time (6 is not a multiple of 4). */
function badReshapeModel(): Uint8Array {
  const model: Model = {
    irVersion: 8,
    opsets: new Map([['', 13]]),
    producerName: 'edgeinfer-test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'reshape',
      nodes: [node('r', 'Reshape', ['x', 'shape'], ['y'])],
      inputs: [{ name: 'x', dtype: 'float32', shape: ['n', 6] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [4, 'm'] }],
      initializers: new Map([['shape', { dtype: 'int64', dims: [2], data: BigInt64Array.of(4n, -1n) }]]),
      valueInfo: new Map(),
    },
  };
  return writeModel(model);
}

/**
 * x [2, 8] -> Q/DQ (uint8, zero point 128) -> MatMul with DequantizeLinear(int8 weights, per-column scale,
 * zero points [0, 3, 0, 0]): every op is native, but native INT8 needs weight zero points of 0.
 */
function asymmetricQdqModel(): Uint8Array {
  const next = rng(18);
  const t = (dtype: TensorData['dtype'], dims: number[], data: TensorData['data']): TensorData => ({ dtype, dims, data });
  const model: Model = {
    irVersion: 8,
    opsets: new Map([['', 13]]),
    producerName: 'edgeinfer-test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'qdq',
      nodes: [
        node('xq', 'QuantizeLinear', ['x', 'x_scale', 'x_zp'], ['x_q']),
        node('xdq', 'DequantizeLinear', ['x_q', 'x_scale', 'x_zp'], ['x_dq']),
        node('wdq', 'DequantizeLinear', ['w', 'w_scale', 'w_zp'], ['w_dq'], { axis: { type: 'int', value: 1 } }),
        node('mm', 'MatMul', ['x_dq', 'w_dq'], ['y']),
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [2, 8] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [2, 4] }],
      initializers: new Map([
        ['x_scale', t('float32', [], Float32Array.of(0.02))],
        ['x_zp', t('uint8', [], Uint8Array.of(128))],
        ['w', t('int8', [8, 4], Int8Array.from({ length: 32 }, () => Math.floor(next() * 256) - 128))],
        ['w_scale', t('float32', [4], Float32Array.of(0.01, 0.02, 0.015, 0.005))],
        ['w_zp', t('int8', [4], Int8Array.of(0, 3, 0, 0))],
      ]),
      valueInfo: new Map(),
    },
  };
  return writeModel(model);
}

const softsign = (v: number) => v / (1 + Math.abs(v));

describe('backends', function () {
  this.timeout(600000);
  let models: Record<string, string>;
  before(() => {
    models = fetchModels();
  });

  describe('registry', () => {
    it('lists native then onnxruntime, both available here, and refuses unknown names', async () => {
      assert.deepEqual(Engine.backends(), [
        { name: 'native', available: true },
        { name: 'onnxruntime', available: true },
      ]);
      assert.ok(!nativeOps.has('Softsign'), 'the test model needs an op native lacks');
      assert.equal(await code(Engine.load(models['alexa_v0.1.onnx'], { backend: 'tvm' as never })), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(await code(Engine.load(models['alexa_v0.1.onnx'], { autoSelect: 'slowest' as never })), 'EDGEINFER_INVALID_ARGUMENT');
    });
  });

  describe("backend 'onnxruntime'", () => {
    // Symbolic dims: melspectrogram's audio length, embedding's batch; the heads' input shapes are fixed.
    const cases: [string, number[] | undefined, number][] = [
      ['melspectrogram.onnx', [1, 1760], 3000],
      ['embedding_model.onnx', [2, 76, 32, 1], 2],
      ['hey_jarvis_v0.1.onnx', undefined, 1],
      ['alexa_v0.1.onnx', undefined, 1],
      ['hey_mycroft_v0.1.onnx', undefined, 1],
      ['timer_v0.1.onnx', undefined, 1],
    ];
    for (const [file, shape, scale] of cases) {
      it(`agrees with native on ${file} (1e-4 x max|output|), infer and inferSync`, async () => {
        const onnxruntime = await Engine.load(models[file], { backend: 'onnxruntime', threads: 1 });
        const native = await Engine.load(models[file], { backend: 'native', threads: 1 });
        assert.equal(onnxruntime.info().backend, 'onnxruntime');
        assert.deepEqual(onnxruntime.inputs.map((i) => [i.name, i.type, i.dims.length]), native.inputs.map((i) => [i.name, i.type, i.dims.length]));
        const dims = shape ?? (native.inputs[0].dims as number[]);
        for (const seed of [1, 2]) {
          const feeds = { [onnxruntime.inputs[0].name]: randomFeed(dims, scale, seed) };
          const theirs = seed === 1 ? await onnxruntime.infer(feeds) : onnxruntime.inferSync(feeds);
          const ours = native.inferSync(feeds);
          for (const output of native.outputs) {
            assert.deepEqual(theirs[output.name].dims, ours[output.name].dims, `${file} ${output.name} dims`);
            assertClose(theirs[output.name].data as Float32Array, ours[output.name].data as Float32Array, `${file} ${output.name} seed ${seed}`);
          }
        }
        const stats = onnxruntime.stats();
        assert.equal(stats.backend, 'onnxruntime');
        assert.equal(stats.runs, 2);
        assert.equal(stats.asyncCopies.calls, 1);
        assert.deepEqual(stats.onnxruntime?.executionProviders, ['cpu']);
        assert.equal(stats.onnxruntime?.syncSession, true);
        assert.ok(stats.weightBytes > 0);
        onnxruntime.dispose();
        native.dispose();
      });
    }

    it('runs int64 feeds (BERT-style token ids) like native, and refuses the wrong integer type', async () => {
      const bytes = makeBertEncoder({ layers: 2, hidden: 64, heads: 4, seq: 12, vocab: 50, seed: 7 });
      const onnxruntime = await Engine.load(bytes, { backend: 'onnxruntime', threads: 1 });
      const native = await Engine.load(bytes, { backend: 'native', threads: 1 });
      const next = rng(11);
      const ids = BigInt64Array.from({ length: 2 * 12 }, () => BigInt(Math.floor(next() * 50)));
      const mask = BigInt64Array.from({ length: 2 * 12 }, (_, i) => (i % 12 < 9 || i < 12 ? 1n : 0n));
      const feeds = { input_ids: { type: 'int64' as const, data: ids, dims: [2, 12] }, attention_mask: { type: 'int64' as const, data: mask, dims: [2, 12] } };
      const expected = native.inferSync(feeds);
      const idsBefore = ids.slice();
      for (const result of [await onnxruntime.infer(feeds), onnxruntime.inferSync(feeds)]) {
        for (const output of native.outputs) assertClose(result[output.name].data as Float32Array, expected[output.name].data as Float32Array, `bert ${output.name}`);
      }
      assert.deepEqual(ids, idsBefore, 'the caller keeps its buffers, unchanged');
      assert.equal(ids.buffer.byteLength, 2 * 12 * 8, 'inputs are copied, not transferred (not detached)');
      const wrong = { ...feeds, input_ids: { type: 'int32', data: new Int32Array(24), dims: [2, 12] } };
      assert.equal(await code(onnxruntime.infer(wrong as never)), 'EDGEINFER_INVALID_ARGUMENT');
      onnxruntime.dispose();
      native.dispose();
    });

    it('validates feeds exactly as native does (same codes)', async () => {
      for (const backend of ['native', 'onnxruntime'] as const) {
        const engine = await Engine.load(models['alexa_v0.1.onnx'], { backend, threads: 1 });
        const name = engine.inputs[0].name;
        const good = { type: 'float32' as const, data: new Float32Array(16 * 96), dims: [1, 16, 96] };
        const codes = await Promise.all(
          [{}, { [name]: good, extra: good }, { [name]: { ...good, type: 'int32' } }, { [name]: { ...good, dims: [1, 15, 96] } }, { [name]: { ...good, data: new Float32Array(10) } }, { [name]: { ...good, data: new Float32Array(16 * 96).fill(NaN) } }, { [name]: good }].map(
            (feeds) => code(engine.infer(feeds as never)),
          ),
        );
        assert.deepEqual(codes, ['EDGEINFER_INVALID_ARGUMENT', 'EDGEINFER_INVALID_ARGUMENT', 'EDGEINFER_INVALID_ARGUMENT', 'EDGEINFER_SHAPE_MISMATCH', 'EDGEINFER_SHAPE_MISMATCH', 'EDGEINFER_INVALID_ARGUMENT', 'none'], backend);
        engine.dispose();
      }
    });

    it('turns ONNX Runtime failures into EdgeInferErrors with a code', async () => {
      const engine = await Engine.load(badReshapeModel(), { backend: 'onnxruntime', threads: 1 });
      const feeds = { x: randomFeed([1, 6], 1, 3) };
      for (const attempt of [() => engine.infer(feeds), async () => engine.inferSync(feeds)]) {
        await assert.rejects(attempt(), (error: unknown) => {
          assert.ok(error instanceof EdgeInferError, String(error));
          assert.match(error.code, /^EDGEINFER_(SHAPE_MISMATCH|INVALID_ARGUMENT|INTERNAL)$/);
          assert.match(error.message, /ONNX Runtime/);
          return true;
        });
      }
      // The engine still serves after a failed call.
      const ok = await engine.infer({ x: randomFeed([2, 6], 1, 3) });
      assert.deepEqual(ok.y.dims, [4, 3]);
      engine.dispose();
      assert.equal(await code(Engine.load(new Uint8Array([8, 1, 18, 0, 1, 2]), { backend: 'onnxruntime' })), 'EDGEINFER_MODEL_INVALID');
    });

    it('refuses native-only options and checks its own', async () => {
      const file = models['alexa_v0.1.onnx'];
      assert.equal(await code(Engine.load(file, { backend: 'onnxruntime', precision: 'int8' })), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(await code(Engine.load(file, { backend: 'onnxruntime', keepFloat: ['x'] })), 'EDGEINFER_INVALID_ARGUMENT');
      const bad: EngineOptions['onnxruntime'][] = [
        { threads: 0 },
        { graphOptimizationLevel: 'max' as never },
        { executionProviders: [] },
        { executionProviders: ['rocm' as never] },
        { executionProviders: [{ name: 'tensorrt', fp16: 'yes' as never }] },
        { executionProviders: [{ name: 'cuda', fp16: true } as never] },
        { executionProviders: ['cpu', 'cpu'] },
        { intraOpNumThreads: 2 } as never,
      ];
      for (const onnxruntime of bad) {
        assert.equal(await code(Engine.load(file, { backend: 'onnxruntime', onnxruntime })), 'EDGEINFER_INVALID_ARGUMENT', JSON.stringify(onnxruntime));
        // Checked whichever backend runs: a typo fails on every machine.
        assert.equal(await code(Engine.load(file, { backend: 'native', onnxruntime })), 'EDGEINFER_INVALID_ARGUMENT', JSON.stringify(onnxruntime));
      }
      const engine = await Engine.load(file, { backend: 'onnxruntime', threads: 1, onnxruntime: { threads: 1, interOpThreads: 1, graphOptimizationLevel: 'basic' } });
      assert.equal(engine.info().onnxruntime?.graphOptimizationLevel, 'basic');
      assert.throws(() => engine.profile(), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
      assert.ok(engine.layers().length > 0, 'the Gemm layers of the model as stored');
      engine.dispose();
    });

    it("a provider this build lacks ('cuda' here) is BACKEND_UNAVAILABLE naming it; with 'cpu' after it, a fallback info() reports", async function () {
      const file = models['alexa_v0.1.onnx'];
      const quiet = { logSeverityLevel: 4 as const };
      let cudaWorks = false;
      try {
        const engine = await Engine.load(file, { backend: 'onnxruntime', onnxruntime: { ...quiet, executionProviders: ['cuda'] } });
        cudaWorks = true;
        engine.dispose();
      } catch (error) {
        assert.ok(error instanceof EdgeInferError);
        assert.equal(error.code, 'EDGEINFER_BACKEND_UNAVAILABLE');
        assert.match(error.message, /'cuda'/);
        assert.equal(error.detail?.provider, 'cuda');
      }
      if (cudaWorks) this.skip();
      const engine = await Engine.load(file, {
        backend: 'onnxruntime',
        threads: 1,
        onnxruntime: { ...quiet, executionProviders: [{ name: 'tensorrt', deviceId: 0, fp16: true, engineCache: true, engineCachePath: os.tmpdir() }, { name: 'cuda', deviceId: 0 }, 'cpu'] },
      });
      const info = engine.info();
      assert.deepEqual(info.onnxruntime?.executionProviders, ['cpu']);
      assert.deepEqual(info.onnxruntime?.requestedProviders, ['tensorrt', 'cuda', 'cpu']);
      assert.deepEqual((info.onnxruntime?.fallbacks as { provider: string }[]).map((f) => f.provider).sort(), ['cuda', 'tensorrt']);
      assert.match(info.backendReason, /'cuda' is not available.*fell back to cpu/);
      const feeds = { [engine.inputs[0].name]: randomFeed([1, 16, 96], 1, 4) };
      assert.equal(Object.values(await engine.infer(feeds))[0].dims.length, 2);
      engine.dispose();
    });

    it('keeps the event loop responsive (delay p99 <= 5 ms) while a >= 20 ms model runs through await infer, on both backends', () => {
      // In a fresh process: the measurement should see the engine, not the garbage of the specs run before it.
      const figures = measureEventLoop();
      console.log(`      event-loop delay (ms): ${JSON.stringify(figures)}`);
      for (const backend of ['onnxruntime', 'native'] as const) {
        const { p99, msPerRun, baselineP99 } = figures[backend];
        assert.ok(msPerRun >= 20, `${backend}: ${msPerRun.toFixed(1)} ms per run, the check needs >= 20 ms`);
        // <= 5 ms; on a machine busy enough that a loop with no engine at all already sees more than 2 ms,
        // what the engine adds to that baseline is what is checked (onnxruntime-node's own run adds a whole run).
        assert.ok(p99 <= 5 || (baselineP99 > 2 && p99 <= baselineP99 + 3), `${backend}: event-loop delay p99 ${p99} ms (machine baseline ${baselineP99} ms)`);
      }
    });

    it('dispose lets calls in flight finish, then refuses; the worker never holds the process open', async () => {
      const file = models['embedding_model.onnx'];
      const engine = await Engine.load(file, { backend: 'onnxruntime', threads: 1 });
      const feeds = Array.from({ length: 6 }, (_, i) => ({ input_1: randomFeed([2, 76, 32, 1], 1, 20 + i) }));
      const expected = feeds.map((feed) => engine.inferSync(feed));
      const pending = feeds.map((feed) => engine.infer(feed));
      engine.dispose();
      engine.dispose();
      const results = await Promise.all(pending);
      results.forEach((result, i) => assert.deepEqual(result.conv2d_19.data, expected[i].conv2d_19.data, `call ${i}`));
      assert.equal(await code(engine.infer(feeds[0])), 'EDGEINFER_DISPOSED');
      assert.throws(() => engine.stats(), (e: EdgeInferError) => e.code === 'EDGEINFER_DISPOSED');
      // In a child: exits on its own after a dispose with calls in flight, and with an engine never disposed.
      const script = `
        const { Engine } = require(${JSON.stringify(lib)});
        (async () => {
          const feeds = { input_1: { type: 'float32', data: new Float32Array(2 * 76 * 32), dims: [2, 76, 32, 1] } };
          const a = await Engine.load(${JSON.stringify(file)}, { backend: 'onnxruntime', threads: 1 });
          const calls = [a.infer(feeds), a.infer(feeds), a.infer(feeds)];
          a.dispose();
          const done = await Promise.all(calls);
          const b = await Engine.load(${JSON.stringify(file)}, { backend: 'onnxruntime', threads: 1 });
          await b.infer(feeds);
          console.log('done ' + done.length);
        })();
      `;
      const start = Date.now();
      const child = spawnNode(['-e', script], { timeout: 60000 });
      assert.equal(child.status, 0, child.stderr);
      assert.match(child.stdout, /done 3/);
      assert.ok(Date.now() - start < 30000);
    });

    it('is BACKEND_UNAVAILABLE with the install command when onnxruntime-node is missing; auto then says how to get it', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'no-ort-'));
      const preload = path.join(dir, 'no-ort.js');
      fs.writeFileSync(
        preload,
        `const Module = require('node:module');
         const resolve = Module._resolveFilename;
         Module._resolveFilename = function (request, ...rest) {
           if (request === 'onnxruntime-node' || request.startsWith('onnxruntime-node/')) {
             const error = new Error("Cannot find module '" + request + "'");
             error.code = 'MODULE_NOT_FOUND';
             throw error;
           }
           return resolve.call(this, request, ...rest);
         };`,
      );
      const softsignFile = path.join(dir, 'softsign.onnx');
      fs.writeFileSync(softsignFile, softsignModel());
      const script = `
        const { Engine } = require(${JSON.stringify(lib)});
        const outcome = (p) => p.then((e) => ({ backend: e.info().backend }), (e) => ({ code: e.code, message: e.message, detail: e.detail }));
        (async () => {
          console.log(JSON.stringify({
            backends: Engine.backends(),
            explicit: await outcome(Engine.load(${JSON.stringify(models['alexa_v0.1.onnx'])}, { backend: 'onnxruntime' })),
            autoNative: await outcome(Engine.load(${JSON.stringify(models['alexa_v0.1.onnx'])}, { threads: 1 })),
            autoMissing: await outcome(Engine.load(${JSON.stringify(softsignFile)}, { threads: 1 })),
            fastest: await outcome(Engine.load(${JSON.stringify(models['alexa_v0.1.onnx'])}, { threads: 1, autoSelect: 'fastest' })),
          }));
        })();
      `;
      const child = spawnNode(['--require', preload, '-e', script], { timeout: 120000 });
      assert.equal(child.status, 0, child.stderr);
      const result = JSON.parse(child.stdout.trim().split('\n').pop()!);
      assert.equal(result.backends[1].available, false);
      assert.match(result.backends[1].reason, /npm install onnxruntime-node/);
      assert.equal(result.explicit.code, 'EDGEINFER_BACKEND_UNAVAILABLE');
      assert.match(result.explicit.message, /npm install onnxruntime-node/);
      assert.deepEqual(result.autoNative, { backend: 'native' });
      assert.deepEqual(result.fastest, { backend: 'native' });
      assert.equal(result.autoMissing.code, 'EDGEINFER_UNSUPPORTED_OP');
      assert.match(result.autoMissing.message, /Softsign/);
      assert.match(result.autoMissing.message, /npm install onnxruntime-node/);
      assert.deepEqual(result.autoMissing.detail.unsupported, [{ op: 'Softsign', nodes: ['ss'] }]);
    });
  });

  describe("backend 'auto' and info()", () => {
    it('picks native for every openWakeWord model', async () => {
      for (const file of ['melspectrogram.onnx', 'embedding_model.onnx', 'hey_jarvis_v0.1.onnx', 'alexa_v0.1.onnx', 'hey_mycroft_v0.1.onnx', 'timer_v0.1.onnx']) {
        const engine = await Engine.load(models[file], { threads: 1 });
        const info = engine.info();
        assert.equal(info.backend, 'native', file);
        assert.match(info.backendReason, /^auto: the native backend runs every node/);
        assert.equal(engine.stats().backend, 'native');
        engine.dispose();
      }
    });

    it('picks ONNX Runtime for a model with an op native lacks, and says why; info() has signature, opset, producer, metadata, version', async () => {
      const bytes = softsignModel();
      await assert.rejects(Engine.load(bytes, { backend: 'native' }), (e: EdgeInferError) => e.code === 'EDGEINFER_UNSUPPORTED_OP' && /Softsign/.test(e.message));
      const engine = await Engine.load(bytes, { threads: 1 });
      const info = engine.info();
      assert.equal(info.backend, 'onnxruntime');
      assert.match(info.backendReason, /^auto: the native backend lacks Softsign \(ss\); onnxruntime runs it/);
      assert.equal(info.modelVersion, createHash('sha256').update(bytes).digest('hex').slice(0, 12));
      assert.equal(info.opset, 14);
      assert.equal(info.producer, 'edgeinfer-test');
      assert.equal(info.producerVersion, '0.1');
      assert.deepEqual(info.metadata, { author: 'backends.test', purpose: 'an op native lacks' });
      assert.equal(info.precision, 'float32');
      assert.deepEqual(info.inputs, [{ name: 'x', type: 'float32', dims: ['batch', 8] }]);
      assert.deepEqual(info.outputs, [{ name: 'y', type: 'float32', dims: ['batch', 8] }]);
      assert.equal(info.onnxruntime?.version, '1.30.0');
      assert.deepEqual(engine.layers(), ['mm']);
      // The result is Softsign(x · w).
      const x = randomFeed([3, 8], 2, 9);
      const w = rng(5);
      const weights = Float32Array.from({ length: 64 }, () => w() * 2 - 1);
      const y = (await engine.infer({ x })).y.data as Float32Array;
      for (let r = 0; r < 3; r++)
        for (let c = 0; c < 8; c++) {
          let h = 0;
          for (let k = 0; k < 8; k++) h += (x.data as Float32Array)[r * 8 + k] * weights[k * 8 + c];
          assert.ok(Math.abs(y[r * 8 + c] - softsign(h)) <= 1e-5, `y[${r}, ${c}]`);
        }
      engine.dispose();
      // A version given by the caller is the one reported.
      const named = await Engine.load(bytes, { threads: 1, version: 'hs-2026.1' });
      assert.equal(named.info().modelVersion, 'hs-2026.1');
      named.dispose();
      assert.equal(await code(Engine.load(bytes, { version: '' })), 'EDGEINFER_INVALID_ARGUMENT');
      // int8 is a native mode: with an op native lacks, no backend can honour it.
      await assert.rejects(Engine.load(bytes, { precision: 'int8' }), (e: EdgeInferError) => e.code === 'EDGEINFER_UNSUPPORTED_OP' && /precision 'int8'/.test(e.message));
    });

    it('falls back to ONNX Runtime when native accepts every op but cannot prepare a node (asymmetric QDQ weights)', async () => {
      const bytes = asymmetricQdqModel();
      await assert.rejects(Engine.load(bytes, { backend: 'native' }), (e: EdgeInferError) => e.code === 'EDGEINFER_UNSUPPORTED_OP' && /zero point/.test(e.message));
      const engine = await Engine.load(bytes, { threads: 1 });
      assert.equal(engine.info().backend, 'onnxruntime');
      assert.match(engine.info().backendReason, /^auto: native could not prepare it: .*zero point.*; onnxruntime runs it/);
      const x = randomFeed([2, 8], 1, 6);
      const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
      const expected = (await session.run({ x: new ort.Tensor('float32', x.data, x.dims) })).y.data as Float32Array;
      assert.deepEqual((await engine.infer({ x })).y.data, expected);
      await session.release();
      engine.dispose();
    });

    it("autoSelect 'fastest' times both on warm-up inputs, keeps one and says why", async () => {
      for (const file of ['alexa_v0.1.onnx', 'embedding_model.onnx']) {
        const engine = await Engine.load(models[file], { threads: 1, autoSelect: 'fastest' });
        const info = engine.info();
        assert.ok(['native', 'onnxruntime'].includes(info.backend), info.backend);
        assert.match(info.backendReason, new RegExp(`^autoSelect 'fastest': (native|onnxruntime) [0-9.]+ ms, (native|onnxruntime) [0-9.]+ ms \\(median of 5 warm-up runs on .*\\); kept ${info.backend}$`));
        const dims = engine.inputs[0].dims.map((d) => (typeof d === 'number' ? d : 1));
        const result = await engine.infer({ [engine.inputs[0].name]: randomFeed(dims, 1, 2) });
        assert.equal(Object.keys(result).length, engine.outputs.length);
        engine.dispose();
      }
      const only = await Engine.load(softsignModel(), { threads: 1, autoSelect: 'fastest' });
      assert.equal(only.info().backend, 'onnxruntime');
      assert.match(only.info().backendReason, /lacks Softsign/);
      only.dispose();
    });
  });
});
