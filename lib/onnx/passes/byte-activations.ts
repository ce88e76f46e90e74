/**
 * INT8 convs hand their output on as uint8 levels (1 byte per value instead of 4), where every reader can use
 * levels of the same quantization parameters P (uint8 zero point):
 * - NhwcQLinearFusedConvs that quantize their input statically with P read the levels as they are;
 * - an NhwcMaxPool pools the levels (max commutes with the monotone dequantization) into levels of P, whose
 *   readers are handled the same way; a QuantizeDequantize of them with P becomes a DequantizeLinear, and any
 *   other reader (or a graph output) gets the floats from one DequantizeLinear added after the pool.
 * - a QuantizeDequantize (per tensor, uint8) also outputs its levels for the INT8 convs among its readers.
 * The conv gets output_levels = 1. P is its fused output fake quantization (y_scale / y_zero_point,
 * passes/fuse-output-qdq.ts) when it has one, else its readers' x_scale / x_zero_point (all INT8 convs), which
 * become its y_scale / y_zero_point. Exact: the conv quantizes the same float values its readers would have (a
 * fake-quantized value quantizes back to its level), and a pool of levels is the level of the pooled floats.
 */
import { Graph, Model, Node, TensorData } from '../ir';
import { fusedDomain } from '../fused-ops';
import { type QuantParameters as Parameters, perTensorUint8, sameConstant } from './fuse-qdq';
import { GraphIndex, forEachGraph, uniqueName } from './graph-index';

const isFused = (node: Node, op: string) => node.domain === fusedDomain && node.opType === op;

export function byteActivations(model: Model): number {
  return forEachGraph(model.graph, (graph, outer) => {
    let count = 0;
    // Rebuilt only after a change (the readers of a pool's output move to new names).
    let index = new GraphIndex(graph, outer);
    for (const conv of [...graph.nodes]) {
      if (!isFused(conv, 'NhwcQLinearFusedConv') || conv.attributes.output_levels !== undefined) continue;
      const output = conv.outputs[0];
      const readers = index.consumersOf(output);
      if (index.outputs.has(output) || readers.length === 0) continue;
      const fused = Boolean(conv.inputs[7]);
      const p: Parameters = fused ? { scale: conv.inputs[7], zeroPoint: conv.inputs[8] ?? '' } : { scale: readers[0].inputs[1] ?? '', zeroPoint: readers[0].inputs[2] ?? '' };
      if (!perTensorUint8(index, p)) continue;
      // A pool of the conv's floats is a pool of levels only when those floats are the fake-quantized values.
      const pools = readers.filter((reader) => fused && poolsLevels(reader, output));
      if (!readers.every((reader) => pools.includes(reader) || readsLevels(index, reader, output, p))) continue;
      if (!fused) {
        while (conv.inputs.length < 7) conv.inputs.push('');
        conv.inputs.push(p.scale, p.zeroPoint);
      }
      conv.attributes.output_levels = { type: 'int', value: 1 };
      for (const pool of pools) levelPoolOutput(graph, outer, pool, p);
      if (pools.length > 0) index = new GraphIndex(graph, outer);
      count++;
    }
    count += levelsOfFakeQuantization(graph, outer);
    count += sharedLevels(graph, outer);
    return count;
  });
}

/**
 * A QuantizeDequantize (per tensor, uint8) computes its levels anyway: INT8 convs that quantize its input or
 * its output with its parameters (the same levels either way) read them from a second output instead (in a
 * ResNet, a block's Add + Relu output: the next block's convs quantize it, the next Add reads its fake
 * quantization as floats). The QuantizeDequantize moves before its first new reader if it came after it.
 */
function levelsOfFakeQuantization(graph: Graph, outer: Map<string, TensorData>): number {
  const index = new GraphIndex(graph, outer);
  let count = 0;
  for (const qdq of [...graph.nodes]) {
    if (!isFused(qdq, 'QuantizeDequantize') || qdq.outputs.length !== 1) continue;
    const p: Parameters = { scale: qdq.inputs[1] ?? '', zeroPoint: qdq.inputs[2] ?? '' };
    if (!perTensorUint8(index, p)) continue;
    const convs = [qdq.inputs[0], qdq.outputs[0]].flatMap((name) => index.consumersOf(name).filter((reader) => readsLevels(index, reader, name, p)));
    if (convs.length === 0) continue;
    const levels = uniqueName(graph, `${qdq.outputs[0]}/levels`);
    qdq.outputs.push(levels);
    for (const conv of convs) conv.inputs[0] = levels;
    const first = Math.min(...convs.map((conv) => graph.nodes.indexOf(conv)));
    const at = graph.nodes.indexOf(qdq);
    if (at > first) {
      graph.nodes.splice(at, 1);
      graph.nodes.splice(first, 0, qdq);
    }
    count++;
  }
  return count;
}

