#!/usr/bin/env node
// npm run demo (until the smart-speaker pipeline exists): what this CPU runs and how fast, on built-in data.
// Shows the detected features, the kernel chosen per operation, and one INT8 layer of a small speech model
// (1 x 1024 activations · 1024 x 1024 int8 weights, then LayerNorm+GELU), checked against plain JS.
'use strict';
const edge = require('..');

const info = edge.simdInfo();
console.log(`CPU: ${info.arch}, features: ${info.features.join(' ') || '(baseline)'}`);
for (const [op, choice] of Object.entries(info.kernels)) console.log(`  ${op.padEnd(14)} ${choice.kernel}`);

const k = 1024, n = 1024;
const weights = new Int8Array(k * n).map((_, i) => ((i * 2654435761) >>> 24) - 128);
const scales = new Float32Array(n).fill(1 / 2048);
const packed = edge.packWeights(weights, { k, n, scales });
const activations = new Uint8Array(k).map((_, i) => (i * 37) % 256);
const arena = new edge.Arena({ capacity: 1 << 20 });
const hidden = arena.alloc('float32', n);

function timeMicros(body, seconds = 0.3) {
  const samples = [];
  const end = process.hrtime.bigint() + BigInt(seconds * 1e9);
  while (process.hrtime.bigint() < end) {
    const start = process.hrtime.bigint();
    body();
    samples.push(Number(process.hrtime.bigint() - start) / 1e3);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

const layer = () => {
  edge.gemmS8Sync(activations, packed, { m: 1, aZeroPoint: 128, output: 'float32', aScale: 1 / 64, out: hidden });
  edge.layerNormGeluSync(hidden, { width: n, out: hidden });
};
const micros = timeMicros(layer);

// The same layer in plain JS, for the answer and for scale.
const reference = new Float64Array(n);
const jsMicros = timeMicros(() => {
  for (let j = 0; j < n; j++) {
    let acc = 0;
    for (let p = 0; p < k; p++) acc += (activations[p] - 128) * weights[p * n + j];
    reference[j] = (acc / 64) * scales[j];
  }
}, 0.5);
layer();
let mean = 0;
for (const v of reference) mean += v / n;
let variance = 0;
for (const v of reference) variance += (v - mean) ** 2 / n;
let worst = 0;
for (let j = 0; j < n; j++) {
  const x = (reference[j] - mean) / Math.sqrt(variance + 1e-5);
  let erf = 0;
  { const t = 1 / (1 + 0.3275911 * Math.abs(x / Math.SQRT2)); const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(x * x) / 2); erf = x >= 0 ? y : -y; }
  worst = Math.max(worst, Math.abs(hidden[j] - 0.5 * x * (1 + erf)));
}
console.log(`\nINT8 layer 1x${k} · ${k}x${n} + LayerNorm+GELU: ${micros.toFixed(1)} µs per call ` +
  `(${((2 * k * n) / micros / 1e3).toFixed(1)} GOPS); plain JS: ${jsMicros.toFixed(0)} µs (${(jsMicros / micros).toFixed(0)}x slower); ` +
  `max difference ${worst.toExponential(1)}`);
console.log(`arena: ${JSON.stringify(arena.stats())}`);
if (worst > 1e-3) process.exit(1);
