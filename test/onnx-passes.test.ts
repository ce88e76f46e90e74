/**
 * Shape inference and graph passes on the openWakeWord models and a generated BERT-style encoder
 * (test/fixtures/bert-encoder.ts), which onnxruntime-node must run.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { Engine } from '../lib';
import { EdgeInferError } from '../lib/errors';
import { Graph, Model, Node, TensorData } from '../lib/onnx/ir';
import { optimize } from '../lib/onnx/passes';
import { readModel } from '../lib/onnx/reader';
import { inferShapes } from '../lib/onnx/shapes';
import { validateGraph } from '../lib/onnx/validate';
import { writeModel } from '../lib/onnx/writer';
import { makeBertEncoder, makeBertEncoderModel } from './fixtures/bert-encoder';
import { fetchModels } from './helpers/repo';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ort = require('onnxruntime-node');

function allNodes(graph: Graph): Node[] {
  return graph.nodes.flatMap((node) => [
    node,
    ...Object.values(node.attributes).flatMap((a) => (a.type === 'graph' ? allNodes(a.value) : [])),
  ]);
}

function count(model: Model, opType: string): number {
  return allNodes(model.graph).filter((n) => n.opType === opType).length;
}

/** Every node output (subgraphs included) has a dtype and a shape in valueInfo; returns the symbols used. */
function assertAllShapes(graph: Graph, symbols = new Set<string>()): Set<string> {
  for (const node of graph.nodes) {
    for (const output of node.outputs) {
      const info = graph.valueInfo.get(output);
      assert.ok(info?.dtype && info.shape, `no type/shape for ${output} (${node.opType} ${node.name})`);
      for (const d of info.shape) if (typeof d === 'string') symbols.add(d);
    }
    for (const a of Object.values(node.attributes)) if (a.type === 'graph') assertAllShapes(a.value, symbols);
  }
  return symbols;
}

