// ONNX external data: tensors of 64 KiB or more are memory-mapped by the addon (zero copy), smaller or
// misaligned ones are read; the mapped model computes what the embedded one does, the mapping goes with
// the model, and bad files or arguments give coded errors, never a crash.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onnx } from 'onnx-proto';

import { EdgeInferError, Engine } from '../lib';
import { callNative } from '../lib/errors';
import { native } from '../lib/native';
import type { Model, Node, TensorData } from '../lib/onnx/ir';
import { mapExternalMinBytes, readModel } from '../lib/onnx/reader';
import { modelToProto, writeModel } from '../lib/onnx/writer';
import { spawnNode } from './helpers/node-child';
import { rng } from './helpers/random';

function floats(dims: number[], seed: number, scale = 0.1): TensorData {
  const next = rng(seed);
  return { dtype: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => (next() * 2 - 1) * scale) };
}

function node(name: string, opType: string, inputs: string[], outputs: string[]): Node {
  return { name, opType, domain: '', inputs, outputs, attributes: {} };
}

/** y = (x · w1 + b) · w2 with x [1, 256]: w1 256 KiB, w2 exactly 64 KiB (mapped), b 1 KiB (read). */
function mlp(): Model {
  const initializers = new Map<string, TensorData>([
    ['w1', floats([256, 256], 1)],
    ['b', floats([256], 2)],
    ['w2', floats([256, 64], 3)],
  ]);
  return {
    irVersion: 8, opsets: new Map([['', 13]]), producerName: 'test', producerVersion: '', metadata: {},
    graph: {
      name: 'mlp',
      nodes: [node('mm1', 'MatMul', ['x', 'w1'], ['h0']), node('bias', 'Add', ['h0', 'b'], ['h1']), node('mm2', 'MatMul', ['h1', 'w2'], ['y'])],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 256] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers,
      valueInfo: new Map(),
    },
  };
}

/**
 * Writes `model` to dir/model.onnx with every initializer in dir/weights.bin, one after another, each after
 * `lead` padding bytes (lead 2 puts float32 data off its 4-byte alignment). Returns the model path.
 */
function writeExternal(model: Model, dir: string, lead = 0): string {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const proto: any = modelToProto(model);
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const t of proto.graph.initializer) {
    const raw = Buffer.from(t.rawData);
    blobs.push(Buffer.alloc(lead), raw);
    offset += lead;
    t.externalData = [{ key: 'location', value: 'weights.bin' }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(raw.length) }];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.rawData = new Uint8Array(0);
    offset += raw.length;
  }
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat(blobs));
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(proto).finish());
  return file;
}

/** The files this process has mapped (/proc/self/maps, path column). */
function mappedFiles(): string[] {
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').map((line) => line.split(/\s+/).slice(5).join(' ')).filter(Boolean);
}

function feed() {
  return { x: { type: 'float32' as const, data: floats([1, 256], 4, 1).data as Float32Array, dims: [1, 256] } };
}

