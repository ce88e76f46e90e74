/**
 * Which nodes of a (prepared) float model can be quantized, and how: the float activations that get a
 * QuantizeLinear -> DequantizeLinear pair, the constant weight with its per-channel axis, and the bias.
 * Conv, ConvTranspose, MatMul and Gemm only: the ops whose INT8 form saves memory and time (the native
 * backend fuses exactly these, lib/onnx/passes/fuse-qdq.ts). Activations are quantized where they enter such
 * a node, not at every op output as ONNX Runtime's QDQ default does: an element-wise op between two Q/DQ
 * pairs runs in float anyway, and each extra pair is one more rounding (TensorRT's recommended placement).
 */
import type { Graph, Model, Node, TensorData } from '../onnx/ir';
import { invalid } from '../validate';

export const QUANTIZABLE_OP_TYPES = ['Conv', 'ConvTranspose', 'MatMul', 'Gemm'] as const;
export type QuantizableOpType = (typeof QUANTIZABLE_OP_TYPES)[number];

export interface QuantizableNode {
  node: Node;
  opType: QuantizableOpType;
  /** The graph holding the node: the model's, or a subgraph (an If / Loop / Scan body). */
  graph: Graph;
  /**
   * In a subgraph: only the weight is quantized (its activations are not graph values calibration can
   * observe); the native backend then quantizes the activation per call, ONNX Runtime runs it in float.
   */
  weightOnly: boolean;
  /** Float activation inputs (not constants) to quantize: input 0, and input 1 of an activation x activation MatMul. */
  activations: string[];
  /** The float32 constant weight (in the node's graph or an enclosing one) and the axis of its output channels. */
  weight?: { name: string; axis: number; tensor: TensorData };
  /** A float32 constant bias with one value per output channel (Conv input 2, Gemm C of shape [N] with beta 1). */
  bias?: string;
  /** Why the node cannot be quantized (it stays FP32). */
  unsupported?: string;
}

export function isQuantizableOpType(opType: string): opType is QuantizableOpType {
  return (QUANTIZABLE_OP_TYPES as readonly string[]).includes(opType);
}

/** Checks `opTypesToQuantize`: a non-empty list of the quantizable op types. Default: all of them. */
export function checkOpTypes(value: unknown, argument: string): QuantizableOpType[] {
  if (value === undefined) return [...QUANTIZABLE_OP_TYPES];
  if (!Array.isArray(value) || value.length === 0 || value.some((op) => typeof op !== 'string' || !isQuantizableOpType(op))) {
    throw invalid(`${argument} must be a non-empty array of ${QUANTIZABLE_OP_TYPES.map((op) => `'${op}'`).join(', ')}`, { argument, got: value });
  }
  return [...new Set(value as QuantizableOpType[])];
}

/** Constants visible in a graph: its initializers over those of the graphs around it. */
type Scope = ReadonlyMap<string, TensorData>;

function floatConstant(scope: Scope, name: string | undefined): boolean {
  const tensor = name ? scope.get(name) : undefined;
  return tensor !== undefined && tensor.dtype === 'float32';
}

/** A float32 value that is not a constant: a tensor calibration can observe (in the main graph). */
function floatActivation(graph: Graph, scope: Scope, name: string | undefined): boolean {
  if (!name || scope.has(name)) return false;
  const info = graph.valueInfo.get(name) ?? graph.inputs.find((input) => input.name === name);
  return info?.dtype === 'float32';
}

function intAttribute(node: Node, name: string, fallback: number): number {
  const attribute = node.attributes[name];
  return attribute?.type === 'int' ? attribute.value : fallback;
}

function floatAttribute(node: Node, name: string, fallback: number): number {
  const attribute = node.attributes[name];
  return attribute?.type === 'float' ? attribute.value : fallback;
}

/** A float32 constant of shape [channels]: a bias that can be quantized per output channel. */
function biasFits(scope: Scope, bias: string | undefined, channels: number): boolean {
  const tensor = bias ? scope.get(bias) : undefined;
  return tensor !== undefined && tensor.dtype === 'float32' && tensor.dims.length === 1 && tensor.dims[0] === channels;
}

