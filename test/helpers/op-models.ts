/**
 * Small ONNX models built in the op specs (one node or a few) and the comparison with onnxruntime-node on
 * the same bytes: float outputs within 1e-4 x max|ORT|, integer outputs exactly; the native backend must run
 * them (Engine.load with backend 'native').
 */
import assert from 'node:assert/strict';

import { Engine, type Tensor } from '../../lib';
import type { Attribute, DataType, Model, Node, TensorData } from '../../lib/onnx/ir';
import { writeModel } from '../../lib/onnx/writer';
import { rng } from './random';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ort = require('onnxruntime-node');

export interface GraphSpec {
  opset: number;
  nodes: Node[];
  inputs: { name: string; dtype: DataType; shape: (number | string)[] }[];
  outputs: { name: string; dtype: DataType }[];
  initializers?: Record<string, TensorData>;
}

export function node(opType: string, inputs: string[], outputs: string[], attributes: Record<string, Attribute> = {}, name = opType): Node {
  return { name, opType, domain: '', inputs, outputs, attributes };
}

export const int = (value: number): Attribute => ({ type: 'int', value });
export const float = (value: number): Attribute => ({ type: 'float', value });
export const str = (value: string): Attribute => ({ type: 'string', value });
export const ints = (value: number[]): Attribute => ({ type: 'ints', value });
export const floats = (value: number[]): Attribute => ({ type: 'floats', value });

export const f32 = (dims: number[], values: ArrayLike<number>): TensorData => ({ dtype: 'float32', dims, data: Float32Array.from(values) });
export const i64 = (dims: number[], values: number[]): TensorData => ({ dtype: 'int64', dims, data: BigInt64Array.from(values.map(BigInt)) });
export const i32 = (dims: number[], values: number[]): TensorData => ({ dtype: 'int32', dims, data: Int32Array.from(values) });

export function buildModel(spec: GraphSpec): Model {
  return {
    irVersion: 8,
    opsets: new Map([['', spec.opset]]),
    producerName: 'edgeinfer-test',
    producerVersion: '0',
    metadata: {},
    graph: {
      name: 'ops',
      nodes: spec.nodes,
      inputs: spec.inputs,
      outputs: spec.outputs,
      initializers: new Map(Object.entries(spec.initializers ?? {})),
      valueInfo: new Map(),
    },
  };
}

export function randomFloats(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: n }, () => (next() * 2 - 1) * scale + offset);
}

export function feed(type: Tensor['type'], dims: number[], data: Tensor['data']): Tensor {
  return { type, dims, data } as Tensor;
}

function maxAbs(values: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) worst = Math.max(worst, Math.abs(values[i]));
  return worst;
}

/**
 * Runs `bytes` natively and with ONNX Runtime on `feeds`; asserts the match and that the native backend ran
 * it. Returns the worst |diff| relative to max|ORT| over the float outputs (0 for exact ones).
 */
export async function matchOrt(spec: GraphSpec | Uint8Array, feeds: Record<string, Tensor>, what: string): Promise<number> {
  const bytes = spec instanceof Uint8Array ? spec : writeModel(buildModel(spec));
  // Feeds may hold NaN / ±inf on purpose (special-value cases): both runtimes get them as given.
  const engine = await Engine.load(bytes, { backend: 'native', threads: 1, allowNonFinite: true });
  try {
    assert.equal(engine.info().backend, 'native', what);
    const ours = await engine.infer(feeds);
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, executionProviders: ['cpu'] });
    const ortFeeds: Record<string, unknown> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    const theirs = await session.run(ortFeeds);
    let worst = 0;
    for (const name of session.outputNames as string[]) {
      const a = ours[name];
      const b = theirs[name];
      assert.deepEqual(Array.from(a.dims), Array.from(b.dims), `${what}/${name}: dims`);
      if (a.type === 'float32' || a.type === 'float64') {
        const bound = Math.max(1e-4 * maxAbs(b.data), 1e-7);
        let diff = 0;
        for (let i = 0; i < a.data.length; i++) {
          const [x, y] = [a.data[i] as number, b.data[i] as number];
          if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue; // equal, the same infinity, or both NaN
          const d = Math.abs(x - y);
          diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
        }
        assert.ok(diff <= bound, `${what}/${name}: max |diff| ${diff} > ${bound}`);
        worst = Math.max(worst, diff / Math.max(maxAbs(b.data), 1e-30));
      } else {
        assert.deepEqual(Array.from(a.data as ArrayLike<number | bigint>), Array.from(b.data as ArrayLike<number | bigint>), `${what}/${name}: integer output differs`);
      }
    }
    await session.release();
    return worst;
  } finally {
    engine.dispose();
  }
}
