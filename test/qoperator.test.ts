// ONNX Runtime's QOperator format (quantize_static with QuantFormat.QOperator) runs on the native backend: the
// QLinear ops are expanded into their QDQ form and fused onto the INT8 kernels (lib/onnx/passes/
// expand-qoperator.ts), and the results match onnxruntime-node on the same file; so do quantize_dynamic's
// ConvInteger graphs (passes/fuse-dynamic-quant.ts). The models are made here
// by ONNX Runtime's own Python quantizer (test/helpers/qoperator_models.py) in the venv the factory's setup
// makes (node scripts/distill-venv.js: onnx and onnxruntime from the local wheels); without one the specs
// that need its models say so and are skipped.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

import { EdgeInferError, Engine, type Tensor } from '../lib';
import { callNative } from '../lib/errors';
import { native, type NativePlanDesc } from '../lib/native';
import type { Model } from '../lib/onnx/ir';
import { lowerToPlan } from '../lib/onnx/lower';
import { prepareModel, specializeForShapes } from '../lib/onnx/pipeline';
import { readModel } from '../lib/onnx/reader';
import { writeModel } from '../lib/onnx/writer';
import { fillFloat, rng } from './helpers/random';
import { zooAvailable, zooModelPath } from './helpers/zoo';

const root = path.join(__dirname, '..');
const script = path.join(__dirname, 'helpers', 'qoperator_models.py');

/** A Python that can import onnxruntime's quantizer: $EDGEINFER_PYTHON, the factory's venv, the bench's. */
function quantizerPython(): string | undefined {
  const candidates = [
    process.env.EDGEINFER_PYTHON,
    path.join(process.env.EDGEINFER_DISTILL_VENV ?? path.join(root, '.cache', 'venv-distill'), 'bin', 'python'),
    path.join(process.env.EDGEINFER_QUANT_VENV ?? path.join(root, '.cache', 'venv-quant'), 'bin', 'python'),
  ];
  return candidates.find((python) => python && fs.existsSync(python) && spawnSync(python, ['-c', 'import onnx, onnxruntime.quantization'], { encoding: 'utf8' }).status === 0);
}

/** Runs the generator once per version of it (cached under .cache/qoperator); the made files by name. */
function makeModels(python: string, zoo: string[]): Record<string, string> {
  const key = crypto.createHash('sha256').update(fs.readFileSync(script)).update(zoo.join('\n')).digest('hex').slice(0, 16);
  const dir = path.join(root, '.cache', 'qoperator', key);
  const zooNames = zoo.map((file) => path.basename(file, '.onnx'));
  const files: Record<string, string> = { synthetic: path.join(dir, 'synthetic_qop.onnx'), lstm_dynamic: path.join(dir, 'lstm_dynamic.onnx') };
  for (const name of zooNames) {
    files[name] = path.join(dir, `${name}_qop.onnx`);
    if (!name.startsWith('tfm_')) files[`${name}_dynamic`] = path.join(dir, `${name}_dynamic.onnx`);
  }
  if (Object.values(files).every((file) => fs.existsSync(file))) return files;
  const made = spawnSync(python, [script, dir, ...zoo], { encoding: 'utf8', timeout: 240_000 });
  if (made.status !== 0) throw new Error(`qoperator_models.py failed (${made.status ?? made.signal}): ${made.stderr.slice(-2000)}`);
  return files;
}

const fileOps = (file: string): string[] => readModel(fs.readFileSync(file)).graph.nodes.map((n) => (n.domain ? `${n.domain}:${n.opType}` : n.opType));

interface Agreement {
  cosine: number;
  sameArgmax: boolean;
  maxDiff: number;
}

