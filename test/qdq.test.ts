// QDQ (static INT8) models built in memory run natively (QLinearMatMul / QLinearGemm / QLinearConv /
// QuantizeDequantize plan steps, no Q/DQ left) and match onnxruntime-node on the same bytes; a weight zero
// point the INT8 GEMM cannot take and corrupted QLinear plan steps are errors with a code.
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';

import { EdgeInferError, Engine } from '../lib';
import { callNative } from '../lib/errors';
import { native, type NativePlanDesc } from '../lib/native';
import type { Attribute, Model, Node, TensorData } from '../lib/onnx/ir';
import { lowerToPlan } from '../lib/onnx/lower';
import { prepareModel, specializeForShapes } from '../lib/onnx/pipeline';
import { writeModel } from '../lib/onnx/writer';
import { onnxDataTypeCodes } from '../lib/onnx/ir';
import { fillFloat, fillInt, rng } from './helpers/random';

type Initializers = Record<string, TensorData>;

const f32 = (dims: number[], values: ArrayLike<number>): TensorData => ({ dtype: 'float32', dims, data: Float32Array.from(values) });
const u8 = (dims: number[], values: ArrayLike<number>): TensorData => ({ dtype: 'uint8', dims, data: Uint8Array.from(values) });
const i8 = (dims: number[], values: ArrayLike<number>): TensorData => ({ dtype: 'int8', dims, data: Int8Array.from(values) });
const i32 = (dims: number[], values: ArrayLike<number>): TensorData => ({ dtype: 'int32', dims, data: Int32Array.from(values) });
const ints = (value: number[]): Attribute => ({ type: 'ints', value });
const int = (value: number): Attribute => ({ type: 'int', value });

function node(opType: string, inputs: string[], output: string, attributes: Record<string, Attribute> = {}): Node {
  return { name: `${opType}_${output}`, opType, domain: '', inputs, outputs: [output], attributes };
}

/** QuantizeLinear -> DequantizeLinear of `x` into `${x}_dq`, the activation half of a QDQ model. */
function qdq(x: string, scale: string, zeroPoint: string, axis?: number): Node[] {
  const attributes: Record<string, Attribute> = axis === undefined ? {} : { axis: int(axis) };
  return [node('QuantizeLinear', [x, scale, zeroPoint], `${x}_q`, attributes), node('DequantizeLinear', [`${x}_q`, scale, zeroPoint], `${x}_dq`, attributes)];
}

/** DequantizeLinear of the weight initializer `w` into `${w}_dq`. */
function weightDq(w: string, axis?: number, zeroPoint = `${w}_zp`): Node {
  return node('DequantizeLinear', [w, `${w}_scale`, zeroPoint], `${w}_dq`, axis === undefined ? {} : { axis: int(axis) });
}

function modelBytes(nodes: Node[], inputs: Record<string, number[]>, initializers: Initializers): Uint8Array {
  const model: Model = {
    irVersion: 8,
    opsets: new Map([['', 13]]),
    producerName: 'qdq.test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'qdq',
      nodes,
      inputs: Object.entries(inputs).map(([name, shape]) => ({ name, dtype: 'float32' as const, shape })),
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: new Map(Object.entries(initializers)),
      valueInfo: new Map(),
    },
  };
  return writeModel(model);
}

function randomInput(dims: number[], seed: number, lo: number, hi: number): Float32Array {
  return fillFloat(new Float32Array(dims.reduce((a, b) => a * b, 1)), rng(seed), lo, hi);
}

/** Random int8 weights (uint8 with zero point 128 when asked) and per-channel scales. */
function weights(name: string, dims: number[], channels: number, seed: number, dtype: 'int8' | 'uint8' = 'int8'): Initializers {
  const next = rng(seed);
  const count = dims.reduce((a, b) => a * b, 1);
  const scales = fillFloat(new Float32Array(channels), next, 0.002, 0.02);
  return dtype === 'int8'
    ? { [name]: i8(dims, fillInt(new Int8Array(count), next, -128, 127)), [`${name}_scale`]: f32(channels === 1 ? [] : [channels], scales), [`${name}_zp`]: i8(channels === 1 ? [] : [channels], new Int8Array(channels)) }
    : { [name]: u8(dims, fillInt(new Uint8Array(count), next, 0, 255)), [`${name}_scale`]: f32(channels === 1 ? [] : [channels], scales), [`${name}_zp`]: u8(channels === 1 ? [] : [channels], new Uint8Array(channels).fill(128)) };
}

