/**
 * NhwcQLinearFusedConv -> QuantizeDequantize (per tensor): the conv applies the fake quantization itself (inputs
 * y_scale, y_zero_point), per block of output rows while they are in cache, instead of a step of its own that
 * reads and writes the whole output again (a QDQ ResNet has one after every conv).
 *
 * Other readers of the conv's float output may stay only when they quantize it with the same parameters (INT8
 * ops whose x_scale / x_zero_point are the pair's): they then read the fake-quantized values, and quantizing a
 * level's value again gives that level exactly, so nothing they compute changes.
 */
import { Model, Node } from '../ir';
import { fusedDomain } from '../fused-ops';
import { perTensorParameters, sameConstant } from './fuse-qdq';
import { GraphIndex, forEachGraph } from './graph-index';

const int8Readers = new Set(['QLinearFusedConv', 'NhwcQLinearFusedConv', 'QLinearFusedGemm', 'QLinearFusedMatMul']);
const isFused = (node: Node, ...ops: string[]) => node.domain === fusedDomain && ops.includes(node.opType);

export function fuseOutputQdq(model: Model): number {
  return forEachGraph(model.graph, (graph, outer) => {
    let count = 0;
    for (;;) {
      const index = new GraphIndex(graph, outer);
      let fused = false;
      for (const conv of graph.nodes) {
        if (!isFused(conv, 'NhwcQLinearFusedConv') || conv.inputs.length > 7) continue;
        const output = conv.outputs[0];
        if (index.outputs.has(output)) continue;
        const readers = index.consumersOf(output);
        const pairs = readers.filter((node) => isFused(node, 'QuantizeDequantize') && node.inputs[0] === output);
        if (pairs.length !== 1 || !perTensorParameters(index, pairs[0])) continue;
        const qdq = pairs[0];
        const others = readers.filter((node) => node !== qdq);
        const quantizeAlike = (node: Node) =>
          int8Readers.has(node.opType) &&
          node.domain === fusedDomain &&
          node.inputs[0] === output &&
          node.inputs.slice(1).every((input) => input !== output) &&
          sameConstant(index, node.inputs[1], qdq.inputs[1]) &&
          sameConstant(index, node.inputs[2], qdq.inputs[2]);
        if (!others.every(quantizeAlike)) continue;
        const quantized = qdq.outputs[0];
        while (conv.inputs.length < 7) conv.inputs.push('');
        conv.inputs.push(qdq.inputs[1], qdq.inputs[2] ?? '');
        conv.outputs[0] = quantized;
        for (const reader of others) reader.inputs[0] = quantized;
        graph.nodes.splice(graph.nodes.indexOf(qdq), 1);
        count++;
        fused = true;
        break;
      }
      if (!fused) return count;
    }
  });
}
