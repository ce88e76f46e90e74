// Every ISA level this CPU supports, forced through EDGEINFER_ISA in a child process, gives the same
// results as the JS reference (integer outputs bit-exact), and simdInfo() reports what was chosen.
import assert from 'node:assert/strict';
import path from 'node:path';

import { simdInfo } from '../lib';
import { spawnNode } from './helpers/node-child';

const libPath = JSON.stringify(path.join(__dirname, '..', 'lib'));
const helpersPath = JSON.stringify(path.join(__dirname, 'helpers'));

// Runs in the child: odd shapes and extreme values through every kernel; prints results as JSON.
const childScript = `
  const edge = require(${libPath});
  const { rng, fillInt, fillFloat } = require(${helpersPath} + '/random');
  const next = rng(42);
  const out = { info: edge.simdInfo(), gemm: [], quant: [], lngelu: [] };
  for (const [m, k, n, signed] of [[1, 1, 1, false], [1, 1023, 77, false], [4, 131, 45, true], [17, 64, 129, false], [33, 259, 16, true]]) {
    const a = signed ? fillInt(new Int8Array(m * k), next, -128, 127) : fillInt(new Uint8Array(m * k), next, 0, 255);
    a[0] = signed ? -128 : 255;
    const w = fillInt(new Int8Array(k * n), next, -128, 127);
    w[0] = -128;
    const packed = edge.packWeights(w, { k, n });
    out.gemm.push({ m, k, n, signed, kernel: packed.kernel, c: Array.from(edge.gemmS8Sync(a, packed, { m, aZeroPoint: signed ? -3 : 131 })) });
  }
  const x = fillFloat(new Float32Array(1001), next, -300, 300);
  x.set([0.5, 1.5, 2.5, -2.5, NaN, Infinity, -Infinity], 0);
  out.quant.push(Array.from(edge.quantizeSync(x, { scale: 1, zeroPoint: 7, type: 'uint8' })));
  out.quant.push(Array.from(edge.quantizeSync(x, { scale: [0.5, 2, 3, 7, 11, 13, 0.1], axis: 1, dims: [143, 7] })));
  const rows = fillFloat(new Float32Array(5 * 771), next, -3, 3);
  out.lngelu.push(Array.from(edge.layerNormGeluSync(rows, { width: 771 })));
  console.log(JSON.stringify(out));
`;

interface ChildResult {
  info: ReturnType<typeof simdInfo>;
  gemm: { m: number; k: number; n: number; kernel: string; c: number[] }[];
  quant: number[][];
  lngelu: number[][];
}

function runWith(isa: string | undefined): ChildResult {
  const env = { ...process.env };
  delete env.EDGEINFER_ISA;
  if (isa !== undefined) env.EDGEINFER_ISA = isa;
  const result = spawnNode(['-e', childScript], { env });
  assert.equal(result.status, 0, `EDGEINFER_ISA=${isa}: ${result.stderr}`);
  return JSON.parse(result.stdout) as ChildResult;
}

describe('ISA dispatch', () => {
  const info = simdInfo();

  it('reports CPU features and the chosen kernel per operation', () => {
    assert.ok(['x64', 'arm64'].includes(info.arch));
    assert.ok(Array.isArray(info.features));
    for (const op of ['gemmS8', 'quantize', 'layerNormGelu'] as const) {
      const choice = info.kernels[op];
      assert.ok(choice.compiled.some((v) => v.isa === 'ref'), `${op} has a reference`);
      assert.ok(choice.compiled.some((v) => v.kernel === choice.kernel && v.supported), `${op} chose a compiled, supported kernel`);
    }
    if (!info.forced) {
      // The best path the CPU has is the one chosen (each architecture's GEMM has a kernel for every level).
      const has = (feature: string) => info.features.includes(feature);
      const expected =
        info.arch === 'x64'
          ? has('avx512vnni') ? 'avx512vnni' : has('avxvnni') ? 'avxvnni' : has('avx2') ? 'avx2' : 'ref'
          : has('i8mm') ? 'i8mm' : has('dotprod') ? 'neondot' : 'neon';
      assert.equal(info.kernels.gemmS8.isa, expected, `GEMM kernel for features ${info.features.join(' ')}`);
    }
  });

  it('gives identical integer results on every forced path, matching the reference', function () {
    this.timeout(300000);
    const levels = info.arch === 'x64' ? ['ref', 'avx2', 'avxvnni', 'avx512', 'avx512vnni'] : ['ref', 'neon', 'neondot', 'i8mm'];
    const supported = levels.filter((isa) => {
      const isaFeatures: Record<string, string[]> = {
        ref: [], avx2: ['avx2', 'fma'], avxvnni: ['avx2', 'avxvnni'], avx512: ['avx512f', 'avx512bw', 'avx512vl'],
        avx512vnni: ['avx512f', 'avx512bw', 'avx512vl', 'avx512vnni'], neon: ['neon'], neondot: ['dotprod'], i8mm: ['i8mm'],
      };
      return isaFeatures[isa].every((feature) => info.features.includes(feature));
    });
    const reference = runWith('ref');
    assert.equal(reference.info.isa, 'ref');
    assert.equal(reference.info.forced, true);
    for (const isa of supported) {
      const result = isa === 'ref' ? reference : runWith(isa);
      assert.equal(result.info.isa, isa);
      result.gemm.forEach((case_, i) => assert.deepEqual(case_.c, reference.gemm[i].c, `${isa} gemm ${case_.m}x${case_.k}x${case_.n} (${case_.kernel})`));
      result.quant.forEach((q, i) => assert.deepEqual(q, reference.quant[i], `${isa} quantize case ${i}`));
      result.lngelu[0].forEach((value, i) => {
        const expected = reference.lngelu[0][i];
        assert.ok(Math.abs(value - expected) <= 2e-5 * Math.max(1, Math.abs(expected)), `${isa} layerNormGelu [${i}]: ${value} vs ${expected}`);
      });
    }
  });

  it('refuses an unknown or unsupported EDGEINFER_ISA with a clear error', () => {
    const env = { ...process.env, EDGEINFER_ISA: 'sse9' };
    const result = spawnNode(['-e', `
      try { require(${libPath}).simdInfo(); console.log('no error'); }
      catch (e) { console.log(e.code + ' ' + e.message); }`], { env });
    assert.match(result.stdout, /EDGEINFER_INVALID_ARGUMENT .*sse9/);
  });
});
