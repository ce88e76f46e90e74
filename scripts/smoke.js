#!/usr/bin/env node
// Smoke test for an installed package: loads edgeinfer from the current project, reports simdInfo(), and
// checks a GEMM with odd sizes and extreme values against a plain-JS reference. Exit 1 on mismatch.
'use strict';
const edge = require('edgeinfer');

const info = edge.simdInfo();
const m = 5, k = 131, n = 37;
const a = new Uint8Array(m * k).map((_, i) => (i * 73 + 11) % 256);
const w = new Int8Array(k * n).map((_, i) => ((i * 29 + 5) % 256) - 128);
a[0] = 255;
w[0] = -128;
const zp = 131;
const got = edge.gemmS8Sync(a, edge.packWeights(w, { k, n }), { m, aZeroPoint: zp });
let mismatches = 0;
for (let i = 0; i < m; i++) {
  for (let j = 0; j < n; j++) {
    let acc = 0;
    for (let p = 0; p < k; p++) acc += (a[i * k + p] - zp) * w[p * n + j];
    if (got[i * n + j] !== acc) mismatches++;
  }
}
const loadedFrom = require.resolve('edgeinfer');
console.log(JSON.stringify({ arch: info.arch, isa: info.isa, gemm: info.kernels.gemmS8.kernel, gemmIsa: info.kernels.gemmS8.isa, features: info.features, mismatches, loadedFrom }));
process.exit(mismatches === 0 ? 0 : 1);
