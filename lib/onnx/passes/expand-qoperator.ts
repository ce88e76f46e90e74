/**
 * ONNX Runtime's QOperator format -> QDQ: each QLinear op (QLinearConv, QLinearMatMul; com.microsoft QGemm,
 * QLinearAdd / Mul, QLinear(Global)AveragePool, QLinearSigmoid, QLinearLeakyRelu, QLinearConcat, QLinearSoftmax) becomes
 *   DequantizeLinear(each quantized input) -> the float op -> QuantizeLinear(y_scale, y_zero_point)
 * with the node's own output name on the QuantizeLinear, so its uint8 / int8 tensors stay what they were. A
 * MaxPool reading such a tensor (the quantizer leaves it on bytes) is wrapped the same way with its producer's
 * parameters: max commutes with the monotonic dequantization, so the levels are unchanged. What comes out is
 * the graph ORT's QDQ writer would have made, and the QDQ fusions (fuse-qdq.ts) turn it into the INT8 kernels
 * with the model's scales. quantize_dynamic's DynamicQuantizeLSTM becomes an LSTM over its dequantized weights.
 * Runs first in the optimiser; other graphs are left as they are.
 *
 * Int32 biases (scale x_scale * w_scale, zero point 0) become float constants, as fuse-qdq.ts dequantizes a QDQ
 * model's: their scales must be constants, as the INT8 kernels need anyway; QGemm only with alpha 1 (the
 * quantizer folds beta into the bias).
 */
import { EdgeInferError } from '../../errors';
import { Attribute, Graph, Model, Node, TensorData } from '../ir';
import { floatAttr, intAttr } from '../ops/nn';
import { toNumbers } from '../tensor';
import { forEachGraph } from './graph-index';

const microsoft = 'com.microsoft';
const expandable = new Set(['QLinearConv', 'QLinearMatMul', `${microsoft}:QGemm`, `${microsoft}:QLinearAdd`, `${microsoft}:QLinearMul`, `${microsoft}:QLinearGlobalAveragePool`, `${microsoft}:QLinearAveragePool`, `${microsoft}:QLinearSigmoid`, `${microsoft}:QLinearLeakyRelu`, `${microsoft}:QLinearConcat`, `${microsoft}:QLinearSoftmax`, `${microsoft}:DynamicQuantizeLSTM`]);
const keyOf = (node: Node) => (node.domain === '' || node.domain === 'ai.onnx' ? node.opType : `${node.domain}:${node.opType}`);
/** Ops that move bytes without looking at them: a quantized tensor keeps its parameters through them. */
const passThrough = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Identity', 'MaxPool']);

const unsupported = (node: Node, problem: string): never => {
  throw new EdgeInferError('EDGEINFER_UNSUPPORTED_OP', `node '${node.name}' (${node.opType}): ${problem}`, { node: node.name, op: node.opType });
};

/** Unique names for what the expansion adds to one graph. */
class Names {
  readonly #taken = new Set<string>();
  constructor(graph: Graph, outer: Map<string, TensorData>) {
    for (const name of [...graph.initializers.keys(), ...outer.keys(), ...graph.inputs.map((i) => i.name)]) this.#taken.add(name);
    for (const node of graph.nodes) {
      this.#taken.add(node.name);
      for (const output of node.outputs) this.#taken.add(output);
    }
  }
  take(base: string): string {
    let name = base;
    for (let k = 1; this.#taken.has(name); k++) name = `${base}_${k}`;
    this.#taken.add(name);
    return name;
  }
}

class Expander {
  readonly nodes: Node[] = [];
  /** "tensor|scale|zero point" -> its DequantizeLinear output, one per tensor and parameters. */
  readonly #dequantized = new Map<string, string>();

  /** dryRun: only check that every node can be expanded (no weights dequantized); nothing of the graph is changed. */
  constructor(readonly graph: Graph, readonly outer: Map<string, TensorData>, readonly names: Names, readonly dryRun = false) {}