/** Ours (native) against onnxruntime-node on the same file and seeded inputs in [-2, 2). */
async function agreement(file: string, seeds: number): Promise<Agreement[]> {
  const engine = await Engine.load(file, { backend: 'native', threads: 1 });
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const results: Agreement[] = [];
  try {
    for (let seed = 1; seed <= seeds; seed++) {
      const feeds: Record<string, Tensor> = {};
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const input of engine.inputs) {
        const dims = input.dims.map((d) => (typeof d === 'number' ? d : /seq/.test(String(d)) ? 16 : 1));
        const count = dims.reduce((a, b) => a * b, 1);
        if (input.type === 'int64') {
          // Token ids below the zoo's vocabulary; masks all ones.
          const next = rng(seed);
          const data = BigInt64Array.from({ length: count }, () => (/mask/.test(input.name) ? 1n : BigInt(Math.floor(next() * 1000))));
          feeds[input.name] = { type: 'int64', data, dims };
          ortFeeds[input.name] = new ort.Tensor('int64', data, dims);
          continue;
        }
        const data = fillFloat(new Float32Array(count), rng(seed), -2, 2);
        feeds[input.name] = { type: 'float32', data, dims };
        ortFeeds[input.name] = new ort.Tensor('float32', data, dims);
      }
      const ours = Object.values(await engine.infer(feeds))[0].data as Float32Array;
      const theirs = (await session.run(ortFeeds))[session.outputNames[0]].data as Float32Array;
      let dot = 0, a2 = 0, b2 = 0, maxDiff = 0, argOurs = 0, argTheirs = 0;
      for (let i = 0; i < ours.length; i++) {
        dot += ours[i] * theirs[i];
        a2 += ours[i] ** 2;
        b2 += theirs[i] ** 2;
        maxDiff = Math.max(maxDiff, Math.abs(ours[i] - theirs[i]));
        if (ours[i] > ours[argOurs]) argOurs = i;
        if (theirs[i] > theirs[argTheirs]) argTheirs = i;
      }
      results.push({ cosine: dot / Math.sqrt(a2 * b2), sameArgmax: argOurs === argTheirs, maxDiff });
    }
  } finally {
    await engine.dispose();
    await session.release();
  }
  return results;
}

/** Every seeded input: the same argmax as ORT (unless only the cosine is asked for) and a cosine >= minCosine. */
async function assertAgrees(file: string, seeds: number, minCosine: number, label: string, argmax = true): Promise<void> {
  for (const a of await agreement(file, seeds)) {
    if (argmax) assert.ok(a.sameArgmax, `${label}: argmax differs from ORT`);
    assert.ok(a.cosine >= minCosine, `${label}: cosine to ORT ${a.cosine}`);
  }
}

/** The C++ step ops of the engine's plan (from its profile). */
async function stepOps(file: string): Promise<string[]> {
  const engine = await Engine.load(file, { backend: 'native', threads: 1, profile: true });
  try {
    const input = engine.inputs[0];
    const dims = input.dims.map((d) => (typeof d === 'number' ? d : 1));
    await engine.infer({ [input.name]: { type: 'float32', data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims } });
    return engine.profile().map((step) => step.op);
  } finally {
    await engine.dispose();
  }
}

