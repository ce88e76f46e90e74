// NaN and ±Infinity inside real models (Engine.load(..., { allowNonFinite: true })): they must come out where
// ONNX Runtime 1.30 (onnxruntime-node) puts them, so an overflow never becomes a plausible score.
//
// What ONNX Runtime does per op (measured on single-op models, x86-64; the C++ tests pin each row):
//   Relu(NaN) = NaN, Relu(-inf) = 0 · LeakyRelu keeps NaN and -inf · Clip keeps NaN, clamps ±inf to its bounds,
//   ignores a NaN bound, and a missing max is FLT_MAX (Clip(+inf, min) = 3.4028235e38) · Max / Min (element-wise)
//   return NaN when either input is NaN · Sigmoid(±inf) = 1 / 0, Tanh(±inf) = ±1, Erf(±inf) = ±1, Exp(-inf) = 0 ·
//   Gelu(-inf) = NaN (x · 0.5 · (1 + erf(x/√2)) = -inf · 0), Gelu(+inf) = +inf · Softmax: a row holding NaN or
//   +inf is all NaN · LayerNormalization (Welford): a row holding NaN / ±inf is all NaN, a row of equal huge
//   values (3.4e38) normalises to beta · Conv / Gemm / MatMul: inf · 0 = NaN, sums of +inf and -inf = NaN.
//   MaxPool, ReduceMax / ReduceMin on x86 are order-dependent: MaxPool folds max(acc, x) with maxps (NaN survives
//   only as a window's last tap), ReduceMax keeps a NaN only as the first element folded.
// We propagate NaN through every max-like reduction instead (IEEE maximum; what the NEON max instructions do):
// the reference below is therefore ORT on the model with its MaxPool / ReduceMax / ReduceMin / GlobalMaxPool
// outputs set to NaN wherever their window holds a NaN (computed in ORT itself with IsNaN + the same
// reduction + Where), and with Clip's NaN bounds replaced by ±inf (what ORT does on x86; on arm64 its Clip
// goes through Eigen's NEON max, FMAX, which returns a NaN bound: not measured here, ORT does not start
// under this qemu). For models without those ops (the wake-word
// heads, the BERT encoder) it is plain ORT; against plain ORT everywhere, every value ORT makes non-finite
// is non-finite in ours too (x86; on arm64 ORT's Clip may make more NaN than we do: not asserted there).
//
// INT8 (precision 'int8', dynamic activation quantization): no uint8 grid holds NaN or ±inf, so a quantized
// layer whose input holds them (or |x| > FLT_MAX / 512) writes NaN to its whole output. Asserted: every output
// position ORT FP32 makes non-finite is non-finite in ours (in practice the whole output is NaN), nothing
// throws, and the hey_jarvis head scores NaN, not a plausible number.
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { Engine } from '../lib';
import type { Model, Node, TensorData } from '../lib/onnx/ir';
import { readModel } from '../lib/onnx/reader';
import { writeModel } from '../lib/onnx/writer';
import type { Tensor } from '../lib/tensor';
import { makeBertEncoderModel } from './fixtures/bert-encoder';
import { rng } from './helpers/random';
import { fetchModels } from './helpers/repo';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ort = require('onnxruntime-node');

type Feeds = Record<string, Tensor>;

interface Fixture {
  name: string;
  bytes: Uint8Array;
  feeds: (mutate: (data: Float32Array) => void) => Feeds;
}

/** The generated BERT-style encoder with its word embeddings as a float input (ids cannot carry NaN). */
function bertWithFloatEmbeddings(): Uint8Array {
  const model = makeBertEncoderModel({ layers: 2, hidden: 64, heads: 4, seq: 12, vocab: 50, seed: 7 });
  const graph = model.graph;
  const index = graph.nodes.findIndex((n) => n.opType === 'Gather' && n.inputs[1] === 'input_ids');
  const gather = graph.nodes[index];
  graph.nodes[index] = { name: '/embeddings/Identity', opType: 'Identity', domain: '', inputs: ['inputs_embeds'], outputs: gather.outputs, attributes: {} };
  graph.inputs.push({ name: 'inputs_embeds', dtype: 'float32', shape: ['batch', 12, 64] });
  graph.initializers.delete(gather.inputs[0]);
  return writeModel(model);
}

function floatFeed(dims: number[], scale: number, seed: number, mutate: (data: Float32Array) => void): Tensor {
  const next = rng(seed);
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => (next() * 2 - 1) * scale);
  mutate(data);
  return { type: 'float32', data, dims };
}

