// The channels-last pass (lib/onnx/passes/channels-last.ts): which nodes it converts, that the Transposes
// between layers cancel and Max folds into the conv, and that a model mixing what it converts and what it
// must leave alone still computes what ONNX Runtime computes.
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { Engine } from '../lib';
import type { Model, Node, TensorData } from '../lib/onnx/ir';
import { optimize } from '../lib/onnx/passes';
import { readModel } from '../lib/onnx/reader';
import { writeModel } from '../lib/onnx/writer';
import { rng } from './helpers/random';
import { fetchModels } from './helpers/repo';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ort = require('onnxruntime-node');

function floats(dims: number[], seed: number, scale = 0.5): TensorData {
  const next = rng(seed);
  return { dtype: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => (next() * 2 - 1) * scale) };
}

const scalar = (value: number): TensorData => ({ dtype: 'float32', dims: [], data: Float32Array.of(value) });

function node(name: string, opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = {}): Node {
  return { name, opType, domain: '', inputs, outputs, attributes };
}

const ints = (value: number[]) => ({ type: 'ints' as const, value });

/**
 * x [1,6,9,11] -> conv a (3x3 pad 1) -> LeakyRelu -> Max(-0.3) -> MaxPool 2x2 -> Add(0.25) -> conv b (1x3, stride 2)
 *   -> Relu -> output y
 * x -> conv c (same input as conv a; 1x1) -> output z (a conv output that is a graph output)
 * conv a's Max output also feeds a depthwise conv d (group 6: stays NCHW) -> output w
 * conv b's input also has Mul with a non-scalar [6,1,1] constant -> output v (the Transpose cannot sink)
 */
function mixedModel(): Model {
  const initializers = new Map<string, TensorData>([
    ['wa', floats([6, 6, 3, 3], 1)], ['ba', floats([6], 2)],
    ['wb', floats([8, 6, 1, 3], 3)], ['bb', floats([8], 4)],
    ['wc', floats([5, 6, 1, 1], 5)],
    ['wd', floats([6, 1, 3, 3], 6)],
    ['lo', scalar(-0.3)], ['shift', scalar(0.25)],
    ['perchannel', floats([6, 1, 1], 7, 2)],
  ]);
  return {
    irVersion: 8, opsets: new Map([['', 13]]), producerName: 'test', producerVersion: '', metadata: {},
    graph: {
      name: 'mixed',
      nodes: [
        node('conv_a', 'Conv', ['x', 'wa', 'ba'], ['a0'], { pads: ints([1, 1, 1, 1]), kernel_shape: ints([3, 3]) }),
        node('leaky', 'LeakyRelu', ['a0'], ['a1'], { alpha: { type: 'float', value: 0.2 } }),
        node('clamp', 'Max', ['a1', 'lo'], ['a2']),
        node('pool', 'MaxPool', ['a2'], ['p'], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }),
        node('shift', 'Add', ['p', 'shift'], ['p1']),
        node('conv_b', 'Conv', ['p1', 'wb', 'bb'], ['b0'], { pads: ints([0, 1, 0, 1]), kernel_shape: ints([1, 3]), strides: ints([1, 2]) }),
        node('relu', 'Relu', ['b0'], ['y']),
        node('conv_c', 'Conv', ['x', 'wc'], ['z']),
        node('conv_d', 'Conv', ['a2', 'wd'], ['w'], { group: { type: 'int', value: 6 }, pads: ints([1, 1, 1, 1]) }),
        node('scale', 'Mul', ['p1', 'perchannel'], ['v']),
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 6, 9, 11] }],
      outputs: ['y', 'z', 'w', 'v'].map((name) => ({ name, dtype: 'float32' as const })),
      initializers,
      valueInfo: new Map(),
    },
  };
}

describe('channels-last layout pass', function () {
  it('embedding_model: 20 NhwcConv, 5 NhwcMaxPool, every Max folded, only the two end Transposes left', function () {
    const model = readModel(new Uint8Array(fs.readFileSync(fetchModels()['embedding_model.onnx'])));
    const { applied } = optimize(model);
    const ops = (op: string) => model.graph.nodes.filter((n) => n.opType === op);
    assert.equal(applied.channelsLast, 25);
    assert.equal(ops('NhwcConv').length, 20);
    assert.equal(ops('NhwcMaxPool').length, 5);
    assert.equal(ops('Max').length, 0);
    assert.equal(ops('FusedConv').length + ops('Conv').length + ops('MaxPool').length, 0);
    assert.equal(ops('Transpose').length, 2);
    const clamped = ops('NhwcConv').filter((n) => n.attributes.output_min?.type === 'float');
    assert.equal(clamped.length, 19);
    for (const conv of clamped) assert.ok(Math.abs((conv.attributes.output_min as { value: number }).value + 0.4) < 1e-6);
    // keepNchw leaves the NCHW graph as it was.
    const nchw = readModel(new Uint8Array(fs.readFileSync(fetchModels()['embedding_model.onnx'])));
    optimize(nchw, { keepNchw: true });
    assert.equal(nchw.graph.nodes.filter((n) => n.opType === 'FusedConv').length, 19);
    assert.equal(nchw.graph.nodes.filter((n) => n.opType === 'Max').length, 19);
  });

  it('a mixed graph: converts group-1 convs and pools, leaves depthwise, keeps needed Transposes, matches ORT', async function () {
    const model = mixedModel();
    const bytes = writeModel(model);
    const optimized = structuredClone(model);
    optimize(optimized);
    const ops = (op: string) => optimized.graph.nodes.filter((n) => n.opType === op);
    assert.equal(ops('NhwcConv').length, 3, 'conv a, b, c');
    assert.equal(ops('NhwcMaxPool').length, 1);
    assert.equal(ops('Conv').length, 1, 'the depthwise conv stays NCHW');
    assert.equal(ops('Max').length, 0, 'Max(-0.3) folded into conv a');
    assert.ok(ops('Mul').length === 1 && ops('Add').length === 1);

    const x = floats([1, 6, 9, 11], 11, 1.5);
    const session = await ort.InferenceSession.create(bytes);
    const expected = await session.run({ x: new ort.Tensor('float32', x.data as Float32Array, x.dims) });
    for (const precision of ['float32', 'int8'] as const) {
      const engine = await Engine.load(bytes, { threads: 1, precision });
      const out = engine.inferSync({ x: { type: 'float32', data: x.data as Float32Array, dims: x.dims } });
      for (const name of ['y', 'z', 'w', 'v']) {
        const ours = out[name].data as Float32Array;
        const theirs = expected[name].data as Float32Array;
        assert.deepEqual(out[name].dims, Array.from(expected[name].dims as readonly number[]), name);
        let worst = 0, max = 0;
        for (let i = 0; i < ours.length; i++) {
          worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
          max = Math.max(max, Math.abs(theirs[i]));
        }
        // INT8: these convs are below the INT8 size thresholds and stay float, so both are tight.
        assert.ok(worst <= 1e-5 * Math.max(1, max), `${precision} ${name}: max |diff| ${worst}`);
      }
      engine.dispose();
    }
  });
});
