/**
 * DynamicQuantizeLinear and MatMulInteger, the ops ONNX Runtime's quantize_dynamic writes: native against
 * onnxruntime-node on the same model. Both are exact integer / IEEE computations, so results must be equal.
 */
import assert from 'node:assert/strict';

import { Engine, type Tensor } from '../lib';
import type { Model, Node, TensorData } from '../lib/onnx/ir';
import { writeModel } from '../lib/onnx/writer';
import { rng } from './helpers/random';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ort = require('onnxruntime-node');

const node = (opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = {}): Node => ({ name: outputs[0], opType, domain: '', inputs, outputs, attributes });

function model(nodes: Node[], inputs: Model['graph']['inputs'], outputs: string[], initializers: [string, TensorData][]): Uint8Array {
  return writeModel({
    irVersion: 8,
    opsets: new Map([['', 13]]),
    producerName: 'edgeinfer-test',
    producerVersion: '0',
    metadata: {},
    graph: { name: 'g', nodes, inputs, outputs: outputs.map((name) => ({ name })), initializers: new Map(initializers), valueInfo: new Map() },
  });
}

function randomFloats(n: number, seed: number, scale = 1, shift = 0): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: n }, () => (next() * 2 - 1) * scale + shift);
}

async function compare(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<void> {
  const engine = await Engine.load(bytes, { backend: 'native', threads: 1 });
  const ours = await engine.infer(feeds);
  await engine.dispose();
  const session = await ort.InferenceSession.create(bytes);
  const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor(t.type, t.data, t.dims)]));
  const theirs = await session.run(ortFeeds);
  await session.release();
  for (const [name, tensor] of Object.entries(ours)) {
    assert.deepEqual(tensor.dims, Array.from(theirs[name].dims as number[]), `${name} dims`);
    assert.deepEqual(Array.from(tensor.data as ArrayLike<number>), Array.from(theirs[name].data as ArrayLike<number>), `${name} values`);
  }
}

describe('dynamic quantization ops (quantize_dynamic)', () => {
  it('DynamicQuantizeLinear: y, scale and zero point equal ONNX Runtime for ranges of every sign, all zeros and one value', async () => {
    const bytes = model([node('DynamicQuantizeLinear', ['x'], ['y', 'scale', 'zp'])], [{ name: 'x', dtype: 'float32', shape: ['n'] }], ['y', 'scale', 'zp'], []);
    for (const [seed, scale, shift] of [[1, 1, 0], [2, 3, 5], [3, 2, -7], [4, 1e-3, 0], [5, 100, 20]]) {
      await compare(bytes, { x: { type: 'float32', data: randomFloats(257, seed, scale, shift), dims: [257] } });
    }
    await compare(bytes, { x: { type: 'float32', data: new Float32Array(16), dims: [16] } });
    await compare(bytes, { x: { type: 'float32', data: Float32Array.of(-2.5), dims: [1] } });
  });

  it('DynamicQuantizeLinear -> MatMulInteger (int8 and uint8 weights, zero points per tensor and per column) -> Cast -> Mul: equal to ONNX Runtime', async () => {
    const [m, k, n] = [5, 37, 19];
    const next = rng(11);
    const int8Weights: TensorData = { dtype: 'int8', dims: [k, n], data: Int8Array.from({ length: k * n }, () => Math.floor(next() * 255) - 127) };
    const uint8Weights: TensorData = { dtype: 'uint8', dims: [k, n], data: Uint8Array.from({ length: k * n }, () => Math.floor(next() * 256)) };
    const cases: [string, TensorData, TensorData][] = [
      ['int8, zero point 0', int8Weights, { dtype: 'int8', dims: [], data: Int8Array.of(0) }],
      ['int8, zero point per column', int8Weights, { dtype: 'int8', dims: [n], data: Int8Array.from({ length: n }, (_, j) => j - 9) }],
      ['uint8, zero point 128', uint8Weights, { dtype: 'uint8', dims: [], data: Uint8Array.of(128) }],
      ['uint8, zero point per column', uint8Weights, { dtype: 'uint8', dims: [n], data: Uint8Array.from({ length: n }, (_, j) => 100 + j) }],
    ];
    for (const [label, weights, zeroPoint] of cases) {
      const bytes = model(
        [
          node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xzp']),
          node('Mul', ['xs', 'ws'], ['scale']),
          node('MatMulInteger', ['xq', 'w', 'xzp', 'wzp'], ['acc']),
          node('Cast', ['acc'], ['accf'], { to: { type: 'int', value: 1 } }),
          node('Mul', ['accf', 'scale'], ['y']),
        ],
        [{ name: 'x', dtype: 'float32', shape: ['batch', m, k] }],
        ['y', 'acc'],
        [['w', weights], ['wzp', zeroPoint], ['ws', { dtype: 'float32', dims: [], data: Float32Array.of(0.0123) }]],
      );
      for (const batch of [1, 3]) {
        await compare(bytes, { x: { type: 'float32', data: randomFloats(batch * m * k, 20 + batch, 2, 0.5), dims: [batch, m, k] } }).catch((error) => {
          throw new Error(`${label}, batch ${batch}: ${(error as Error).message}`);
        });
      }
    }
  });

  it('MatMulInteger of two run-time operands with broadcast batches (attention-style)', async () => {
    const bytes = model(
      [
        node('DynamicQuantizeLinear', ['a'], ['aq', 'as', 'azp']),
        node('DynamicQuantizeLinear', ['b'], ['bq', 'bs', 'bzp']),
        node('MatMulInteger', ['aq', 'bq', 'azp', 'bzp'], ['y']),
      ],
      [{ name: 'a', dtype: 'float32', shape: [2, 3, 4, 8] }, { name: 'b', dtype: 'float32', shape: [3, 8, 6] }],
      ['y'],
      [],
    );
    await compare(bytes, {
      a: { type: 'float32', data: randomFloats(2 * 3 * 4 * 8, 31, 3, 1), dims: [2, 3, 4, 8] },
      b: { type: 'float32', data: randomFloats(3 * 8 * 6, 32, 1, -0.5), dims: [3, 8, 6] },
    });
  });
});
