#!/usr/bin/env node
// The model zoo (../shared/zoo, or EDGEINFER_ZOO) keeps each model as a skeleton: X.onnx with its large
// initializers emptied and X.weights.json giving each one's dims, ONNX dtype, mean, std, min and max. This
// writes complete models into .cache/zoo/ (git-ignored) with seeded random weights of those statistics, as
// the zoo's own skeleton.py does (normal(mean, std) clipped to [min, max], rounded for integer types), with
// a seeded generator of our own (seed: CRC-32 of file + tensor name), so no Python is needed. The weights
// are random either way: tests compare with ONNX Runtime on the same filled file, never with labels.
//   node scripts/fill-zoo.js [name ...]   fills (or reuses) and prints "name<TAB>path" per model.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { onnx } = require('onnx-proto');

const root = path.join(__dirname, '..');
const zooDir = process.env.EDGEINFER_ZOO ?? path.join(root, '..', 'shared', 'zoo');
const cacheDir = path.join(root, '.cache', 'zoo');

const FLOAT = 1, UINT8 = 2, INT8 = 3;
const arrayTypes = { [FLOAT]: Float32Array, [UINT8]: Uint8Array, [INT8]: Int8Array };

/** xoshiro128** seeded by splitmix32 of `seed`: fast, good enough for random weights, identical everywhere. */
function generator(seed) {
  let state = seed >>> 0;
  const split = () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split(), b = split(), c = split(), d = split();
  const next = () => {
    const result = Math.imul(((Math.imul(b, 5) << 7) | (Math.imul(b, 5) >>> 25)) >>> 0, 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t;
    d = ((d << 11) | (d >>> 21)) >>> 0;
    return result / 4294967296;
  };
  let spare;
  // Standard normal by Box-Muller, two per pair of uniforms.
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const u = Math.max(next(), 1e-12), v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

function fillTensor(tensor, spec, seed) {
  const Type = arrayTypes[spec.dtype];
  if (Type === undefined) throw new Error(`${tensor.name}: dtype ${spec.dtype} is not one the zoo strips`);
  const count = spec.dims.reduce((a, b) => a * b, 1);
  const values = new Type(count);
  const normal = generator(seed);
  const std = Math.max(spec.std, 1e-12);
  const integer = spec.dtype !== FLOAT;
  for (let i = 0; i < count; i++) {
    let x = spec.mean + std * normal();
    x = Math.min(spec.max, Math.max(spec.min, x));
    values[i] = integer ? Math.round(x) : x;
  }
  tensor.dims = spec.dims;
  tensor.dataType = spec.dtype;
  tensor.floatData = [];
  tensor.int32Data = [];
  tensor.rawData = new Uint8Array(values.buffer);
}

/** Names of the zoo's models (from its manifest). */
function zooModels() {
  const manifest = JSON.parse(fs.readFileSync(path.join(zooDir, 'manifest.json'), 'utf8'));
  return manifest.models;
}

/** Fills one model (reused while the skeleton and spec are unchanged); returns the complete file's path. */
function fillModel(name) {
  const skeleton = path.join(zooDir, `${name}.onnx`);
  const specFile = path.join(zooDir, `${name}.weights.json`);
  const skeletonBytes = fs.readFileSync(skeleton);
  const specBytes = fs.readFileSync(specFile);
  const hash = crypto.createHash('sha256').update(skeletonBytes).update(specBytes).update('filler-v1').digest('hex').slice(0, 16);
  const target = path.join(cacheDir, `${name}.onnx`);
  const stamp = `${target}.${hash}`;
  if (fs.existsSync(target) && fs.existsSync(stamp)) return target;
  const specs = JSON.parse(specBytes.toString('utf8'));
  const model = onnx.ModelProto.decode(skeletonBytes);
  for (const tensor of model.graph.initializer) {
    const spec = specs[tensor.name];
    if (spec !== undefined) fillTensor(tensor, spec, zlib.crc32 ? zlib.crc32(`${name}.onnx${tensor.name}`) : crc32(`${name}.onnx${tensor.name}`));
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  for (const old of fs.readdirSync(cacheDir)) if (old.startsWith(`${name}.onnx.`)) fs.rmSync(path.join(cacheDir, old));
  fs.writeFileSync(`${target}.tmp`, onnx.ModelProto.encode(model).finish());
  fs.renameSync(`${target}.tmp`, target);
  fs.writeFileSync(stamp, '');
  return target;
}

// zlib.crc32 arrived in Node 22; a table-driven CRC-32 for Node 20.
let crcTable;
function crc32(text) {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text, 'utf8')) crc = crcTable[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

module.exports = { zooDir, zooModels, fillModel };

if (require.main === module) {
  const names = process.argv.length > 2 ? process.argv.slice(2) : zooModels().map((m) => m.name);
  for (const name of names) {
    const started = Date.now();
    const file = fillModel(name);
    console.log(`${name}\t${file}\t${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}
