// calibrateModel + quantizeModel on the openWakeWord models with calibration data from the speech fixtures:
// the QDQ files load and run in onnxruntime-node and natively, are <= 0.3x the FP32 size, keep the
// embedding's direction (cosine) and every wake-word decision; the calibration methods compared on the
// score error; mixed precision (seed preset, rules by name / pattern / op type, nodesToExclude) visible in
// the written file; calibration streams (1000 windows are not kept); hostile inputs fail with codes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';

import { calibrateModel, EdgeInferError, Engine, quantizeModel, type CalibrationFeeds, type CalibrationMethod, type QuantizationReport } from '../lib';
import type { Graph, Node } from '../lib/onnx/ir';
import { readModel } from '../lib/onnx/reader';
import { writeModel } from '../lib/onnx/writer';
import { WakeWordPipeline, type ModelRunner } from '../lib/wakeword/pipeline';
import { makeBertEncoder } from './fixtures/bert-encoder';
import { clipEmbeddings, clipSamples, embeddingWindows, headWindows, heldOutClipFiles, meanScoreError, shiftedClips, speechClips, type ClipScores } from './helpers/calibration-data';
import { OrtRunner } from './helpers/ort-runner';
import { rng } from './helpers/random';
import { fetchModels } from './helpers/repo';
import { jitterActivationScales } from './helpers/scale-jitter';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const heads = { hey_jarvis: 'hey_jarvis_v0.1.onnx', alexa: 'alexa_v0.1.onnx' } as const;
type HeadName = keyof typeof heads;
type Method = CalibrationMethod;

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

const isCode = (code: string) => (error: unknown) => error instanceof EdgeInferError && error.code === code;

/** How a node's input `index` reaches it in a written file: 'int8' (DequantizeLinear of int8), 'fp16' (Cast of float16), 'fp32' (initializer). */
function weightPrecision(graph: Graph, node: Node, index = 1): string {
  const producer = graph.nodes.find((n) => n.outputs.includes(node.inputs[index]));
  if (producer === undefined) return graph.initializers.get(node.inputs[index])?.dtype === 'float32' ? 'fp32' : 'unknown';
  const source = graph.initializers.get(producer.inputs[0]);
  if (producer.opType === 'DequantizeLinear' && source?.dtype === 'int8') return 'int8';
  if (producer.opType === 'Cast' && source?.dtype === 'float16') return 'fp16';
  return `${producer.opType}(${source?.dtype})`;
}

/** True when the node's input `index` comes from a QuantizeLinear -> DequantizeLinear pair. */
function activationQuantized(graph: Graph, node: Node, index = 0): boolean {
  const dq = graph.nodes.find((n) => n.outputs.includes(node.inputs[index]));
  return dq?.opType === 'DequantizeLinear' && graph.nodes.some((n) => n.opType === 'QuantizeLinear' && n.outputs.includes(dq.inputs[0]));
}

