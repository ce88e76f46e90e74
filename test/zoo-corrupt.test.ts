/**
 * Corrupted variants of the zoo's small models (truncated files, flipped structure bytes, ops swapped for
 * others the registry knows, attributes of the wrong type) through the whole native path: Engine.load on
 * the native backend (read, optimise, plan, C++ validation) and, when that succeeds, an infer on the zoo's
 * feeds. Each must load and run, or fail with an EdgeInferError carrying a code: never a crash, a hang or
 * another exception. Complements onnx-corrupt.test.ts (the openWakeWord models through the front end).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { onnx } from 'onnx-proto';

import { EdgeInferError, Engine } from '../lib';
import { randomInt, rng } from './helpers/random';
import { zooAvailable, zooFeeds, zooModelPath, zooModels } from './helpers/zoo';

// Small models only (each variant loads and plans a whole model): transformers, RNNs, keyword spotters; under
// qemu (scripts/test-arm64.js) the four under 300 KB.
const emulated = process.env.EDGEINFER_QEMU_CPU !== undefined;
const maxBytes = Math.min(Number(process.env.EDGEINFER_ZOO_MAX_BYTES ?? Infinity), emulated ? 300_000 : 3 << 20);
const swappedOps = ['Relu', 'Sigmoid', 'Softmax', 'Transpose', 'Concat', 'Gather', 'MatMul', 'Add', 'Reshape', 'LayerNormalization', 'GRU', 'Resize', 'CumSum'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

function variantsOf(bytes: Uint8Array, seed: number): { label: string; bytes: Uint8Array }[] {
  const next = rng(seed);
  const out: { label: string; bytes: Uint8Array }[] = [];
  for (const at of [1, 9, 64, bytes.length >> 3, bytes.length >> 1, bytes.length - 1]) out.push({ label: `truncated at ${at}`, bytes: bytes.subarray(0, at) });
  // The graph structure is the protobuf outside raw_data: flip bytes in the first few KB and in the tail.
  for (let i = 0; i < 12; i++) {
    const copy = bytes.slice();
    const flips = randomInt(next, 1, 6);
    for (let f = 0; f < flips; f++) {
      const at = i % 2 === 0 ? randomInt(next, 0, Math.min(4095, bytes.length - 1)) : randomInt(next, Math.max(0, bytes.length - 4096), bytes.length - 1);
      copy[at] = randomInt(next, 0, 255);
    }
    out.push({ label: `${flips} flipped bytes (${i % 2 === 0 ? 'head' : 'tail'})`, bytes: copy });
  }
  const mutate = (label: string, change: (proto: Loose) => void) => {
    const proto: Loose = onnx.ModelProto.decode(bytes);
    change(proto);
    out.push({ label, bytes: onnx.ModelProto.encode(proto).finish() });
  };
  for (let i = 0; i < 8; i++) {
    mutate(`node ${i}: op swapped`, (p) => {
      const node = p.graph.node[randomInt(next, 0, p.graph.node.length - 1)];
      node.opType = swappedOps[randomInt(next, 0, swappedOps.length - 1)];
    });
  }
  mutate('an int attribute turned into floats', (p) => {
    const node = p.graph.node.find((n: Loose) => n.attribute.some((a: Loose) => a.type === onnx.AttributeProto.AttributeType.INT));
    if (node) node.attribute.find((a: Loose) => a.type === onnx.AttributeProto.AttributeType.INT).type = onnx.AttributeProto.AttributeType.FLOATS;
  });
  mutate('an initializer with dims that do not match its bytes', (p) => {
    const t = p.graph.initializer.find((x: Loose) => x.dims.length >= 1 && x.rawData?.length > 0);
    if (t) t.dims[0] = Number(t.dims[0]) + 3;
  });
  mutate('an input dropped from a node', (p) => {
    const node = p.graph.node.find((n: Loose) => n.input.length >= 2);
    if (node) node.input.pop();
  });
  return out;
}

describe('model zoo: corrupted models through the native backend', function () {
  this.timeout(900000);
  const models = zooAvailable ? zooModels().filter((m) => m.bytes <= maxBytes) : [];

  it('finds small zoo models', function () {
    if (!zooAvailable) this.skip();
    assert.ok(models.length >= (emulated ? 3 : 10), `${models.length} zoo models under ${maxBytes} bytes`);
  });

  for (const [index, model] of models.entries()) {
    it(`${model.name}: every variant loads and runs, or fails with an EdgeInferError`, async () => {
      const bytes = new Uint8Array(fs.readFileSync(zooModelPath(model.name)));
      const feeds = zooFeeds(model, 3);
      const outcomes = new Map<string, number>();
      for (const variant of variantsOf(bytes, 0x200 + index)) {
        let outcome = 'ran';
        try {
          const engine = await Engine.load(variant.bytes, { backend: 'native', threads: 1 });
          try {
            await engine.infer(feeds);
          } finally {
            await engine.dispose();
          }
        } catch (error) {
          if (!(error instanceof EdgeInferError)) assert.fail(`${model.name} ${variant.label}: threw ${(error as Error)?.stack ?? String(error)}`);
          assert.notEqual(error.code, 'EDGEINFER_INTERNAL', `${model.name} ${variant.label}: ${error.message}`);
          assert.ok(error.message.length > 10, `${model.name} ${variant.label}: message too short`);
          outcome = error.code;
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
      console.log(`      ${JSON.stringify(Object.fromEntries(outcomes))}`);
    });
  }
});