/**
 * The model with every MaxPool / GlobalMaxPool / ReduceMax / ReduceMin output replaced by NaN where its window
 * holds a NaN: y = Where(reduce(Cast(IsNaN(x), float)) > 0, NaN, reduce(x)), the same reduction (attributes and
 * extra inputs) applied to the NaN mask; and every Clip bound b (opset >= 11 inputs) replaced by
 * Where(IsNaN(b), ∓inf, b). Returns the bytes and how many nodes it rewrote.
 */
function nanPropagatingReference(bytes: Uint8Array): { bytes: Uint8Array; rewritten: number } {
  const model: Model = readModel(bytes);
  const graph = model.graph;
  const nodes: Node[] = [];
  let rewritten = 0;
  const scalar = (name: string, value: number) => graph.initializers.set(name, { dtype: 'float32', dims: [], data: Float32Array.of(value) } as TensorData);
  scalar('nonfinite_ref/nan', NaN);
  scalar('nonfinite_ref/zero', 0);
  scalar('nonfinite_ref/-inf', -Infinity);
  scalar('nonfinite_ref/+inf', Infinity);
  for (const n of graph.nodes) {
    if (n.opType === 'Clip' && n.domain === '' && n.inputs.length > 1) {
      const inputs = [...n.inputs];
      for (const [index, none] of [[1, 'nonfinite_ref/-inf'], [2, 'nonfinite_ref/+inf']] as const) {
        if (!inputs[index]) continue;
        const p = `nonfinite_ref/${rewritten++}`;
        nodes.push({ name: `${p}/IsNaN`, opType: 'IsNaN', domain: '', inputs: [inputs[index]], outputs: [`${p}/isnan`], attributes: {} });
        nodes.push({ name: `${p}/Where`, opType: 'Where', domain: '', inputs: [`${p}/isnan`, none, inputs[index]], outputs: [`${p}/bound`], attributes: {} });
        inputs[index] = `${p}/bound`;
      }
      nodes.push({ ...n, inputs });
      continue;
    }
    if (!['MaxPool', 'GlobalMaxPool', 'ReduceMax', 'ReduceMin'].includes(n.opType) || n.domain !== '' || n.outputs.length !== 1) {
      nodes.push(n);
      continue;
    }
    const p = `nonfinite_ref/${rewritten++}`;
    const y = n.outputs[0];
    const isNan = `${p}/isnan`, mask = `${p}/mask`, windowed = `${p}/windowed`, any = `${p}/any`, raw = `${p}/raw`;
    const reduceMask = n.opType === 'ReduceMin' ? 'ReduceMax' : n.opType;
    nodes.push({ ...n, outputs: [raw] });
    nodes.push({ name: `${p}/IsNaN`, opType: 'IsNaN', domain: '', inputs: [n.inputs[0]], outputs: [isNan], attributes: {} });
    nodes.push({ name: `${p}/Cast`, opType: 'Cast', domain: '', inputs: [isNan], outputs: [mask], attributes: { to: { type: 'int', value: 1 } } });
    nodes.push({ name: `${p}/${reduceMask}`, opType: reduceMask, domain: '', inputs: [mask, ...n.inputs.slice(1)], outputs: [windowed], attributes: n.attributes });
    nodes.push({ name: `${p}/Greater`, opType: 'Greater', domain: '', inputs: [windowed, 'nonfinite_ref/zero'], outputs: [any], attributes: {} });
    nodes.push({ name: `${p}/Where`, opType: 'Where', domain: '', inputs: [any, 'nonfinite_ref/nan', raw], outputs: [y], attributes: {} });
  }
  graph.nodes = nodes;
  return { bytes: writeModel(model), rewritten };
}

interface Classes {
  nan: number[];
  posInf: number[];
  negInf: number[];
}

function classify(data: Float32Array): Classes {
  const c: Classes = { nan: [], posInf: [], negInf: [] };
  data.forEach((v, i) => {
    if (Number.isNaN(v)) c.nan.push(i);
    else if (v === Infinity) c.posInf.push(i);
    else if (v === -Infinity) c.negInf.push(i);
  });
  return c;
}

function positions(list: number[]): string {
  return list.length > 8 ? `${list.length} positions [${list.slice(0, 8).join(', ')}, …]` : `[${list.join(', ')}]`;
}

