import assert from 'node:assert/strict';

import { dequantize, dequantizeSync, quantize, quantizeSync } from '../lib';
import { fillFloat, fillInt, rng } from './helpers/random';
import { quantizeReference } from './helpers/reference';

describe('quantize / dequantize', () => {
  it('rounds half to even and saturates like ONNX QuantizeLinear, NaN to the zero point', () => {
    const x = Float32Array.from([0, -0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 127.5, 128.5, -128.5, 1e30, -1e30, Infinity, -Infinity, NaN, 3.4e38]);
    for (const [type, zp] of [['int8', 0], ['int8', -128], ['int8', 127], ['uint8', 0], ['uint8', 128], ['uint8', 255]] as const) {
      const got = quantizeSync(x, { scale: 1, zeroPoint: zp, type });
      const expected = Array.from(x, (v) => quantizeReference(v, 1, zp, type === 'int8'));
      assert.deepEqual(Array.from(got), expected, `${type} zp=${zp}`);
    }
  });

  it('matches the reference on random odd lengths, per tensor and per channel, bit-exactly', async () => {
    const next = rng(5);
    for (const length of [1, 7, 15, 16, 17, 63, 255, 1001, 4099]) {
      const x = fillFloat(new Float32Array(length), next, -40, 40);
      const scale = 0.1 + next() * 0.3;
      const got = await quantize(x, { scale, zeroPoint: 128, type: 'uint8' });
      assert.deepEqual(Array.from(got), Array.from(x, (v) => quantizeReference(v, scale, 128, false)), `length ${length}`);
    }
    for (const dims of [[3, 5], [5, 3], [2, 7, 9], [4, 33]]) {
      for (let axis = 0; axis < dims.length; axis++) {
        const count = dims.reduce((a, b) => a * b, 1);
        const x = fillFloat(new Float32Array(count), next, -10, 10);
        const scales = fillFloat(new Float32Array(dims[axis]), next, 0.01, 0.2);
        const zps = fillInt(new Int32Array(dims[axis]), next, -20, 20);
        const q = quantizeSync(x, { scale: scales, zeroPoint: zps, axis, dims, type: 'int8' }) as Int8Array;
        const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
        for (let i = 0; i < count; i++) {
          const c = Math.floor(i / inner) % dims[axis];
          assert.equal(q[i], quantizeReference(x[i], scales[c], zps[c], true), `dims ${dims} axis ${axis} [${i}]`);
        }
        const back = dequantizeSync(q, { scale: scales, zeroPoint: zps, axis, dims });
        for (let i = 0; i < count; i++) {
          const c = Math.floor(i / inner) % dims[axis];
          assert.equal(back[i], Math.fround(Math.fround(q[i] - zps[c]) * scales[c]));
        }
      }
    }
  });

  it('dequantizes every uint8 and int8 value exactly', async () => {
    const all = new Uint8Array(256).map((_, i) => i);
    const x = await dequantize(all, { scale: 0.037, zeroPoint: 131 });
    all.forEach((q, i) => assert.equal(x[i], Math.fround(Math.fround(q - 131) * Math.fround(0.037))));
    const signed = new Int8Array(256).map((_, i) => i - 128);
    const y = dequantizeSync(signed, { scale: 2, zeroPoint: -5 });
    signed.forEach((q, i) => assert.equal(y[i], (q + 5) * 2));
  });

  it('respects byteOffset of subarray views and writes only into out', () => {
    const backing = fillFloat(new Float32Array(40), rng(6), -3, 3);
    const x = backing.subarray(3, 36);
    const outBacking = new Int8Array(40).fill(99);
    const out = outBacking.subarray(5, 38);
    quantizeSync(x, { scale: 0.05, out });
    assert.deepEqual(Array.from(out), Array.from(x, (v) => quantizeReference(v, 0.05, 0, true)));
    assert.ok(outBacking.subarray(0, 5).every((v) => v === 99) && outBacking.subarray(38).every((v) => v === 99));
  });
});