function describe(graph: Graph, scope: Scope, node: Node, opType: QuantizableOpType, weightOnly: boolean): QuantizableNode {
  const [x, w, b] = node.inputs;
  const entry: QuantizableNode = { node, opType, graph, weightOnly, activations: [] };
  if (node.domain !== '' && node.domain !== 'ai.onnx') return { ...entry, unsupported: `domain '${node.domain}'` };
  if (opType === 'MatMul' && !floatConstant(scope, w)) {
    if (!weightOnly && floatActivation(graph, scope, x) && floatActivation(graph, scope, w)) return { ...entry, activations: [x, w] };
    return { ...entry, unsupported: weightOnly ? 'no float32 weight (in a subgraph)' : 'neither input is a float32 weight, and they are not both float32 activations' };
  }
  if (!weightOnly && !floatActivation(graph, scope, x)) return { ...entry, unsupported: `input '${x}' is not a float32 activation` };
  if (!floatConstant(scope, w)) return { ...entry, unsupported: `weight '${w ?? ''}' is not a float32 constant` };
  const tensor = scope.get(w)!;
  const dims = tensor.dims;
  if (!weightOnly) entry.activations = [x];
  switch (opType) {
    case 'Conv':
      entry.weight = { name: w, axis: 0, tensor };
      if (dims.length < 3) return { ...entry, unsupported: `weight '${w}' has rank ${dims.length}` };
      if (biasFits(scope, b, dims[0])) entry.bias = b;
      break;
    case 'ConvTranspose':
      // W is [C_in, C_out / group, k...]: the output channels are axis 1 (what ONNX Runtime uses). Bias stays float.
      entry.weight = { name: w, axis: 1, tensor };
      if (dims.length < 3) return { ...entry, unsupported: `weight '${w}' has rank ${dims.length}` };
      break;
    case 'MatMul':
      // W is [K, N]: one scale per output column. A batched constant ([..., K, N], e.g. a rotary embedding's
      // inverse frequencies [1, 1, d]) stays float: the INT8 MatMul kernels (ours, ONNX Runtime's) take 2-D weights.
      if (dims.length !== 2) return { ...entry, unsupported: `weight '${w}' has rank ${dims.length} (INT8 MatMul weights are 2-D)` };
      entry.weight = { name: w, axis: 1, tensor };
      break;
    case 'Gemm': {
      if (dims.length !== 2) return { ...entry, unsupported: `weight '${w}' has rank ${dims.length}` };
      const transB = intAttribute(node, 'transB', 0) !== 0;
      entry.weight = { name: w, axis: transB ? 0 : 1, tensor };
      const alpha = floatAttribute(node, 'alpha', 1);
      if (alpha !== 1) return { ...entry, weight: undefined, unsupported: `alpha ${alpha} != 1` };
      if (floatAttribute(node, 'beta', 1) === 1 && biasFits(scope, b, dims[transB ? 0 : 1])) entry.bias = b;
      break;
    }
  }
  return entry;
}

/**
 * The nodes of `opTypes`, main graph first (in graph order), then those of subgraphs (If / Loop / Scan
 * bodies, weight-only), depth first.
 */
export function findQuantizableNodes(model: Model, opTypes: readonly QuantizableOpType[]): QuantizableNode[] {
  const wanted = new Set<string>(opTypes);
  const found: QuantizableNode[] = [];
  const visit = (graph: Graph, outer: Scope, weightOnly: boolean) => {
    const scope = new Map([...outer, ...graph.initializers]);
    for (const node of graph.nodes) if (wanted.has(node.opType)) found.push(describe(graph, scope, node, node.opType as QuantizableOpType, weightOnly));
    for (const node of graph.nodes) {
      for (const attribute of Object.values(node.attributes)) {
        if (attribute.type === 'graph') visit(attribute.value, scope, true);
        if (attribute.type === 'graphs') for (const sub of attribute.value) visit(sub, scope, true);
      }
    }
  };
  visit(model.graph, new Map(), false);
  return found;
}