/** Same NaN / +inf / -inf positions, finite values within 1e-4 x max|finite reference| (floor 1e-7). */
function assertSameNonFinite(ours: Float32Array, theirs: Float32Array, what: string) {
  assert.equal(ours.length, theirs.length, `${what}: length`);
  const a = classify(ours), b = classify(theirs);
  assert.deepEqual(a.nan, b.nan, `${what}: NaN at ${positions(a.nan)}, ONNX Runtime at ${positions(b.nan)}`);
  assert.deepEqual(a.posInf, b.posInf, `${what}: +inf at ${positions(a.posInf)}, ONNX Runtime at ${positions(b.posInf)}`);
  assert.deepEqual(a.negInf, b.negInf, `${what}: -inf at ${positions(a.negInf)}, ONNX Runtime at ${positions(b.negInf)}`);
  let worst = 0, max = 0;
  for (let i = 0; i < theirs.length; i++) {
    if (!Number.isFinite(theirs[i])) continue;
    max = Math.max(max, Math.abs(theirs[i]));
    worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
  }
  const bound = Math.max(1e-4 * max, 1e-7);
  assert.ok(worst <= bound, `${what}: finite values differ by ${worst} > ${bound}`);
}

/** Every position ONNX Runtime makes non-finite is non-finite in ours. */
function assertCoversNonFinite(ours: Float32Array, theirs: Float32Array, what: string) {
  const missed: number[] = [];
  theirs.forEach((v, i) => {
    if (!Number.isFinite(v) && Number.isFinite(ours[i])) missed.push(i);
  });
  assert.deepEqual(missed, [], `${what}: finite where ONNX Runtime is not, at ${positions(missed)} (e.g. ours ${ours[missed[0]]}, ORT ${theirs[missed[0]]})`);
}

async function ortRun(session: { run(feeds: unknown): Promise<Record<string, { data: unknown }>> }, feeds: Feeds) {
  const ortFeeds: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims);
  const out = await session.run(ortFeeds);
  return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, t.data as Float32Array]));
}

// The feeds: a few +inf (first, a third in, the last element), one -inf, two NaN, everything at ±3.4e38.
const cases: [string, (data: Float32Array) => void][] = [
  ['+inf at 3 positions', (d) => { d[0] = Infinity; d[Math.floor(d.length / 3)] = Infinity; d[d.length - 1] = Infinity; }],
  ['-inf at 1 position', (d) => { d[Math.floor(d.length / 4) + 1] = -Infinity; }],
  ['NaN at 2 positions', (d) => { d[Math.floor(d.length / 5)] = NaN; d[Math.floor((3 * d.length) / 5) + 2] = NaN; }],
  ['all 3.4e38', (d) => d.fill(3.4e38)],
  ['all -3.4e38', (d) => d.fill(-3.4e38)],
];

