/**
 * The op registry (lib/onnx/ops): one declaration per op, the same op table in TypeScript and C++, and the
 * support check that follows from it (ops the native backend only runs folded must fold).
 */
import assert from 'node:assert/strict';

import { EdgeInferError, Engine } from '../lib';
import type { Model, Node, TensorData } from '../lib/onnx/ir';
import { native } from '../lib/native';
import { checkNativeSupport, nativeOps } from '../lib/onnx/native-ops';
import { allOps, declaredStepOps, findOp } from '../lib/onnx/ops';
import { declareOps } from '../lib/onnx/ops/registry';
import { sameShapeRule } from '../lib/onnx/shape-ops-nn';
import { writeModel } from '../lib/onnx/writer';

const ortAvailable = Engine.backends().some((backend) => backend.name === 'onnxruntime' && backend.available);


/** y = x + Range(0, n, 1) with n from the input's length (Shape -> Gather) or, with `fromData`, from a second input's value. */
function rangeModel(fromData: boolean): Model {
  const nodes: Node[] = fromData
    ? [{ name: 'range', opType: 'Range', domain: '', inputs: ['zero', 'n', 'one'], outputs: ['r'], attributes: {} }]
    : [
        { name: 'shape', opType: 'Shape', domain: '', inputs: ['x'], outputs: ['s'], attributes: {} },
        { name: 'gather', opType: 'Gather', domain: '', inputs: ['s', 'zero'], outputs: ['n'], attributes: { axis: { type: 'int', value: 0 } } },
        { name: 'range', opType: 'Range', domain: '', inputs: ['zero', 'n', 'one'], outputs: ['r'], attributes: {} },
      ];
  nodes.push(
    { name: 'cast', opType: 'Cast', domain: '', inputs: ['r'], outputs: ['rf'], attributes: { to: { type: 'int', value: 1 } } },
    { name: 'add', opType: 'Add', domain: '', inputs: ['x', 'rf'], outputs: ['y'], attributes: {} },
  );
  return {
    irVersion: 8,
    opsets: new Map([['', 13]]),
    producerName: 'edgeinfer-test',
    producerVersion: '0',
    metadata: {},
    graph: {
      name: 'range',
      nodes,
      inputs: [{ name: 'x', dtype: 'float32', shape: ['n'] }, ...(fromData ? [{ name: 'n', dtype: 'int64' as const, shape: [] }] : [])],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['n'] }],
      initializers: new Map([
        ['zero', { dtype: 'int64', dims: [], data: BigInt64Array.of(0n) }],
        ['one', { dtype: 'int64', dims: [], data: BigInt64Array.of(1n) }],
      ]),
      valueInfo: new Map(),
    },
  };
}

describe('op registry', () => {
  it('declares the same step ops as the C++ op table registers (both ways)', () => {
    const cpp = new Set(native.stepOps());
    const declared = declaredStepOps();
    assert.deepEqual([...declared].filter((op) => !cpp.has(op)).sort(), [], 'declared in lib/onnx/ops but not registered in cpp/runtime/ops');
    assert.deepEqual([...cpp].filter((op) => !declared.has(op)).sort(), [], 'registered in cpp/runtime/ops but no declaration emits it');
  });

  it('one declaration per op and opset; every declaration has a shape rule; native ops are the declared ones', () => {
    assert.throws(() => declareOps({ domain: '', op: 'Relu', shape: sameShapeRule }), /declared twice/);
    for (const op of allOps()) assert.equal(typeof op.shape, 'function', `${op.op} has no shape rule`);
    for (const op of allOps()) {
      const key = op.domain === '' ? op.op : `${op.domain}:${op.op}`;
      assert.equal(nativeOps.has(key), op.native !== undefined, key);
      if (typeof op.native === 'function') assert.ok((op.steps ?? []).length > 0, `${key} lowers but declares no step op`);
    }
    // Fused ops of our domain fall back to the ONNX declaration of the same name.
    assert.equal(findOp({ domain: 'edgeinfer', opType: 'Gelu' }), findOp({ domain: '', opType: 'Gelu' }));
    assert.equal(findOp({ domain: 'com.example', opType: 'Relu' }), undefined);
  });

  it('an op the native backend only runs folded is refused at load when it reads run-time values', async () => {
    const fromData = rangeModel(true);
    assert.throws(
      () => checkNativeSupport(fromData),
      (error: EdgeInferError) => error.code === 'EDGEINFER_UNSUPPORTED_OP' && /Range computed from run-time values \(range\)/.test(error.message),
    );
    await assert.rejects(Engine.load(writeModel(fromData), { backend: 'native' }), (error: EdgeInferError) => error.code === 'EDGEINFER_UNSUPPORTED_OP');
    if (ortAvailable) {
      const engine = await Engine.load(writeModel(fromData));
      assert.equal(engine.info().backend, 'onnxruntime');
      assert.match(engine.info().backendReason, /Range computed from run-time values/);
      const out = await engine.infer({ x: { type: 'float32', data: Float32Array.of(10, 20, 30), dims: [3] }, n: { type: 'int64', data: BigInt64Array.of(3n), dims: [] } });
      assert.deepEqual(Array.from(out.y.data as Float32Array), [10, 21, 32]);
      await engine.dispose();
    }
  });

  it('the same op computed from shapes folds per planned shape and runs natively', async () => {
    const fromShape = rangeModel(false);
    checkNativeSupport(fromShape);
    const engine = await Engine.load(writeModel(fromShape), { backend: 'native' });
    for (const n of [1, 4, 7]) {
      const x = Float32Array.from({ length: n }, (_, i) => 100 * i);
      const out = await engine.infer({ x: { type: 'float32', data: x, dims: [n] } });
      assert.deepEqual(Array.from(out.y.data as Float32Array), Array.from(x, (v, i) => v + i));
    }
    await engine.dispose();
  });
});