describe('quantizeModel: calibrated QDQ INT8 / mixed precision', function () {
  this.timeout(600_000);
  const models = fetchModels();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quantize-model-'));
  const load = (source: string | Uint8Array) => Engine.load(source, { backend: 'native', threads: 1 });
  let mel: Engine;
  let embedding: Engine;
  let fp32Heads: Record<HeadName, Engine>;
  /** FP32 embeddings per clip, the heads' calibration data. */
  let sequences: Float32Array[][];
  let reference: Map<string, Awaited<ReturnType<WakeWordPipeline['processClip']>>>;
  const quantized = new Map<string, { bytes: Uint8Array; report: QuantizationReport }>();
  const fixtureClips = speechClips.map((name) => ({ name, samples: clipSamples(name) }));
  /** Held-out speech (no calibration here reads it) at 8 chunk offsets each, and FP32's chunk scores for it. */
  const heldOut = shiftedClips(heldOutClipFiles, 8);
  let heldOutReference: ClipScores;

  /** The INT8 embedding model and heads for `method` (made once). */
  async function quantizedFor(method: Method) {
    const key = (name: string) => `${name}/${method}`;
    if (!quantized.has(key('embedding'))) {
      quantized.set(key('embedding'), await quantizeModel(models['embedding_model.onnx'], { data: embeddingWindows(), method }));
      for (const [name, file] of Object.entries(heads)) {
        const input = fp32Heads[name as HeadName].inputs[0].name;
        quantized.set(key(name), await quantizeModel(models[file], { data: headWindows(sequences, input), method }));
      }
    }
    return { embedding: quantized.get(key('embedding'))!, heads: Object.fromEntries(Object.keys(heads).map((name) => [name, quantized.get(key(name))!])) as Record<HeadName, { bytes: Uint8Array; report: QuantizationReport }> };
  }

  /** Each clip through the pipeline (default: the fixture clips), by clip name. */
  async function pipelineScores(embeddingRunner: ModelRunner, headRunners: Record<string, ModelRunner>, clips = fixtureClips) {
    const results = new Map<string, Awaited<ReturnType<WakeWordPipeline['processClip']>>>();
    for (const clip of clips) results.set(clip.name, await new WakeWordPipeline({ melspectrogram: mel, embedding: embeddingRunner, heads: headRunners }).processClip(clip.samples));
    return results;
  }

  /**
   * Mean |score - FP32 score| over the held-out clips (every chunk, both heads) of `method`'s INT8 models, and
   * its mean over `draws` copies whose activation scales are jittered by ±0.5 % (seeded; the same draws for
   * every method): see helpers/scale-jitter.ts.
   */
  async function heldOutError(method: Method, draws = 0): Promise<{ error: number; jittered: number[] }> {
    const q = await quantizedFor(method);
    const score = async (embeddingBytes: Uint8Array, headBytes: Record<HeadName, Uint8Array>) => {
      const embeddingRunner = await load(embeddingBytes);
      const headRunners = { hey_jarvis: await load(headBytes.hey_jarvis), alexa: await load(headBytes.alexa) };
      try {
        return meanScoreError(await pipelineScores(embeddingRunner, headRunners, heldOut), heldOutReference);
      } finally {
        for (const engine of [embeddingRunner, ...Object.values(headRunners)]) engine.dispose();
      }
    };
    const error = await score(q.embedding.bytes, { hey_jarvis: q.heads.hey_jarvis.bytes, alexa: q.heads.alexa.bytes });
    const next = rng(7);
    const jittered: number[] = [];
    for (let draw = 0; draw < draws; draw++) {
      const nudged = (bytes: Uint8Array) => jitterActivationScales(bytes, 0.005, next);
      jittered.push(await score(nudged(q.embedding.bytes), { hey_jarvis: nudged(q.heads.hey_jarvis.bytes), alexa: nudged(q.heads.alexa.bytes) }));
    }
    return { error, jittered };
  }

  before(async () => {
    mel = await load(models['melspectrogram.onnx']);
    embedding = await load(models['embedding_model.onnx']);
    fp32Heads = Object.fromEntries(await Promise.all(Object.entries(heads).map(async ([name, file]) => [name, await load(models[file])]))) as Record<HeadName, Engine>;
    sequences = [];
    for (const clip of speechClips) sequences.push(await clipEmbeddings({ melspectrogram: mel, embedding }, clip));
    reference = await pipelineScores(embedding, fp32Heads);
    heldOutReference = await pipelineScores(embedding, fp32Heads, heldOut);
  });

  after(() => {
    for (const engine of [mel, embedding, ...Object.values(fp32Heads ?? {})]) engine?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('embedding model: a QDQ file <= 0.3x FP32 that runs in onnxruntime-node and natively, cosine >= 0.99 on held-out windows', async () => {
    const file = path.join(dir, 'embedding.int8.onnx');
    const { bytes, report } = await quantizeModel(models['embedding_model.onnx'], file, { data: embeddingWindows() });
    assert.deepEqual(fs.readFileSync(file), Buffer.from(bytes), 'the output file holds the returned bytes');
    const ratio = bytes.length / fs.statSync(models['embedding_model.onnx']).size;
    assert.ok(ratio <= 0.3, `size ratio ${ratio.toFixed(3)}`);
    assert.equal(report.counts.int8, 20);
    assert.deepEqual(report.validation.map((v) => v.backend), ['onnxruntime', 'native']);
    // Standard QDQ: int8 per-channel weights (axis 0), uint8 activations, opset >= 13, no float Conv weight left.
    const model = readModel(bytes);
    assert.ok(model.opsets.get('')! >= 13);
    for (const conv of model.graph.nodes.filter((n) => n.opType === 'Conv')) {
      assert.equal(weightPrecision(model.graph, conv), 'int8', conv.name);
      assert.ok(activationQuantized(model.graph, conv), conv.name);
    }
    const zeroPoints = model.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => model.graph.initializers.get(n.inputs[2])!.dtype);
    assert.ok(zeroPoints.length >= 20 && zeroPoints.every((dtype) => dtype === 'uint8'));

    // Held-out windows: 4 frames after each calibration window.
    const ort = await OrtRunner.load(file);
    const native = await load(bytes);
    const cosines: number[] = [];
    for await (const held of embeddingWindows({ offset: 4 })) {
      const expected = (await embedding.infer(held)).conv2d_19.data as Float32Array;
      const ours = (await native.infer(held)).conv2d_19.data as Float32Array;
      const theirs = (await ort.infer(held)).conv2d_19.data as Float32Array;
      cosines.push(cosine(ours, expected));
      assert.ok(cosine(ours, theirs) > 0.999, 'native and onnxruntime run the same QDQ model');
    }
    const min = Math.min(...cosines);
    const mean = cosines.reduce((a, b) => a + b, 0) / cosines.length;
    console.log(`      embedding: ${report.sizeBefore} -> ${report.sizeAfter} bytes (${ratio.toFixed(3)}x), cosine to FP32 on ${cosines.length} held-out windows: mean ${mean.toFixed(5)}, min ${min.toFixed(5)} (method ${report.method})`);
    assert.ok(min >= 0.99, `min cosine ${min}`);
    native.dispose();
  });

  it('INT8 embedding + INT8 heads (hey_jarvis, alexa): the same wake-word decisions as FP32 on every fixture clip, natively and in onnxruntime-node', async () => {
    const q = await quantizedFor('mse');
    for (const name of Object.keys(heads) as HeadName[]) {
      const ratio = q.heads[name].report.sizeAfter / q.heads[name].report.sizeBefore;
      console.log(`      ${name}: ${q.heads[name].report.sizeBefore} -> ${q.heads[name].report.sizeAfter} bytes (${ratio.toFixed(3)}x), ${q.heads[name].report.counts.int8} INT8 nodes`);
      assert.ok(ratio <= 0.3, `${name} size ratio ${ratio}`);
    }
    const native = await pipelineScores(await load(q.embedding.bytes), { hey_jarvis: await load(q.heads.hey_jarvis.bytes), alexa: await load(q.heads.alexa.bytes) });
    const write = (name: string, bytes: Uint8Array) => {
      const file = path.join(dir, `${name}.int8.onnx`);
      fs.writeFileSync(file, bytes);
      return OrtRunner.load(file);
    };
    const ort = await pipelineScores(await write('embedding', q.embedding.bytes), { hey_jarvis: await write('hey_jarvis', q.heads.hey_jarvis.bytes), alexa: await write('alexa', q.heads.alexa.bytes) });
    const lines: string[] = [];
    for (const clip of speechClips) {
      for (const name of Object.keys(heads)) {
        const fp32 = reference.get(clip)!.maxScores[name];
        for (const [runtime, results] of [['native', native], ['onnxruntime', ort]] as const) {
          const int8 = results.get(clip)!.maxScores[name];
          assert.equal(int8 >= 0.5, fp32 >= 0.5, `${clip} ${name} (${runtime}): INT8 ${int8} vs FP32 ${fp32}`);
        }
        lines.push(`${clip} ${name} ${fp32.toFixed(3)}->${native.get(clip)!.maxScores[name].toFixed(3)}`);
      }
    }
    // The fixtures hold positives, so the comparison covers both decisions.
    assert.ok(reference.get('hey_jarvis.wav')!.maxScores.hey_jarvis >= 0.5 && reference.get('alexa.wav')!.maxScores.alexa >= 0.5);
    console.log(`      max scores FP32 -> INT8 (native): ${lines.join(', ')}; mean score error ${meanScoreError(native, reference).toExponential(2)}`);
  });

  // The methods compared out of sample: calibration on the fixture clips (above), scores on the held-out wake
  // word + command clips at 8 chunk offsets each (40 runs, ~3000 chunk scores). One calibrated model's error is
  // a lottery over which few chunks near a decision a rounding flips: moving one embedding activation's range by
  // 0.26 % (min-max 38.14 -> percentile 38.04) changed it by 17 %, and min-max's own error is 5.1e-3 as
  // calibrated but 4.9e-3 .. 6.7e-3 over 16 copies with every scale nudged by ±0.5 %. So each method is scored
  // as the mean over 8 such copies (the same nudges for every method; helpers/scale-jitter.ts). On the
  // calibration clips themselves the comparison was noise too (10 chunks of 218 held 96 % of the error), and
  // min-max is the one method that never clips the data it is then scored on.
  // bench/calibration-methods.bench.ts measures the same over 5 calibration draws, beside ONNX Runtime's
  // quantizer with the same methods.
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const standardError = (values: number[]) => Math.sqrt(values.reduce((a, b) => a + (b - mean(values)) ** 2, 0) / (values.length - 1) / values.length);
  const summary = (name: string, e: { error: number; jittered: number[] }) => `${name} ${mean(e.jittered).toExponential(3)} ± ${standardError(e.jittered).toExponential(1)} (as calibrated ${e.error.toExponential(3)})`;

  it('MSE (the default) scores held-out speech better than min-max: mean score error over 8 scale-jittered copies', async () => {
    const errors = { mse: await heldOutError('mse', 8), minmax: await heldOutError('minmax', 8) };
    console.log(`      held-out mean |score - FP32 score|, jittered mean ± standard error: ${summary('mse', errors.mse)}, ${summary('minmax', errors.minmax)}`);
    // Measured 2026-12-03 over 16 copies: mse 5.01e-3 ± 0.06e-3, min-max 6.08e-3 ± 0.12e-3 (as calibrated 5.14e-3
    // vs 5.12e-3: a tie that was min-max's lucky draw).
    assert.ok(mean(errors.mse.jittered) < mean(errors.minmax.jittered), `mse ${mean(errors.mse.jittered)} vs minmax ${mean(errors.minmax.jittered)}`);
  });

  // Not met (issue 11's line; reported blocked). Over 64 jittered copies, 2026-12-04 (same nudges for every
  // method): min-max 5.97e-3 ± 0.05e-3, percentile 6.37e-3 ± 0.05e-3 (+6.6 %), entropy 6.30e-3 ± 0.05e-3
  // (+5.5 %; at 16 copies it had looked like a tie), mse 5.16e-3 ± 0.04e-3. Where it comes from: every
  // heads' range is the same for min-max and percentile (too few values to cut), so it is the embedding; MSE
  // clips the embedding's early Max outputs as much as percentile does or more (widths 0.74-0.97 of min-max's)
  // and is 14 % better than min-max, but it clips the late ones (maximum_12, _13, max_pooling2d_3,
  // maximum_15) less: 0.93 / 0.92 / 0.90 / 0.89 of min-max's width against percentile's 0.75 / 0.86 / 0.84
  // / 0.83. A fixed mass cut (percentile) and a histogram-shape fit (entropy) cut the few large late-layer
  // values the wake-word decisions ride on; a cost-aware one (MSE) does not. ONNX Runtime's percentile is
  // worse than its own min-max there too (bench medians 1.15x nudged, 1.12x as calibrated). What was tried on
  // the KL search: the level count from the uint8 grid (256 for one-sided data), the clamp and the zero bin
  // and other point masses counted as their neighbourhood (flatten_point_masses), a signed search from the
  // clamp up; on percentile: a cut from each signed tail (worse: 8 %), then from |x| (now).
  it.skip('percentile is no worse than min-max on held-out speech (jittered mean)', async () => {
    assert.ok(mean((await heldOutError('percentile', 8)).jittered) <= mean((await heldOutError('minmax', 8)).jittered));
  });

  it.skip('entropy is no worse than min-max on held-out speech (jittered mean)', async () => {
    assert.ok(mean((await heldOutError('entropy', 8)).jittered) <= mean((await heldOutError('minmax', 8)).jittered));
  });

  it('a MatMul with a batched constant (a rotary embedding\'s [1, 1, d] frequencies) stays float; the 2-D one beside it is INT8; the file runs natively and in ONNX Runtime', async () => {
    // x [1, 6, 1] · f [1, 1, 8] -> [1, 6, 8] (the Llama / Phi-3 export's rotary MatMul), then · w [8, 5].
    const next = rng(31);
    const values = (n: number) => Float32Array.from({ length: n }, () => next() * 2 - 1);
    const model = {
      irVersion: 8,
      opsets: new Map([['', 13]]),
      producerName: 'test',
      producerVersion: '',
      metadata: {},
      graph: {
        name: 'rotary',
        nodes: [
          { name: 'rotary', opType: 'MatMul', domain: '', inputs: ['x', 'f'], outputs: ['angles'], attributes: {} },
          { name: 'proj', opType: 'MatMul', domain: '', inputs: ['angles', 'w'], outputs: ['y'], attributes: {} },
        ],
        inputs: [{ name: 'x', dtype: 'float32' as const, shape: [1, 6, 1] }],
        outputs: [{ name: 'y', dtype: 'float32' as const }],
        initializers: new Map([
          ['f', { dtype: 'float32' as const, dims: [1, 1, 8], data: values(8) }],
          ['w', { dtype: 'float32' as const, dims: [8, 5], data: values(40) }],
        ]),
        valueInfo: new Map(),
      },
    };
    const feeds = Array.from({ length: 8 }, (): CalibrationFeeds => ({ x: { type: 'float32', data: values(6), dims: [1, 6, 1] } }));
    const { bytes, report } = await quantizeModel(writeModel(model), { data: feeds, method: 'minmax' });
    const byName = (name: string) => report.nodes.find((n) => n.name === name)!;
    assert.equal(byName('rotary').precision, 'fp32');
    assert.match(byName('rotary').reason ?? '', /rank 3/);
    assert.equal(byName('proj').precision, 'int8');
    const engine = await Engine.load(bytes, { backend: 'native' });
    const ours = await engine.infer(feeds[0]);
    engine.dispose();
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-rotary-')), 'q.onnx');
    fs.writeFileSync(file, bytes);
    const theirs = await (await OrtRunner.load(file)).infer(feeds[0]);
    assert.ok(Math.max(...Array.from(ours.y.data as Float32Array, (v, i) => Math.abs(v - (theirs.y.data as Float32Array)[i]))) < 1e-3);
  });

  describe('mixed precision', () => {
    it("the 'seed' preset on a BERT-style encoder: attention MatMuls INT8, feed-forward FP16, first / last layer FP32, LayerNorm / Softmax untouched", async () => {
      const bert = makeBertEncoder({ layers: 2, hidden: 32, heads: 2, seq: 8, vocab: 40, seed: 3 });
      const next = rng(5);
      const feeds = function* (): Generator<CalibrationFeeds> {
        for (let i = 0; i < 16; i++) {
          yield {
            input_ids: { type: 'int64', data: BigInt64Array.from({ length: 8 }, () => BigInt(Math.floor(next() * 40))), dims: [1, 8] },
            attention_mask: { type: 'int64', data: BigInt64Array.from({ length: 8 }, (_, j) => (j < 6 ? 1n : 0n)), dims: [1, 8] },
          };
        }
      };
      const { bytes, report } = await quantizeModel(bert, { data: feeds(), mixedPrecision: 'seed', method: 'minmax' });
      const graph = readModel(bytes).graph;
      const byWeight = (weight: string) => graph.nodes.find((n) => n.opType === 'MatMul' && n.inputs[1].startsWith(weight))!;
      assert.equal(weightPrecision(graph, byWeight('encoder.layer.0.attention.self.query.weight')), 'fp32', 'first layer');
      assert.equal(weightPrecision(graph, byWeight('encoder.layer.1.output.dense.weight')), 'fp32', 'last layer');
      for (const l of [0, 1]) {
        for (const part of ['attention.self.key', 'attention.self.value', 'attention.output.dense']) {
          const node = byWeight(`encoder.layer.${l}.${part}.weight`);
          assert.equal(weightPrecision(graph, node), 'int8', `${l} ${part}`);
          assert.ok(activationQuantized(graph, node), `${l} ${part} input`);
        }
        assert.equal(weightPrecision(graph, byWeight(`encoder.layer.${l}.intermediate.dense.weight`)), 'fp16', `${l} FFN up`);
        assert.ok(!activationQuantized(graph, byWeight(`encoder.layer.${l}.intermediate.dense.weight`)), `${l} FFN up input stays float`);
      }
      assert.equal(weightPrecision(graph, byWeight('encoder.layer.0.output.dense.weight')), 'fp16', 'layer 0 FFN down');
      // Attention scores / context (activation x activation) in INT8: both inputs through Q/DQ.
      const scoreMatMuls = graph.nodes.filter((n) => n.opType === 'MatMul' && activationQuantized(graph, n, 0) && activationQuantized(graph, n, 1));
      assert.equal(scoreMatMuls.length, 4);
      // Softmax and the LayerNorm pieces read float values, never a DequantizeLinear.
      const dequantized = new Set(graph.nodes.filter((n) => n.opType === 'DequantizeLinear').flatMap((n) => n.outputs));
      for (const node of graph.nodes.filter((n) => ['Softmax', 'ReduceMean', 'Sqrt'].includes(n.opType))) assert.ok(!node.inputs.some((i) => dequantized.has(i)), node.name);
      // Per layer: key, value, attention output and the two score MatMuls; plus layer 1's query.
      assert.deepEqual(report.counts, { int8: 11, fp16: 3, fp32: 2 });
      assert.ok(report.validation.every((v) => Object.values(v.outputs).every((o) => o.cosine > 0.99)), JSON.stringify(report.validation));
    });

    it('rules by name, pattern and op type, and nodesToExclude, are what the file holds', async () => {
      const names = readModel(fs.readFileSync(models['embedding_model.onnx'])).graph.nodes.filter((n) => n.opType === 'Conv').map((n) => n.name);
      const { bytes, report } = await quantizeModel(models['embedding_model.onnx'], {
        data: embeddingWindows({ count: 24 }),
        precision: [
          { name: names[0], precision: 'fp32' },
          { pattern: /conv2d_1[0-4]\//, precision: 'fp16' },
          { pattern: 'conv2d_12/', precision: 'int8' }, // later rules win
        ],
        nodesToExclude: [names[19]],
      });
      const graph = readModel(bytes).graph;
      const precisionOf = (name: string) => weightPrecision(graph, graph.nodes.find((n) => n.name === name)!);
      assert.equal(precisionOf(names[0]), 'fp32');
      assert.ok(!activationQuantized(graph, graph.nodes.find((n) => n.name === names[0])!));
      assert.equal(precisionOf(names[19]), 'fp32');
      for (const name of names.filter((n) => /conv2d_1[0-4]\//.test(n))) assert.equal(precisionOf(name), name.includes('conv2d_12/') ? 'int8' : 'fp16', name);
      assert.equal(report.nodes.find((n) => n.name === names[19])!.reason, 'nodesToExclude');
      assert.deepEqual(report.counts, { int8: 14, fp16: 4, fp32: 2 });

      const allHalf = await quantizeModel(models['embedding_model.onnx'], { data: embeddingWindows({ count: 8 }), precision: [{ opType: 'Conv', precision: 'fp16' }] });
      const halfGraph = readModel(allHalf.bytes).graph;
      assert.ok(halfGraph.nodes.filter((n) => n.opType === 'Conv').every((n) => weightPrecision(halfGraph, n) === 'fp16'));
      assert.ok(!halfGraph.nodes.some((n) => n.opType === 'QuantizeLinear'));
      const ratio = allHalf.bytes.length / fs.statSync(models['embedding_model.onnx']).size;
      assert.ok(ratio > 0.45 && ratio < 0.55, `FP16 size ratio ${ratio}`);
    });

    it('quantizeInputs / quantizeOutputs put Q/DQ on the model inputs and outputs', async () => {
      const { bytes } = await quantizeModel(models['alexa_v0.1.onnx'], { data: headWindows(sequences, fp32Heads.alexa.inputs[0].name), quantizeInputs: true, quantizeOutputs: true, method: 'minmax' });
      const graph = readModel(bytes).graph;
      const input = graph.inputs[0].name;
      assert.deepEqual(graph.nodes.filter((n) => n.inputs.includes(input)).map((n) => n.opType), ['QuantizeLinear']);
      assert.equal(graph.nodes.find((n) => n.outputs.includes(graph.outputs[0].name))!.opType, 'DequantizeLinear');
    });
  });

  describe('calibrateModel', () => {
    it('records every activation input of the quantizable ops, reports progress, computes any method, and aborts', async () => {
      const progress: number[] = [];
      const table = await calibrateModel(models['embedding_model.onnx'], embeddingWindows({ count: 10 }), { onProgress: (p) => progress.push(p.batch) });
      try {
        assert.equal(table.tensorNames.length, 20);
        assert.equal(table.batches, 10);
        assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        const first = table.tensorNames[0];
        assert.equal(table.stats(first).batches, 10);
        const minmax = table.tensor(first).compute('minmax');
        const entropy = table.compute(first, { method: 'entropy', dtype: 'uint8' });
        assert.ok(minmax.scale > 0 && entropy.scale > 0 && entropy.max <= minmax.max);
        assert.throws(() => table.compute(first, 'kl' as never), isCode('EDGEINFER_INVALID_ARGUMENT'));
        assert.throws(() => table.compute('no/such/tensor'), isCode('EDGEINFER_INVALID_ARGUMENT'));
      } finally {
        table.dispose();
      }
      assert.throws(() => table.stats(table.tensorNames[0]), isCode('EDGEINFER_DISPOSED'));
      const controller = new AbortController();
      await assert.rejects(
        calibrateModel(models['embedding_model.onnx'], embeddingWindows({ count: 10 }), { signal: controller.signal, onProgress: (p) => p.batch === 3 && controller.abort() }),
        isCode('EDGEINFER_ABORTED'),
      );
    });

    it('streams: 1000 windows from an async generator are not kept (heap after GC), time and RSS for 100 vs 1000', async () => {
      const measures: string[] = [];
      for (const count of [100, 1000]) {
        gc();
        const heapBefore = process.memoryUsage().heapUsed;
        const rssBefore = process.memoryUsage().rss;
        const started = performance.now();
        let peakRss = rssBefore;
        const table = await calibrateModel(models['embedding_model.onnx'], embeddingWindows({ count }), {
          onProgress: (p) => p.batch % 50 === 0 && (peakRss = Math.max(peakRss, process.memoryUsage().rss)),
        });
        const seconds = (performance.now() - started) / 1000;
        gc();
        const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
        assert.equal(table.batches, count);
        table.dispose();
        measures.push(`${count} windows: ${seconds.toFixed(2)} s, RSS growth ${((peakRss - rssBefore) / 2 ** 20).toFixed(1)} MiB, heap kept ${(heapGrowth / 2 ** 20).toFixed(2)} MiB`);
        // 1000 windows are 1000 x 9.7 KB = 9.3 MiB: keeping them would show in the heap after GC.
        assert.ok(heapGrowth < 3 * 2 ** 20, `heap grew ${heapGrowth} bytes over ${count} windows`);
      }
      console.log(`      calibration streaming: ${measures.join('; ')}`);
    });
  });

  describe('hostile inputs', () => {
    const embeddingFile = () => models['embedding_model.onnx'];
    const window = (): CalibrationFeeds => ({ input_1: { type: 'float32', data: new Float32Array(76 * 32).fill(1), dims: [1, 76, 32, 1] } });

    it('non-ONNX and truncated bytes, a missing file: EDGEINFER_MODEL_INVALID / INVALID_ARGUMENT', async () => {
      await assert.rejects(quantizeModel(new TextEncoder().encode('definitely not a model'), { data: [window()] }), isCode('EDGEINFER_MODEL_INVALID'));
      const bytes = fs.readFileSync(embeddingFile());
      await assert.rejects(quantizeModel(bytes.subarray(0, bytes.length >> 1), { data: [window()] }), isCode('EDGEINFER_MODEL_INVALID'));
      await assert.rejects(calibrateModel(bytes.subarray(0, 1000), [window()]), isCode('EDGEINFER_MODEL_INVALID'));
      await assert.rejects(quantizeModel('/no/such/model.onnx', { data: [window()] }), isCode('EDGEINFER_INVALID_ARGUMENT'));
      await assert.rejects(quantizeModel(42 as never, { data: [window()] }), isCode('EDGEINFER_INVALID_ARGUMENT'));
    });

    it('empty data, wrong input names or shapes, NaN-only data, not iterable: codes naming the batch', async () => {
      await assert.rejects(quantizeModel(embeddingFile(), { data: [] }), isCode('EDGEINFER_INVALID_ARGUMENT'));
      await assert.rejects(calibrateModel(embeddingFile(), (async function* () {})()), isCode('EDGEINFER_INVALID_ARGUMENT'));
      await assert.rejects(quantizeModel(embeddingFile(), {}), isCode('EDGEINFER_INVALID_ARGUMENT'));
      await assert.rejects(calibrateModel(embeddingFile(), 42 as never), isCode('EDGEINFER_INVALID_ARGUMENT'));
      await assert.rejects(calibrateModel(embeddingFile(), [null as never]), isCode('EDGEINFER_INVALID_ARGUMENT'));
      await assert.rejects(calibrateModel(embeddingFile(), [{ wrong_name: window().input_1 }]), (e: unknown) => isCode('EDGEINFER_INVALID_ARGUMENT')(e) && /batch 0/.test((e as Error).message));
      const wrongShape: CalibrationFeeds = { input_1: { type: 'float32', data: new Float32Array(10 * 32), dims: [1, 10, 32, 1] } };
      await assert.rejects(calibrateModel(embeddingFile(), [window(), wrongShape]), (e: unknown) => e instanceof EdgeInferError && /batch 1/.test(e.message));
      const lying: CalibrationFeeds = { input_1: { type: 'float32', data: new Float32Array(5), dims: [1, 76, 32, 1] } };
      await assert.rejects(calibrateModel(embeddingFile(), [lying]), (e: unknown) => e instanceof EdgeInferError);
      // The next batch runs while this one's statistics are added: a generator failing there, or a bad batch
      // right after a good one, rejects the call with that error (nothing left unhandled), and the batch is
      // named by its position.
      const failing = function* (): Generator<CalibrationFeeds> {
        yield window();
        yield window();
        throw new RangeError('the data source broke');
      };
      await assert.rejects(calibrateModel(embeddingFile(), failing()), /the data source broke/);
      await assert.rejects(calibrateModel(embeddingFile(), [window(), window(), window(), wrongShape]), (e: unknown) => e instanceof EdgeInferError && /batch 3/.test(e.message));
      const nan: CalibrationFeeds = { input_1: { type: 'float32', data: new Float32Array(76 * 32).fill(NaN), dims: [1, 76, 32, 1] } };
      await assert.rejects(quantizeModel(embeddingFile(), { data: [nan, nan] }), isCode('EDGEINFER_INVALID_ARGUMENT'));
    });

    it('bad options: unknown method, precision rules, node names, op types, types', async () => {
      const data = () => [window()];
      const bad: Record<string, unknown>[] = [
        { method: 'kl-divergence' },
        { activationType: 'int4' },
        { perChannel: 'yes' },
        { opTypesToQuantize: ['Add'] },
        { opTypesToQuantize: [] },
        { nodesToExclude: ['no/such/node'] },
        { nodesToExclude: 'model/conv2d/Conv2D' },
        { precision: [{ name: 'no/such/node', precision: 'fp32' }] },
        { precision: [{ opType: 'Conv', precision: 'int4' }] },
        { precision: [{ precision: 'fp16' }] },
        { precision: [{ pattern: '(', precision: 'fp16' }] },
        { precision: { opType: 'Conv', precision: 'fp16' } },
        { mixedPrecision: 'fast' },
        { percentile: 0 },
        { calibration: {} },
        { validateOn: ['tensorrt'] },
        { signal: 'stop' },
        { onProgress: 'bar' },
        { backend: 'gpu' },
      ];
      for (const options of bad) {
        await assert.rejects(quantizeModel(embeddingFile(), { data: data(), ...options }), isCode('EDGEINFER_INVALID_ARGUMENT'), JSON.stringify(options));
      }
      await assert.rejects(quantizeModel(embeddingFile(), null as never), isCode('EDGEINFER_INVALID_ARGUMENT'));
      await assert.rejects(calibrateModel(embeddingFile(), data(), { tensors: ['no/such/tensor'] }), isCode('EDGEINFER_INVALID_ARGUMENT'));
    });

    it('a calibration table reused for the model it came from; one from another model is refused', async () => {
      const table = await calibrateModel(embeddingFile(), embeddingWindows({ count: 12 }));
      try {
        const { report } = await quantizeModel(embeddingFile(), { calibration: table, method: 'minmax' });
        assert.equal(report.calibration.batches, 12);
        await assert.rejects(quantizeModel(models['alexa_v0.1.onnx'], { calibration: table }), isCode('EDGEINFER_INVALID_ARGUMENT'));
      } finally {
        table.dispose();
      }
    });
  });
});

