// Native calibration hands each calibrated intermediate tensor to its calibrator inside the model run (no copy to
// JS and back): the statistics must be exactly those of adding the same outputs from JS, batch by batch, and the
// internal path must refuse what it cannot observe with a code.
import assert from 'node:assert/strict';

import { Calibrator, calibrateModel, EdgeInferError, Engine, type Tensor } from '../lib';
import { inferObserved } from '../lib/backends/backend';
import { nativeStatistics } from '../lib/calibrator';
import { calibrationTensors } from '../lib/quantization/calibrate-model';
import { prepareFloatModel } from '../lib/quantization/prepare-model';
import { writeModel } from '../lib/onnx/writer';
import { affineModel } from './fixtures/affine-model';
import { makeBertEncoder } from './fixtures/bert-encoder';
import { rng } from './helpers/random';

const isCode = (code: string) => (error: unknown) => error instanceof EdgeInferError && error.code === code;
// Hidden from the arm64 run under qemu, where onnxruntime-node does not load.
const ortAvailable = Engine.backends().some((backend) => backend.name === 'onnxruntime' && backend.available);

describe('calibration: outputs observed natively', () => {
  it('calibrateModel on the native backend gives the statistics (and every method\'s range) of adding every batch from JS (BERT-style encoder, 12 batches)', async () => {
    const bert = makeBertEncoder({ layers: 2, hidden: 32, heads: 2, seq: 8, vocab: 40, seed: 7 });
    const next = rng(9);
    const batches = Array.from({ length: 12 }, () => ({
      input_ids: { type: 'int64' as const, data: BigInt64Array.from({ length: 8 }, () => BigInt(Math.floor(next() * 40))), dims: [1, 8] },
      attention_mask: { type: 'int64' as const, data: BigInt64Array.from({ length: 8 }, (_, j) => (j < 6 ? 1n : 0n)), dims: [1, 8] },
    }));
    const table = await calibrateModel(bert, batches, { backend: 'native' });

    // The same tensors as outputs of the folded model, run batch by batch, added from JS.
    const { model } = prepareFloatModel({ bytes: bert });
    const names = calibrationTensors(model);
    assert.deepEqual([...table.tensorNames].sort(), [...names].sort());
    const outputs = [...model.graph.outputs];
    for (const name of names) if (!outputs.some((o) => o.name === name)) outputs.push({ name, dtype: 'float32', shape: [...model.graph.valueInfo.get(name)!.shape!] });
    const engine = await Engine.load(writeModel({ ...model, graph: { ...model.graph, outputs } }), { backend: 'native' });
    const reference = new Map(names.map((name) => [name, new Calibrator()]));
    for (const feeds of batches) {
      const result = await engine.infer(feeds);
      for (const [name, calibrator] of reference) calibrator.add(result[name].data as Float32Array);
    }
    engine.dispose();
    for (const [name, calibrator] of reference) {
      assert.deepEqual(table.stats(name), calibrator.stats(), name);
      assert.deepEqual(table.histogram(name), calibrator.histogram(), name);
      for (const method of ['minmax', 'percentile', 'entropy', 'mse'] as const) assert.deepEqual(table.compute(name, method), calibrator.compute({ method }), `${name} ${method}`);
      assert.equal(table.stats(name).batches, 12, name);
      calibrator.dispose();
    }
    table.dispose();
  });

  it('an observed run leaves the observed outputs out of its result; a disposed calibrator and a non-calibrator are refused with codes', async () => {
    const engine = await Engine.load(affineModel({ a: 3, b: -1 }), { backend: 'native', inlineBelowMicroseconds: 0 });
    const feeds: Record<string, Tensor> = { x: { type: 'float32', data: Float32Array.of(1, 2, -3, 4), dims: [1, 4] } };
    const calibrator = new Calibrator();
    const result = await engine[inferObserved](feeds, { y: calibrator[nativeStatistics]() });
    assert.deepEqual(Object.keys(result), []);
    assert.equal(calibrator.stats().count, 4);
    assert.equal(calibrator.stats().min, -10);
    assert.equal(calibrator.stats().max, 11);

    await assert.rejects(engine[inferObserved](feeds, { y: {} as never }), isCode('EDGEINFER_INVALID_ARGUMENT'));
    const stale = new Calibrator();
    const handle = stale[nativeStatistics]();
    stale.dispose();
    await assert.rejects(engine[inferObserved](feeds, { y: handle }), isCode('EDGEINFER_DISPOSED'));
    // The engine still answers plain calls, and the observed calibrator saw no batch from the refused ones.
    assert.deepEqual(Array.from((await engine.infer(feeds)).y.data as Float32Array), [2, 5, -10, 11]);
    assert.equal(calibrator.stats().batches, 1);
    calibrator.dispose();
    engine.dispose();
  });

  it('hostile callers during an observed async run: the input detached and the calibrator disposed right after the call started, the run still adds its batch and touches neither', async () => {
    const engine = await Engine.load(affineModel({ a: 3, b: -1 }), { backend: 'native', inlineBelowMicroseconds: 0 });
    for (let round = 0; round < 20; round++) {
      const data = Float32Array.of(1, 2, -3, 4);
      const calibrator = new Calibrator();
      const handle = calibrator[nativeStatistics]();
      const pending = engine[inferObserved]({ x: { type: 'float32', data, dims: [1, 4] } }, { y: handle });
      structuredClone(data.buffer, { transfer: [data.buffer] }); // detaches the caller's input
      assert.equal(data.length, 0);
      const stats = () => calibrator.stats();
      if (round % 2 === 1) calibrator.dispose(); // the run holds the statistics it adds to
      assert.deepEqual(Object.keys(await pending), []);
      if (round % 2 === 0) {
        assert.equal(stats().count, 4, `round ${round}`);
        assert.equal(stats().max, 11);
        calibrator.dispose();
      } else {
        assert.equal(calibrator.disposed, true);
      }
    }
    engine.dispose();
  });

  (ortAvailable ? it : it.skip)('the onnxruntime backend takes no observers: EDGEINFER_INTERNAL', async () => {
    const feeds: Record<string, Tensor> = { x: { type: 'float32', data: Float32Array.of(1, 2, -3, 4), dims: [1, 4] } };
    const ort = await Engine.load(affineModel(), { backend: 'onnxruntime' });
    const other = new Calibrator();
    await assert.rejects(ort[inferObserved](feeds, { y: other[nativeStatistics]() }), isCode('EDGEINFER_INTERNAL'));
    other.dispose();
    await ort.dispose();
  });
});
