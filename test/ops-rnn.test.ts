/**
 * RNN, GRU and LSTM on the native backend (lib/onnx/ops/rnn.ts, cpp/runtime/ops/rnn.cc) against onnxruntime-node
 * on the same model and inputs: every direction, layout 0 / 1, initial states given or not, mixed sequence_lens,
 * GRU linear_before_reset, LSTM peepholes and input_forget, clip, batch > 1, hidden sizes that are not multiples
 * of 8. Outputs must agree within 1e-4 x max|ORT output|, and the native backend must run the model itself.
 */
import assert from 'node:assert/strict';

import { EdgeInferError, Engine, type Tensor } from '../lib';
import type { Attribute, Model, Node, TensorData } from '../lib/onnx/ir';
import { writeModel } from '../lib/onnx/writer';
import { rng } from './helpers/random';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ort = require('onnxruntime-node');

type Cell = 'RNN' | 'GRU' | 'LSTM';

interface Case {
  name: string;
  cell: Cell;
  direction?: 'forward' | 'reverse' | 'bidirectional';
  layout?: 0 | 1;
  seq: number;
  batch: number;
  input: number;
  hidden: number;
  bias?: boolean;
  initialH?: boolean;
  initialC?: boolean;
  /** Per-batch lengths (int32 input); undefined: every sequence is full. */
  lengths?: number[];
  linearBeforeReset?: 0 | 1;
  peepholes?: boolean;
  inputForget?: 0 | 1;
  clip?: number;
  activations?: string[];
  opset?: number;
  /** Leave Y_c (LSTM) or Y_h off the end of the output list. */
  outputs?: number;
  /** Outputs ['', 'Y_h']: Y omitted in place. */
  omitY?: boolean;
}

const gates: Record<Cell, number> = { RNN: 1, GRU: 3, LSTM: 4 };

function random(next: () => number, count: number, scale: number): Float32Array {
  return Float32Array.from({ length: count }, () => (next() * 2 - 1) * scale);
}

