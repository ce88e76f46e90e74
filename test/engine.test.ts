// The native Engine on the real openWakeWord models and a generated BERT-style encoder, against ONNX
// Runtime on the same inputs; the speech fixtures through the whole wake-word pipeline; bad input.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { EdgeInferError, Engine } from '../lib';
import { readWav16, WakeWordPipeline, type ModelRunner } from '../lib/wakeword/pipeline';
import { readModel } from '../lib/onnx/reader';
import { float16ToNumber, numberToFloat16 } from '../lib/onnx/tensor';
import { writeModel } from '../lib/onnx/writer';
import { makeBertEncoder } from './fixtures/bert-encoder';
import { OrtRunner } from './helpers/ort-runner';
import { rng } from './helpers/random';
import { fetchModels, speechDir } from './helpers/repo';



function randomFeed(dims: number[], scale: number, seed: number) {
  const next = rng(seed);
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => (next() * 2 - 1) * scale);
  return { type: 'float32' as const, data, dims };
}

/** float32 -> nearest-even half -> float32. */
const halfRound = (v: number) => float16ToNumber(numberToFloat16(v));

function maxAbs(values: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i]));
  return worst;
}

// 1e-4 x max|ORT output| (the bound), with a floor of 1e-7 absolute: a head whose sigmoid output is
// ~1e-4 (deep in saturation) would otherwise be held to ~1e-8, below float32 rounding of its logit.
function assertClose(ours: Float32Array, theirs: Float32Array, what: string) {
  assert.equal(ours.length, theirs.length, `${what}: length`);
  const bound = Math.max(1e-4 * maxAbs(theirs), 1e-7);
  let worst = 0;
  for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
  assert.ok(worst <= bound, `${what}: max |diff| ${worst} > max(1e-4 x max|ORT|, 1e-7) = ${bound}`);
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

describe('Engine (native backend)', function () {
  this.timeout(600000);
  let models: Record<string, string>;
  before(() => {
    models = fetchModels();
  });

  const cases: [string, (dims: (number | string)[]) => number[], number][] = [
    ['melspectrogram.onnx', () => [1, 1760], 3000],
    ['embedding_model.onnx', () => [2, 76, 32, 1], 2],
    ['hey_jarvis_v0.1.onnx', (dims) => dims as number[], 1],
    ['alexa_v0.1.onnx', (dims) => dims as number[], 1],
    ['hey_mycroft_v0.1.onnx', (dims) => dims as number[], 1],
    ['timer_v0.1.onnx', (dims) => dims as number[], 1],
  ];

  for (const [file, shape, scale] of cases) {
    it(`runs ${file} in FP32 like ONNX Runtime (1e-4 x max|output|) on random inputs`, async () => {
      const engine = await Engine.load(models[file], { threads: 1 });
      const ort = await OrtRunner.load(models[file]);
      for (const seed of [1, 2, 3]) {
        const feeds = Object.fromEntries(engine.inputs.map((input) => [input.name, randomFeed(shape(input.dims), scale, seed)]));
        const ours = seed === 2 ? engine.inferSync(feeds) : await engine.infer(feeds);
        const theirs = await ort.infer(feeds);
        for (const output of engine.outputs) {
          assert.deepEqual(ours[output.name].dims, theirs[output.name].dims, `${file} ${output.name} dims`);
          assertClose(ours[output.name].data as Float32Array, theirs[output.name].data as Float32Array, `${file} ${output.name} seed ${seed}`);
        }
      }
      engine.dispose();
    });
  }

  it('plans each batch size of a symbolic batch once, with an arena well below the sum of intermediates', async () => {
    const engine = await Engine.load(models['embedding_model.onnx'], { threads: 1 });
    for (const batch of [1, 16, 1]) await engine.infer({ input_1: randomFeed([batch, 76, 32, 1], 1, batch) });
    const plans = engine.stats().native!.plans;
    assert.equal(plans.length, 2);
    for (const plan of plans) assert.ok(plan.arenaBytes <= 0.7 * plan.intermediateBytes, `arena ${plan.arenaBytes} vs intermediates ${plan.intermediateBytes}`);
    engine.dispose();
  });

  it('infer() runs fast models inline after the first (measured) run, slow ones and concurrent ones off-thread', async () => {
    const file = models['hey_mycroft_v0.1.onnx'];
    // A generous bound: under qemu the head takes far longer than the default 1000 us.
    const engine = await Engine.load(file, { threads: 1, inlineBelowMicroseconds: 1e6 });
    const feeds = Object.fromEntries(engine.inputs.map((input) => [input.name, randomFeed(input.dims as number[], 1, 9)]));
    const first = await engine.infer(feeds);
    assert.equal(engine.stats().inlineRuns, 0, 'no measurement yet: the first infer goes off-thread');
    const expected = engine.inferSync(feeds);
    assert.deepEqual(Object.values(first)[0].data, Object.values(expected)[0].data);
    for (let i = 0; i < 5; i++) assert.deepEqual(Object.values(await engine.infer(feeds))[0].data, Object.values(expected)[0].data);
    assert.equal(engine.stats().inlineRuns, 5, 'a fast head runs inline once measured');
    // Concurrent calls: while one is off-thread the others must not block on it inline; all results right.
    const offThread = await Engine.load(file, { threads: 1, inlineBelowMicroseconds: 0 });
    const results = await Promise.all(Array.from({ length: 8 }, () => offThread.infer(feeds)));
    for (const result of results) assert.deepEqual(Object.values(result)[0].data, Object.values(expected)[0].data);
    assert.equal(offThread.stats().inlineRuns, 0, 'inlineBelowMicroseconds 0: always off-thread');
    await assert.rejects(Engine.load(file, { inlineBelowMicroseconds: -1 }), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
    await assert.rejects(Engine.load(file, { inlineBelowMicroseconds: NaN }), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
    engine.dispose();
    offThread.dispose();
  });

  it("precision 'fp16': weights in half the bytes, results equal FP32 on half-rounded weights", async () => {
    for (const file of [models['embedding_model.onnx'], models['alexa_v0.1.onnx']]) {
      const fp16 = await Engine.load(file, { threads: 1, precision: 'fp16' });
      const fp32 = await Engine.load(file, { threads: 1 });
      // The same model with every float initializer of a MatMul/Gemm/Conv weight rounded to half.
      const model = readModel(new Uint8Array(fs.readFileSync(file)));
      const weights = new Set(model.graph.nodes.filter((n) => ['MatMul', 'Gemm', 'Conv'].includes(n.opType)).map((n) => n.inputs[1]));
      for (const name of weights) {
        const t = model.graph.initializers.get(name);
        if (t?.dtype === 'float32') t.data = Float32Array.from(t.data as Float32Array, (v) => halfRound(v));
      }
      const rounded = await Engine.load(writeModel(model), { threads: 1 });
      const dims = fp16.inputs[0].dims.map((d) => (typeof d === 'number' ? d : 2));
      const feeds = { [fp16.inputs[0].name]: randomFeed(dims, 1, 77) };
      const ours = Object.values(fp16.inferSync(feeds))[0].data as Float32Array;
      assertClose(ours, Object.values(rounded.inferSync(feeds))[0].data as Float32Array, `${path.basename(file)} fp16 vs half-rounded FP32`);
      const full = Object.values(fp32.inferSync(feeds))[0].data as Float32Array;
      assert.ok(cosine(ours, full) > 0.9999, `${path.basename(file)} fp16 vs FP32 cosine ${cosine(ours, full)}`);
      const [w16, w32] = [fp16.stats().weightBytes, fp32.stats().weightBytes];
      assert.ok(w16 < 0.6 * w32, `${path.basename(file)} weight bytes fp16 ${w16} vs fp32 ${w32}`);
      for (const e of [fp16, fp32, rounded]) e.dispose();
    }
  });

  it('keeps chosen layers float under precision int8 (keepFloat), and rejects unknown names', async () => {
    const file = models['embedding_model.onnx'];
    const fp32 = await Engine.load(file, { threads: 1 });
    const layers = fp32.layers();
    assert.equal(layers.length, 20);
    const feeds = { input_1: randomFeed([1, 76, 32, 1], 2, 5) };
    const reference = fp32.inferSync(feeds).conv2d_19.data as Float32Array;
    const allFloat = await Engine.load(file, { threads: 1, precision: 'int8', keepFloat: layers });
    assert.deepEqual(allFloat.inferSync(feeds).conv2d_19.data, reference, 'every layer kept float gives the FP32 result exactly');
    const int8 = await Engine.load(file, { threads: 1, precision: 'int8' });
    const quantized = int8.inferSync(feeds).conv2d_19.data as Float32Array;
    assert.notDeepEqual(quantized, reference);
    assert.ok(cosine(quantized, reference) >= 0.995);
    await assert.rejects(Engine.load(file, { precision: 'int8', keepFloat: ['no/such/layer'] }), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
    await assert.rejects(Engine.load(file, { precision: 'int8', keepFloat: 'all' as never }), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
    for (const engine of [fp32, allFloat, int8]) engine.dispose();
  });

  it('runs a generated BERT-style encoder (fused LayerNorm/GELU/MatMul+bias) like ONNX Runtime', async () => {
    const bytes = makeBertEncoder({ layers: 2, hidden: 64, heads: 4, seq: 12, vocab: 50, seed: 7 });
    const file = path.join(fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'bert-')), 'bert.onnx');
    fs.writeFileSync(file, bytes);
    const engine = await Engine.load(bytes, { threads: 1 });
    assert.ok(Object.values(engine.info().optimizations).some((count) => count > 0));
    const ort = await OrtRunner.load(file);
    const next = rng(11);
    const ids = BigInt64Array.from({ length: 2 * 12 }, () => BigInt(Math.floor(next() * 50)));
    const mask = BigInt64Array.from({ length: 2 * 12 }, (_, i) => (i % 12 < 9 || i < 12 ? 1n : 0n));
    const feeds = { input_ids: { type: 'int64' as const, data: ids, dims: [2, 12] }, attention_mask: { type: 'int64' as const, data: mask, dims: [2, 12] } };
    const ours = await engine.infer(feeds);
    const theirs = await ort.infer(feeds);
    for (const output of engine.outputs) assertClose(ours[output.name].data as Float32Array, theirs[output.name].data as Float32Array, `bert ${output.name}`);
    engine.dispose();
  });

  describe('the wake-word pipeline on the speech fixtures', () => {
    const heads = { hey_jarvis: 'hey_jarvis_v0.1.onnx', alexa: 'alexa_v0.1.onnx', hey_mycroft: 'hey_mycroft_v0.1.onnx' };
    const clips = fs.readdirSync(speechDir).filter((name) => name.endsWith('.wav'));
    let reference: Map<string, Awaited<ReturnType<WakeWordPipeline['processClip']>>>;

    async function runners(make: (file: string, isHead: boolean) => Promise<ModelRunner>) {
      return {
        melspectrogram: await make(models['melspectrogram.onnx'], false),
        embedding: await make(models['embedding_model.onnx'], false),
        heads: Object.fromEntries(await Promise.all(Object.entries(heads).map(async ([name, file]) => [name, await make(models[file], true)]))),
      };
    }

    before(async () => {
      const ort = await runners((file) => OrtRunner.load(file));
      reference = new Map();
      for (const clip of clips) reference.set(clip, await new WakeWordPipeline(ort).processClip(readWav16(fs.readFileSync(path.join(speechDir, clip))).samples));
    });

    it('FP32: same scores as ONNX Runtime (1e-4) and the expected detections', async () => {
      const native = await runners((file) => Engine.load(file, { threads: 1 }));
      for (const clip of clips) {
        const result = await new WakeWordPipeline(native).processClip(readWav16(fs.readFileSync(path.join(speechDir, clip))).samples);
        const expected = reference.get(clip)!;
        for (const [name, score] of Object.entries(expected.maxScores)) {
          assert.ok(Math.abs(result.maxScores[name] - score) <= 1e-4, `${clip} ${name}: ${result.maxScores[name]} vs ORT ${score}`);
        }
      }
      // The synthetic phrases are recognised by their own heads, and nothing fires on silence or the negative sentence.
      assert.ok(reference.get('hey_jarvis.wav')!.maxScores.hey_jarvis > 0.5);
      assert.ok(reference.get('alexa.wav')!.maxScores.alexa > 0.5);
      for (const clip of ['silence.wav', 'negative.wav']) for (const score of Object.values(reference.get(clip)!.maxScores)) assert.ok(score < 0.5);
    });

    it('INT8: same detect / no-detect decisions as ORT FP32, scores within 0.02, embeddings with cosine >= 0.995', async () => {
      // Embedding and heads INT8; melspectrogram stays FP32 (its STFT conv is not accurate in INT8).
      const native = await runners((file) => Engine.load(file, { threads: 1, precision: file.includes('melspectrogram') ? 'float32' : 'int8' }));
      for (const clip of clips) {
        const result = await new WakeWordPipeline(native).processClip(readWav16(fs.readFileSync(path.join(speechDir, clip))).samples);
        const expected = reference.get(clip)!;
        for (const [name, score] of Object.entries(expected.maxScores)) {
          assert.equal(result.maxScores[name] > 0.5, score > 0.5, `${clip} ${name}: INT8 ${result.maxScores[name]} vs ORT FP32 ${score}`);
          assert.ok(Math.abs(result.maxScores[name] - score) <= 0.02, `${clip} ${name}: INT8 ${result.maxScores[name]} vs ORT FP32 ${score}`);
        }
        result.chunks.forEach((chunk, i) => {
          const c = cosine(chunk.embedding!, expected.chunks[i].embedding!);
          assert.ok(c >= 0.995, `${clip} chunk ${i}: embedding cosine ${c}`);
        });
      }
    });
  });

  describe('bad input', () => {
    it('rejects corrupt model bytes, bad sources and unsupported ops with codes', async () => {
      const good = fs.readFileSync(models['alexa_v0.1.onnx']);
      await assert.rejects(Engine.load(good.subarray(0, good.length >> 1)), (e: EdgeInferError) => e.code === 'EDGEINFER_MODEL_INVALID');
      await assert.rejects(Engine.load(new Uint8Array(0)), (e: EdgeInferError) => e instanceof EdgeInferError);
      await assert.rejects(Engine.load('/nonexistent/model.onnx'), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
      await assert.rejects(Engine.load(42 as never), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
      await assert.rejects(Engine.load(good, { precision: 'int4' as never }), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
      await assert.rejects(Engine.load(good, { threads: 0 }), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
    });

    it('rejects feeds of the wrong name, dtype, shape or length, and NaN, and use after dispose', async () => {
      const engine = await Engine.load(models['alexa_v0.1.onnx'], { threads: 1 });
      const name = engine.inputs[0].name;
      const good = { type: 'float32' as const, data: new Float32Array(16 * 96), dims: [1, 16, 96] };
      const code = (feeds: unknown) => {
        try {
          engine.inferSync(feeds as never);
          return 'none';
        } catch (error) {
          return (error as EdgeInferError).code;
        }
      };
      assert.equal(code({}), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(code({ [name]: good, extra: good }), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(code({ [name]: { ...good, type: 'int32' } }), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(code({ [name]: { ...good, data: new Float64Array(16 * 96) } }), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(code({ [name]: { ...good, dims: [1, 15, 96] } }), 'EDGEINFER_SHAPE_MISMATCH');
      assert.equal(code({ [name]: { ...good, dims: [1, 16] } }), 'EDGEINFER_SHAPE_MISMATCH');
      assert.equal(code({ [name]: { ...good, data: new Float32Array(10) } }), 'EDGEINFER_SHAPE_MISMATCH');
      assert.equal(code({ [name]: { ...good, data: new Float32Array(16 * 96).fill(NaN) } }), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(code({ [name]: null }), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(code(null), 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(code({ [name]: good }), 'none');
      // Offset views are read at their offset.
      const backing = new Float32Array(16 * 96 + 3).fill(0.25);
      const view = { type: 'float32' as const, data: backing.subarray(3), dims: [1, 16, 96] };
      const plain = { type: 'float32' as const, data: new Float32Array(16 * 96).fill(0.25), dims: [1, 16, 96] };
      assert.deepEqual(engine.inferSync({ [name]: view }), engine.inferSync({ [name]: plain }));
      const pending = engine.infer({ [name]: good });
      engine.dispose();
      await pending; // a call in flight completes
      assert.equal(code({ [name]: good }), 'EDGEINFER_DISPOSED');
      await assert.rejects(engine.infer({ [name]: good }), (e: EdgeInferError) => e.code === 'EDGEINFER_DISPOSED');
      engine.dispose();
    });

    it('keeps concurrent inferences apart', async () => {
      const engine = await Engine.load(models['hey_mycroft_v0.1.onnx'], { threads: 1 });
      const name = engine.inputs[0].name;
      const feeds = Array.from({ length: 32 }, (_, i) => ({ [name]: randomFeed([1, 16, 96], 1, 100 + i) }));
      const together = await Promise.all(feeds.map((feed) => engine.infer(feed)));
      feeds.forEach((feed, i) => assert.deepEqual(together[i], engine.inferSync(feed), `request ${i}`));
      engine.dispose();
    });
  });
});
