/**
 * Bias fusions. MatMul(A, B const [K, N]) + Add(constant [N] or [1..1, N]) -> Gemm(A, B, bias) when A is
 * 2-D, else edgeinfer FusedMatMul(A, B, bias). Conv + Add(constant broadcast over channels: [C, 1, ..] /
 * [1, C, 1, ..]) -> Conv with that bias (added to an existing one).
 */
import { Dim, Graph, Model, Node, TensorData } from '../ir';
import { fusedDomain } from '../fused-ops';
import { GraphIndex, forEachGraph, isOp, otherInput, replaceNodes, uniqueName } from './graph-index';

function shapeOf(graph: Graph, index: GraphIndex, name: string): Dim[] | undefined {
  const t = index.constant(name);
  if (t) return t.dims;
  return graph.valueInfo.get(name)?.shape ?? graph.inputs.find((i) => i.name === name)?.shape;
}

/** The constant as a float32 vector of `n` elements when its dims are all 1 except the one at `axisFromEnd`. */
function vectorAlong(t: TensorData | undefined, n: number, axisFromEnd: number, maxRank: number): Float32Array | undefined {
  if (!t || t.dtype !== 'float32' || t.data.length !== n || t.dims.length > maxRank) return undefined;
  const dims = t.dims;
  const ok = dims.every((d, a) => (a === dims.length - 1 - axisFromEnd ? d === n : d === 1));
  if (!ok && !(n === 1 && t.data.length === 1)) return undefined;
  return t.data as Float32Array;
}

export function fuseMatMulBias(model: Model): number {
  return forEachGraph(model.graph, (graph, outer) => {
    let count = 0;
    for (;;) {
      const index = new GraphIndex(graph, outer);
      let done = false;
      for (const matmul of graph.nodes) {
        if (!isOp(matmul, 'MatMul')) continue;
        const add = index.soleConsumer(matmul.outputs[0]);
        if (!isOp(add, 'Add')) continue;
        const biasName = otherInput(add, matmul.outputs[0]);
        const b = shapeOf(graph, index, matmul.inputs[1]);
        const aShape = shapeOf(graph, index, matmul.inputs[0]);
        const outShape = graph.valueInfo.get(matmul.outputs[0])?.shape;
        const n = b && b.length >= 2 ? b[b.length - 1] : outShape?.[outShape.length - 1];
        if (biasName === undefined || typeof n !== 'number') continue;
        const biasTensor = index.constant(biasName);
        const outRank = outShape?.length ?? aShape?.length;
        const bias = vectorAlong(biasTensor, n, 0, outRank ?? 1);
        if (!bias) continue;
        let biasInput = biasName;
        if (biasTensor!.dims.length !== 1) {
          biasInput = uniqueName(graph, `${biasName}/1d`);
          graph.initializers.set(biasInput, { dtype: 'float32', dims: [n], data: bias.slice() });
        }
        const twoD = aShape?.length === 2 && b?.length === 2;
        const fused: Node = twoD
          ? { name: uniqueName(graph, `${matmul.name}/Gemm`), opType: 'Gemm', domain: '', inputs: [matmul.inputs[0], matmul.inputs[1], biasInput], outputs: [add.outputs[0]], attributes: {} }
          : { name: uniqueName(graph, `${matmul.name}/FusedMatMul`), opType: 'FusedMatMul', domain: fusedDomain, inputs: [matmul.inputs[0], matmul.inputs[1], biasInput], outputs: [add.outputs[0]], attributes: {} };
        replaceNodes(graph, [matmul, add], [fused]);
        count++;
        done = true;
        break;
      }
      if (!done) return count;
    }
  });
}

export function fuseConvBias(model: Model): number {
  return forEachGraph(model.graph, (graph, outer) => {
    let count = 0;
    for (;;) {
      const index = new GraphIndex(graph, outer);
      let done = false;
      for (const conv of graph.nodes) {
        if (!isOp(conv, 'Conv')) continue;
        const add = index.soleConsumer(conv.outputs[0]);
        if (!isOp(add, 'Add')) continue;
        const biasName = otherInput(add, conv.outputs[0]);
        const w = index.constant(conv.inputs[1]);
        if (biasName === undefined || !w) continue;
        const channels = w.dims[0];
        const spatial = w.dims.length - 2;
        const bias = vectorAlong(index.constant(biasName), channels, spatial, spatial + 2);
        if (!bias) continue;
        const combined = new Float32Array(channels);
        combined.set(bias);
        const existing = conv.inputs[2] ? index.constant(conv.inputs[2]) : undefined;
        if (conv.inputs[2] && (!existing || existing.dtype !== 'float32' || existing.data.length !== channels)) continue;
        if (existing) for (let c = 0; c < channels; c++) combined[c] += (existing.data as Float32Array)[c];
        const biasInput = uniqueName(graph, `${conv.name}/bias`);
        graph.initializers.set(biasInput, { dtype: 'float32', dims: [channels], data: combined });
        replaceNodes(graph, [conv, add], [{ ...conv, inputs: [conv.inputs[0], conv.inputs[1], biasInput], outputs: [add.outputs[0]] }]);
        count++;
        done = true;
        break;
      }
      if (!done) return count;
    }
  });
}
