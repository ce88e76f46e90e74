// Calibrator and Quantizer: results against plain-TypeScript definitions (ONNX Runtime's compute_scale_zp,
// exact order statistics), streaming against one shot, histogram growth, every input form of
// fromCalibration, the conversions against lib/quantize.ts, per-channel weights, and hostile callers.
import assert from 'node:assert/strict';

import { Calibrator, dequantizeSync, EdgeInferError, Quantizer, type CalibrationMethod, type QuantizedType } from '../lib';
import { fillFloat, rng } from './helpers/random';
import { quantizeReference } from './helpers/reference';

const METHODS: CalibrationMethod[] = ['minmax', 'percentile', 'entropy', 'mse'];
const FLT_MIN = 1.1754943508222875e-38;

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/** ONNX Runtime's compute_scale_zp with its get_qmin_qmax_for_qType ranges. */
function referenceParams(lo: number, hi: number, symmetric: boolean, dtype: QuantizedType) {
  const [qmin, qmax] = dtype === 'int8' ? (symmetric ? [-127, 127] : [-128, 127]) : [0, 255];
  lo = Math.min(lo, 0);
  hi = Math.max(hi, 0);
  if (symmetric) {
    const a = Math.max(-lo, hi);
    lo = -a;
    hi = a;
  }
  const scale = (hi - lo) / (qmax - qmin);
  if (Math.fround(scale) < FLT_MIN) return { scale: 1, zeroPoint: 0 };
  return { scale: Math.fround(scale), zeroPoint: Math.min(qmax, Math.max(qmin, roundHalfEven(qmin - lo / scale))) };
}

function minMax(values: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) continue;
    lo = Math.min(lo, values[i]);
    hi = Math.max(hi, values[i]);
  }
  return [lo, hi];
}

/** The value with at least `fraction` of the data at or below it (1-based rank ceil(fraction * n)). */
function orderStatistic(sorted: ArrayLike<number>, fraction: number): number {
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(fraction * sorted.length)));
  return sorted[rank - 1];
}

function gaussianBatch(length: number, next: () => number, sigma = 1): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = sigma * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return out;
}

function concat(batches: Float32Array[]): Float32Array {
  const out = new Float32Array(batches.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const b of batches) {
    out.set(b, offset);
    offset += b.length;
  }
  return out;
}

function isCode(code: string) {
  return (error: unknown) => error instanceof EdgeInferError && error.code === code;
}

const invalidArgument = isCode('EDGEINFER_INVALID_ARGUMENT');