interface Outputs {
  ours: Float32Array;
  theirs: Float32Array;
  /** The native plan's step ops and kernels, to check what actually ran. */
  ops: string[];
  kernels: string[];
}

async function runBoth(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Outputs> {
  const engine = await Engine.load(bytes, { threads: 1, profile: true });
  try {
    const out = await engine.infer({ x: { type: 'float32', data: x, dims } });
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const expected = await session.run({ x: new ort.Tensor('float32', x, dims) });
    assert.deepEqual(out.y.dims, expected.y.dims);
    const steps = engine.profile();
    return { ours: out.y.data as Float32Array, theirs: expected.y.data as Float32Array, ops: steps.map((step) => step.op), kernels: steps.map((step) => step.kernel) };
  } finally {
    engine.dispose();
  }
}

function maxAbs(values: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i]));
  return worst;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

// Static QDQ: we sum (q(x) - zp) * w exactly in int32 and scale once; ORT sums the same products in float
// (DequantizeLinear then a float kernel) or in int32 (its QDQ fusions). The difference is float rounding of
// the sums, far below 1e-3 x max|y|; an activation rounded to the other level (x / scale landing on a tie
// computed differently) would be one input step, which the bound also covers for these sizes.
function assertStaticMatch({ ours, theirs }: Outputs, what: string) {
  assert.equal(ours.length, theirs.length, `${what}: length`);
  const scale = maxAbs(theirs);
  assert.ok(scale > 0.1, `${what}: the model's output is degenerate (max |y| ${scale})`);
  const diff = maxDiff(ours, theirs);
  assert.ok(diff <= 1e-3 * scale, `${what}: max |diff| ${diff} > 1e-3 x max|ORT| (${scale})`);
}

/** `expected` ran and no float or Q / DQ op is left (except those in `allowed`). */
function assertOps(ops: string[], expected: string, what: string, allowed: string[] = []) {
  assert.ok(ops.includes(expected), `${what}: ${expected} not in the plan (${ops.join(', ')})`);
  for (const op of ['QuantizeLinear', 'DequantizeLinear', 'MatMul', 'Gemm', 'Conv']) assert.ok(allowed.includes(op) || !ops.includes(op), `${what}: ${op} left in the plan`);
}

