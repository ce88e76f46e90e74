/**
 * MatMul(A, Transpose(B)) where the Transpose swaps only B's last two dims (attention's K^T, a tied LM head's
 * embedding^T) -> FusedMatMul(A, B) with transB = 1: the matmul kernels read B^T in place, so the transpose,
 * a full copy of B on every run (of a constant too large to fold), disappears. Only when the Transpose feeds
 * nothing else.
 */
import { Model, Node } from '../ir';
import { fusedDomain } from '../fused-ops';
import { GraphIndex, forEachGraph } from './graph-index';

/** True for a perm that keeps every axis but swaps the last two (rank >= 2). */
function swapsLastTwo(perm: number[]): boolean {
  const r = perm.length;
  return r >= 2 && perm[r - 2] === r - 1 && perm[r - 1] === r - 2 && perm.slice(0, r - 2).every((axis, i) => axis === i);
}

function isMatMul(node: Node): boolean {
  return (node.domain === '' && node.opType === 'MatMul') || (node.domain === fusedDomain && node.opType === 'FusedMatMul');
}

export function fuseTransposeMatMul(model: Model): number {
  return forEachGraph(model.graph, (graph) => {
    const index = new GraphIndex(graph);
    const absorbed = new Set<Node>();
    for (const node of graph.nodes) {
      if (!isMatMul(node) || node.attributes.transB?.type === 'int') continue;
      const transpose = index.producedBy(node.inputs[1], 'Transpose');
      const perm = transpose?.attributes.perm?.type === 'ints' ? transpose.attributes.perm.value : undefined;
      if (!transpose || !perm || !swapsLastTwo(perm) || !index.onlyFeeds(node.inputs[1], node) || node.inputs[0] === node.inputs[1]) continue;
      node.inputs = [node.inputs[0], transpose.inputs[0], ...node.inputs.slice(2)];
      node.attributes = { ...node.attributes, transB: { type: 'int', value: 1 } };
      if (node.domain !== fusedDomain) {
        node.domain = fusedDomain;
        node.opType = 'FusedMatMul';
      }
      absorbed.add(transpose);
    }
    graph.nodes = graph.nodes.filter((node) => !absorbed.has(node));
    return absorbed.size;
  });
}
