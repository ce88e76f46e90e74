import assert from 'node:assert/strict';

import { EdgeInferError, gemmS8, gemmS8Sync, packWeights } from '../lib';
import { fillFloat, fillInt, randomInt, rng } from './helpers/random';
import { gemmReference, geluReference } from './helpers/reference';

describe('gemmS8', () => {
  it('matches the reference bit-exactly on random odd shapes (u8 and s8, both layouts, sync and async)', async () => {
    const next = rng(1);
    for (let trial = 0; trial < 60; trial++) {
      const m = randomInt(next, 1, 37);
      const k = randomInt(next, 1, 300);
      const n = randomInt(next, 1, 150);
      const signed = next() < 0.5;
      const layout = next() < 0.5 ? 'kn' : 'nk';
      const zp = signed ? randomInt(next, -128, 127) : randomInt(next, 0, 255);
      const a = signed ? fillInt(new Int8Array(m * k), next, -128, 127) : fillInt(new Uint8Array(m * k), next, 0, 255);
      const w = fillInt(new Int8Array(k * n), next, -128, 127);
      const packed = packWeights(w, { k, n, layout });
      const expected = gemmReference(a, w, m, k, n, { aZeroPoint: zp, layout });
      const got = trial % 2 ? gemmS8Sync(a, packed, { m, aZeroPoint: zp }) : await gemmS8(a, packed, { m, aZeroPoint: zp });
      assert.deepEqual(got, expected, `m=${m} k=${k} n=${n} signed=${signed} layout=${layout} zp=${zp}`);
      packed.dispose();
    }
  });

  it('handles the extremes: all-255 activations with zero point 0, all -128 weights, zero points 0/128/255', () => {
    for (const zp of [0, 128, 255]) {
      for (const [m, k, n] of [[1, 1, 1], [3, 67, 17], [16, 256, 64], [5, 1029, 33]]) {
        const a = new Uint8Array(m * k).fill(255);
        const w = new Int8Array(k * n).fill(-128);
        const packed = packWeights(w, { k, n });
        assert.deepEqual(gemmS8Sync(a, packed, { m, aZeroPoint: zp }), gemmReference(a, w, m, k, n, { aZeroPoint: zp }));
        const s = new Int8Array(m * k).fill(-128);
        const w2 = new Int8Array(k * n).fill(127);
        const packed2 = packWeights(w2, { k, n });
        assert.deepEqual(gemmS8Sync(s, packed2, { m, aZeroPoint: 127 }), gemmReference(s, w2, m, k, n, { aZeroPoint: 127 }));
      }
    }
  });

  it('reads strided rows (lda > k) and unaligned subarray views, and writes strided output (ldc > n)', () => {
    const next = rng(2);
    const m = 7, k = 45, n = 23, lda = 50, ldc = 31;
    for (const offset of [1, 3, 17, 63]) {
      const backing = fillInt(new Uint8Array(offset + m * lda), next, 0, 255);
      const a = backing.subarray(offset);
      const w = fillInt(new Int8Array(k * n), next, -128, 127);
      const packed = packWeights(w, { k, n });
      const outBacking = new Int32Array(1 + m * ldc).fill(-7);
      const out = outBacking.subarray(1);
      gemmS8Sync(a, packed, { m, lda, ldc, out, aZeroPoint: 3 });
      const expected = gemmReference(a, w, m, k, n, { lda, aZeroPoint: 3 });
      for (let i = 0; i < m; i++) {
        assert.deepEqual(out.subarray(i * ldc, i * ldc + n), expected.subarray(i * n, (i + 1) * n));
        if (i + 1 < m) assert.ok(out.subarray(i * ldc + n, (i + 1) * ldc).every((v) => v === -7), 'padding between rows untouched');
      }
      assert.equal(outBacking[0], -7, 'nothing written before the view');
    }
  });

  it('dequantizes to float32 with per-channel scales, bias and ReLU/GELU', () => {
    const next = rng(3);
    const m = 9, k = 70, n = 37;
    const a = fillInt(new Uint8Array(m * k), next, 0, 255);
    const w = fillInt(new Int8Array(k * n), next, -128, 127);
    const scales = fillFloat(new Float32Array(n), next, 1e-4, 3e-4);
    const bias = fillFloat(new Float32Array(n), next, -1, 1);
    const aScale = 0.02;
    const packed = packWeights(w, { k, n, scales, bias });
    const acc = gemmReference(a, w, m, k, n, { aZeroPoint: 128 });
    for (const activation of ['none', 'relu', 'gelu', 'gelu_tanh'] as const) {
      const got = gemmS8Sync(a, packed, { m, aZeroPoint: 128, output: 'float32', aScale, activation });
      for (let i = 0; i < m * n; i++) {
        const linear = aScale * scales[i % n] * acc[i] + bias[i % n];
        const expected =
          activation === 'relu' ? Math.max(0, linear) : activation === 'none' ? linear : geluReference(linear, activation === 'gelu_tanh');
        assert.ok(Math.abs(got[i] - expected) <= 1e-5 * Math.max(1, Math.abs(expected)), `${activation} [${i}] ${got[i]} vs ${expected}`);
      }
    }
  });

  it('keeps weights usable until disposed, and refuses them afterwards', async () => {
    const packed = packWeights(new Int8Array(6).fill(1), { k: 2, n: 3 });
    assert.ok(packed.bytes > 0);
    assert.match(packed.kernel ?? '', /gemm/);
    const pending = gemmS8(new Uint8Array([1, 2]), packed, { m: 1 });
    packed.dispose(); // the running call holds its own reference
    assert.deepEqual(await pending, Int32Array.from([3, 3, 3]));
    assert.equal(packed.disposed, true);
    assert.throws(() => gemmS8Sync(new Uint8Array([1, 2]), packed, { m: 1 }), (e: EdgeInferError) => e.code === 'EDGEINFER_DISPOSED');
    packed.dispose(); // idempotent
  });

  it('runs many concurrent async calls without mixing up results', async () => {
    const next = rng(4);
    const k = 64, n = 48;
    const w = fillInt(new Int8Array(k * n), next, -128, 127);
    const packed = packWeights(w, { k, n });
    const inputs = Array.from({ length: 64 }, (_, i) => fillInt(new Uint8Array((1 + (i % 5)) * k), next, 0, 255));
    const results = await Promise.all(inputs.map((a, i) => gemmS8(a, packed, { m: 1 + (i % 5), aZeroPoint: i % 256 })));
    results.forEach((got, i) => assert.deepEqual(got, gemmReference(inputs[i], w, 1 + (i % 5), k, n, { aZeroPoint: i % 256 })));
  });
});
