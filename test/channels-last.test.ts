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

/** The model's bytes (for ORT and the engine) and a lookup of the nodes `optimize` leaves, by op type. */
function optimizedOps(model: Model): { bytes: Uint8Array; ops: (op: string) => Node[] } {
  const bytes = writeModel(model);
  const optimized = structuredClone(model);
  optimize(optimized);
  return { bytes, ops: (op: string) => optimized.graph.nodes.filter((n) => n.opType === op) };
}

/** Our native run of `bytes` on x against onnxruntime-node's: every output within 1e-5 of the largest |value| (at least 1). */
async function assertMatchesOrt(bytes: Uint8Array, x: TensorData, outputs: string[], options: { precision?: 'float32' | 'int8' } = {}): Promise<void> {
  const session = await ort.InferenceSession.create(bytes);
  const expected = await session.run({ x: new ort.Tensor('float32', x.data as Float32Array, x.dims) });
  const engine = await Engine.load(bytes, { threads: 1, backend: 'native', ...options });
  const out = engine.inferSync({ x: { type: 'float32', data: x.data as Float32Array, dims: x.dims } });
  engine.dispose();
  for (const name of outputs) {
    const ours = out[name].data as Float32Array;
    const theirs = expected[name].data as Float32Array;
    assert.deepEqual(out[name].dims, Array.from(expected[name].dims as readonly number[]), name);
    let worst = 0, max = 0;
    for (let i = 0; i < ours.length; i++) {
      worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
      max = Math.max(max, Math.abs(theirs[i]));
    }
    assert.ok(worst <= 1e-5 * Math.max(1, max), `${options.precision ?? 'float32'} ${name}: max |diff| ${worst}`);
  }
}

/**
 * x [1,6,9,11] -> conv a (3x3 pad 1) -> LeakyRelu -> Max(-0.3) -> MaxPool 2x2 -> Add(0.25) -> conv b (1x3, stride 2)
 *   -> Relu -> output y
 * x -> conv c (same input as conv a; 1x1) -> output z (a conv output that is a graph output)
 * conv a's Max output also feeds a depthwise conv d (group 6, channel multiplier 2: stays NCHW) -> output w
 * conv b's input also has Mul with a non-scalar [6,1,1] constant -> output v (the Transpose cannot sink)
 */