describe('Calibrator', () => {
  it('min-max gives ONNX Runtime\'s scale and zero point for every type and symmetry', () => {
    const next = rng(1);
    for (const [lo, hi] of [[-3, 5], [0.5, 7], [-9, -0.25], [-1, 1]]) {
      const data = fillFloat(new Float32Array(777), next, lo, hi);
      const calibrator = new Calibrator().add(data);
      const [mn, mx] = minMax(data);
      for (const dtype of ['int8', 'uint8'] as const) {
        for (const symmetric of [false, true]) {
          const got = calibrator.compute({ method: 'minmax', dtype, symmetric });
          const want = referenceParams(mn, mx, symmetric, dtype);
          assert.equal(got.scale, want.scale, `${lo}..${hi} ${dtype} symmetric=${symmetric}`);
          assert.equal(got.zeroPoint, want.zeroPoint, `${lo}..${hi} ${dtype} symmetric=${symmetric}`);
          assert.equal(got.min, symmetric ? -Math.max(-Math.min(mn, 0), Math.max(mx, 0)) : Math.min(mn, 0));
          assert.equal(got.max, symmetric ? Math.max(-Math.min(mn, 0), Math.max(mx, 0)) : Math.max(mx, 0));
          assert.equal(got.dtype, dtype);
        }
      }
    }
  });

  it('moving-average min-max follows ONNX Runtime\'s averaging_constant', () => {
    const calibrator = new Calibrator({ averagingConstant: 0.5 });
    const batches = [Float32Array.of(-1, 2), Float32Array.of(-3, 4), Float32Array.of(0, 1)];
    let mn = -1;
    let mx = 2;
    for (const [i, b] of batches.entries()) {
      calibrator.add(b);
      if (i > 0) {
        mn += 0.5 * (Math.min(...b) - mn);
        mx += 0.5 * (Math.max(...b) - mx);
      }
    }
    const stats = calibrator.stats();
    assert.deepEqual([stats.movingMin, stats.movingMax, stats.min, stats.max, stats.batches], [mn, mx, -3, 4, 3]);
    const got = calibrator.compute({ method: 'minmax', movingAverage: true, dtype: 'uint8' });
    assert.deepEqual([got.scale, got.zeroPoint], Object.values(referenceParams(mn, mx, false, 'uint8')));
  });

  it('percentile is within one bin of the exact order statistic of |x|; asymmetric, the data range inside [-t, t]', () => {
    const next = rng(2);
    const data = concat([gaussianBatch(3000, next), Float32Array.of(40, -25, 31)]);
    const calibrator = new Calibrator().add(data);
    const { binWidth } = calibrator.histogram();
    const magnitudes = Float64Array.from(data, Math.abs).sort();
    const [min, max] = [Math.min(...data), Math.max(...data)];
    for (const percentile of [50, 90, 99, 99.9, 99.999, 100]) {
      const symmetric = calibrator.compute({ method: 'percentile', percentile, symmetric: true });
      const want = orderStatistic(magnitudes, percentile / 100);
      assert.ok(Math.abs(symmetric.threshold - want) <= binWidth * (1 + 1e-9), `|x| p${percentile}: ${symmetric.threshold} vs ${want}`);
      const asymmetric = calibrator.compute({ method: 'percentile', percentile, dtype: 'uint8' });
      const lo = Math.min(0, Math.max(min, -want));
      const hi = Math.max(0, Math.min(max, want));
      assert.ok(Math.abs(asymmetric.min - lo) <= binWidth * (1 + 1e-9), `x p${percentile} low: ${asymmetric.min} vs ${lo}`);
      assert.ok(Math.abs(asymmetric.max - hi) <= binWidth * (1 + 1e-9), `x p${percentile} high: ${asymmetric.max} vs ${hi}`);
      const params = referenceParams(asymmetric.min, asymmetric.max, false, 'uint8');
      assert.deepEqual([asymmetric.scale, asymmetric.zeroPoint], [params.scale, params.zeroPoint]);
    }
    // Between the two outliers' magnitudes (99.92 % of 3003 |x| cuts 40 and 31, keeps 25): the asymmetric range keeps the lower
    // end at -25, the data's own, where a separate cut of each signed tail would have clipped it.
    const between = calibrator.compute({ method: 'percentile', percentile: 99.92, dtype: 'uint8' });
    assert.ok(between.max < 31 && between.max >= 25 && Math.abs(between.min + 25) <= binWidth, `${between.min} .. ${between.max}`);
    // 99.8 % clips the three outliers (0.1 %) away, min-max and the default 99.999 % of 3003 values do not.
    assert.ok(calibrator.compute({ method: 'percentile', percentile: 99.8, symmetric: true }).threshold < 5);
    assert.ok(calibrator.compute({ method: 'percentile', symmetric: true }).threshold > 39);
    assert.equal(calibrator.compute({ method: 'minmax', symmetric: true }).threshold, 40);
  });

  it('streaming equals one shot: identical when the first batch holds the range, within a bin after growth', () => {
    const next = rng(3);
    const batches = Array.from({ length: 8 }, () => gaussianBatch(2000, next));
    batches[0][5] = 9; // the largest magnitude first: no growth
    const oneShot = new Calibrator().add(concat(batches));
    const streamed = new Calibrator();
    for (const batch of batches) streamed.add(batch);
    assert.deepEqual(streamed.histogram().counts, oneShot.histogram().counts);
    for (const method of METHODS) {
      for (const symmetric of [true, false]) {
        assert.deepEqual(streamed.compute({ method, symmetric }), oneShot.compute({ method, symmetric }), `${method} symmetric=${symmetric}`);
      }
    }

    // Widening batches: the histogram grows by merging; ranges stay exact, percentiles within a bin.
    const widening = Array.from({ length: 6 }, (_, i) => gaussianBatch(3000, next, 1.8 ** i));
    const grown = new Calibrator();
    for (const batch of widening) grown.add(batch);
    const direct = new Calibrator().add(concat(widening));
    assert.deepEqual(
      [grown.stats().min, grown.stats().max, grown.stats().count],
      [direct.stats().min, direct.stats().max, direct.stats().count],
    );
    const tolerance = grown.histogram().binWidth + direct.histogram().binWidth;
    for (const percentile of [90, 99, 99.9]) {
      const a = grown.compute({ method: 'percentile', percentile, symmetric: true }).threshold;
      const b = direct.compute({ method: 'percentile', percentile, symmetric: true }).threshold;
      assert.ok(Math.abs(a - b) <= tolerance, `p${percentile}: ${a} vs ${b}`);
    }
  });

  it('grows its histogram by merging bins when a batch exceeds the range, keeping every count', () => {
    const calibrator = new Calibrator({ bins: 64 });
    calibrator.add(Float32Array.of(1, -1, 0.5, 0, -0.25));
    const before = calibrator.histogram();
    assert.equal(before.counts.length, 128);
    assert.equal(before.binWidth, 1 / 64);
    calibrator.add(Float32Array.of(2.5, 0.1)); // 2.5x the range: merges 3 bins into 1
    const after = calibrator.histogram();
    assert.equal(after.binWidth, 3 / 64);
    assert.equal(after.counts.reduce((a, b) => a + b, 0), 7);
    // bin k holds [(k - 64) * w, (k - 63) * w); the negative side holds (-(64 - k) * w, -(63 - k) * w]
    const expected = new Float64Array(128);
    for (const x of [1, 0.5, 0, 2.5, 0.1]) expected[64 + Math.min(63, Math.floor(x / (3 / 64)))]++;
    for (const x of [-1, -0.25]) expected[63 - Math.min(63, Math.floor(-x / (1 / 64)) / 3 | 0)]++;
    assert.deepEqual(after.counts, expected);
  });

  it('counts NaN and Infinity without using them', () => {
    const calibrator = new Calibrator().add(Float32Array.of(NaN, 1, -Infinity, -2, Infinity, NaN)).add([3, NaN]);
    const stats = calibrator.stats();
    assert.deepEqual([stats.count, stats.nanCount, stats.infCount, stats.min, stats.max], [3, 3, 2, -2, 3]);
    for (const method of METHODS) assert.ok(calibrator.compute({ method, symmetric: true }).threshold <= 3, method);
  });

  it('accepts other numeric typed arrays, plain arrays and SharedArrayBuffer-backed arrays', () => {
    const values = [0.5, -1.5, 2.25, 3];
    const want = new Calibrator().add(Float32Array.from(values)).compute({ method: 'minmax' });
    const shared = new Float32Array(new SharedArrayBuffer(16));
    shared.set(values);
    for (const data of [values, Float64Array.from(values), shared, new Float32Array(new Float32Array([9, ...values]).buffer, 4, 4)]) {
      assert.deepEqual(new Calibrator().add(data).compute({ method: 'minmax' }), want);
    }
    assert.deepEqual(new Calibrator().add(Int8Array.of(-3, 7)).stats().max, 7);
  });

  it('adds off the JS thread from a copy: the caller may detach its array at once', async () => {
    const next = rng(4);
    const data = gaussianBatch(100000, next);
    const want = new Calibrator().add(data).compute({ method: 'entropy', symmetric: true });
    const calibrator = new Calibrator();
    const copy = data.slice();
    const pending = calibrator.addAsync(copy);
    structuredClone(copy.buffer, { transfer: [copy.buffer] });
    await pending;
    assert.deepEqual(await calibrator.computeAsync({ method: 'entropy', symmetric: true }), want);
  });

  it('rejects hostile input with EdgeInferError codes', async () => {
    const calibrator = new Calibrator();
    for (const bad of ['abc', null, undefined, 42, { length: 2, 0: 1, 1: 2 }, [1, 'a'], new BigInt64Array(2), new DataView(new ArrayBuffer(4))]) {
      assert.throws(() => calibrator.add(bad as never), invalidArgument, String(bad));
      await assert.rejects(calibrator.addAsync(bad as never), invalidArgument);
    }
    for (const Kind of [Float32Array, Float64Array]) {
      const detached = new Kind(4);
      structuredClone(detached.buffer, { transfer: [detached.buffer] });
      assert.throws(() => calibrator.add(detached), (e: EdgeInferError) => invalidArgument(e) && /detached/.test(e.message), Kind.name);
    }
    // Nothing finite yet: empty batches and NaN-only data are accepted, computing is not.
    calibrator.add(new Float32Array(0)).add(Float32Array.of(NaN, NaN)).add([]);
    assert.deepEqual([calibrator.stats().count, calibrator.stats().nanCount, calibrator.stats().batches], [0, 2, 0]);
    for (const method of METHODS) {
      assert.throws(() => calibrator.compute({ method }), (e: EdgeInferError) => invalidArgument(e) && /no finite value/.test(e.message));
      await assert.rejects(calibrator.computeAsync({ method }), invalidArgument);
    }
    calibrator.add([1, 2]);
    for (const options of [
      { method: 'kl' },
      { method: 42 },
      { dtype: 'int4' },
      { symmetric: 'yes' },
      { percentile: NaN },
      { percentile: 0 },
      { percentile: 100.5 },
      { percentile: '99' },
      { movingAverage: 1 },
      { method: 'entropy', movingAverage: true },
      'entropy',
      [],
      null,
    ]) {
      assert.throws(() => calibrator.compute(options as never), invalidArgument, JSON.stringify(options));
    }
    for (const options of [{ bins: 0 }, { bins: 3.5 }, { bins: 2 ** 21 }, { bins: '2048' }, { averagingConstant: 0 }, { averagingConstant: 1.5 }, { averagingConstant: NaN }, 7]) {
      assert.throws(() => new Calibrator(options as never), invalidArgument, JSON.stringify(options));
    }
    calibrator.dispose();
    calibrator.dispose();
    assert.equal(calibrator.disposed, true);
    assert.throws(() => calibrator.add([1]), isCode('EDGEINFER_DISPOSED'));
    assert.throws(() => calibrator.compute(), isCode('EDGEINFER_DISPOSED'));
    assert.throws(() => calibrator.stats(), isCode('EDGEINFER_DISPOSED'));
  });
});