  constant(name: string): TensorData | undefined {
    return name ? (this.graph.initializers.get(name) ?? this.outer.get(name)) : undefined;
  }

  /** DequantizeLinear(t, scale, zeroPoint) (shared by every reader); axis for per-channel weights. */
  dequantize(tensor: string, scale: string, zeroPoint: string, axis?: number): string {
    const key = `${tensor}|${scale}|${zeroPoint}|${axis ?? ''}`;
    const known = this.#dequantized.get(key);
    if (known !== undefined) return known;
    const output = this.names.take(`${tensor}_dequantized`);
    const perChannel = axis !== undefined && (this.constant(scale)?.data.length ?? 1) > 1;
    this.nodes.push({
      name: this.names.take(`${tensor}/DequantizeLinear`),
      opType: 'DequantizeLinear',
      domain: '',
      inputs: zeroPoint ? [tensor, scale, zeroPoint] : [tensor, scale],
      outputs: [output],
      attributes: perChannel ? { axis: { type: 'int', value: axis } } : {},
    });
    this.#dequantized.set(key, output);
    return output;
  }

  /** The float op, its output quantized into `output` (or, with no scale, the float op writing `output`). */
  floatOp(node: Node, opType: string, inputs: string[], attributes: Record<string, Attribute>, output: string, scale: string, zeroPoint: string): void {
    const float = scale ? this.names.take(`${output}_float`) : output;
    this.nodes.push({ name: this.names.take(`${node.name}/${opType}`), opType, domain: '', inputs, outputs: [float], attributes });
    if (!scale) return;
    this.nodes.push({
      name: this.names.take(`${node.name}/QuantizeLinear`),
      opType: 'QuantizeLinear',
      domain: '',
      inputs: zeroPoint ? [float, scale, zeroPoint] : [float, scale],
      outputs: [output],
      attributes: {},
    });
  }

  /** DynamicQuantizeLSTM's int8 weight [directions, k, 4h] -> float [directions, 4h, k] as a new constant. */
  dequantizedRecurrentWeight(node: Node, weight: string, scale: string, zeroPoint: string): string {
    const q = this.constant(weight);
    const s = this.constant(scale);
    const z = zeroPoint ? this.constant(zeroPoint) : undefined;
    if (!q || (q.dtype !== 'int8' && q.dtype !== 'uint8') || q.dims.length !== 3 || !s || (zeroPoint && !z)) {
      return unsupported(node, 'the weights, their scales and zero points must be int8 / uint8 constants of rank 3');
    }
    const [directions, k, rows] = q.dims;
    const scales = toNumbers(s);
    const zeros = z ? toNumbers(z) : [0];
    // Per direction (scale [directions]) or per direction and gate row (scale [directions, 4h]).
    const perRow = scales.length === directions * rows;
    if (!perRow && scales.length !== directions) unsupported(node, `${scales.length} weight scales for ${directions} directions of ${rows} rows`);
    if (zeros.length !== 1 && zeros.length !== scales.length) unsupported(node, `${zeros.length} zero points for ${scales.length} scales`);
    const name = this.names.take(`${weight}_dequantized`);
    if (this.dryRun) return name;
    const values = toNumbers(q);
    const data = new Float32Array(values.length);
    for (let d = 0; d < directions; d++)
      for (let row = 0; row < rows; row++) {
        const at = perRow ? d * rows + row : d;
        const scaleValue = scales[at];
        const zero = zeros[zeros.length === 1 ? 0 : at];
        for (let i = 0; i < k; i++) data[(d * rows + row) * k + i] = (values[(d * k + i) * rows + row] - zero) * scaleValue;
      }
    this.graph.initializers.set(name, { dtype: 'float32', dims: [directions, rows, k], data });
    return name;
  }