/** The model (weights as initializers; X, initial states and sequence_lens as inputs) and its feeds. */
function build(c: Case, layout: 0 | 1 = c.layout ?? 0): { bytes: Uint8Array; feeds: Record<string, Tensor>; outputs: string[] } {
  const next = rng(c.seq * 1000 + c.batch * 100 + c.hidden * 10 + c.input + (c.direction?.length ?? 0));
  const dirs = c.direction === 'bidirectional' ? 2 : 1;
  const g = gates[c.cell];
  const scale = 1 / Math.sqrt(c.hidden);
  const initializers = new Map<string, TensorData>([
    ['W', { dtype: 'float32', dims: [dirs, g * c.hidden, c.input], data: random(next, dirs * g * c.hidden * c.input, scale * 2) }],
    ['R', { dtype: 'float32', dims: [dirs, g * c.hidden, c.hidden], data: random(next, dirs * g * c.hidden * c.hidden, scale * 2) }],
  ]);
  if (c.bias !== false) initializers.set('B', { dtype: 'float32', dims: [dirs, 2 * g * c.hidden], data: random(next, dirs * 2 * g * c.hidden, 0.5) });
  if (c.peepholes) initializers.set('P', { dtype: 'float32', dims: [dirs, 3 * c.hidden], data: random(next, dirs * 3 * c.hidden, 0.5) });
  const xDims = layout === 0 ? [c.seq, c.batch, c.input] : [c.batch, c.seq, c.input];
  const stateDims = layout === 0 ? [dirs, c.batch, c.hidden] : [c.batch, dirs, c.hidden];
  const feeds: Record<string, Tensor> = {};
  const x = random(next, c.seq * c.batch * c.input, 2);
  const h0 = random(next, dirs * c.batch * c.hidden, 1);
  const c0 = random(next, dirs * c.batch * c.hidden, 1);
  // The same values whatever the layout (so a layout-1 case can be checked through its layout-0 twin).
  feeds.X = { type: 'float32', data: layout === 0 ? x : transpose3(x, [c.seq, c.batch, c.input]), dims: xDims };
  if (c.initialH) feeds.initial_h = { type: 'float32', data: layout === 0 ? h0 : transpose3(h0, [dirs, c.batch, c.hidden]), dims: stateDims };
  if (c.initialC) feeds.initial_c = { type: 'float32', data: layout === 0 ? c0 : transpose3(c0, [dirs, c.batch, c.hidden]), dims: stateDims };
  if (c.lengths) feeds.sequence_lens = { type: 'int32', data: Int32Array.from(c.lengths), dims: [c.batch] };
  const inputs = ['X', 'W', 'R', initializers.has('B') ? 'B' : '', c.lengths ? 'sequence_lens' : '', c.initialH ? 'initial_h' : ''];
  if (c.cell === 'LSTM') inputs.push(c.initialC ? 'initial_c' : '', c.peepholes ? 'P' : '');
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const allOutputs = c.cell === 'LSTM' ? ['Y', 'Y_h', 'Y_c'] : ['Y', 'Y_h'];
  const outputs = allOutputs.slice(0, c.outputs ?? allOutputs.length).map((name) => (c.omitY && name === 'Y' ? '' : name));
  const attributes: Record<string, Attribute> = { hidden_size: { type: 'int', value: c.hidden } };
  if (c.direction) attributes.direction = { type: 'string', value: c.direction };
  if (layout === 1) attributes.layout = { type: 'int', value: 1 };
  if (c.linearBeforeReset !== undefined) attributes.linear_before_reset = { type: 'int', value: c.linearBeforeReset };
  if (c.inputForget !== undefined) attributes.input_forget = { type: 'int', value: c.inputForget };
  if (c.clip !== undefined) attributes.clip = { type: 'float', value: c.clip };
  if (c.activations) attributes.activations = { type: 'strings', value: c.activations };
  const node: Node = { name: `${c.cell.toLowerCase()}_node`, opType: c.cell, domain: '', inputs, outputs, attributes };
  const yDims = layout === 0 ? [c.seq, dirs, c.batch, c.hidden] : [c.batch, c.seq, dirs, c.hidden];
  const model: Model = {
    irVersion: 8,
    opsets: new Map([['', c.opset ?? 14]]),
    producerName: 'edgeinfer-test',
    producerVersion: '0',
    metadata: {},
    graph: {
      name: c.name,
      nodes: [node],
      inputs: Object.entries(feeds).map(([name, t]) => ({ name, dtype: t.type as 'float32' | 'int32', shape: [...t.dims] })),
      outputs: outputs.filter((name) => name !== '').map((name) => ({ name, dtype: 'float32' as const, shape: name === 'Y' ? yDims : stateDims })),
      initializers,
      valueInfo: new Map(),
    },
  };
  return { bytes: writeModel(model), feeds, outputs };
}

/** [a, b, c] -> [b, a, c]. */
function transpose3(data: Float32Array, [a, b, c]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out.set(data.subarray((i * b + j) * c, (i * b + j + 1) * c), (j * a + i) * c);
  return out;
}

/** Y [seq, dirs, batch, hidden] -> [batch, seq, dirs, hidden]. */
function yToBatchFirst(data: Float32Array, [s, d, b, h]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let t = 0; t < s; t++)
    for (let k = 0; k < d; k++)
      for (let n = 0; n < b; n++) out.set(data.subarray(((t * d + k) * b + n) * h, ((t * d + k) * b + n + 1) * h), ((n * s + t) * d + k) * h);
  return out;
}

async function runOrt(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  // logSeverityLevel 4: ORT's refusal of layout 1 is expected (see expected()), not worth a log line.
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'], logSeverityLevel: 4 });
  const ortFeeds: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims);
  const result = await session.run(ortFeeds);
  await session.release();
  return result;
}

/**
 * ONNX Runtime's outputs for the case. Its CPU kernels do not take layout 1 (they refuse it at load): then
 * the layout-0 twin of the model runs on the same values and its outputs are transposed.
 */
async function expected(c: Case): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const { bytes, feeds } = build(c);
  try {
    return await runOrt(bytes, feeds);
  } catch (error) {
    if ((c.layout ?? 0) === 0) throw error;
  }
  const twin = build(c, 0);
  const result = await runOrt(twin.bytes, twin.feeds);
  const out: Record<string, { data: Float32Array; dims: number[] }> = {};
  for (const [name, t] of Object.entries(result)) {
    if (name === 'Y') {
      const [s, d, b, h] = t.dims;
      out[name] = { data: yToBatchFirst(t.data, t.dims), dims: [b, s, d, h] };
    } else {
      const [d, b, h] = t.dims;
      out[name] = { data: transpose3(t.data, t.dims), dims: [b, d, h] };
    }
  }
  return out;
}