describe('Quantizer', () => {
  it('fromCalibration takes a Float32Array, a list, a sync or async iterable: all equal to a Calibrator', async () => {
    const next = rng(5);
    const batches = [gaussianBatch(1000, next), gaussianBatch(70000, next, 2), gaussianBatch(500, next, 0.5)];
    for (const method of METHODS) {
      const options = { method, dtype: 'uint8' as const };
      const calibrator = new Calibrator();
      batches.forEach((b) => calibrator.add(b));
      const want = calibrator.compute(options);
      async function* generate() {
        for (const b of batches) {
          await new Promise((resolve) => setImmediate(resolve));
          yield b;
        }
      }
      function* iterate() {
        yield* batches;
      }
      for (const samples of [batches, iterate(), generate(), new Set(batches)]) {
        const quantizer = await Quantizer.fromCalibration(samples, options);
        assert.deepEqual(quantizer.calibration, want, method);
        assert.equal(quantizer.scale, want.scale);
        assert.equal(quantizer.zeroPoint, want.zeroPoint);
        assert.equal(quantizer.dtype, 'uint8');
      }
      const single = await Quantizer.fromCalibration(batches[1], options);
      assert.deepEqual(single.calibration, new Calibrator().add(batches[1]).compute(options));
    }
    const defaults = await Quantizer.fromCalibration(batches);
    assert.deepEqual([defaults.calibration?.method, defaults.dtype, defaults.calibration?.symmetric], ['minmax', 'int8', false]);
  });

  it('quantize / dequantize round trip, equal to lib/quantize.ts and to the lookup table', async () => {
    const next = rng(6);
    const data = fillFloat(new Float32Array(4099), next, -3, 5);
    for (const dtype of ['int8', 'uint8'] as const) {
      const quantizer = await Quantizer.fromCalibration(data, { method: 'minmax', dtype });
      const q = quantizer.quantize(data);
      assert.ok(dtype === 'int8' ? q instanceof Int8Array : q instanceof Uint8Array);
      q.forEach((code, i) => assert.equal(code, quantizeReference(data[i], quantizer.scale, quantizer.zeroPoint, dtype === 'int8'), `[${i}]`));
      const back = quantizer.dequantize(q);
      let worst = 0;
      data.forEach((x, i) => (worst = Math.max(worst, Math.abs(back[i] - x))));
      assert.ok(worst <= quantizer.scale / 2 + 1e-6, `${dtype}: worst error ${worst}, scale ${quantizer.scale}`);
      // Lookup table: the dequantization of every code by lib/quantize.ts, indexed by the code's byte.
      const codes = dtype === 'int8' ? Int8Array.from({ length: 256 }, (_, i) => i - 128) : Uint8Array.from({ length: 256 }, (_, i) => i);
      const reference = dequantizeSync(codes, { scale: quantizer.scale, zeroPoint: quantizer.zeroPoint });
      codes.forEach((code, i) => assert.equal(quantizer.lookupTable[code & 0xff], reference[i], `code ${code}`));
      back.forEach((value, i) => assert.equal(value, quantizer.lookupTable[q[i] & 0xff]));
    }
  });

  it('quantizeWeights: per-channel symmetric int8 against a reference, any axis', () => {
    const next = rng(7);
    for (const dims of [[4, 3, 5], [6, 2], [3, 1, 2, 2], [7]]) {
      const count = dims.reduce((a, b) => a * b, 1);
      const w = fillFloat(new Float32Array(count), next, -2, 2);
      for (let axis = -1; axis < dims.length; axis++) {
        const a = (axis + dims.length) % dims.length;
        const inner = dims.slice(a + 1).reduce((x, y) => x * y, 1);
        const channelOf = (i: number) => Math.floor(i / inner) % dims[a];
        const absMax = new Float64Array(dims[a]);
        w.forEach((x, i) => (absMax[channelOf(i)] = Math.max(absMax[channelOf(i)], Math.abs(x))));
        const got = Quantizer.quantizeWeights(w, dims, axis);
        assert.equal(got.axis, a);
        assert.deepEqual(got.dims, dims);
        assert.deepEqual(Array.from(got.zeroPoints), new Array(dims[a]).fill(0));
        absMax.forEach((m, c) => assert.equal(got.scales[c], Math.fround((2 * m) / 254), `dims ${dims} axis ${axis} channel ${c}`));
        w.forEach((x, i) => {
          const q = quantizeReference(x, got.scales[channelOf(i)], 0, true);
          assert.equal(got.data[i], q, `dims ${dims} axis ${axis} [${i}]`);
          assert.ok(q >= -127 && q <= 127);
        });
      }
    }
    // An all-zero channel gets scale 1 (ONNX needs scale > 0) and codes 0.
    const zeros = Quantizer.quantizeWeights(Float32Array.of(0, 0, 1, -2), [2, 2], 0);
    assert.deepEqual([Array.from(zeros.scales), Array.from(zeros.data)], [[1, Math.fround(4 / 254)], [0, 0, 64, -127]]);
  });

  it('rejects hostile input with EdgeInferError codes', async () => {
    for (const samples of [42, 'str', null, undefined, {}, new Float64Array(3), new Uint8Array(2)]) {
      await assert.rejects(Quantizer.fromCalibration(samples as never), invalidArgument, String(samples));
    }
    await assert.rejects(Quantizer.fromCalibration([Float32Array.of(1), [1, 2] as never]), (e: EdgeInferError) => invalidArgument(e) && /samples\[1\]/.test(e.message));
    await assert.rejects(Quantizer.fromCalibration([]), (e: EdgeInferError) => invalidArgument(e) && /no batch/.test(e.message));
    await assert.rejects(Quantizer.fromCalibration(new Float32Array(0)), (e: EdgeInferError) => invalidArgument(e) && /no finite value/.test(e.message));
    await assert.rejects(Quantizer.fromCalibration([Float32Array.of(NaN, Infinity)], { method: 'entropy' }), invalidArgument);
    await assert.rejects(Quantizer.fromCalibration(Float32Array.of(1), { method: 'kl' as never }), invalidArgument);
    await assert.rejects(Quantizer.fromCalibration(Float32Array.of(1), { bins: -1 }), invalidArgument);
    await assert.rejects(Quantizer.fromCalibration(Float32Array.of(1), { signal: {} as never }), invalidArgument);
    const detached = new Float32Array(8);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    await assert.rejects(Quantizer.fromCalibration([detached]), invalidArgument);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(Quantizer.fromCalibration([Float32Array.of(1)], { signal: controller.signal }), isCode('EDGEINFER_ABORTED'));
    const shared = new Float32Array(new SharedArrayBuffer(8));
    shared.set([-1, 3]);
    assert.equal((await Quantizer.fromCalibration(shared, { method: 'minmax', symmetric: true })).scale, Math.fround(3 / 127));

    for (const params of [{ scale: 0 }, { scale: NaN }, { scale: -1 }, { scale: 1e-50 }, { scale: 1e39 }, { scale: 1, zeroPoint: 300, dtype: 'uint8' }, { scale: 1, zeroPoint: -1, dtype: 'uint8' }, { scale: 1, zeroPoint: 0.5 }, { scale: 1, dtype: 'int16' }, null]) {
      assert.throws(() => new Quantizer(params as never), invalidArgument, JSON.stringify(params));
    }
    const quantizer = new Quantizer({ scale: 0.5, zeroPoint: 3 });
    assert.throws(() => quantizer.dequantize(new Uint8Array(2)), invalidArgument);
    assert.throws(() => quantizer.quantize([1, 2] as never), invalidArgument);
    assert.throws(() => quantizer.quantize(new Float32Array(0)), invalidArgument);

    const w = Float32Array.of(1, 2, 3, 4, 5, 6);
    assert.throws(() => Quantizer.quantizeWeights(w, [4, 2]), isCode('EDGEINFER_SHAPE_MISMATCH'));
    assert.throws(() => Quantizer.quantizeWeights(w, [2, 3], 2), invalidArgument);
    assert.throws(() => Quantizer.quantizeWeights(w, [2, 3], -3), invalidArgument);
    assert.throws(() => Quantizer.quantizeWeights(w, [2, 3], 0.5), invalidArgument);
    assert.throws(() => Quantizer.quantizeWeights(w, []), invalidArgument);
    assert.throws(() => Quantizer.quantizeWeights(w, [2, 1.5] as never), invalidArgument);
    assert.throws(() => Quantizer.quantizeWeights(Float64Array.from(w) as never, [2, 3]), invalidArgument);
    assert.throws(() => Quantizer.quantizeWeights(Float32Array.of(1, NaN), [2]), (e: EdgeInferError) => invalidArgument(e) && /tensor\[1\]/.test(e.message));
    const sharedWeights = new Float32Array(new SharedArrayBuffer(24));
    sharedWeights.set(w);
    assert.deepEqual(Quantizer.quantizeWeights(sharedWeights, [2, 3]), Quantizer.quantizeWeights(w, [2, 3]));
  });
});