/** An INT8 conv reading `name` only as its input x, quantized statically with p. */
function readsLevels(index: GraphIndex, reader: Node, name: string, p: Parameters): boolean {
  return (
    isFused(reader, 'NhwcQLinearFusedConv') &&
    reader.inputs[0] === name &&
    reader.inputs.slice(1).every((input) => input !== name) &&
    reader.attributes.dynamic_quantization === undefined &&
    sameConstant(index, reader.inputs[1], p.scale) &&
    sameConstant(index, reader.inputs[2], p.zeroPoint)
  );
}

function poolsLevels(reader: Node, name: string): boolean {
  return isFused(reader, 'NhwcMaxPool') && reader.inputs[0] === name && reader.outputs.length === 1;
}

/**
 * The pool now writes levels of p under a new name: INT8 convs quantizing with p read them, QuantizeDequantize
 * readers with p become DequantizeLinear of them, and whatever else read the pool's floats (graph outputs
 * included) reads them from one DequantizeLinear under the old name.
 */
function levelPoolOutput(graph: Graph, outer: Map<string, TensorData>, pool: Node, p: Parameters): void {
  const index = new GraphIndex(graph, outer);
  const floats = pool.outputs[0];
  const levels = uniqueName(graph, `${floats}/levels`);
  pool.outputs[0] = levels;
  const dequantize = (name: string, output: string): Node => ({
    name,
    opType: 'DequantizeLinear',
    domain: '',
    inputs: [levels, p.scale, p.zeroPoint],
    outputs: [output],
    attributes: {},
  });
  let needFloats = index.outputs.has(floats);
  for (const reader of index.consumersOf(floats)) {
    if (readsLevels(index, reader, floats, p)) {
      reader.inputs[0] = levels;
    } else if (isFused(reader, 'QuantizeDequantize') && reader.inputs.slice(1).every((i) => i !== floats) && sameConstant(index, reader.inputs[1], p.scale) && sameConstant(index, reader.inputs[2], p.zeroPoint)) {
      // Fake quantization with p of values already on p's grid: their dequantization, which INT8 convs
      // quantizing with p skip.
      Object.assign(reader, dequantize(reader.name, reader.outputs[0]));
      for (const next of index.consumersOf(reader.outputs[0])) if (readsLevels(index, next, reader.outputs[0], p)) next.inputs[0] = levels;
    } else {
      needFloats = true;
    }
  }
  if (needFloats) graph.nodes.splice(graph.nodes.indexOf(pool) + 1, 0, dequantize(uniqueName(graph, `${pool.name}/dequantize`), floats));
}

/**
 * A float tensor that several INT8 convs quantize with the same parameters (a ResNet block's output read by the
 * next block's conv and its downsample) is quantized once by a QuantizeLinear, and the convs read its levels.
 */
function sharedLevels(graph: Graph, outer: Map<string, TensorData>): number {
  const index = new GraphIndex(graph, outer);
  let count = 0;
  const seen = new Set<string>();
  for (const reader of [...graph.nodes]) {
    const name = reader.inputs[0];
    if (!isFused(reader, 'NhwcQLinearFusedConv') || !name || seen.has(name) || index.constant(name) || isLevels(index, name)) continue;
    seen.add(name);
    const p: Parameters = { scale: reader.inputs[1] ?? '', zeroPoint: reader.inputs[2] ?? '' };
    if (!perTensorUint8(index, p)) continue;
    const convs = index.consumersOf(name).filter((conv) => readsLevels(index, conv, name, p));
    if (convs.length < 2) continue;
    const levels = uniqueName(graph, `${name}/levels`);
    const first = Math.min(...convs.map((conv) => graph.nodes.indexOf(conv)));
    graph.nodes.splice(first, 0, { name: uniqueName(graph, `${name}/quantize`), opType: 'QuantizeLinear', domain: '', inputs: [name, p.scale, p.zeroPoint], outputs: [levels], attributes: {} });
    for (const conv of convs) conv.inputs[0] = levels;
    count++;
  }
  return count;
}

/** Whether `name` already holds levels (made so by this pass, or a QuantizeLinear's output). */
function isLevels(index: GraphIndex, name: string): boolean {
  const producer = index.producer.get(name);
  if (!producer) return false;
  if (isFused(producer, 'NhwcQLinearFusedConv')) return producer.attributes.output_levels !== undefined;
  if (isFused(producer, 'QuantizeDequantize')) return producer.outputs[1] === name;
  if (isFused(producer, 'NhwcMaxPool')) return isLevels(index, producer.inputs[0]);
  return producer.domain === '' && producer.opType === 'QuantizeLinear';
}