function mixedModel(): Model {
  const initializers = new Map<string, TensorData>([
    ['wa', floats([6, 6, 3, 3], 1)], ['ba', floats([6], 2)],
    ['wb', floats([8, 6, 1, 3], 3)], ['bb', floats([8], 4)],
    ['wc', floats([5, 6, 1, 1], 5)],
    ['wd', floats([12, 1, 3, 3], 6)],
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

/**
 * An inverted-residual block as MobileNetV3 / EfficientNet write it, plus an EfficientNet SiLU:
 * x [1,8,10,10] -> expand 1x1 (8->16) -> HardSwish -> depthwise 3x3 (16) -> Relu = d
 *   squeeze-excitation: GlobalAveragePool(d) -> 1x1 (16->4) -> Relu -> 1x1 (4->16) -> HardSigmoid = s; Mul(d, s)
 *   -> project 1x1 (16->8) -> Add(x) -> output y (the residual)
 * x -> 3x3 conv (8->8, pad 1) = c -> Mul(c, Sigmoid(c)) -> output z
 */
function invertedResidualModel(): Model {
  const initializers = new Map<string, TensorData>([
    ['we', floats([16, 8, 1, 1], 21)], ['be', floats([16], 22)],
    ['wd', floats([16, 1, 3, 3], 23)], ['bd', floats([16], 24)],
    ['w1', floats([4, 16, 1, 1], 25)], ['b1', floats([4], 26)],
    ['w2', floats([16, 4, 1, 1], 27)], ['b2', floats([16], 28)],
    ['wp', floats([8, 16, 1, 1], 29)], ['bp', floats([8], 30)],
    ['wc', floats([8, 8, 3, 3], 31)], ['bc', floats([8], 32)],
  ]);
  return {
    irVersion: 8, opsets: new Map([['', 14]]), producerName: 'test', producerVersion: '', metadata: {},
    graph: {
      name: 'inverted-residual',
      nodes: [
        node('expand', 'Conv', ['x', 'we', 'be'], ['e0']),
        node('hswish', 'HardSwish', ['e0'], ['e1']),
        node('dw', 'Conv', ['e1', 'wd', 'bd'], ['d0'], { group: { type: 'int', value: 16 }, pads: ints([1, 1, 1, 1]), kernel_shape: ints([3, 3]) }),
        node('relu', 'Relu', ['d0'], ['d']),
        node('squeeze', 'GlobalAveragePool', ['d'], ['g']),
        node('fc1', 'Conv', ['g', 'w1', 'b1'], ['f0']),
        node('fc1_relu', 'Relu', ['f0'], ['f1']),
        node('fc2', 'Conv', ['f1', 'w2', 'b2'], ['f2']),
        node('gate', 'HardSigmoid', ['f2'], ['s'], { alpha: { type: 'float', value: 1 / 6 }, beta: { type: 'float', value: 0.5 } }),
        node('excite', 'Mul', ['d', 's'], ['m']),
        node('project', 'Conv', ['m', 'wp', 'bp'], ['p']),
        node('residual', 'Add', ['p', 'x'], ['y']),
        node('conv_c', 'Conv', ['x', 'wc', 'bc'], ['c'], { pads: ints([1, 1, 1, 1]), kernel_shape: ints([3, 3]) }),
        node('sigmoid', 'Sigmoid', ['c'], ['c_sig']),
        node('silu', 'Mul', ['c', 'c_sig'], ['z']),
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 8, 10, 10] }],
      outputs: ['y', 'z'].map((name) => ({ name, dtype: 'float32' as const })),
      initializers,
      valueInfo: new Map(),
    },
  };
}

/**
 * Two DenseNet layers: x [1,8,9,9] -> conv stem -> s; each layer: BN -> Relu -> conv 1x1 -> BN -> Relu -> conv
 * 3x3 (4 new channels) and Concat(features, new) along channels; then BN -> Relu -> output y. The BNs follow
 * a Concat or a conv whose output is also concatenated, so they do not fold into a conv.
 */
function denseBlockModel(): Model {
  const initializers = new Map<string, TensorData>([['ws', floats([8, 8, 3, 3], 41)], ['bs', floats([8], 42)]]);
  const nodes: Node[] = [node('stem', 'Conv', ['x', 'ws', 'bs'], ['f0'], { pads: ints([1, 1, 1, 1]), kernel_shape: ints([3, 3]) })];
  let channels = 8;
  const bn = (name: string, input: string, output: string, c: number, seed: number) => {
    initializers.set(`${name}_g`, floats([c], seed, 1));
    initializers.set(`${name}_b`, floats([c], seed + 1));
    initializers.set(`${name}_m`, floats([c], seed + 2));
    const variance = floats([c], seed + 3);
    (variance.data as Float32Array).forEach((v, i, a) => (a[i] = 0.5 + Math.abs(v)));
    initializers.set(`${name}_v`, variance);
    nodes.push(node(name, 'BatchNormalization', [input, `${name}_g`, `${name}_b`, `${name}_m`, `${name}_v`], [output], { epsilon: { type: 'float', value: 1e-3 } }));
  };
  for (let layer = 1; layer <= 2; layer++) {
    const f = `f${layer - 1}`;
    bn(`l${layer}_bn1`, f, `l${layer}_n1`, channels, 50 + layer * 10);
    nodes.push(node(`l${layer}_relu1`, 'Relu', [`l${layer}_n1`], [`l${layer}_r1`]));
    initializers.set(`l${layer}_w1`, floats([8, channels, 1, 1], 80 + layer));
    nodes.push(node(`l${layer}_conv1`, 'Conv', [`l${layer}_r1`, `l${layer}_w1`], [`l${layer}_c1`]));
    bn(`l${layer}_bn2`, `l${layer}_c1`, `l${layer}_n2`, 8, 90 + layer * 10);
    nodes.push(node(`l${layer}_relu2`, 'Relu', [`l${layer}_n2`], [`l${layer}_r2`]));
    initializers.set(`l${layer}_w2`, floats([4, 8, 3, 3], 120 + layer));
    nodes.push(node(`l${layer}_conv2`, 'Conv', [`l${layer}_r2`, `l${layer}_w2`], [`l${layer}_c2`], { pads: ints([1, 1, 1, 1]), kernel_shape: ints([3, 3]) }));
    nodes.push(node(`l${layer}_concat`, 'Concat', [f, `l${layer}_c2`], [`f${layer}`], { axis: { type: 'int', value: layer === 1 ? 1 : -3 } }));
    channels += 4;
  }
  bn('final_bn', 'f2', 'n', channels, 200);
  nodes.push(node('final_relu', 'Relu', ['n'], ['y']));
  return {
    irVersion: 8, opsets: new Map([['', 14]]), producerName: 'test', producerVersion: '', metadata: {},
    graph: { name: 'dense-block', nodes, inputs: [{ name: 'x', dtype: 'float32', shape: [1, 8, 9, 9] }], outputs: [{ name: 'y', dtype: 'float32' }], initializers, valueInfo: new Map() },
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

  it('a mixed graph: converts group-1 convs and pools, leaves multiplier-2 depthwise, keeps needed Transposes, matches ORT', async function () {
    const { bytes, ops } = optimizedOps(mixedModel());
    assert.equal(ops('NhwcConv').length, 3, 'conv a, b, c');
    assert.equal(ops('NhwcMaxPool').length, 1);
    assert.equal(ops('Conv').length, 1, 'the multiplier-2 depthwise conv stays NCHW');
    assert.equal(ops('Max').length, 0, 'Max(-0.3) folded into conv a');
    assert.ok(ops('Mul').length === 1 && ops('Add').length === 1);

    // INT8: these convs are below the INT8 size thresholds and stay float, so both are tight.
    const x = floats([1, 6, 9, 11], 11, 1.5);
    for (const precision of ['float32', 'int8'] as const) await assertMatchesOrt(bytes, x, ['y', 'z', 'w', 'v'], { precision });
  });

  it('an inverted-residual block: depthwise, squeeze-excitation and residual run NHWC, activations fused, matches ORT', async function () {
    const { bytes, ops } = optimizedOps(invertedResidualModel());
    assert.equal(ops('NhwcConv').length, 6, 'expand, depthwise, fc1, fc2, project, conv c');
    assert.equal(ops('NhwcGlobalAveragePool').length, 1);
    assert.deepEqual(ops('NhwcConv').map((n) => n.attributes.activation?.type === 'string' ? n.attributes.activation.value : ''), ['HardSwish', 'Relu', 'Relu', 'HardSigmoid', '', 'Silu']);
    for (const gone of ['HardSwish', 'HardSigmoid', 'Sigmoid', 'Relu', 'Conv', 'GlobalAveragePool']) assert.equal(ops(gone).length, 0, gone);
    assert.equal(ops('Mul').length, 1, 'the excitation Mul (on NHWC operands)');
    // Left: x into NHWC (once per conv reading it), the project and conv c outputs back to NCHW for the
    // residual Add with x (NCHW) and for output z; the squeeze path's Transposes only move size-1 dims.
    const transposes = ops('Transpose');
    const between = transposes.filter((t) => !t.inputs.includes('x') && !t.outputs.includes('z') && !/project/.test(t.name));
    assert.deepEqual(between.map((t) => t.name), [], 'no Transpose inside the block');

    await assertMatchesOrt(bytes, floats([1, 8, 10, 10], 33, 1.5), ['y', 'z']);
  });

  it('a dense block: Concats along channels and unfolded BatchNormalizations run NHWC, one Transpose at each end, matches ORT', async function () {
    const { bytes, ops } = optimizedOps(denseBlockModel());
    assert.equal(ops('NhwcConv').length, 5);
    assert.equal(ops('BatchNormalization').length, 0, 'every BN folded into a conv or turned into a per-channel Mul / Add');
    assert.deepEqual(ops('Concat').map((n) => n.attributes.axis), [{ type: 'int', value: 3 }, { type: 'int', value: 3 }], 'the Concats run on NHWC, along the last axis');
    assert.deepEqual(ops('Transpose').map((t) => [t.inputs[0] === 'x' || t.outputs.includes('y')]), [[true], [true]], 'x into NHWC, y back');

    await assertMatchesOrt(bytes, floats([1, 8, 9, 9], 43, 1.5), ['y']);
  });
});
