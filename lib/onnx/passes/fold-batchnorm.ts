/**
 * Folds an inference BatchNormalization into the layer before it: y = (x - mean) * a + B with
 * a = scale / sqrt(var + epsilon) per channel is affine, so after Conv(W, b) it is Conv(W * a, (b - mean) * a + B)
 * (W scaled per output channel), after Gemm it scales B's output columns and moves into C, after a 2-D MatMul
 * it scales the weight columns and becomes an Add (which fuse-bias then turns into a Gemm). Only when every
 * parameter is a float32 constant, the layer's weights are constant and its output feeds the BN alone.
 * New initializers are made; shared TensorData is never written. A BN with no such layer (DenseNet's
 * pre-activation BN after a Concat) stays and runs as its own step.
 */
import type { Graph, Model, Node, TensorData } from '../ir';
import { GraphIndex, forEachGraph, isOp, replaceNodes, uniqueName } from './graph-index';

export interface Affine {
  a: Float32Array;
  shift: Float32Array; // B - mean * a
}

function f32(t: TensorData | undefined, n: number): Float32Array | undefined {
  return t && t.dtype === 'float32' && t.data.length === n ? (t.data as Float32Array) : undefined;
}

/** The BN's per-channel affine form, when it is an inference BN with constant float32 parameters of `n` channels. */
export function affineOf(bn: Node, index: GraphIndex, n: number, opset: number): Affine | undefined {
  if (bn.inputs.length < 5 || bn.outputs.slice(1).some((name) => name !== '')) return undefined;
  const attr = (name: string) => bn.attributes[name];
  const training = attr('training_mode');
  if (training?.type === 'int' && training.value !== 0) return undefined;
  const spatial = attr('spatial');
  if (opset < 9 && spatial?.type === 'int' && spatial.value === 0) return undefined;
  const isTest = attr('is_test');
  if (opset < 7 && isTest?.type === 'int' && isTest.value === 0) return undefined;
  const [scale, bias, mean, variance] = bn.inputs.slice(1, 5).map((name) => f32(index.constant(name), n));
  if (!scale || !bias || !mean || !variance) return undefined;
  const epsAttr = attr('epsilon');
  const eps = Math.fround(epsAttr?.type === 'float' ? epsAttr.value : 1e-5);
  const a = new Float32Array(n);
  const shift = new Float32Array(n);
  for (let c = 0; c < n; c++) {
    a[c] = scale[c] / Math.sqrt(Math.fround(variance[c] + eps));
    shift[c] = bias[c] - mean[c] * a[c];
  }
  return { a, shift };
}

function addInitializer(graph: Graph, base: string, tensor: TensorData): string {
  const name = uniqueName(graph, base);
  graph.initializers.set(name, tensor);
  return name;
}

function foldIntoConv(graph: Graph, index: GraphIndex, conv: Node, bn: Node, opset: number): boolean {
  const w = index.constant(conv.inputs[1]);
  if (!w || w.dtype !== 'float32' || w.dims.length < 3) return false;
  const m = w.dims[0];
  const affine = affineOf(bn, index, m, opset);
  if (!affine) return false;
  const existing = conv.inputs[2] ? f32(index.constant(conv.inputs[2]), m) : new Float32Array(m);
  if (!existing) return false;
  const per = w.data.length / m;
  const weights = new Float32Array(w.data.length);
  const src = w.data as Float32Array;
  for (let o = 0; o < m; o++) for (let k = 0; k < per; k++) weights[o * per + k] = src[o * per + k] * affine.a[o];
  const bias = Float32Array.from(existing, (b, o) => b * affine.a[o] + affine.shift[o]);
  const wName = addInitializer(graph, `${conv.name}/bn_weight`, { dtype: 'float32', dims: [...w.dims], data: weights });
  const bName = addInitializer(graph, `${conv.name}/bn_bias`, { dtype: 'float32', dims: [m], data: bias });
  replaceNodes(graph, [conv, bn], [{ ...conv, inputs: [conv.inputs[0], wName, bName], outputs: [bn.outputs[0]] }]);
  return true;
}

