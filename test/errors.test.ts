// Garbage in, clear EdgeInferError out: every public call, never a crash.
import assert from 'node:assert/strict';

import * as edge from '../lib';
import { EdgeInferError, type EdgeInferErrorCode } from '../lib';

function expectCode(code: EdgeInferErrorCode, call: () => unknown, what: string) {
  assert.throws(call, (error: unknown) => {
    assert.ok(error instanceof EdgeInferError, `${what}: expected EdgeInferError, got ${String(error)}`);
    assert.equal(error.code, code, `${what}: ${error.message}`);
    return true;
  }, what);
}

async function expectRejection(code: EdgeInferErrorCode, call: () => Promise<unknown>, what: string) {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof EdgeInferError, `${what}: expected EdgeInferError, got ${String(error)}`);
    assert.equal(error.code, code, `${what}: ${error.message}`);
    return true;
  }, what);
}

function detached(length: number): Float32Array {
  const view = new Float32Array(length);
  structuredClone(view.buffer, { transfer: [view.buffer] });
  return view;
}

const INVALID = 'EDGEINFER_INVALID_ARGUMENT';
const SHAPE = 'EDGEINFER_SHAPE_MISMATCH';

describe('bad arguments give EdgeInferError codes', () => {
  const packed = edge.packWeights(new Int8Array(12), { k: 3, n: 4 });

  it('packWeights', () => {
    expectCode(INVALID, () => edge.packWeights(new Uint8Array(12) as never, { k: 3, n: 4 }), 'uint8 weights');
    expectCode(INVALID, () => edge.packWeights([1, 2, 3] as never, { k: 3, n: 1 }), 'plain array');
    expectCode(SHAPE, () => edge.packWeights(new Int8Array(11), { k: 3, n: 4 }), 'too short');
    expectCode(INVALID, () => edge.packWeights(new Int8Array(12), { k: -3, n: -4 }), 'negative dims');
    expectCode(INVALID, () => edge.packWeights(new Int8Array(12), { k: 3.5, n: 4 }), 'fractional dim');
    expectCode(INVALID, () => edge.packWeights(new Int8Array(12), { k: 0, n: 4 }), 'zero dim');
    expectCode(INVALID, () => edge.packWeights(new Int8Array(12), { k: 3, n: 4, scales: NaN }), 'NaN scale');
    expectCode(INVALID, () => edge.packWeights(new Int8Array(12), { k: 3, n: 4, scales: [1, 0, 1, 1] }), 'zero scale');
    expectCode(INVALID, () => edge.packWeights(new Int8Array(12), { k: 3, n: 4, scales: -1 }), 'negative scale');
    expectCode(SHAPE, () => edge.packWeights(new Int8Array(12), { k: 3, n: 4, scales: [1, 2] }), 'scale count');
    expectCode(INVALID, () => edge.packWeights(new Int8Array(12), { k: 3, n: 4, bias: [0, NaN, 0, 0] }), 'NaN bias');
    expectCode(INVALID, () => edge.packWeights(new Int8Array(12), { k: 3, n: 4, layout: 'xy' as never }), 'layout');
    expectCode(INVALID, () => edge.packWeights(new Int8Array(12), null as never), 'null options');
    const gone = new Int8Array(12);
    structuredClone(gone.buffer, { transfer: [gone.buffer] });
    expectCode(INVALID, () => edge.packWeights(gone, { k: 3, n: 4 }), 'detached');
  });

  it('gemmS8 and gemmS8Sync', async () => {
    const a = new Uint8Array(6);
    expectCode(INVALID, () => edge.gemmS8Sync(new Float32Array(6) as never, packed, { m: 2 }), 'float activations');
    expectCode(SHAPE, () => edge.gemmS8Sync(new Uint8Array(5), packed, { m: 2 }), 'a too short');
    expectCode(INVALID, () => edge.gemmS8Sync(a, packed, { m: 0 }), 'm = 0');
    expectCode(INVALID, () => edge.gemmS8Sync(a, packed, { m: NaN }), 'm NaN');
    expectCode(INVALID, () => edge.gemmS8Sync(a, packed, { m: 2, lda: 2 }), 'lda < k');
    expectCode(INVALID, () => edge.gemmS8Sync(a, packed, { m: 2, aZeroPoint: 256 }), 'u8 zero point 256');
    expectCode(INVALID, () => edge.gemmS8Sync(new Int8Array(6), packed, { m: 2, aZeroPoint: 128 }), 's8 zero point 128');
    expectCode(INVALID, () => edge.gemmS8Sync(a, {} as never, { m: 2 }), 'fake weights');
    expectCode(INVALID, () => edge.gemmS8Sync(a, packed, { m: 2, out: new Float32Array(8) as never }), 'float out for int32');
    expectCode(SHAPE, () => edge.gemmS8Sync(a, packed, { m: 2, out: new Int32Array(7) }), 'out too short');
    expectCode(INVALID, () => edge.gemmS8Sync(a, packed, { m: 2, output: 'float32', aScale: 0 }), 'zero aScale');
    expectCode(INVALID, () => edge.gemmS8Sync(a, packed, { m: 2, output: 'float32', aScale: NaN }), 'NaN aScale');
    expectCode(INVALID, () => edge.gemmS8Sync(a, packed, { m: 2, output: 'float32', activation: 'swish' as never }), 'activation');
    expectCode(INVALID, () => edge.gemmS8Sync(a, packed, { m: 2, aScale: 2 } as never), 'aScale with int32');
    const gone = new Uint8Array(6);
    structuredClone(gone.buffer, { transfer: [gone.buffer] });
    expectCode(INVALID, () => edge.gemmS8Sync(gone, packed, { m: 2 }), 'detached activations');
    await expectRejection(SHAPE, () => edge.gemmS8(new Uint8Array(5), packed, { m: 2 }), 'async a too short');
    const disposed = edge.packWeights(new Int8Array(4), { k: 2, n: 2 });
    disposed.dispose();
    await expectRejection('EDGEINFER_DISPOSED', () => edge.gemmS8(new Uint8Array(2), disposed, { m: 1 }), 'disposed weights');
  });

  it('quantize / dequantize', async () => {
    const x = new Float32Array(8);
    expectCode(INVALID, () => edge.quantizeSync(new Float64Array(8) as never, { scale: 1 }), 'float64 input');
    expectCode(INVALID, () => edge.quantizeSync(x, { scale: NaN }), 'NaN scale');
    expectCode(INVALID, () => edge.quantizeSync(x, { scale: 0 }), 'zero scale');
    expectCode(INVALID, () => edge.quantizeSync(x, { scale: Infinity }), 'infinite scale');
    expectCode(INVALID, () => edge.quantizeSync(x, { scale: 1, zeroPoint: 200 }), 'int8 zero point 200');
    expectCode(INVALID, () => edge.quantizeSync(x, { scale: 1, zeroPoint: -1, type: 'uint8' }), 'uint8 zero point -1');
    expectCode(INVALID, () => edge.quantizeSync(x, { scale: 1, zeroPoint: 0.5 }), 'fractional zero point');
    expectCode(INVALID, () => edge.quantizeSync(x, { scale: 1, type: 'int4' as never }), 'type');
    expectCode(SHAPE, () => edge.quantizeSync(x, { scale: 1, out: new Int8Array(7) }), 'out length');
    expectCode(INVALID, () => edge.quantizeSync(x, { scale: 1, out: new Int8Array(8), type: 'uint8' }), 'type vs out');
    expectCode(INVALID, () => edge.quantizeSync(x, { scale: [1, 2] }), 'per-channel without axis');
    expectCode(SHAPE, () => edge.quantizeSync(x, { scale: [1, 2, 3], axis: 0, dims: [2, 4] }), 'scale count vs dims[axis]');
    expectCode(SHAPE, () => edge.quantizeSync(x, { scale: [1, 2], axis: 0, dims: [2, 5] }), 'dims product');
    expectCode(INVALID, () => edge.quantizeSync(x, { scale: [1, 2], axis: 2, dims: [2, 4] }), 'axis out of range');
    expectCode(INVALID, () => edge.quantizeSync(x, { scale: [1, 2], axis: 0, dims: [2, -4] }), 'negative dim');
    expectCode(INVALID, () => edge.quantizeSync(new Float32Array(0), { scale: 1 }), 'empty');
    expectCode(INVALID, () => edge.quantizeSync(detached(8), { scale: 1 }), 'detached');
    expectCode(INVALID, () => edge.dequantizeSync(new Int16Array(8) as never, { scale: 1 }), 'int16 input');
    expectCode(INVALID, () => edge.dequantizeSync(new Uint8Array(8), { scale: -2 }), 'negative scale');
    expectCode(SHAPE, () => edge.dequantizeSync(new Uint8Array(8), { scale: 1, out: new Float32Array(9) }), 'out length');
    await expectRejection(INVALID, () => edge.quantize(x, { scale: NaN }), 'async NaN scale');
    await expectRejection(INVALID, () => edge.dequantize(new Int8Array(2), { scale: 1, zeroPoint: 300 }), 'async zero point');
  });

  it('layerNorm / gelu', async () => {
    const x = new Float32Array(12);
    expectCode(SHAPE, () => edge.layerNormSync(x, { width: 5 }), 'not a multiple of width');
    expectCode(INVALID, () => edge.layerNormSync(x, { width: 0 }), 'zero width');
    expectCode(INVALID, () => edge.layerNormSync(x, { width: -4 }), 'negative width');
    expectCode(INVALID, () => edge.layerNormSync(new Int32Array(12) as never, { width: 4 }), 'int input');
    expectCode(SHAPE, () => edge.layerNormSync(x, { width: 4, gamma: new Float32Array(3) }), 'gamma length');
    expectCode(INVALID, () => edge.layerNormSync(x, { width: 4, beta: [0, 0, 0, 0] as never }), 'beta not typed');
    expectCode(INVALID, () => edge.layerNormSync(x, { width: 4, epsilon: NaN }), 'NaN epsilon');
    expectCode(INVALID, () => edge.layerNormSync(x, { width: 4, epsilon: -1 }), 'negative epsilon');
    expectCode(INVALID, () => edge.layerNormSync(x, { width: 4, activation: 'relu' as never }), 'relu not fused');
    expectCode(INVALID, () => edge.layerNormGeluSync(x, { width: 4, approximate: 'fast' as never }), 'approximate');
    expectCode(INVALID, () => edge.layerNormSync(detached(12), { width: 4 }), 'detached');
    expectCode(SHAPE, () => edge.geluSync(x, { out: new Float32Array(11) }), 'gelu out length');
    expectCode(INVALID, () => edge.geluSync(new Float32Array(0)), 'gelu empty');
    await expectRejection(SHAPE, () => edge.layerNorm(x, { width: 7 }), 'async');
  });

  it('the native layer re-checks what reaches it directly', () => {
    // Bypasses lib/ validation: the addon must still refuse, not read out of bounds.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { native } = require('../lib/native') as typeof import('../lib/native');
    const raw = (call: () => unknown, what: string) =>
      assert.throws(call, (e: { code?: string }) => typeof e.code === 'string' && e.code.startsWith('EDGEINFER_'), what);
    raw(() => native.gemmS8(new Uint8Array(2), 1, 3, false, 0, packed.native, new Int32Array(4), 4, 1, 0, false), 'short a');
    raw(() => native.gemmS8(new Uint8Array(6), 2, 3, false, 0, packed.native, new Int32Array(4), 4, 1, 0, false), 'short out');
    raw(() => native.gemmS8(new Uint8Array(6), 2, 3, false, 0, { k: 3, n: 4 } as never, new Int32Array(8), 4, 1, 0, false), 'forged weights');
    raw(() => native.quantize(new Float32Array(4), new Int8Array(4), 1, 1, 5, Float32Array.of(1), Int32Array.of(0), false), 'count');
    raw(() => native.quantize(new Float32Array(4), new Int8Array(4), 1, 1, 4, Float32Array.of(NaN), Int32Array.of(0), false), 'NaN scale');
    raw(() => native.layerNorm(new Float32Array(4), new Float32Array(4), 2, 4, null, null, 1e-5, 0, false), 'rows*width');
    raw(() => native.gelu(new Float32Array(4), new Float32Array(3), 4, false, false), 'gelu n');
    raw(() => new (native.PackedWeights as never as new (x: unknown) => unknown)({}), 'construct PackedWeights directly');
  });
});