function maxAbs(values: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i]));
  return worst;
}

const cases: Case[] = [
  { name: 'GRU forward, no initial state', cell: 'GRU', seq: 5, batch: 1, input: 4, hidden: 5 },
  { name: 'GRU reverse, initial_h, batch 3', cell: 'GRU', direction: 'reverse', seq: 6, batch: 3, input: 7, hidden: 9, initialH: true },
  { name: 'GRU bidirectional, linear_before_reset 1 (PyTorch export)', cell: 'GRU', direction: 'bidirectional', seq: 7, batch: 2, input: 10, hidden: 13, initialH: true, linearBeforeReset: 1 },
  { name: 'GRU bidirectional, linear_before_reset 0, mixed sequence_lens', cell: 'GRU', direction: 'bidirectional', seq: 6, batch: 4, input: 5, hidden: 11, initialH: true, lengths: [6, 3, 1, 5] },
  { name: 'GRU linear_before_reset 1, sequence_lens, layout 1', cell: 'GRU', direction: 'bidirectional', layout: 1, seq: 5, batch: 3, input: 6, hidden: 7, initialH: true, linearBeforeReset: 1, lengths: [2, 5, 4] },
  { name: 'GRU no bias, clip 0.5, hidden 17', cell: 'GRU', seq: 4, batch: 2, input: 3, hidden: 17, bias: false, clip: 0.5 },
  { name: 'GRU forward, Y only (Y_h left off), opset 7', cell: 'GRU', seq: 3, batch: 2, input: 4, hidden: 6, outputs: 1, opset: 7 },
  { name: 'LSTM forward, no initial state', cell: 'LSTM', seq: 5, batch: 1, input: 4, hidden: 5 },
  { name: 'LSTM reverse, initial_h and initial_c, batch 3', cell: 'LSTM', direction: 'reverse', seq: 6, batch: 3, input: 8, hidden: 10, initialH: true, initialC: true },
  { name: 'LSTM bidirectional, peepholes, mixed sequence_lens', cell: 'LSTM', direction: 'bidirectional', seq: 7, batch: 3, input: 5, hidden: 12, initialH: true, initialC: true, peepholes: true, lengths: [7, 2, 4] },
  { name: 'LSTM bidirectional, layout 1, sequence_lens, peepholes', cell: 'LSTM', direction: 'bidirectional', layout: 1, seq: 4, batch: 2, input: 3, hidden: 9, initialH: true, initialC: true, peepholes: true, lengths: [3, 4] },
  { name: 'LSTM input_forget 1, clip 1.5', cell: 'LSTM', seq: 5, batch: 2, input: 6, hidden: 7, inputForget: 1, clip: 1.5, initialC: true },
  { name: 'LSTM explicit default activations, Y and Y_h only', cell: 'LSTM', direction: 'bidirectional', seq: 3, batch: 2, input: 4, hidden: 3, outputs: 2, activations: ['Sigmoid', 'Tanh', 'Tanh', 'Sigmoid', 'Tanh', 'Tanh'] },
  { name: 'RNN bidirectional Tanh, initial_h', cell: 'RNN', direction: 'bidirectional', seq: 5, batch: 2, input: 4, hidden: 6, initialH: true },
  { name: 'RNN Relu, sequence_lens, layout 1', cell: 'RNN', layout: 1, seq: 4, batch: 3, input: 5, hidden: 7, activations: ['Relu'], lengths: [4, 1, 3] },
];