function foldIntoGemm(graph: Graph, index: GraphIndex, gemm: Node, bn: Node, opset: number): boolean {
  const b = index.constant(gemm.inputs[1]);
  if (!b || b.dtype !== 'float32' || b.dims.length !== 2) return false;
  const intAttr = (name: string, fallback: number) => (gemm.attributes[name]?.type === 'int' ? (gemm.attributes[name].value as number) : fallback);
  const floatAttr = (name: string, fallback: number) => {
    const a = gemm.attributes[name];
    return a?.type === 'float' || a?.type === 'int' ? a.value : fallback;
  };
  const transB = intAttr('transB', 0) === 1;
  const [k, m] = transB ? [b.dims[1], b.dims[0]] : b.dims;
  const affine = affineOf(bn, index, m, opset);
  if (!affine) return false;
  // C must reduce to one value per output column (scalar, [M] or [1, M]) to scale it.
  const beta = floatAttr('beta', 1);
  let c = new Float32Array(m);
  if (gemm.inputs[2]) {
    const t = index.constant(gemm.inputs[2]);
    if (!t || t.dtype !== 'float32') return false;
    const perColumn = t.data.length === m && t.dims[t.dims.length - 1] === m && t.dims.slice(0, -1).every((d) => d === 1);
    if (t.data.length !== 1 && !perColumn) return false;
    const data = t.data as Float32Array;
    c = Float32Array.from({ length: m }, (_, j) => beta * data[t.data.length === 1 ? 0 : j]);
  }
  const src = b.data as Float32Array;
  const weights = new Float32Array(src.length);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < m; j++) {
      const at = transB ? j * k + i : i * m + j;
      weights[at] = src[at] * affine.a[j];
    }
  }
  const bias = Float32Array.from(c, (v, j) => v * affine.a[j] + affine.shift[j]);
  const wName = addInitializer(graph, `${gemm.name}/bn_weight`, { dtype: 'float32', dims: [...b.dims], data: weights });
  const cName = addInitializer(graph, `${gemm.name}/bn_bias`, { dtype: 'float32', dims: [m], data: bias });
  replaceNodes(graph, [gemm, bn], [{
    ...gemm,
    inputs: [gemm.inputs[0], wName, cName],
    outputs: [bn.outputs[0]],
    attributes: { ...gemm.attributes, beta: { type: 'float', value: 1 } },
  }]);
  return true;
}

function foldIntoMatMul(graph: Graph, index: GraphIndex, matmul: Node, bn: Node, opset: number): boolean {
  const b = index.constant(matmul.inputs[1]);
  const out = graph.valueInfo.get(matmul.outputs[0])?.shape;
  // BN's channel axis is 1: the MatMul's output columns only when that output is 2-D.
  if (!b || b.dtype !== 'float32' || b.dims.length !== 2 || out?.length !== 2) return false;
  const [k, m] = b.dims;
  const affine = affineOf(bn, index, m, opset);
  if (!affine) return false;
  const src = b.data as Float32Array;
  const weights = new Float32Array(src.length);
  for (let i = 0; i < k; i++) for (let j = 0; j < m; j++) weights[i * m + j] = src[i * m + j] * affine.a[j];
  const wName = addInitializer(graph, `${matmul.name}/bn_weight`, { dtype: 'float32', dims: [k, m], data: weights });
  const bName = addInitializer(graph, `${matmul.name}/bn_bias`, { dtype: 'float32', dims: [m], data: affine.shift });
  const scaled = uniqueName(graph, `${matmul.outputs[0]}/bn`);
  graph.valueInfo.set(scaled, { name: scaled, dtype: 'float32', shape: [...out] });
  const add: Node = { name: uniqueName(graph, `${bn.name}/Add`), opType: 'Add', domain: '', inputs: [scaled, bName], outputs: [bn.outputs[0]], attributes: {} };
  replaceNodes(graph, [matmul, bn], [{ ...matmul, inputs: [matmul.inputs[0], wName], outputs: [scaled] }, add]);
  return true;
}

export function foldBatchNorm(model: Model): number {
  const opset = model.opsets.get('') ?? model.opsets.get('ai.onnx') ?? 13;
  return forEachGraph(model.graph, (graph, outer) => {
    let count = 0;
    for (;;) {
      const index = new GraphIndex(graph, outer);
      let done = false;
      for (const bn of graph.nodes) {
        if (!isOp(bn, 'BatchNormalization')) continue;
        const layer = index.producer.get(bn.inputs[0]);
        if (!layer || !index.onlyFeeds(bn.inputs[0], bn)) continue;
        const folded = isOp(layer, 'Conv')
          ? foldIntoConv(graph, index, layer, bn, opset)
          : isOp(layer, 'Gemm')
            ? foldIntoGemm(graph, index, layer, bn, opset)
            : isOp(layer, 'MatMul')
              ? foldIntoMatMul(graph, index, layer, bn, opset)
              : false;
        if (folded) {
          count++;
          done = true;
          break;
        }
      }
      if (!done) return count;
    }
  });
}
