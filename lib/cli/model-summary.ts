/**
 * What `edgeinfer info` says about a model file without running it: inputs and outputs, opsets, producer,
 * size, the op histogram (subgraphs included) and whether and how it is quantized (QDQ, dynamic, QOperator,
 * INT8 / FP16 weight bytes).
 */
import crypto from 'node:crypto';

import type { Graph, Model, ValueInfo } from '../onnx/ir';

export interface ModelSummary {
  file: string;
  bytes: number;
  sha256: string;
  producer: string;
  irVersion: number;
  opsets: Record<string, number>;
  metadata: Record<string, string>;
  inputs: { name: string; type: string; dims: (number | string)[] }[];
  outputs: { name: string; type: string; dims: (number | string)[] }[];
  nodes: number;
  /** op type (domain-qualified outside ai.onnx) -> count, most frequent first. */
  ops: Record<string, number>;
  weights: { float32Bytes: number; float16Bytes: number; int8Bytes: number; otherBytes: number };
  quantization: {
    /** 'none', or the formats found: 'QDQ' (Quantize/DequantizeLinear pairs), 'dynamic' (DynamicQuantizeLinear /
     * MatMulInteger), 'QOperator' (QLinear* / ConvInteger), 'fp16' (float16 weights). */
    formats: string[];
    quantizeLinear: number;
    dequantizeLinear: number;
  };
}

function visit(graph: Graph, f: (graph: Graph) => void): void {
  f(graph);
  for (const node of graph.nodes)
    for (const a of Object.values(node.attributes)) {
      if (a.type === 'graph') visit(a.value, f);
      else if (a.type === 'graphs') a.value.forEach((g) => visit(g, f));
    }
}

export function summarizeModel(file: string, bytes: Uint8Array, model: Model): ModelSummary {
  const ops = new Map<string, number>();
  let nodes = 0;
  const weights = { float32Bytes: 0, float16Bytes: 0, int8Bytes: 0, otherBytes: 0 };
  visit(model.graph, (graph) => {
    for (const node of graph.nodes) {
      nodes++;
      const key = node.domain === '' || node.domain === 'ai.onnx' ? node.opType : `${node.domain}.${node.opType}`;
      ops.set(key, (ops.get(key) ?? 0) + 1);
    }
    for (const t of graph.initializers.values()) {
      const n = (t.data as { byteLength?: number }).byteLength ?? 0;
      if (t.dtype === 'float32') weights.float32Bytes += n;
      else if (t.dtype === 'float16') weights.float16Bytes += n;
      else if (t.dtype === 'int8' || t.dtype === 'uint8') weights.int8Bytes += n;
      else weights.otherBytes += n;
    }
  });
  const count = (op: string) => ops.get(op) ?? 0;
  const formats: string[] = [];
  if (count('QuantizeLinear') + count('DequantizeLinear') > 0) formats.push('QDQ');
  if (count('DynamicQuantizeLinear') + count('MatMulInteger') + count('com.microsoft.DynamicQuantizeMatMul') > 0) formats.push('dynamic');
  if ([...ops.keys()].some((op) => /QLinear|ConvInteger/.test(op))) formats.push('QOperator');
  if (weights.float16Bytes > 0) formats.push('fp16');
  const tensorInfo = (v: ValueInfo) => ({ name: v.name, type: v.dtype ?? 'unknown', dims: [...(v.shape ?? [])] });
  return {
    file,
    bytes: bytes.length,
    sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    producer: `${model.producerName} ${model.producerVersion}`.trim(),
    irVersion: model.irVersion,
    opsets: Object.fromEntries([...model.opsets].map(([domain, version]) => [domain === '' ? 'ai.onnx' : domain, version])),
    metadata: model.metadata,
    inputs: model.graph.inputs.filter((i) => !model.graph.initializers.has(i.name)).map(tensorInfo),
    outputs: model.graph.outputs.map(tensorInfo),
    nodes,
    ops: Object.fromEntries([...ops].sort((a, b) => b[1] - a[1])),
    weights,
    quantization: { formats: formats.length > 0 ? formats : ['none'], quantizeLinear: count('QuantizeLinear'), dequantizeLinear: count('DequantizeLinear') },
  };
}
