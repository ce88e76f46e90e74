#!/usr/bin/env node
// Development check of an exported model on edgeinfer's native backend (the Node driver, lib/distill, does
// the real one): loads MODEL with backend 'native', runs each row of INPUTS.npy (float32 [N, F, 96] or int64
// [N, L]) and compares the argmax with TORCH.npy (the PyTorch outputs) and with LABELS.npy when given.
// Usage (from the repository root): node distill/tools/engine_check.cjs MODEL INPUTS.npy TORCH.npy [LABELS.npy] [--limit N]
'use strict';
require('tsx/cjs');
const fs = require('fs');
const path = require('path');
const { Engine } = require(path.join(__dirname, '..', '..', 'lib'));

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not an npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new Error('fortran order not supported');
  const bytes = buf.subarray(start);
  const copy = new Uint8Array(bytes).buffer;
  const types = { '<f4': Float32Array, '<i8': BigInt64Array, '<i4': Int32Array };
  if (!types[descr]) throw new Error(`${file}: dtype ${descr} not supported`);
  return { descr, shape, data: new types[descr](copy) };
}

function argmax(a, off, n) {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[off + i] > a[off + best]) best = i;
  return best;
}

(async () => {
  const args = process.argv.slice(2);
  const li = args.indexOf('--limit');
  const limit = li >= 0 ? Number(args.splice(li, 2)[1]) : Infinity;
  const [model, inputsFile, torchFile, labelsFile] = args;
  const engine = await Engine.load(model, { backend: 'native' });
  const info = engine.info ? (typeof engine.info === 'function' ? engine.info() : engine.info) : {};
  const x = readNpy(inputsFile);
  const ref = readNpy(torchFile);
  const labels = labelsFile ? readNpy(labelsFile) : undefined;
  const n = Math.min(x.shape[0], limit);
  const row = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const classes = ref.shape[ref.shape.length - 1];
  const input = engine.inputs[0];
  let agree = 0, correct = 0, maxDiff = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const data = x.data.slice(i * row, (i + 1) * row);
    const type = x.descr === '<i8' ? 'int64' : 'float32';
    const out = await engine.infer({ [input.name]: { type, data, dims: [1, ...x.shape.slice(1)] } });
    const y = out[engine.outputs[0].name].data;
    const a = argmax(y, 0, classes);
    if (a === argmax(ref.data, i * classes, classes)) agree++;
    if (labels && a === Number(labels.data[i])) correct++;
    for (let c = 0; c < classes; c++) maxDiff = Math.max(maxDiff, Math.abs(y[c] - ref.data[i * classes + c]));
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / n;
  console.log(JSON.stringify({
    model, backend: info.backend, inputs: engine.inputs, outputs: engine.outputs.map((o) => o.name.slice(0, 60)), rows: n,
    agreement: agree / n, accuracy: labels ? correct / n : undefined, max_abs_diff: maxDiff, ms_per_row: ms,
  }));
  await engine.dispose?.();
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  if (e && e.detail) console.error(JSON.stringify(e.detail));
  process.exit(1);
});