  /** An int32 bias with scale x_scale * w_scale (per output channel) as a float constant; '' when absent. */
  bias(node: Node, bias: string, xScale: string, wScale: string, alpha = 1): string {
    if (!bias) return '';
    const b = this.constant(bias);
    const xs = this.constant(xScale);
    const ws = this.constant(wScale);
    if (b?.dtype !== 'int32' || !xs || xs.data.length !== 1 || !ws) return unsupported(node, 'the int32 bias and the scales it is dequantized with must be constants');
    if (ws.data.length !== 1 && ws.data.length !== b.data.length) unsupported(node, `${ws.data.length} weight scales for ${b.data.length} bias values`);
    const name = this.names.take(`${bias}_dequantized`);
    if (this.dryRun) return name;
    const x = toNumbers(xs)[0];
    const w = toNumbers(ws);
    // As ONNX Runtime stores a bias's scale (float32 x_scale * w_scale) and fuse-qdq.ts dequantizes with it.
    const data = Float32Array.from(toNumbers(b), (v, i) => v * Math.fround(Math.fround(x * w[w.length === 1 ? 0 : i]) * alpha));
    this.graph.initializers.set(name, { dtype: 'float32', dims: [...b.dims], data });
    return name;
  }
}

const attributesWithout = (node: Node, ...drop: string[]): Record<string, Attribute> =>
  Object.fromEntries(Object.entries(node.attributes).filter(([name]) => !drop.includes(name)));

/** Inputs each op cannot do without (the zero points the schemas make optional may be omitted). */
const required: Record<string, number[]> = {
  QLinearConv: [0, 1, 2, 3, 4, 5, 6, 7],
  QLinearMatMul: [0, 1, 2, 3, 4, 5, 6, 7],
  [`${microsoft}:QGemm`]: [0, 1, 2, 3, 4, 5],
  [`${microsoft}:QLinearAdd`]: [0, 1, 3, 4, 6],
  [`${microsoft}:QLinearMul`]: [0, 1, 3, 4, 6],
  [`${microsoft}:QLinearGlobalAveragePool`]: [0, 1, 3],
  [`${microsoft}:QLinearAveragePool`]: [0, 1, 3],
  [`${microsoft}:QLinearSigmoid`]: [0, 1, 3],
  [`${microsoft}:QLinearLeakyRelu`]: [0, 1, 3],
  [`${microsoft}:QLinearConcat`]: [0, 2, 3],
  [`${microsoft}:QLinearSoftmax`]: [0, 1, 3],
  [`${microsoft}:DynamicQuantizeLSTM`]: [0, 1, 2, 8, 10],
};

function checkInputs(node: Node): void {
  const missing = required[keyOf(node)].filter((i) => !node.inputs[i]);
  const concatTriples = node.opType !== 'QLinearConcat' || (node.inputs.length - 2) % 3 === 0;
  const lstm = node.opType === 'DynamicQuantizeLSTM';
  if (missing.length > 0 || !concatTriples || (lstm ? node.outputs.length > 3 : node.outputs.length !== 1) || !node.outputs[0] && !lstm) {
    throw new EdgeInferError(
      'EDGEINFER_MODEL_INVALID',
      `node '${node.name}' (${node.opType}): ${missing.length > 0 ? `input ${missing.join(', ')} missing` : !concatTriples ? 'inputs are not y_scale, y_zero_point and (x, x_scale, x_zero_point) triples' : lstm ? 'it has at most three outputs' : 'it must have one output'}`,
      { node: node.name, op: node.opType },
    );
  }
}

/** The expansion of one QOperator node into `e.nodes`; opset: the model's ONNX-domain opset. */
function expand(e: Expander, node: Node, opset: number): void {
  checkInputs(node);
  const input = (i: number) => node.inputs[i] ?? '';
  const output = node.outputs[0];
  switch (keyOf(node)) {
    case 'QLinearConv': {
      const x = e.dequantize(input(0), input(1), input(2));
      const w = e.dequantize(input(3), input(4), input(5), 0);
      const b = e.bias(node, input(8), input(1), input(4));
      return e.floatOp(node, 'Conv', b ? [x, w, b] : [x, w], node.attributes, output, input(6), input(7));
    }
    case 'QLinearMatMul': {
      const a = e.dequantize(input(0), input(1), input(2));
      // Per-column scales: the last axis of b (N of [..., K, N]).
      const b = e.dequantize(input(3), input(4), input(5), (e.constant(input(3))?.dims.length ?? 2) - 1);
      return e.floatOp(node, 'MatMul', [a, b], {}, output, input(6), input(7));
    }
    case `${microsoft}:QGemm`: {
      const alpha = floatAttr(node, 'alpha', 1);
      if (alpha !== 1) unsupported(node, `alpha ${alpha} (only 1: ONNX Runtime's quantizer writes no other)`);
      const transB = intAttr(node, 'transB', 0);
      const a = e.dequantize(input(0), input(1), input(2));
      const b = e.dequantize(input(3), input(4), input(5), transB ? 0 : 1);
      const c = e.bias(node, input(6), input(1), input(4));
      return e.floatOp(node, 'Gemm', c ? [a, b, c] : [a, b], attributesWithout(node, 'alpha'), output, input(7), input(8));
    }
    case `${microsoft}:QLinearAdd`:
    case `${microsoft}:QLinearMul`: {
      const a = e.dequantize(input(0), input(1), input(2));
      const b = e.dequantize(input(3), input(4), input(5));
      return e.floatOp(node, node.opType === 'QLinearAdd' ? 'Add' : 'Mul', [a, b], {}, output, input(6), input(7));
    }
    case `${microsoft}:QLinearSigmoid`:
      return e.floatOp(node, 'Sigmoid', [e.dequantize(input(0), input(1), input(2))], {}, output, input(3), input(4));
    case `${microsoft}:QLinearLeakyRelu`:
      return e.floatOp(node, 'LeakyRelu', [e.dequantize(input(0), input(1), input(2))], attributesWithout(node), output, input(3), input(4));
    case `${microsoft}:QLinearGlobalAveragePool`:
    case `${microsoft}:QLinearAveragePool`: {
      if (intAttr(node, 'channels_last', 0) !== 0) unsupported(node, 'channels_last 1 (ONNX Runtime\'s quantizer writes 0)');
      const op = node.opType === 'QLinearGlobalAveragePool' ? 'GlobalAveragePool' : 'AveragePool';
      return e.floatOp(node, op, [e.dequantize(input(0), input(1), input(2))], attributesWithout(node, 'channels_last'), output, input(3), input(4));
    }
    case `${microsoft}:QLinearSoftmax`: {
      // Its `opset` attribute says whose Softmax it replaced: before 13 the input is coerced to 2-D at axis,
      // from 13 on the softmax runs along axis. The expanded node is read at the model's opset; the two agree
      // on the last axis (-1, what the quantizer writes for attention) or when both sides are on one side of 13.
      const axis = intAttr(node, 'axis', -1);
      const original = intAttr(node, 'opset', opset);
      if (axis !== -1 && original >= 13 !== opset >= 13) unsupported(node, `axis ${axis} of a Softmax from opset ${original} in an opset-${opset} model`);
      return e.floatOp(node, 'Softmax', [e.dequantize(input(0), input(1), input(2))], { axis: { type: 'int', value: axis } }, output, input(3), input(4));
    }
    case `${microsoft}:DynamicQuantizeLSTM`: {
      // quantize_dynamic's LSTM: X, W, R (int8, stored [directions, input | hidden, 4 * hidden]), B, sequence_lens,
      // initial_h, initial_c, P, W_scale, W_zero_point, R_scale, R_zero_point (per direction or per direction and
      // gate row). The weights are constants: dequantized and transposed back to LSTM's [directions, 4 * hidden,
      // input | hidden] once here; the cell then runs in float (activations unquantized, as ONNX Runtime's own
      // FP32 LSTM; its INT8 one also quantizes them per call).
      const w = e.dequantizedRecurrentWeight(node, input(1), input(8), input(9));
      const r = e.dequantizedRecurrentWeight(node, input(2), input(10), input(11));
      e.nodes.push({
        name: e.names.take(`${node.name}/LSTM`),
        opType: 'LSTM',
        domain: '',
        inputs: [input(0), w, r, input(3), input(4), input(5), input(6), input(7)],
        outputs: [...node.outputs],
        attributes: node.attributes,
      });
      return;
    }
    case `${microsoft}:QLinearConcat`: {
      // y_scale, y_zero_point, then (x, x_scale, x_zero_point) per input.
      const parts: string[] = [];
      for (let i = 2; i < node.inputs.length; i += 3) parts.push(e.dequantize(input(i), input(i + 1), input(i + 2)));
      return e.floatOp(node, 'Concat', parts, node.attributes, output, input(0), input(1));
    }
  }
}

/** The QuantizeLinear parameters behind `name`, looking through byte-moving ops; undefined when none. */
function quantizationOf(producers: Map<string, Node>, name: string): { scale: string; zeroPoint: string } | undefined {
  let current = name;
  for (let depth = 0; depth < 64; depth++) {
    const node = producers.get(current);
    if (node === undefined || (node.domain !== '' && node.domain !== 'ai.onnx')) return undefined;
    if (node.opType === 'QuantizeLinear') return { scale: node.inputs[1], zeroPoint: node.inputs[2] ?? '' };
    if (!passThrough.has(node.opType)) return undefined;
    current = node.inputs[0];
  }
  return undefined;
}

/** MaxPools on quantized bytes -> DequantizeLinear -> MaxPool -> QuantizeLinear with the producer's parameters. */
function wrapPools(graph: Graph, outer: Map<string, TensorData>, names: Names): number {
  let count = 0;
  const producers = new Map<string, Node>();
  for (const node of graph.nodes) for (const output of node.outputs) if (output) producers.set(output, node);
  const nodes: Node[] = [];
  for (const node of graph.nodes) {
    const pooled = (node.domain === '' || node.domain === 'ai.onnx') && node.opType === 'MaxPool' && node.outputs.slice(1).every((o) => o === '');
    const q = pooled ? quantizationOf(producers, node.inputs[0]) : undefined;
    const scale = q ? (graph.initializers.get(q.scale) ?? outer.get(q.scale)) : undefined;
    if (!q || scale?.data.length !== 1) {
      nodes.push(node);
      continue;
    }
    const e = new Expander(graph, outer, names);
    const x = e.dequantize(node.inputs[0], q.scale, q.zeroPoint);
    e.floatOp(node, 'MaxPool', [x], node.attributes, node.outputs[0], q.scale, q.zeroPoint);
    nodes.push(...e.nodes);
    for (const added of e.nodes) if (added.opType === 'QuantizeLinear') producers.set(added.outputs[0], added);
    count++;
  }
  graph.nodes = nodes;
  return count;
}

/**
 * Expands every QOperator node of the model (subgraphs too); returns how many nodes it rewrote. With dryRun,
 * only checks that it could (the same EdgeInferError a real expansion would throw) and changes nothing: the
 * native backend's support check, so that `backend: 'auto'` sends a model it would refuse to ONNX Runtime.
 */
export function expandQOperator(model: Model, options: { dryRun?: boolean } = {}): number {
  const opset = model.opsets.get('') ?? model.opsets.get('ai.onnx') ?? 13;
  return forEachGraph(model.graph, (graph, outer) => {
    if (!graph.nodes.some((node) => expandable.has(keyOf(node)))) return 0;
    const names = new Names(graph, outer);
    const e = new Expander(graph, outer, names, options.dryRun === true);
    let count = 0;
    for (const node of graph.nodes) {
      if (!expandable.has(keyOf(node))) {
        e.nodes.push(node);
        continue;
      }
      expand(e, node, opset);
      count++;
    }
    if (options.dryRun) return count;
    graph.nodes = e.nodes;
    return count + wrapPools(graph, outer, names);
  });
}