describe('non-finite inputs propagate like ONNX Runtime (allowNonFinite)', function () {
  this.timeout(600000);
  let fixtures: Fixture[];

  before(() => {
    const models = fetchModels();
    const file = (name: string) => new Uint8Array(fs.readFileSync(models[name]));
    const single = (input: string, dims: number[], scale: number) => (mutate: (d: Float32Array) => void): Feeds => ({ [input]: floatFeed(dims, scale, 3, mutate) });
    fixtures = [
      { name: 'melspectrogram.onnx', bytes: file('melspectrogram.onnx'), feeds: single('input', [1, 1760], 3000) },
      { name: 'embedding_model.onnx', bytes: file('embedding_model.onnx'), feeds: single('input_1', [1, 76, 32, 1], 2) },
      { name: 'hey_jarvis_v0.1.onnx', bytes: file('hey_jarvis_v0.1.onnx'), feeds: single('x.1', [1, 16, 96], 1) },
      { name: 'alexa_v0.1.onnx', bytes: file('alexa_v0.1.onnx'), feeds: single('onnx::Flatten_0', [1, 16, 96], 1) },
      { name: 'hey_mycroft_v0.1.onnx', bytes: file('hey_mycroft_v0.1.onnx'), feeds: single('onnx::Flatten_0', [1, 16, 96], 1) },
      { name: 'timer_v0.1.onnx', bytes: file('timer_v0.1.onnx'), feeds: single('onnx::Flatten_0', [1, 34, 96], 1) },
      {
        name: 'bert encoder (float embeddings)',
        bytes: bertWithFloatEmbeddings(),
        feeds: (mutate) => {
          const next = rng(11);
          return {
            input_ids: { type: 'int64', data: BigInt64Array.from({ length: 24 }, () => BigInt(Math.floor(next() * 50))), dims: [2, 12] },
            attention_mask: { type: 'int64', data: BigInt64Array.from({ length: 24 }, (_, i) => (i % 12 < 9 || i < 12 ? 1n : 0n)), dims: [2, 12] },
            inputs_embeds: floatFeed([2, 12, 64], 0.5, 5, mutate),
          };
        },
      },
    ];
  });

  it('refuses NaN and ±Infinity feeds unless allowNonFinite is set', async () => {
    const f = fixtures[2];
    const engine = await Engine.load(f.bytes, { threads: 1 });
    for (const special of [NaN, Infinity, -Infinity]) {
      assert.throws(() => engine.inferSync(f.feeds((d) => { d[5] = special; })), (e: Error & { code?: string }) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
    }
    engine.dispose();
  });

  for (const fixtureIndex of [0, 1, 2, 3, 4, 5, 6]) {
    it(`FP32: fixture ${fixtureIndex} gives NaN / ±inf where ONNX Runtime does`, async function () {
      const f = fixtures[fixtureIndex];
      this.test!.title = `FP32: ${f.name} gives NaN / ±inf where ONNX Runtime does (${cases.length} feeds)`;
      const engine = await Engine.load(f.bytes, { threads: 1, allowNonFinite: true });
      const reference = nanPropagatingReference(f.bytes);
      const plain = await ort.InferenceSession.create(f.bytes, { intraOpNumThreads: 1 });
      const propagating = reference.rewritten > 0 ? await ort.InferenceSession.create(reference.bytes, { intraOpNumThreads: 1 }) : plain;
      for (const [label, mutate] of cases) {
        const feeds = f.feeds(mutate);
        const ours = engine.inferSync(feeds);
        const theirs = await ortRun(propagating, feeds);
        const theirsPlain = reference.rewritten > 0 ? await ortRun(plain, feeds) : theirs;
        for (const output of engine.outputs) {
          const what = `${f.name} ${label} ${output.name}${reference.rewritten > 0 ? ` (reference: ${reference.rewritten} max-reductions / Clip bounds rewritten)` : ''}`;
          assertSameNonFinite(ours[output.name].data as Float32Array, theirs[output.name], what);
          if (process.arch === 'x64') assertCoversNonFinite(ours[output.name].data as Float32Array, theirsPlain[output.name], `${what} vs plain ORT`);
        }
      }
      engine.dispose();
    });
  }

  it('FP32: one +inf into the hey_jarvis head scores NaN (it used to score 0.544, above a 0.5 wake threshold)', async () => {
    const f = fixtures[2];
    const engine = await Engine.load(f.bytes, { threads: 1, allowNonFinite: true });
    for (const mutate of [(d: Float32Array) => { d[100] = Infinity; }, (d: Float32Array) => d.fill(3.4e38)]) {
      const score = Object.values(engine.inferSync(f.feeds(mutate)))[0].data as Float32Array;
      assert.equal(score.length, 1);
      assert.ok(Number.isNaN(score[0]), `hey_jarvis score ${score[0]}, want NaN`);
    }
    engine.dispose();
  });

  it("INT8: every value ONNX Runtime FP32 makes non-finite is non-finite (a quantized layer's whole output goes NaN)", async () => {
    for (const f of fixtures) {
      const engine = await Engine.load(f.bytes, { threads: 1, precision: 'int8', allowNonFinite: true });
      const session = await ort.InferenceSession.create(f.bytes, { intraOpNumThreads: 1 });
      for (const [label, mutate] of cases) {
        const feeds = f.feeds(mutate);
        const ours = await engine.infer(feeds);
        const theirs = await ortRun(session, feeds);
        for (const output of engine.outputs) assertCoversNonFinite(ours[output.name].data as Float32Array, theirs[output.name], `${f.name} int8 ${label} ${output.name}`);
      }
      if (f.name.startsWith('hey_jarvis')) {
        const score = Object.values(engine.inferSync(f.feeds((d) => { d[100] = Infinity; })))[0].data as Float32Array;
        assert.ok(Number.isNaN(score[0]), `hey_jarvis int8 score ${score[0]}, want NaN`);
      }
      engine.dispose();
    }
  });
});
