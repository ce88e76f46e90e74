/**
 * Add of two fake-quantized tensors followed by a per-tensor uint8 fake quantization (a QDQ model's
 * DequantizeLinear -> Add -> QuantizeLinear, a ResNet's residual join) -> QuantizedAdd (lib/onnx/fused-ops.ts):
 * one step computing ONNX Runtime's QLinearAdd levels (kernels.h QuantizedAddArgs) instead of a float Add and a
 * QuantizeDequantize that round in another order and land one level apart on about one output in 200 000;
 * through 8 residual joins that alone kept QDQ ResNet-18 1e-4 from ORT in cosine. Also one pass over the data
 * instead of two.
 *
 * Each Add input must be a fake-quantized value whose uint8 parameters are known: a QuantizeDequantize's or a
 * DequantizeLinear's output, an INT8 conv's fused output quantization, or another QuantizedAdd's floats. The
 * following node is a QuantizeDequantize (per tensor, uint8; its optional levels output is kept) or, after
 * byteActivations, a QuantizeLinear to levels (output_levels = 1). Both inputs have one shape (no
 * broadcasting): runs after the final shape inference, which tells.
 */
import { Graph, Model, Node } from '../ir';
import { fusedDomain } from '../fused-ops';
import { type QuantParameters as Parameters, perTensorUint8 } from './fuse-qdq';
import { GraphIndex, forEachGraph } from './graph-index';

const isFused = (node: Node | undefined, op: string): node is Node => node !== undefined && node.domain === fusedDomain && node.opType === op;

/** The uint8 parameters `name` is a fake quantization of (exactly a level times the scale), if known. */
function fakeQuantization(index: GraphIndex, name: string): Parameters | undefined {
  const producer = index.producer.get(name);
  let p: Parameters | undefined;
  if (isFused(producer, 'QuantizeDequantize') && producer.outputs[0] === name) p = { scale: producer.inputs[1], zeroPoint: producer.inputs[2] ?? '' };
  else if (producer?.domain === '' && producer.opType === 'DequantizeLinear' && index.constant(producer.inputs[0]) === undefined) p = { scale: producer.inputs[1], zeroPoint: producer.inputs[2] ?? '' };
  else if (isFused(producer, 'NhwcQLinearFusedConv') && producer.attributes.output_levels === undefined && producer.inputs[7]) p = { scale: producer.inputs[7], zeroPoint: producer.inputs[8] ?? '' };
  else if (isFused(producer, 'QuantizedAdd') && producer.attributes.output_levels === undefined && producer.outputs[0] === name) p = { scale: producer.inputs[6], zeroPoint: producer.inputs[7] };
  return perTensorUint8(index, p) ? p : undefined;
}

function sameShape(graph: Graph, a: string, b: string): boolean {
  const x = graph.valueInfo.get(a)?.shape;
  const y = graph.valueInfo.get(b)?.shape;
  return x !== undefined && y !== undefined && x.length === y.length && x.every((d, i) => d === y[i]);
}

export function fuseQuantizedAdd(model: Model): number {
  return forEachGraph(model.graph, (graph, outer) => {
    let count = 0;
    let index = new GraphIndex(graph, outer);
    for (const add of [...graph.nodes]) {
      if (add.domain !== '' || add.opType !== 'Add' || add.inputs.length !== 2 || index.outputs.has(add.outputs[0])) continue;
      const readers = index.consumersOf(add.outputs[0]);
      if (readers.length !== 1) continue;
      const quantize: Node = readers[0];
      const fake = quantize.domain === fusedDomain && quantize.opType === 'QuantizeDequantize';
      if (!(fake || (quantize.domain === '' && quantize.opType === 'QuantizeLinear')) || quantize.inputs[0] !== add.outputs[0]) continue;
      const c: Parameters = { scale: quantize.inputs[1], zeroPoint: quantize.inputs[2] ?? '' };
      if (!perTensorUint8(index, c) || quantize.inputs.slice(1).includes(add.outputs[0])) continue;
      const a = fakeQuantization(index, add.inputs[0]);
      const b = fakeQuantization(index, add.inputs[1]);
      if (!a || !b || !sameShape(graph, add.inputs[0], add.inputs[1])) continue;
      const fused: Node = {
        name: `${add.name}/QuantizedAdd`,
        opType: 'QuantizedAdd',
        domain: fusedDomain,
        inputs: [add.inputs[0], a.scale, a.zeroPoint, add.inputs[1], b.scale, b.zeroPoint, c.scale, c.zeroPoint],
        outputs: [...quantize.outputs],
        attributes: fake ? {} : { output_levels: { type: 'int', value: 1 } },
      };
      graph.nodes.splice(graph.nodes.indexOf(add), 1, fused);
      graph.nodes.splice(graph.nodes.indexOf(quantize), 1);
      index = new GraphIndex(graph, outer);
      count++;
    }
    return count;
  });
}