describe('ONNX external data (memory-mapped)', function () {
  let dir: string;
  let modelPath: string;

  beforeEach(function () {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-mmap-')));
    modelPath = writeExternal(mlp(), dir);
  });

  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('maps tensors of >= 64 KiB as zero-copy views and reads smaller ones', function () {
    const model = readModel(fs.readFileSync(modelPath), { baseDir: dir });
    const original = mlp().graph.initializers;
    const weights = path.join(dir, 'weights.bin');
    for (const [name, mapped] of [['w1', true], ['w2', true], ['b', false]] as const) {
      const tensor = model.graph.initializers.get(name)!;
      assert.equal(tensor.external?.mapped, mapped, `${name} mapped`);
      assert.equal(tensor.external?.path, weights);
      assert.deepEqual(tensor.data, original.get(name)!.data, `${name} data`);
      // A view on a buffer of exactly the tensor's bytes (the mapping, or the read), not a second copy.
      assert.equal(tensor.data.byteOffset, 0);
      assert.equal(tensor.data.buffer.byteLength, tensor.data.byteLength);
    }
    assert.equal(model.graph.initializers.get('w2')!.data.byteLength, mapExternalMinBytes, 'w2 sits exactly on the threshold');
    assert.ok(mappedFiles().includes(weights), 'weights.bin is in /proc/self/maps');
  });

  it('reads (copies) large tensors whose offset would misalign their elements', function () {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    modelPath = writeExternal(mlp(), dir, 2);
    const model = readModel(fs.readFileSync(modelPath), { baseDir: dir });
    const w1 = model.graph.initializers.get('w1')!;
    assert.equal(w1.external?.offset, 2);
    assert.equal(w1.external?.mapped, false);
    assert.deepEqual(w1.data, mlp().graph.initializers.get('w1')!.data);
  });

  it('Engine.load(path) with mapped weights computes what the embedded model computes, and holds the mapping', async function () {
    const mapped = await Engine.load(modelPath, { threads: 1 });
    const embedded = await Engine.load(writeModel(mlp()), { threads: 1 });
    try {
      assert.ok(mappedFiles().includes(path.join(dir, 'weights.bin')), 'weights.bin is mapped while the engine lives');
      const ours = (await mapped.infer(feed())).y;
      const theirs = (await embedded.infer(feed())).y;
      assert.deepEqual(ours.dims, [1, 64]);
      assert.deepEqual(ours.data, theirs.data);
    } finally {
      mapped.dispose();
      embedded.dispose();
    }
  });

  it('unmaps when the model is collected', function () {
    const script = `
      const { Engine } = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
      const fs = require('node:fs');
      const weights = ${JSON.stringify(path.join(dir, 'weights.bin'))};
      const mapped = () => fs.readFileSync('/proc/self/maps', 'utf8').includes(weights);
      (async () => {
        let engine = await Engine.load(${JSON.stringify(modelPath)}, { threads: 1 });
        const before = mapped();
        engine.dispose();
        engine = undefined;
        for (let i = 0; i < 5 && mapped(); i++) { global.gc(); await new Promise((r) => setTimeout(r, 20)); }
        console.log(JSON.stringify({ before, after: mapped() }));
      })();
    `;
    const result = spawnNode(['--expose-gc', '-e', script]);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout.trim().split('\n').pop() as string), { before: true, after: false });
  });

  it('copies where external buffers are refused (mapped: false, same data)', function () {
    const script = `
      const fs = require('node:fs');
      const { readModel } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'onnx', 'reader'))});
      const model = readModel(fs.readFileSync(${JSON.stringify(modelPath)}), { baseDir: ${JSON.stringify(dir)} });
      const w1 = model.graph.initializers.get('w1');
      console.log(JSON.stringify({ mapped: w1.external.mapped, sum: w1.data.reduce((a, b) => a + b, 0) }));
    `;
    const result = spawnNode(['-e', script], { env: { ...process.env, EDGEINFER_NO_EXTERNAL_BUFFERS: '1' } });
    assert.equal(result.status, 0, result.stderr);
    const { mapped, sum } = JSON.parse(result.stdout) as { mapped: boolean; sum: number };
    assert.equal(mapped, false);
    assert.equal(sum, (mlp().graph.initializers.get('w1')!.data as Float32Array).reduce((a, b) => a + b, 0));
  });

  it('a truncated external file is EDGEINFER_MODEL_INVALID', async function () {
    fs.truncateSync(path.join(dir, 'weights.bin'), 200 * 1024);
    await assert.rejects(Engine.load(modelPath), (e: EdgeInferError) => e instanceof EdgeInferError && e.code === 'EDGEINFER_MODEL_INVALID' && /beyond the end/.test(e.message));
  });

  it('mapFile: exact ranges at any offset; bad arguments are coded errors, never a crash', function () {
    const file = path.join(dir, 'weights.bin');
    const bytes = fs.readFileSync(file);
    for (const [offset, length] of [[5, 10], [4097, 70000], [0, bytes.length], [bytes.length, 0]]) {
      const buffer = callNative(() => native.mapFile(file, offset, length));
      assert.ok(buffer instanceof ArrayBuffer);
      assert.deepEqual(Buffer.from(buffer), bytes.subarray(offset, offset + length), `[${offset}, +${length})`);
    }
    const bad: [string, unknown[]][] = [
      ['missing file', [path.join(dir, 'nope.bin'), 0, 1]],
      ['a directory', [dir, 0, 1]],
      ['range past the end', [file, 1, bytes.length]],
      ['offset past the end', [file, bytes.length + 1, 0]],
      ['negative offset', [file, -1, 4]],
      ['non-integer length', [file, 0, 1.5]],
      ['NaN offset', [file, NaN, 4]],
      ['huge length', [file, 0, 2 ** 60]],
      ['huge offset', [file, 2 ** 53, 1]],
      ['offset as a string', [file, '0', 4]],
      ['path not a string', [42, 0, 4]],
      ['empty path', ['', 0, 4]],
      ['NUL in the path', [`${file}\0x`, 0, 4]],
      ['missing arguments', [file]],
    ];
    for (const [label, args] of bad) {
      assert.throws(
        () => callNative(() => (native.mapFile as (...a: unknown[]) => ArrayBuffer)(...args)),
        (e: EdgeInferError) => e instanceof EdgeInferError && e.code === 'EDGEINFER_INVALID_ARGUMENT',
        label,
      );
    }
  });
});