describe('QDQ models (static INT8) against onnxruntime-node', function () {
  this.timeout(120000);

  it('MatMul: static uint8 activation Q/DQ, per-channel int8 weights, bias, Relu', async function () {
    const initializers: Initializers = { x_scale: f32([], [4 / 255]), x_zp: u8([], [128]), ...weights('w', [24, 16], 16, 1), b: f32([16], fillFloat(new Float32Array(16), rng(2), -0.5, 0.5)) };
    const nodes = [...qdq('x', 'x_scale', 'x_zp'), weightDq('w', 1), node('MatMul', ['x_dq', 'w_dq'], 'mm'), node('Add', ['mm', 'b'], 'biased'), node('Relu', ['biased'], 'y')];
    const dims = [2, 5, 24];
    const result = await runBoth(modelBytes(nodes, { x: dims }, initializers), randomInput(dims, 3, -2, 2), dims);
    assertOps(result.ops, 'QLinearMatMul', 'matmul');
    assertStaticMatch(result, 'matmul');
  });

  it('Gemm transB with alpha / beta: uint8 weights (zero point 128) per output channel, uint8 activations saturating at 0', async function () {
    const initializers: Initializers = { x_scale: f32([], [0.02]), x_zp: u8([], [0]), ...weights('w', [20, 32], 20, 4, 'uint8'), c: f32([20], fillFloat(new Float32Array(20), rng(5), -1, 1)) };
    const gemm = node('Gemm', ['x_dq', 'w_dq', 'c'], 'y', { transB: int(1), alpha: { type: 'float', value: 0.5 }, beta: { type: 'float', value: 2 } });
    const nodes = [...qdq('x', 'x_scale', 'x_zp'), weightDq('w', 0), gemm];
    const dims = [6, 32];
    const result = await runBoth(modelBytes(nodes, { x: dims }, initializers), randomInput(dims, 6, -1, 5), dims);
    assertOps(result.ops, 'QLinearGemm', 'gemm');
    assertStaticMatch(result, 'gemm');
  });

  it('Conv 2-D: per-channel weights, static activation scale, asymmetric pads, stride 2, int32 DQ bias', async function () {
    const xScale = 0.03;
    const w = weights('w', [8, 4, 3, 3], 8, 7);
    const biasScale = Array.from(w.w_scale.data as Float32Array, (s) => s * xScale);
    const initializers: Initializers = {
      x_scale: f32([], [xScale]),
      x_zp: u8([], [100]),
      ...w,
      b: i32([8], fillInt(new Int32Array(8), rng(8), -2000, 2000)),
      b_scale: f32([8], biasScale),
    };
    const conv = node('Conv', ['x_dq', 'w_dq', 'b_dq'], 'y', { pads: ints([1, 0, 1, 2]), strides: ints([2, 2]), kernel_shape: ints([3, 3]) });
    const nodes = [...qdq('x', 'x_scale', 'x_zp'), weightDq('w', 0), node('DequantizeLinear', ['b', 'b_scale'], 'b_dq', { axis: int(0) }), conv];
    const dims = [1, 4, 11, 9];
    const result = await runBoth(modelBytes(nodes, { x: dims }, initializers), randomInput(dims, 9, -3, 3), dims);
    assertOps(result.ops, 'QLinearConvNhwc', 'conv 2-D (channels last)');
    assertStaticMatch(result, 'conv 2-D');
  });

  it('depthwise Conv 2-D (uint8 weights, zero point 128, per channel, float bias): the channels-last INT8 depthwise conv, equal to ORT', async function () {
    const xScale = 0.02;
    const initializers: Initializers = {
      x_scale: f32([], [xScale]),
      x_zp: u8([], [120]),
      ...weights('w', [12, 1, 3, 3], 12, 13, 'uint8'),
      b: f32([12], fillFloat(new Float32Array(12), rng(14), -0.5, 0.5)),
    };
    const conv = node('Conv', ['x_dq', 'w_dq', 'b'], 'conv', { group: int(12), pads: ints([1, 1, 1, 1]), strides: ints([2, 1]), kernel_shape: ints([3, 3]) });
    const nodes = [...qdq('x', 'x_scale', 'x_zp'), weightDq('w', 0), conv, node('Relu', ['conv'], 'y')];
    const dims = [1, 12, 9, 13];
    const result = await runBoth(modelBytes(nodes, { x: dims }, initializers), randomInput(dims, 15, -2, 2), dims);
    assertOps(result.ops, 'QLinearConvNhwc', 'depthwise');
    assertStaticMatch(result, 'depthwise');
  });

  // ORT's QLinearConv output stage (cpp/kernels/conv/conv_requantization.h): with an int32 bias and the output
  // quantized, every level is ORT's, so the outputs are equal bit for bit. The scales were picked (a search over
  // random ones) so that a float path, fma(acc, x_scale * w_scale, bias) / y_scale, lands on the other level for
  // ~1 in 2000 sums instead of ~1 in a million: about ten of these 18432 outputs (it fails with that path).
  for (const [form, group, channelsIn] of [['group 1', 1, 3], ['depthwise', 8, 8]] as const) {
    it(`${form} Conv 2-D with an int32 bias and a quantized output: ORT's levels exactly`, async function () {
      const channels = 8;
      const [xScale, wScale, yScale, bias] = [0.034744054, 0.019653652, 0.05774939, -1622];
      const w = weights('w', [channels, channelsIn / group, 3, 3], 1, 21);
      (w.w_scale.data as Float32Array).fill(wScale);
      const initializers: Initializers = {
        x_scale: f32([], [xScale]),
        x_zp: u8([], [128]),
        ...w,
        b: i32([channels], new Int32Array(channels).fill(bias)),
        b_scale: f32([], [Math.fround(Math.fround(xScale) * Math.fround(wScale))]),
        y_scale: f32([], [yScale]),
        y_zp: u8([], [128]),
      };
      const conv = node('Conv', ['x_dq', 'w_dq', 'b_dq'], 'conv', { group: int(group), pads: ints([1, 1, 1, 1]), kernel_shape: ints([3, 3]) });
      const nodes = [
        ...qdq('x', 'x_scale', 'x_zp'),
        weightDq('w'),
        node('DequantizeLinear', ['b', 'b_scale'], 'b_dq'),
        conv,
        node('QuantizeLinear', ['conv', 'y_scale', 'y_zp'], 'conv_q'),
        node('DequantizeLinear', ['conv_q', 'y_scale', 'y_zp'], 'y'),
      ];
      const dims = [1, channelsIn, 48, 48];
      const result = await runBoth(modelBytes(nodes, { x: dims }, initializers), randomInput(dims, 23, -3, 3), dims);
      assertOps(result.ops, 'QLinearConvNhwc', form);
      assert.ok(maxAbs(result.theirs) > 1, `${form}: degenerate output`);
      const differing = result.ours.filter((value, i) => value !== result.theirs[i]).length;
      assert.equal(differing, 0, `${form}: ${differing} of ${result.ours.length} outputs differ from ORT's`);
    });
  }

  // A residual join (DequantizeLinear -> Add -> QuantizeLinear): one QuantizedAdd step with ORT's QLinearAdd
  // levels. Every pair of input levels (256 x 256) appears once; with these scales (picked by a search) a
  // float Add followed by a QuantizeLinear lands on the other level for 6 of the 65536 pairs.
  it("Add of two quantized tensors, quantized: ORT's QLinearAdd levels on all 65536 level pairs", async function () {
    const [aScale, bScale, cScale, aZp, bZp, cZp] = [0.05351874232292175, 0.08163417130708694, 0.17170597612857819, 140, 193, 116];
    const initializers: Initializers = {
      a_scale: f32([], [aScale]), a_zp: u8([], [aZp]),
      b_scale: f32([], [bScale]), b_zp: u8([], [bZp]),
      c_scale: f32([], [cScale]), c_zp: u8([], [cZp]),
    };
    const nodes = [
      ...qdq('a', 'a_scale', 'a_zp'),
      ...qdq('b', 'b_scale', 'b_zp'),
      node('Add', ['a_dq', 'b_dq'], 'sum'),
      node('QuantizeLinear', ['sum', 'c_scale', 'c_zp'], 'sum_q'),
      node('DequantizeLinear', ['sum_q', 'c_scale', 'c_zp'], 'y'),
    ];
    const dims = [1, 256, 256];
    const a = new Float32Array(65536), b = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) {
      a[i] = ((i % 256) - aZp) * aScale;
      b[i] = (Math.floor(i / 256) - bZp) * bScale;
    }
    const bytes = modelBytes(nodes, { a: dims, b: dims }, initializers);
    const engine = await Engine.load(bytes, { threads: 1, profile: true });
    try {
      const ours = (await engine.infer({ a: { type: 'float32', data: a, dims }, b: { type: 'float32', data: b, dims } })).y.data as Float32Array;
      const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
      const theirs = (await session.run({ a: new ort.Tensor('float32', a, dims), b: new ort.Tensor('float32', b, dims) })).y.data as Float32Array;
      const differing = ours.filter((value, i) => value !== theirs[i]).length;
      assert.equal(differing, 0, `${differing} of 65536 sums differ from ORT's`);
      const ops = engine.profile().map((step) => step.op);
      assert.ok(ops.includes('QuantizedAdd') && !ops.includes('Add'), `one QuantizedAdd step (${ops.join(', ')})`);
    } finally {
      engine.dispose();
    }
  });

  it('Conv 1-D: group 2, dilation 2, per-tensor weights, Relu, int8 activations', async function () {
    const initializers: Initializers = { x_scale: f32([], [0.025]), x_zp: i8([], [-5]), ...weights('w', [6, 2, 3], 1, 10), b: f32([6], fillFloat(new Float32Array(6), rng(11), -0.3, 0.3)) };
    const conv = node('Conv', ['x_dq', 'w_dq', 'b'], 'conv', { group: int(2), dilations: ints([2]), pads: ints([2, 1]) });
    const nodes = [...qdq('x', 'x_scale', 'x_zp'), weightDq('w'), conv, node('Relu', ['conv'], 'y')];
    const dims = [2, 4, 15];
    const result = await runBoth(modelBytes(nodes, { x: dims }, initializers), randomInput(dims, 12, -3, 3), dims);
    assertOps(result.ops, 'QLinearConv', 'conv 1-D');
    assertStaticMatch(result, 'conv 1-D');
  });

  it('a weight DQ without activation Q/DQ runs with dynamic activation quantization', async function () {
    const initializers: Initializers = { ...weights('w', [24, 10], 1, 13) };
    const nodes = [weightDq('w'), node('MatMul', ['x', 'w_dq'], 'y')];
    const dims = [3, 7, 24];
    const x = randomInput(dims, 14, -1, 2);
    const result = await runBoth(modelBytes(nodes, { x: dims }, initializers), x, dims);
    assertOps(result.ops, 'QLinearMatMul', 'dynamic');
    // ORT multiplies float activations; we quantize them per tensor per call. Each is off by at most half a
    // step of (max(x, 0) - min(x, 0)) / 255, a step the zero-point choice may widen up to 2x: per output,
    // |error| <= step * sum_k |w[k, n]|.
    const step = (Math.max(0, ...x) - Math.min(0, ...x)) / 255;
    const wq = initializers.w.data as Int8Array;
    const scale = (initializers.w_scale.data as Float32Array)[0];
    for (let i = 0; i < result.ours.length; i++) {
      const n = i % 10;
      let bound = 1e-5;
      for (let k = 0; k < 24; k++) bound += step * Math.abs(wq[k * 10 + n] * scale);
      assert.ok(Math.abs(result.ours[i] - result.theirs[i]) <= bound, `output ${i}: |diff| ${Math.abs(result.ours[i] - result.theirs[i])} > ${bound}`);
    }
    assert.ok(maxDiff(result.ours, result.theirs) > 0, 'the activations were quantized (not run in float)');
  });

  it('a leftover Q -> DQ pair is QuantizeDequantize: per axis int8 and per tensor uint8 without zero point', async function () {
    const cases: [string, Initializers, number | undefined][] = [
      ['per axis int8', { s: f32([3], [0.03, 0.05, 0.1]), z: i8([3], [-3, 0, 7]) }, 1],
      ['per tensor uint8', { s: f32([], [0.04]) }, undefined],
    ];
    for (const [what, initializers, axis] of cases) {
      const nodes = [...qdq('x', 's', 'z' in initializers ? 'z' : '', axis), node('Identity', ['x_dq'], 'y')];
      const dims = [2, 3, 4, 5];
      const result = await runBoth(modelBytes(nodes, { x: dims }, initializers), randomInput(dims, 15, -8, 8), dims);
      assertOps(result.ops, 'QuantizeDequantize', what);
      // Same rounding (half to even of x / scale) and saturation: the same levels, the same floats.
      assert.deepEqual(Array.from(result.ours), Array.from(result.theirs), what);
    }
  });

  it("a conv's output Q -> DQ is applied by the conv itself (no QuantizeDequantize step), read by the next INT8 conv and a MaxPool; uint8 and int8 levels", async function () {
    // x -> QDQ -> Conv(+Relu) -> QDQ(m) -> { Conv -> QDQ-less output, MaxPool } -> Add -> y.
    for (const [what, zeroPoint, fused] of [
      ['uint8 levels', u8([], [3]), true],
      ['int8 levels', i8([], [-100]), true],
      ['a second reader quantizing with another scale keeps the step', u8([], [3]), false],
    ] as const) {
      const xScale = 0.03;
      const initializers: Initializers = {
        x_scale: f32([], [xScale]),
        x_zp: u8([], [128]),
        m_scale: f32([], [0.05]),
        m_zp: zeroPoint,
        other_scale: f32([], [0.07]),
        ...weights('w', [16, 4, 3, 3], 16, 21),
        ...weights('v', [16, 16, 3, 3], 16, 22),
        b: f32([16], fillFloat(new Float32Array(16), rng(23), -0.5, 0.5)),
      };
      const conv1 = node('Conv', ['x_dq', 'w_dq', 'b'], 'c1', { pads: ints([1, 1, 1, 1]), kernel_shape: ints([3, 3]) });
      // The second conv reads m's pair, or (negative case) its own pair over the same float tensor with another scale.
      const conv2Input = fused ? 'm_dq' : 'mo_dq';
      const conv2 = node('Conv', [conv2Input, 'v_dq', 'b'], 'c2', { pads: ints([1, 1, 1, 1]), kernel_shape: ints([3, 3]) });
      const pool = node('MaxPool', ['m_dq'], 'p', { pads: ints([1, 1, 1, 1]), kernel_shape: ints([3, 3]) });
      const otherPair = fused ? [] : [node('QuantizeLinear', ['m', 'other_scale', 'm_zp'], 'mo_q'), node('DequantizeLinear', ['mo_q', 'other_scale', 'm_zp'], 'mo_dq')];
      const nodes = [
        ...qdq('x', 'x_scale', 'x_zp'),
        weightDq('w', 0),
        weightDq('v', 0),
        conv1,
        node('Relu', ['c1'], 'm'),
        ...qdq('m', 'm_scale', 'm_zp'),
        ...otherPair,
        conv2,
        pool,
        node('Add', ['c2', 'p'], 'y'),
      ];
      const dims = [1, 4, 12, 10];
      const result = await runBoth(modelBytes(nodes, { x: dims }, initializers), randomInput(dims, 24, -3, 3), dims);
      // uint8 levels go on as bytes (passes/byte-activations.ts): the pool pools them and one DequantizeLinear
      // gives the Add its floats.
      const levels = fused && zeroPoint.dtype === 'uint8';
      assertOps(result.ops, 'QLinearConvNhwc', what, levels ? ['DequantizeLinear'] : []);
      assert.equal(result.kernels.includes('u8_maxpool_nhwc'), levels, `${what}: the pool ${levels ? 'pools' : 'does not pool'} uint8 levels (${result.kernels.join(', ')})`);
      assert.equal(result.ops.includes('QuantizeDequantize'), !fused, `${what}: QuantizeDequantize ${fused ? 'fused away' : 'kept'} (${result.ops.join(', ')})`);
      assertStaticMatch(result, what);
    }
  });

  it('INT8 convs hand uint8 levels to INT8 convs and max pools (a ResNet stem and blocks): bit-identical to float handoffs, equal to ORT', async function () {
    // x -> QDQ -> stem Conv+Relu -> QDQ(a) -> MaxPool -> QDQ(a) -> { Conv+Relu -> QDQ(b) -> Conv -> QDQ(c), residual }
    //   -> Add -> Relu -> QDQ(r) -> { Conv (1x1) -> t, Add(t, r) -> QDQ(s) -> { Conv (1x1), Conv (3x3) } -> Add } -> y.
    // Levels: stem -> pool (pooled as bytes), pool -> block conv, block conv -> block conv, r's fake quantization
    // -> the 1x1 conv (its levels output), s -> both last convs (one QuantizeLinear); the Adds read floats.
    const initializers: Initializers = {
      x_scale: f32([], [0.03]),
      x_zp: u8([], [128]),
      a_scale: f32([], [0.04]),
      a_zp: u8([], [0]),
      b_scale: f32([], [0.05]),
      b_zp: u8([], [0]),
      c_scale: f32([], [0.06]),
      c_zp: u8([], [120]),
      r_scale: f32([], [0.07]),
      r_zp: u8([], [0]),
      s_scale: f32([], [0.08]),
      s_zp: u8([], [90]),
      ...weights('w0', [16, 3, 5, 5], 16, 31),
      ...weights('w1', [16, 16, 3, 3], 16, 32),
      ...weights('w2', [16, 16, 3, 3], 16, 33),
      ...weights('w3', [16, 16, 1, 1], 16, 34),
      ...weights('w5', [8, 16, 1, 1], 8, 37),
      ...weights('w6', [8, 16, 3, 3], 8, 38),
      b16: f32([16], fillFloat(new Float32Array(16), rng(35), -0.3, 0.3)),
    };
    const pads = (p: number) => ({ pads: ints([p, p, p, p]) });
    const nodes = [
      ...qdq('x', 'x_scale', 'x_zp'),
      ...['w0', 'w1', 'w2', 'w3', 'w5', 'w6'].map((w) => weightDq(w, 0)),
      node('Conv', ['x_dq', 'w0_dq', 'b16'], 'st', { ...pads(2), strides: ints([2, 2]), kernel_shape: ints([5, 5]) }),
      node('Relu', ['st'], 'a'),
      ...qdq('a', 'a_scale', 'a_zp'),
      node('MaxPool', ['a_dq'], 'p', { ...pads(1), strides: ints([2, 2]), kernel_shape: ints([3, 3]) }),
      ...qdq('p', 'a_scale', 'a_zp'),
      node('Conv', ['p_dq', 'w1_dq', 'b16'], 'c1', { ...pads(1), kernel_shape: ints([3, 3]) }),
      node('Relu', ['c1'], 'b'),
      ...qdq('b', 'b_scale', 'b_zp'),
      node('Conv', ['b_dq', 'w2_dq', 'b16'], 'c', { ...pads(1), kernel_shape: ints([3, 3]) }),
      ...qdq('c', 'c_scale', 'c_zp'),
      node('Add', ['c_dq', 'p_dq'], 'sum'),
      node('Relu', ['sum'], 'r'),
      ...qdq('r', 'r_scale', 'r_zp'),
      node('Conv', ['r_dq', 'w3_dq'], 't', { kernel_shape: ints([1, 1]) }),
      node('Add', ['t', 'r_dq'], 's2'),
      ...qdq('s2', 's_scale', 's_zp'),
      node('Conv', ['s2_dq', 'w5_dq'], 'y5', { kernel_shape: ints([1, 1]) }),
      node('Conv', ['s2_dq', 'w6_dq'], 'y6', { ...pads(1), kernel_shape: ints([3, 3]) }),
      node('Add', ['y5', 'y6'], 'y'),
    ];
    const dims = [1, 3, 40, 36];
    const bytes = modelBytes(nodes, { x: dims }, initializers);
    const x = randomInput(dims, 36, -3, 3);
    const result = await runBoth(bytes, x, dims);
    assertOps(result.ops, 'QLinearConvNhwc', 'levels', ['DequantizeLinear', 'QuantizeLinear']);
    assert.ok(result.kernels.includes('u8_maxpool_nhwc'), `the pool pools levels (${result.kernels.join(', ')})`);
    // The same model with every handoff in floats: identical outputs, and the levels plan holds the byte tensors.
    const plans = [{}, { floatActivations: true }].map((optimize) => lowerToPlan(specializeForShapes(prepareModel(bytes, { optimize }).model, { x: dims })).desc);
    const byteTensors = plans.map((plan) => plan.tensors.filter((t) => t.dtype === onnxDataTypeCodes.uint8 && t.constant === undefined).length);
    assert.ok(byteTensors[0] >= 5 && byteTensors[1] === 0, `uint8 activation tensors: ${byteTensors[0]} with levels, ${byteTensors[1]} without`);
    assert.ok(plans[0].steps.some((step) => step.op === 'QuantizeDequantize' && step.outputs.length === 2), 'a fake quantization also outputs its levels');
    assert.ok(plans[0].steps.some((step) => step.op === 'QuantizeLinear'), 'levels read by two convs are quantized once');
    const outputs = plans.map((plan) => {
      const model = callNative(() => native.createModel(plan, { threads: 2, precision: 'float32' }));
      try {
        const y = new Float32Array(result.ours.length);
        model.run([x], [y], false);
        return y;
      } finally {
        model.dispose();
      }
    });
    assert.deepEqual(outputs[0], outputs[1], 'levels and float handoffs give the same bits');
    assert.deepEqual(outputs[0], result.ours, 'the engine ran the levels plan');
    // The native validation refuses level tensors it cannot read exactly.
    const uint8 = onnxDataTypeCodes.uint8;
    const corruptions: [string, (plan: NativePlanDesc) => void, RegExp][] = [
      ['level input without its zero point', (plan) => (plan.steps.find((step) => step.op === 'QLinearConvNhwc' && plan.tensors[step.inputs[0]].dtype === uint8)!.inputs[2] = -1), /QLinearConvNhwc/],
      ['level output without its zero point', (plan) => (plan.steps.find((step) => step.op === 'QLinearConvNhwc' && plan.tensors[step.outputs[0]].dtype === uint8)!.inputs[8] = -1), /QLinearConvNhwc/],
      ['a pool from levels to floats', (plan) => (plan.tensors[plan.steps.find((step) => step.op === 'MaxPoolNhwc')!.outputs[0]].dtype = onnxDataTypeCodes.float32), /MaxPoolNhwc/],
    ];
    for (const [what, corrupt, where] of corruptions) {
      const copy = structuredClone(plans[0]);
      corrupt(copy);
      assert.throws(
        () => callNative(() => native.createModel(copy, { threads: 1, precision: 'float32' })),
        (error: unknown) => error instanceof EdgeInferError && error.code === 'EDGEINFER_MODEL_INVALID' && where.test(error.message),
        what,
      );
    }
    // ORT runs the Add as QLinearAdd (its own requantization), so a few residual levels round the other way:
    // the zoo's bar for ORT-quantized models (cosine >= 0.9999), not the 1e-3 bound of single-op models.
    let dot = 0, ours2 = 0, theirs2 = 0;
    for (let i = 0; i < result.ours.length; i++) {
      dot += result.ours[i] * result.theirs[i];
      ours2 += result.ours[i] ** 2;
      theirs2 += result.theirs[i] ** 2;
    }
    const cosine = dot / Math.sqrt(ours2 * theirs2);
    assert.ok(cosine >= 0.9999, `cosine to ORT ${cosine}`);
  });

  it('uint8 activations with a non-zero zero point and int8 activations match', async function () {
    for (const [what, zeroPoint] of [['uint8 zero point 37', u8([], [37])], ['int8 zero point -10', i8([], [-10])]] as const) {
      const initializers: Initializers = { x_scale: f32([], [0.015]), x_zp: zeroPoint, ...weights('w', [40, 12], 12, 16) };
      const nodes = [...qdq('x', 'x_scale', 'x_zp'), weightDq('w', 1), node('MatMul', ['x_dq', 'w_dq'], 'y')];
      const dims = [5, 40];
      const result = await runBoth(modelBytes(nodes, { x: dims }, initializers), randomInput(dims, 17, -2.5, 2.5), dims);
      assertOps(result.ops, 'QLinearMatMul', what);
      assertStaticMatch(result, what);
    }
  });

  describe('bad input', function () {
    const matmul = (initializers: Initializers) =>
      modelBytes([...qdq('x', 'x_scale', 'x_zp'), weightDq('w', 1), node('MatMul', ['x_dq', 'w_dq'], 'y')], { x: [2, 8] }, { x_scale: f32([], [0.02]), x_zp: u8([], [128]), ...initializers });
    const feeds = { x: { type: 'float32' as const, data: new Float32Array(16), dims: [2, 8] } };

    it('weight zero points other than 0 (int8) / 128 (uint8) are EDGEINFER_UNSUPPORTED_OP naming the node', async function () {
      const int8 = weights('w', [8, 4], 4, 18);
      const uint8 = weights('w', [8, 4], 4, 19, 'uint8');
      for (const [what, initializers] of [
        ['int8, zero point 3', { ...int8, w_zp: i8([4], [0, 3, 0, 0]) }],
        ['uint8, zero point 0', { ...uint8, w_zp: u8([4], [0, 0, 0, 0]) }],
      ] as const) {
        await assert.rejects(
          async () => {
            const engine = await Engine.load(matmul(initializers), { backend: 'native', threads: 1 });
            try {
              await engine.infer(feeds);
            } finally {
              engine.dispose();
            }
          },
          (error: unknown) => {
            assert.ok(error instanceof EdgeInferError, `${what}: ${String(error)}`);
            assert.equal(error.code, 'EDGEINFER_UNSUPPORTED_OP', what);
            assert.match(error.message, /zero point/, what);
            assert.match(error.message, /MatMul/, what);
            return true;
          },
        );
      }
    });

    it('a corrupted QLinear step is rejected by the native validation with a code', function () {
      const { model } = prepareModel(matmul(weights('w', [8, 4], 4, 20)));
      const plan = lowerToPlan(specializeForShapes(model, { x: [2, 8] })).desc;
      const corruptions: [string, (plan: NativePlanDesc, step: NativePlanDesc['steps'][number]) => void, string][] = [
        ['w_axis out of range', (_, step) => (step.ints[step.ints.length - 1] = 7), 'EDGEINFER_MODEL_INVALID'],
        ['activation zero point without scale', (_, step) => (step.inputs[1] = -1), 'EDGEINFER_MODEL_INVALID'],
        ['weights replaced by the float input', (_, step) => (step.inputs[3] = step.inputs[0]), 'EDGEINFER_MODEL_INVALID'],
        ['weight zero point bytes changed to 5', (p, step) => (p.tensors[step.inputs[5]].constant = Int8Array.of(0, 5, 0, 0)), 'EDGEINFER_UNSUPPORTED_OP'],
      ];
      for (const [what, corrupt, code] of corruptions) {
        const copy = structuredClone(plan);
        const step = copy.steps.find((s) => s.op === 'QLinearMatMul');
        assert.ok(step, 'the plan has a QLinearMatMul step');
        corrupt(copy, step);
        assert.throws(
          () => callNative(() => native.createModel(copy, { threads: 1, precision: 'float32' })),
          (error: unknown) => error instanceof EdgeInferError && error.code === code && /QLinearMatMul/.test(error.message),
          what,
        );
      }
      // The uncorrupted plan is accepted.
      callNative(() => native.createModel(plan, { threads: 1, precision: 'float32' })).dispose();
    });
  });
});
