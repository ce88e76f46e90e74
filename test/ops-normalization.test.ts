/**
 * BatchNormalization (inference form, opsets 7 / 9 / 14 / 15, spatial=0) and InstanceNormalization run
 * natively and match onnxruntime-node; training_mode=1 is refused; the fold into a preceding Conv / Gemm /
 * MatMul removes the BN node and keeps the results.
 */
import assert from 'node:assert/strict';

import { EdgeInferError, Engine } from '../lib';
import { prepareModel } from '../lib/onnx/pipeline';
import { writeModel } from '../lib/onnx/writer';
import { buildModel, f32, feed, float, int, matchOrt, node, randomFloats, type GraphSpec } from './helpers/op-models';

function bnParams(c: number, seed: number, dims = [c]) {
  const n = dims.reduce((a, b) => a * b, 1);
  return {
    scale: f32(dims, randomFloats(n, seed, 1, 0.2)),
    bias: f32(dims, randomFloats(n, seed + 1, 0.5)),
    mean: f32(dims, randomFloats(n, seed + 2, 0.5)),
    var: f32(dims, Array.from(randomFloats(n, seed + 3, 0.5, 1))),
  };
}

function bnSpec(opset: number, shape: number[], attributes: Record<string, ReturnType<typeof int>> = {}, paramDims?: number[]): GraphSpec {
  return {
    opset,
    nodes: [node('BatchNormalization', ['x', 'scale', 'bias', 'mean', 'var'], ['y'], { epsilon: float(1e-3), ...attributes })],
    inputs: [{ name: 'x', dtype: 'float32', shape }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: bnParams(shape[1], 11, paramDims),
  };
}

const x = (shape: number[], seed = 3, scale = 2, offset = 0) => ({ x: feed('float32', shape, randomFloats(shape.reduce((a, b) => a * b, 1), seed, scale, offset)) });

describe('ops: BatchNormalization', () => {
  const worst: number[] = [];
  after(() => console.log(`      max rel. error vs ORT: ${Math.max(...worst).toExponential(1)}`));

  for (const [opset, shape] of [[15, [2, 3, 5, 7]], [14, [3, 4]], [9, [2, 4, 6]], [7, [1, 5, 3, 3]], [15, [1, 16, 1, 40]]] as [number, number[]][]) {
    it(`opset ${opset}, input [${shape.join(', ')}]`, async () => {
      worst.push(await matchOrt(bnSpec(opset, shape), x(shape), `bn${opset}`));
    });
  }

  it('opset 7 spatial=0: parameters per element of dims[1..]', async () => {
    worst.push(await matchOrt(bnSpec(7, [2, 3, 2, 4], { spatial: int(0) }, [3, 2, 4]), x([2, 3, 2, 4]), 'bn7-spatial0'));
  });

  it('parameters that are graph inputs (not constants) run as the step', async () => {
    const spec = bnSpec(15, [2, 3, 4, 4]);
    const params = spec.initializers!;
    spec.initializers = {};
    spec.inputs.push(...['scale', 'bias', 'mean', 'var'].map((name) => ({ name, dtype: 'float32' as const, shape: [3] })));
    const feeds = { ...x([2, 3, 4, 4]), ...Object.fromEntries(Object.entries(params).map(([k, t]) => [k, feed('float32', [3], t.data as Float32Array)])) };
    worst.push(await matchOrt(spec, feeds, 'bn-runtime-params'));
  });

  it('training_mode=1 is refused with EDGEINFER_UNSUPPORTED_OP', async () => {
    const bytes = writeModel(buildModel(bnSpec(15, [2, 3, 4, 4], { training_mode: int(1) })));
    await assert.rejects(Engine.load(bytes, { backend: 'native' }), (e: EdgeInferError) => e.code === 'EDGEINFER_UNSUPPORTED_OP' && /training_mode/.test(e.message));
  });
});

describe('ops: InstanceNormalization', () => {
  for (const shape of [[2, 3, 5, 7], [1, 4, 10], [2, 2, 3, 4, 5], [1, 8, 4096]]) {
    it(`input [${shape.join(', ')}], large mean offset`, async () => {
      const c = shape[1];
      const spec: GraphSpec = {
        opset: 6,
        nodes: [node('InstanceNormalization', ['x', 'scale', 'bias'], ['y'], { epsilon: float(1e-4) })],
        inputs: [{ name: 'x', dtype: 'float32', shape }],
        outputs: [{ name: 'y', dtype: 'float32' }],
        initializers: { scale: f32([c], randomFloats(c, 5, 1, 0.5)), bias: f32([c], randomFloats(c, 6)) },
      };
      const rel = await matchOrt(spec, x(shape, 9, 3, 10), `in${shape.length}`);
      console.log(`      rel. error ${rel.toExponential(1)}`);
    });
  }
});

describe('pass: fold BatchNormalization into the layer before it', () => {
  const cases: [string, () => GraphSpec, number[]][] = [
    ['Conv (with bias, group 2)', () => ({
      opset: 13,
      nodes: [
        node('Conv', ['x', 'w', 'b'], ['c'], { group: int(2), pads: { type: 'ints', value: [1, 1, 1, 1] } }),
        node('BatchNormalization', ['c', 'scale', 'bias', 'mean', 'var'], ['bn'], { epsilon: float(1e-5) }),
        node('Relu', ['bn'], ['y']),
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4, 6, 6] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: { w: f32([6, 2, 3, 3], randomFloats(108, 21)), b: f32([6], randomFloats(6, 22)), ...bnParams(6, 23) },
    }), [1, 4, 6, 6]],
    ['Gemm (transB, C per column, beta 0.5)', () => ({
      opset: 13,
      nodes: [
        node('Gemm', ['x', 'w', 'cb'], ['g'], { transB: int(1), beta: float(0.5), alpha: float(1.5) }),
        node('BatchNormalization', ['g', 'scale', 'bias', 'mean', 'var'], ['y'], { epsilon: float(1e-5) }),
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [3, 8] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: { w: f32([5, 8], randomFloats(40, 31)), cb: f32([5], randomFloats(5, 32)), ...bnParams(5, 33) },
    }), [3, 8]],
    ['MatMul (2-D)', () => ({
      opset: 13,
      nodes: [
        node('MatMul', ['x', 'w'], ['m']),
        node('BatchNormalization', ['m', 'scale', 'bias', 'mean', 'var'], ['y'], { epsilon: float(1e-5) }),
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [4, 8] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: { w: f32([8, 6], randomFloats(48, 41)), ...bnParams(6, 43) },
    }), [4, 8]],
  ];
  for (const [name, make, shape] of cases) {
    it(`${name}: the BN node is removed and the results match ORT`, async () => {
      const spec = make();
      const model = buildModel(spec);
      const shared = [...model.graph.initializers].map(([k, t]) => [k, t, Float32Array.from(t.data as Float32Array)] as const);
      const prepared = prepareModel(model);
      assert.equal(prepared.optimizations.batchNorm, 1, name);
      assert.ok(!prepared.model.graph.nodes.some((n) => n.opType === 'BatchNormalization'), 'BN left in the graph');
      // The source's tensors are unchanged (new ones were made).
      for (const [k, t, data] of shared) assert.deepEqual(t.data, data, `initializer ${k} was written`);
      const rel = await matchOrt(make(), x(shape, 4), name);
      console.log(`      rel. error ${rel.toExponential(1)}`);
    });
  }

  it('a BN whose layer output has another reader, or after a Concat, is not folded: a per-channel Mul / Add in NHWC, or its own step in NCHW', async () => {
    const spec: GraphSpec = {
      opset: 13,
      nodes: [
        node('Conv', ['x', 'w'], ['c']),
        node('Concat', ['c', 'c'], ['cat'], { axis: int(1) }),
        node('BatchNormalization', ['cat', 'scale', 'bias', 'mean', 'var'], ['y'], { epsilon: float(1e-5) }),
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 2, 5, 5] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: { w: f32([3, 2, 1, 1], randomFloats(6, 51)), ...bnParams(6, 53) },
    };
    // Channels last (the default): the Concat runs on NHWC and the BN behind it becomes a Mul and an Add along
    // the last axis (see test/channels-last.test.ts); with keepNchw it stays a BatchNormalization step.
    const prepared = prepareModel(buildModel(spec));
    assert.equal(prepared.optimizations.batchNorm, 0);
    const ops = prepared.model.graph.nodes.map((n) => n.opType);
    assert.ok(!ops.includes('BatchNormalization') && ops.includes('Mul') && ops.includes('Add'), ops.join(' '));
    const nchw = prepareModel(buildModel(spec), { optimize: { keepNchw: true } });
    assert.equal(nchw.optimizations.batchNorm, 0);
    assert.ok(nchw.model.graph.nodes.some((n) => n.opType === 'BatchNormalization'));
    await matchOrt(spec, x([1, 2, 5, 5]), 'bn-standalone');
  });
});