describe('ONNX shapes and passes', function () {
  let bytes: Record<string, Uint8Array>;
  const load = (name: string) => readModel(bytes[name]);

  before(function () {
    const files = fetchModels();
    bytes = Object.fromEntries(Object.entries(files).map(([name, file]) => [name.replace(/\.onnx$/, ''), new Uint8Array(fs.readFileSync(file))]));
  });

  for (const name of ['hey_jarvis_v0.1', 'hey_mycroft_v0.1']) {
    it(`${name}: fuses the written-out LayerNorms and infers every shape`, function () {
      const model = load(name);
      const before = count(model, 'ReduceMean');
      const { applied } = optimize(model);
      const expected = name === 'hey_jarvis_v0.1' ? 4 : 2; // hey_jarvis: 2 in the main graph, 2 in the If branch
      assert.equal(before, 2 * expected);
      assert.equal(applied.layerNorm, expected);
      assert.equal(count(model, 'LayerNormalization'), expected);
      assert.equal(count(model, 'ReduceMean') + count(model, 'Sqrt') + count(model, 'Pow'), 0);
      for (const ln of allNodes(model.graph).filter((n) => n.opType === 'LayerNormalization')) {
        assert.deepEqual(ln.attributes.axis, { type: 'int', value: -1 });
        assert.equal(ln.attributes.epsilon.type, 'float');
        assert.equal(ln.inputs.length, 3);
      }
      assertAllShapes(model.graph);
      assert.deepEqual(model.graph.outputs[0].shape, [1, 1]);
      // the optimized model still writes and reads
      validateGraph(readModel(writeModel(model)));
    });
  }

  it('infers symbolic and concrete shapes for every model', function () {
    for (const name of Object.keys(bytes)) {
      const model = load(name);
      validateGraph(model);
      inferShapes(model);
      assertAllShapes(model.graph);
    }
    const embedding = load('embedding_model');
    inferShapes(embedding);
    assert.deepEqual(embedding.graph.outputs[0].shape, ['unk__314', 1, 1, 96]);
    const concrete = load('embedding_model');
    inferShapes(concrete, { input_1: [16, 76, 32, 1] });
    assert.deepEqual(assertAllShapes(concrete.graph), new Set());
    assert.deepEqual(concrete.graph.outputs[0].shape, [16, 1, 1, 96]);
    const mel = load('melspectrogram');
    inferShapes(mel, { input: [1, 1280] });
    assert.deepEqual(assertAllShapes(mel.graph), new Set());
    assert.deepEqual(mel.graph.outputs[0].shape, [1, 1, 5, 32]);
    const symbolic = load('melspectrogram');
    inferShapes(symbolic);
    assert.deepEqual(symbolic.graph.outputs[0].shape, ['batch_size', 1, 'floor((samples-512)/160)+1', 32]);
    assert.throws(() => inferShapes(load('alexa_v0.1'), { 'onnx::Flatten_0': [1, 16, 95] }), (e: EdgeInferError) => e.code === 'EDGEINFER_SHAPE_MISMATCH');
  });

  it('embedding_model: Conv + LeakyRelu become FusedConv; heads: Gemm + Relu/Sigmoid become FusedGemm', function () {
    const embedding = load('embedding_model');
    const { applied } = optimize(embedding, { keepNchw: true }); // channels-last: test/channels-last.test.ts
    assert.equal(applied.activation, 19);
    const fused = embedding.graph.nodes.filter((n) => n.opType === 'FusedConv');
    assert.equal(fused.length, 19);
    for (const node of fused) {
      assert.equal(node.domain, 'edgeinfer');
      assert.deepEqual(node.attributes.activation, { type: 'string', value: 'LeakyRelu' });
      assert.equal(node.attributes.activation_params.type, 'floats');
      assert.equal(node.inputs.length, 3);
    }
    assert.equal(embedding.opsets.get('edgeinfer'), 1);
    const alexa = load('alexa_v0.1');
    optimize(alexa);
    const gemms = alexa.graph.nodes.filter((n) => n.opType === 'FusedGemm');
    assert.deepEqual(gemms.map((n) => (n.attributes.activation.type === 'string' ? n.attributes.activation.value : '')), ['Relu', 'Relu', 'Sigmoid']);
    assertAllShapes(alexa.graph);
  });

  it('Add of [3,4] and [5] is a shape mismatch naming the node', function () {
    const model: Model = {
      irVersion: 8, opsets: new Map([['', 13]]), producerName: '', producerVersion: '', metadata: {},
      graph: {
        name: 'g',
        nodes: [{ name: 'add', opType: 'Add', domain: '', inputs: ['a', 'b'], outputs: ['c'], attributes: {} }],
        inputs: [{ name: 'a', dtype: 'float32', shape: [3, 4] }, { name: 'b', dtype: 'float32', shape: [5] }],
        outputs: [{ name: 'c' }],
        initializers: new Map(),
        valueInfo: new Map(),
      },
    };
    assert.throws(() => inferShapes(model), (e: EdgeInferError) => e.code === 'EDGEINFER_SHAPE_MISMATCH' && e.detail?.node === 'add' && /\[3, 4\]/.test(e.message) && /\[5\]/.test(e.message));
  });

  // MobileViT-style exports compute patch counts as int(math.ceil(h / p)) in float: Shape -> Gather -> Cast
  // (float) -> Div -> Ceil -> Cast (int64) -> Concat -> Reshape. With concrete input dims the target resolves.
  it('resolves a Reshape target computed through float shape arithmetic (Cast, Div, Ceil, Cast)', function () {
    const scalar = (dtype: 'int64' | 'float32', value: number): TensorData =>
      dtype === 'int64' ? { dtype, dims: [], data: BigInt64Array.of(BigInt(value)) } : { dtype, dims: [], data: Float32Array.of(value) };
    const vector = (values: number[]): TensorData => ({ dtype: 'int64', dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
    const node = (name: string, opType: string, inputs: string[], attributes: Model['graph']['nodes'][number]['attributes'] = {}) => ({ name, opType, domain: '', inputs, outputs: [name], attributes });
    const makeModel = (): Model => ({
      irVersion: 8, opsets: new Map([['', 13]]), producerName: '', producerVersion: '', metadata: {},
      graph: {
        name: 'g',
        nodes: [
          node('shape', 'Shape', ['x']),
          node('h', 'Gather', ['shape', 'two'], { axis: { type: 'int', value: 0 } }),
          node('hf', 'Cast', ['h'], { to: { type: 'int', value: 1 } }),
          node('ratio', 'Div', ['hf', 'patch']),
          node('up', 'Ceil', ['ratio']),
          node('n', 'Cast', ['up'], { to: { type: 'int', value: 7 } }),
          node('n1', 'Unsqueeze', ['n', 'axis0']),
          node('target', 'Concat', ['minus1', 'n1'], { axis: { type: 'int', value: 0 } }),
          node('y', 'Reshape', ['x', 'target']),
        ],
        inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 3, 'H'] }],
        outputs: [{ name: 'y' }],
        initializers: new Map([['two', scalar('int64', 2)], ['patch', scalar('float32', 4)], ['axis0', vector([0])], ['minus1', vector([-1])]]),
        valueInfo: new Map(),
      },
    });
    const yShape = (dims: number[]) => {
      const model = makeModel();
      inferShapes(model, { x: dims });
      return model.graph.valueInfo.get('y')?.shape;
    };
    assert.deepEqual(yShape([1, 3, 10]), [10, 3]); // ceil(10 / 4) = 3 columns, 30 / 3 = 10 rows
    assert.deepEqual(yShape([2, 3, 8]), [24, 2]); // ceil(8 / 4) = 2, 48 / 2 = 24
  });

  it('QDQ: DequantizeLinear weights + Q/DQ activations -> QLinearFusedMatMul with static scales', function () {
    const scalarF = (v: number) => ({ dtype: 'float32' as const, dims: [], data: Float32Array.of(v) });
    const model: Model = {
      irVersion: 8, opsets: new Map([['', 13]]), producerName: '', producerVersion: '', metadata: {},
      graph: {
        name: 'qdq',
        nodes: [
          { name: 'q', opType: 'QuantizeLinear', domain: '', inputs: ['x', 'xs', 'xz'], outputs: ['xq'], attributes: {} },
          { name: 'dq', opType: 'DequantizeLinear', domain: '', inputs: ['xq', 'xs', 'xz'], outputs: ['xd'], attributes: {} },
          { name: 'wdq', opType: 'DequantizeLinear', domain: '', inputs: ['w', 'ws', 'wz'], outputs: ['wd'], attributes: {} },
          { name: 'mm', opType: 'MatMul', domain: '', inputs: ['xd', 'wd'], outputs: ['y0'], attributes: {} },
          { name: 'add', opType: 'Add', domain: '', inputs: ['y0', 'b'], outputs: ['y1'], attributes: {} },
          { name: 'relu', opType: 'Relu', domain: '', inputs: ['y1'], outputs: ['y'], attributes: {} },
        ],
        inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 4, 8] }],
        outputs: [{ name: 'y', dtype: 'float32' }],
        initializers: new Map([
          ['xs', scalarF(0.05)],
          ['xz', { dtype: 'uint8', dims: [], data: Uint8Array.of(128) }],
          ['w', { dtype: 'int8', dims: [8, 3], data: new Int8Array(24).fill(3) }],
          ['ws', scalarF(0.01)],
          ['wz', { dtype: 'int8', dims: [], data: Int8Array.of(0) }],
          ['b', { dtype: 'float32', dims: [3], data: Float32Array.of(1, 2, 3) }],
        ]),
        valueInfo: new Map(),
      },
    };
    const { applied } = optimize(model);
    assert.equal(applied.qdq, 1);
    assert.equal(model.graph.nodes.length, 1);
    const [node] = model.graph.nodes;
    assert.equal(node.opType, 'QLinearFusedMatMul');
    assert.equal(node.domain, 'edgeinfer');
    assert.deepEqual(node.inputs, ['x', 'xs', 'xz', 'w', 'ws', 'wz', node.inputs[6]]);
    assert.deepEqual(node.attributes.activation, { type: 'string', value: 'Relu' });
    assert.deepEqual(model.graph.valueInfo.get('y')?.shape, ['N', 4, 3]);
  });

  // Attention's Q.K^T and a tied LM head multiply by a Transpose of their last two dims: the matmul kernels
  // read B^T in place (transB), so the Transpose step (a copy of B every run) goes.
  it('MatMul(A, Transpose(B)) becomes FusedMatMul transB, for run-time and constant B, with and without bias; results equal ONNX Runtime', async function () {
    const next = (() => { let s = 7; return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1; })();
    const floats = (n: number) => Float32Array.from({ length: n }, next);
    const cases: { label: string; constantB: boolean; bias: boolean }[] = [
      { label: 'run-time B (attention K)', constantB: false, bias: false },
      { label: 'constant B (LM head)', constantB: true, bias: false },
      { label: 'constant B plus bias', constantB: true, bias: true },
    ];
    for (const { label, constantB, bias } of cases) {
      const [h, m, k, n] = [3, 5, 8, 7];
      const bShape = constantB ? [n, k] : [2, h, n, k];
      const initializers = new Map<string, TensorData>();
      if (constantB) initializers.set('b', { dtype: 'float32', dims: bShape, data: floats(n * k) });
      if (bias) initializers.set('bias', { dtype: 'float32', dims: [n], data: floats(n) });
      const nodes: Node[] = [
        { name: 't', opType: 'Transpose', domain: '', inputs: ['b'], outputs: ['bt'], attributes: { perm: { type: 'ints', value: constantB ? [1, 0] : [0, 1, 3, 2] } } },
        { name: 'mm', opType: 'MatMul', domain: '', inputs: ['a', 'bt'], outputs: [bias ? 'ab' : 'y'], attributes: {} },
      ];
      if (bias) nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['ab', 'bias'], outputs: ['y'], attributes: {} });
      const model: Model = {
        irVersion: 8, opsets: new Map([['', 13]]), producerName: '', producerVersion: '', metadata: {},
        graph: {
          name: 'g', nodes,
          inputs: [{ name: 'a', dtype: 'float32', shape: [2, h, m, k] }, ...(constantB ? [] : [{ name: 'b', dtype: 'float32' as const, shape: bShape }])],
          outputs: [{ name: 'y' }], initializers, valueInfo: new Map(),
        },
      };
      const bytes = writeModel(model);
      const optimized = optimize(readModel(bytes)).model;
      assert.equal(count(optimized, 'Transpose'), 0, `${label}: the Transpose is gone`);
      assert.equal(allNodes(optimized.graph).filter((node) => node.attributes.transB?.type === 'int' && node.attributes.transB.value === 1).length, 1, label);
      const feeds: Record<string, { type: 'float32'; data: Float32Array; dims: number[] }> = { a: { type: 'float32', data: floats(2 * h * m * k), dims: [2, h, m, k] } };
      if (!constantB) feeds.b = { type: 'float32', data: floats(2 * h * n * k), dims: bShape };
      const engine = await Engine.load(bytes, { backend: 'native', threads: 1 });
      const ours = (await engine.infer(feeds)).y.data as Float32Array;
      await engine.dispose();
      const session = await ort.InferenceSession.create(bytes);
      const theirs = (await session.run(Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor('float32', t.data, t.dims)])))).y.data as Float32Array;
      const scale = Math.max(...theirs.map(Math.abs));
      theirs.forEach((value, i) => assert.ok(Math.abs(value - ours[i]) <= 1e-5 * scale, `${label}: element ${i}: ${ours[i]} vs ${value}`));
    }
  });

  describe('generated BERT-style encoder', function () {
    const options = { layers: 2, hidden: 64, heads: 4, seq: 16, vocab: 100, seed: 7 };

    it('runs in onnxruntime-node with well-conditioned outputs', async function () {
      const session = await ort.InferenceSession.create(makeBertEncoder(options));
      const ids = BigInt64Array.from({ length: 32 }, (_, i) => BigInt((i * 7) % 100));
      const mask = BigInt64Array.from({ length: 32 }, (_, i) => (i % 16 < 12 ? 1n : 0n));
      const out = await session.run({ input_ids: new ort.Tensor('int64', ids, [2, 16]), attention_mask: new ort.Tensor('int64', mask, [2, 16]) });
      const y = out.last_hidden_state;
      assert.deepEqual(y.dims, [2, 16, 64]);
      const values = Array.from(y.data as Float32Array);
      assert.ok(values.every(Number.isFinite));
      const max = Math.max(...values.map(Math.abs));
      assert.ok(max > 0.1 && max < 20, `max |y| ${max}`);
    });

    it('4 layers, hidden 128: fuses LayerNorm, GELU and MatMul+bias; shapes symbolic and concrete', function () {
      const model = makeBertEncoderModel({ layers: 4, hidden: 128, heads: 8, seq: 24, vocab: 300, seed: 3 });
      const bytesOut = writeModel(model);
      const symbolic = readModel(bytesOut);
      validateGraph(symbolic);
      inferShapes(symbolic);
      assert.deepEqual(assertAllShapes(symbolic.graph), new Set(['batch']));
      const { applied } = optimize(symbolic);
      assert.equal(applied.layerNorm, 1 + 2 * 4);
      assert.equal(applied.gelu, 4);
      assert.equal(applied.matMulBias, 6 * 4);
      // the FFN's MatMul+bias then Gelu becomes one FusedMatMul with activation Gelu
      assert.equal(applied.activation, 4);
      const gelu = symbolic.graph.nodes.filter((n) => n.opType === 'FusedMatMul' && n.attributes.activation?.type === 'string' && n.attributes.activation.value === 'Gelu');
      assert.equal(gelu.length, 4);
      assert.equal(count(symbolic, 'Erf'), 0);
      assert.equal(count(symbolic, 'ReduceMean'), 0);
      assertAllShapes(symbolic.graph);
      const concrete = readModel(bytesOut);
      const result = optimize(concrete, { inputShapes: { input_ids: [3, 24], attention_mask: [3, 24] } });
      assert.ok(result.applied.foldConstants > 0);
      assert.deepEqual(assertAllShapes(concrete.graph), new Set());
      assert.deepEqual(concrete.graph.outputs[0].shape, [3, 24, 128]);
      assert.equal(count(concrete, 'Shape'), 0, 'with concrete input shapes every Shape folds');
    });
  });
});