describe('QOperator models (ONNX Runtime quantize_static, QuantFormat.QOperator) on the native backend', function () {
  this.timeout(300_000);
  let models: Record<string, string> = {};

  before(function () {
    const python = quantizerPython();
    if (python === undefined) {
      console.log('      (no Python with onnx and onnxruntime.quantization: run `node scripts/distill-venv.js`; QOperator specs skipped)');
      this.skip();
    }
    const zoo = zooAvailable ? ['kws_dscnn', 'cnn_resnet18', 'tfm_bert_small_cls'].map((name) => zooModelPath(name)) : [];
    models = makeModels(python!, zoo);
  });

  it('every QLinear op ORT writes for CNNs runs on the INT8 kernels and matches ORT on the same file', async () => {
    const ops = fileOps(models.synthetic);
    for (const op of ['QLinearConv', 'QLinearMatMul', 'com.microsoft:QGemm', 'com.microsoft:QLinearAdd', 'com.microsoft:QLinearMul', 'com.microsoft:QLinearSigmoid',
      'com.microsoft:QLinearLeakyRelu', 'com.microsoft:QLinearConcat', 'com.microsoft:QLinearAveragePool', 'com.microsoft:QLinearGlobalAveragePool', 'MaxPool']) {
      assert.ok(ops.includes(op), `the synthetic model lacks ${op}: ${ops.join(', ')}`);
    }
    const engine = await Engine.load(models.synthetic, { threads: 1 });
    assert.equal(engine.info().backend, 'native', 'the default (auto) backend runs it natively');
    await engine.dispose();
    const steps = await stepOps(models.synthetic);
    for (const step of ['QLinearGemm', 'QLinearMatMul']) assert.ok(steps.includes(step), `no ${step} step in ${steps.join(', ')}`);
    assert.ok(steps.some((s) => s.startsWith('QLinearConv')), `no INT8 conv step in ${steps.join(', ')}`);
    assert.ok(!steps.some((s) => /^(Conv|ConvNhwc|Gemm|MatMul)$/.test(s)), `a float conv / GEMM step left: ${steps.join(', ')}`);
    await assertAgrees(models.synthetic, 5, 0.99999, 'synthetic');
  });

  it('the zoo\'s DS-CNN keyword spotter and ResNet-18 as QOperator models: native, same argmax as ORT, cosine >= 0.9999', async function () {
    if (!zooAvailable) this.skip();
    for (const name of ['kws_dscnn', 'cnn_resnet18']) {
      const ops = fileOps(models[name]);
      assert.ok(ops.includes('QLinearConv') && ops.includes('com.microsoft:QLinearGlobalAveragePool'), `${name}: ${ops.join(', ')}`);
      await assertAgrees(models[name], 3, 0.9999, name);
    }
  });

  it('a QOperator BERT (QLinearMatMul, QLinearAdd / Mul, QLinearSoftmax, QGemm): native, same argmax as ORT', async function () {
    if (!zooAvailable) this.skip();
    const ops = fileOps(models.tfm_bert_small_cls);
    assert.ok(ops.includes('com.microsoft:QLinearSoftmax') && ops.includes('QLinearMatMul'), ops.join(', '));
    const engine = await Engine.load(models.tfm_bert_small_cls, { threads: 1 });
    assert.equal(engine.info().backend, 'native');
    await engine.dispose();
    // ORT runs QLinearSoftmax through a 256-entry table and requantizes activation x activation products in
    // integers; ours runs the float ops between the same levels: 0.99985-0.99993 measured, one argmax.
    await assertAgrees(models.tfm_bert_small_cls, 3, 0.9995, 'BERT');
  });

  it('quantize_dynamic CNNs (ConvInteger) run on the INT8 convs, activations quantized as DynamicQuantizeLinear does', async function () {
    if (!zooAvailable) this.skip();
    for (const name of ['kws_dscnn_dynamic', 'cnn_resnet18_dynamic']) {
      assert.ok(fileOps(models[name]).includes('ConvInteger'), name);
      const steps = await stepOps(models[name]);
      assert.ok(steps.some((s) => s.startsWith('QLinearConv')) && !steps.some((s) => /^(Conv|ConvNhwc|ConvInteger)$/.test(s)), `${name}: ${steps.join(', ')}`);
      await assertAgrees(models[name], 3, 0.9999, name);
    }
  });

  it('quantize_dynamic LSTMs (com.microsoft DynamicQuantizeLSTM) run natively over their dequantized weights', async () => {
    assert.deepEqual(fileOps(models.lstm_dynamic), ['com.microsoft:DynamicQuantizeLSTM']);
    const engine = await Engine.load(models.lstm_dynamic, { threads: 1 });
    assert.equal(engine.info().backend, 'native');
    await engine.dispose();
    // ORT also quantizes the activations per call; the weights are the same: 0.999989 measured.
    await assertAgrees(models.lstm_dynamic, 3, 0.9999, 'LSTM', false);
  });

  it('a corrupted dynamic INT8 conv step (onnx_range) is rejected by the native validation with a code', function () {
    if (!zooAvailable) this.skip();
    const { model } = prepareModel(fs.readFileSync(models.kws_dscnn_dynamic));
    const plan = lowerToPlan(specializeForShapes(model, { mfcc: [1, 1, 49, 10] })).desc;
    const dynamicConv = (p: NativePlanDesc) => p.steps.find((step) => step.op.startsWith('QLinearConv') && step.inputs[1] === -1)!;
    assert.ok(dynamicConv(plan), 'the plan has a dynamic INT8 conv');
    const scalar = plan.tensors.findIndex((t) => t.dtype === 1 && t.constant !== undefined && t.dims.length === 0);
    const corruptions: [string, (step: NativePlanDesc['steps'][number]) => void][] = [
      ['onnx_range 2', (step) => (step.ints[step.ints.length - 1] = 2)],
      ['an int past onnx_range', (step) => step.ints.push(1)],
      ['onnx_range with a static activation scale', (step) => (step.inputs[1] = scalar)],
    ];
    for (const [what, corrupt] of corruptions) {
      const copy = structuredClone(plan);
      corrupt(dynamicConv(copy));
      assert.throws(
        () => callNative(() => native.createModel(copy, { threads: 1, precision: 'float32' })),
        (error: unknown) => error instanceof EdgeInferError && error.code === 'EDGEINFER_MODEL_INVALID' && /QLinearConv/.test(error.message),
        what,
      );
    }
    callNative(() => native.createModel(plan, { threads: 1, precision: 'float32' })).dispose();
  });

  it('what the INT8 kernels cannot run exactly is EDGEINFER_UNSUPPORTED_OP naming the node, not a guess', async () => {
    const model = readModel(fs.readFileSync(models.synthetic));
    const withAlpha: Model = { ...model, graph: { ...model.graph, nodes: model.graph.nodes.map((n) => (n.opType === 'QGemm' ? { ...n, attributes: { ...n.attributes, alpha: { type: 'float', value: 0.5 } } } : n)) } };
    await assert.rejects(Engine.load(writeModel(withAlpha), { backend: 'native' }), (e: EdgeInferError) => e.code === 'EDGEINFER_UNSUPPORTED_OP' && /QGemm/.test(e.message) && /alpha 0\.5/.test(e.message));
    // The default backend sees that before choosing, and runs such a file on ONNX Runtime.
    const fallback = await Engine.load(writeModel(withAlpha));
    assert.equal(fallback.info().backend, 'onnxruntime');
    assert.match(JSON.stringify(fallback.info()), /QGemm/);
    await fallback.dispose();
    // A conv's int32 bias whose weight scale is computed at run time cannot be dequantized when loading.
    const conv = model.graph.nodes.find((n) => n.opType === 'QLinearConv')!;
    const scaleInput = { name: 'w_scale_at_run_time', dtype: 'float32' as const, shape: [model.graph.initializers.get(conv.inputs[4])!.dims[0]] };
    const runtimeScale: Model = {
      ...model,
      graph: {
        ...model.graph,
        inputs: [...model.graph.inputs, scaleInput],
        nodes: model.graph.nodes.map((n) => (n === conv ? { ...n, inputs: n.inputs.map((input, i) => (i === 4 ? scaleInput.name : input)) } : n)),
      },
    };
    await assert.rejects(Engine.load(writeModel(runtimeScale), { backend: 'native' }), (e: EdgeInferError) => e.code === 'EDGEINFER_UNSUPPORTED_OP' && e.message.includes(conv.name));
    // Inputs a schema requires, left out: a malformed model, named, before anything is built from it.
    for (const op of ['QLinearConv', 'QLinearAdd', 'QLinearConcat']) {
      const victim = model.graph.nodes.find((n) => n.opType === op)!;
      const truncated: Model = { ...model, graph: { ...model.graph, nodes: model.graph.nodes.map((n) => (n === victim ? { ...n, inputs: n.inputs.slice(0, 2) } : n)) } };
      await assert.rejects(Engine.load(writeModel(truncated), { backend: 'native' }), (e: EdgeInferError) => e.code === 'EDGEINFER_MODEL_INVALID' && e.message.includes(victim.name), op);
    }
  });
});