describe('recurrent ops (RNN, GRU, LSTM) on the native backend match ONNX Runtime', function () {
  this.timeout(120000);

  for (const c of cases) {
    it(c.name, async () => {
      const { bytes, feeds, outputs } = build(c);
      const engine = await Engine.load(bytes, { backend: 'native', threads: 1 });
      try {
        assert.equal(engine.info().backend, 'native');
        const ours = await engine.infer(feeds);
        const theirs = await expected(c);
        let worst = 0;
        for (const name of outputs) {
          const a = ours[name].data as Float32Array;
          const b = theirs[name].data;
          assert.deepEqual(Array.from(ours[name].dims), Array.from(theirs[name].dims), `${name}: dims`);
          const bound = 1e-4 * Math.max(maxAbs(b), 1e-3);
          let diff = 0;
          for (let i = 0; i < a.length; i++) diff = Math.max(diff, Number.isNaN(a[i] - b[i]) ? Infinity : Math.abs(a[i] - b[i]));
          assert.ok(diff <= bound, `${name}: max |diff| ${diff} > ${bound}`);
          worst = Math.max(worst, diff / Math.max(maxAbs(b), 1e-3));
        }
        console.log(`      max |diff| / max|ORT| = ${worst.toExponential(2)}`);
      } finally {
        engine.dispose();
      }
    });
  }

  it('positions past sequence_lens are 0 in Y, and Y_h holds the last valid step', async () => {
    const c: Case = { name: 'lengths', cell: 'GRU', direction: 'bidirectional', seq: 5, batch: 2, input: 3, hidden: 4, lengths: [2, 5] };
    const { bytes, feeds } = build(c);
    const engine = await Engine.load(bytes, { backend: 'native', threads: 1 });
    const { Y, Y_h } = await engine.infer(feeds);
    engine.dispose();
    const y = Y.data as Float32Array;
    const h = 4;
    const at = (t: number, d: number, b: number) => y.subarray(((t * 2 + d) * 2 + b) * h, ((t * 2 + d) * 2 + b + 1) * h);
    for (let t = 2; t < 5; t++) for (let d = 0; d < 2; d++) assert.deepEqual(Array.from(at(t, d, 0)), [0, 0, 0, 0]);
    const yh = Y_h.data as Float32Array;
    assert.deepEqual(Array.from(yh.subarray(0, h)), Array.from(at(1, 0, 0)), 'forward: step 1 is the last of batch 0');
    assert.deepEqual(Array.from(yh.subarray(2 * h, 3 * h)), Array.from(at(0, 1, 0)), 'reverse: step 0 is the last');
  });

  it('NaN in X propagates to the outputs', async () => {
    const c: Case = { name: 'nan', cell: 'LSTM', seq: 3, batch: 2, input: 3, hidden: 5 };
    const { bytes, feeds } = build(c);
    (feeds.X.data as Float32Array)[0] = NaN;  // step 0, batch 0
    const engine = await Engine.load(bytes, { backend: 'native', threads: 1, allowNonFinite: true });
    const { Y, Y_h } = await engine.infer(feeds);
    engine.dispose();
    assert.ok(Number.isNaN((Y.data as Float32Array)[0]));
    assert.ok(Number.isNaN((Y_h.data as Float32Array)[0]));
    assert.ok(!Number.isNaN((Y_h.data as Float32Array)[5]), 'batch 1 is untouched');
  });

  it('refuses other activations as EDGEINFER_UNSUPPORTED_OP, naming them; auto then runs ONNX Runtime', async () => {
    const hard = build({ name: 'hard', cell: 'GRU', seq: 2, batch: 1, input: 2, hidden: 3, activations: ['HardSigmoid', 'Tanh'] });
    await assert.rejects(Engine.load(hard.bytes, { backend: 'native' }), (error: EdgeInferError) => error.code === 'EDGEINFER_UNSUPPORTED_OP' && /HardSigmoid/.test(error.message));
    const engine = await Engine.load(hard.bytes);  // 'auto' runs it on ONNX Runtime
    assert.equal(engine.info().backend, 'onnxruntime');
    engine.dispose();
  });

  it('an output omitted in place (Y named \'\') is refused as EDGEINFER_UNSUPPORTED_OP for now (plan.cc takes no slot -1)', async () => {
    const omitted = build({ name: 'omitted', cell: 'GRU', seq: 2, batch: 1, input: 2, hidden: 3, omitY: true });
    await assert.rejects(Engine.load(omitted.bytes, { backend: 'native' }), (error: EdgeInferError) => error.code === 'EDGEINFER_UNSUPPORTED_OP' && /omitted in place/.test(error.message));
  });

  it('a sequence length outside [0, seq] fails the call, not the process', async () => {
    const c: Case = { name: 'bad lengths', cell: 'GRU', seq: 3, batch: 2, input: 2, hidden: 3, lengths: [3, 4] };
    const { bytes, feeds } = build(c);
    const engine = await Engine.load(bytes, { backend: 'native', threads: 1 });
    await assert.rejects(engine.infer(feeds), /sequence_lens\[1\] = 4/);
    (feeds.sequence_lens.data as Int32Array)[1] = 2;
    await engine.infer(feeds);
    engine.dispose();
  });
});
