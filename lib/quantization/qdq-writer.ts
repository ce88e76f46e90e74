/**
 * Rewrites a folded float model into standard ONNX QDQ (opset >= 13), the format ONNX Runtime's
 * quantize_static writes and lib/onnx/passes/fuse-qdq.ts turns into INT8 steps natively:
 * - an INT8 node reads its weight through DequantizeLinear(int8 initializer, per-channel float scales, int8
 *   zero points 0, axis = the output-channel axis), each float activation input through one shared
 *   QuantizeLinear -> DequantizeLinear pair (calibrated scale and zero point), and its per-channel bias
 *   through DequantizeLinear(int32, scale = activation scale x weight scale, zero point 0), as ONNX Runtime
 *   does; a bias whose codes would not fit int32 stays float;
 * - an FP16 node reads its weight through Cast(float16 initializer -> float): half the bytes, runs everywhere;
 * - model inputs / outputs to quantize get a pair on them, which every reader of the value goes through.
 */
import type { Graph, Model, Node, TensorData } from '../onnx/ir';
import { Quantizer } from '../quantizer';
import type { QuantizedType } from '../quantize';
import type { Float16Converter } from './float16';
import type { LayerPrecision } from './precision-rules';
import type { QuantizableNode } from './quantizable-nodes';

export interface ActivationParams {
  scale: number;
  zeroPoint: number;
  dtype: QuantizedType;
}

export interface PlannedNode {
  entry: QuantizableNode;
  precision: LayerPrecision;
}

export interface QdqWriteOptions {
  /** One scale per output channel of a weight (true) or one per weight tensor. */
  perChannel: boolean;
  /** Parameters of every activation that gets a Q -> DQ pair (the INT8 nodes' inputs, model inputs / outputs to quantize). */
  activations: ReadonlyMap<string, ActivationParams>;
  quantizeInputs: readonly string[];
  quantizeOutputs: readonly string[];
  float16: Float16Converter;
}

export interface WrittenNode {
  name: string;
  /** Weight-only INT8 (a node in a subgraph: the activation stays float). */
  weightOnly: boolean;
  opType: string;
  precision: LayerPrecision;
  /** Bytes of the weight and bias initializers as float32, and as written (codes, scales, zero points). */
  weightBytesBefore: number;
  weightBytesAfter: number;
  /** INT8: the per-channel axis of the weight's scales (absent when per tensor). */
  weightAxis?: number;
  /** How the bias is stored. */
  bias: 'int32' | 'float32' | 'none';
  /** INT8: the activations quantized at its inputs. */
  activations: string[];
}

const INT32_MAX = 2 ** 31 - 1;

/** Initializer and value names not yet taken in the graph. */
class Names {
  readonly #taken = new Set<string>();

  constructor(graph: Graph) {
    this.#collect(graph);
  }

  /** ONNX names are unique across a graph and its subgraphs (no shadowing): collect them all. */
  #collect(graph: Graph): void {
    for (const name of graph.initializers.keys()) this.#taken.add(name);
    for (const value of [...graph.inputs, ...graph.outputs]) this.#taken.add(value.name);
    for (const node of graph.nodes) {
      this.#taken.add(node.name);
      for (const name of [...node.inputs, ...node.outputs]) this.#taken.add(name);
      for (const attribute of Object.values(node.attributes)) {
        if (attribute.type === 'graph') this.#collect(attribute.value);
        if (attribute.type === 'graphs') attribute.value.forEach((sub) => this.#collect(sub));
      }
    }
  }

  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.#taken.has(name); k++) name = `${base}_${k}`;
    this.#taken.add(name);
    return name;
  }
}

function node(name: string, opType: string, inputs: string[], output: string, axis?: number): Node {
  return { name, opType, domain: '', inputs, outputs: [output], attributes: axis === undefined ? {} : { axis: { type: 'int', value: axis } } };
}

function scalar(dtype: 'float32' | 'int8' | 'uint8', value: number): TensorData {
  const data = dtype === 'float32' ? Float32Array.of(value) : dtype === 'int8' ? Int8Array.of(value) : Uint8Array.of(value);
  return { dtype, dims: [], data };
}

class QdqRewriter {
  readonly #graph: Graph;
  readonly #names: Names;
  readonly #options: QdqWriteOptions;
  /** Nodes placed before every original node (weights, model-input pairs) and after a given node. */
  readonly #prefix: Node[] = [];
  readonly #after = new Map<Node, Node[]>();
  readonly #suffix: Node[] = [];
  readonly #producer = new Map<string, Node>();
  /** Activation -> its pair's { quantized, dequantized } values. */
  readonly #pairs = new Map<string, { quantized: string; dequantized: string; scale: string; zeroPoint: string }>();
  /** Nodes placed first in a subgraph (its weight-only DequantizeLinear / Cast nodes). */
  readonly #subgraphPrefix = new Map<Graph, Node[]>();
  /** `${weight}|${axis}` in a graph -> the DequantizeLinear output and the scales (shared weights are quantized once). */
  readonly #weights = new Map<string, { value: string; scales: Float32Array; bytes: number }>();
  readonly #halves = new Map<string, string>();
  readonly #graphIds = new Map<Graph, number>();

  constructor(graph: Graph, options: QdqWriteOptions) {
    this.#graph = graph;
    this.#options = options;
    this.#names = new Names(graph);
    for (const n of graph.nodes) for (const output of n.outputs) this.#producer.set(output, n);
  }

  #place(value: string, nodes: Node[]): void {
    const producer = this.#producer.get(value);
    if (producer === undefined) this.#prefix.push(...nodes);
    else this.#after.set(producer, [...(this.#after.get(producer) ?? []), ...nodes]);
  }

  #params(value: string): ActivationParams {
    const params = this.#options.activations.get(value);
    if (params === undefined) throw new Error(`no calibration for '${value}'`); // quantizeModel supplies every one
    return params;
  }

  /** The shared Q -> DQ pair of an activation; returns the dequantized value's name. */
  pair(value: string): string {
    const existing = this.#pairs.get(value);
    if (existing) return existing.dequantized;
    const params = this.#params(value);
    const scale = this.#names.fresh(`${value}_scale`);
    const zeroPoint = this.#names.fresh(`${value}_zero_point`);
    this.#graph.initializers.set(scale, scalar('float32', params.scale));
    this.#graph.initializers.set(zeroPoint, scalar(params.dtype, params.zeroPoint));
    const quantized = this.#names.fresh(`${value}_quantized`);
    const dequantized = this.#names.fresh(`${value}_dequantized`);
    this.#place(value, [
      node(this.#names.fresh(`${value}_QuantizeLinear`), 'QuantizeLinear', [value, scale, zeroPoint], quantized),
      node(this.#names.fresh(`${value}_DequantizeLinear`), 'DequantizeLinear', [quantized, scale, zeroPoint], dequantized),
    ]);
    this.#pairs.set(value, { quantized, dequantized, scale, zeroPoint });
    return dequantized;
  }

  /** Where a weight's DequantizeLinear / Cast goes: before every node of the graph reading it. */
  #placeWeightNode(graph: Graph, n: Node): void {
    if (graph === this.#graph) this.#prefix.push(n);
    else this.#subgraphPrefix.set(graph, [...(this.#subgraphPrefix.get(graph) ?? []), n]);
  }

  #cacheKey(graph: Graph, name: string, axis: number): string {
    if (!this.#graphIds.has(graph)) this.#graphIds.set(graph, this.#graphIds.size);
    return `${this.#graphIds.get(graph)}|${name}|${axis}`;
  }

  /** DequantizeLinear(int8 weight) with per-channel (or one) symmetric scale, in `graph`; cached per graph, weight and axis. */
  #weight(graph: Graph, weight: NonNullable<QuantizableNode['weight']>): { value: string; scales: Float32Array; bytes: number } {
    const { name, axis, tensor } = weight;
    const key = this.#cacheKey(graph, name, axis);
    const cached = this.#weights.get(key);
    if (cached) return cached;
    const values = tensor.data as Float32Array;
    const perChannel = this.#options.perChannel;
    const q = perChannel ? Quantizer.quantizeWeights(values, tensor.dims, axis) : Quantizer.quantizeWeights(values, [1, values.length], 0);
    const channels = q.scales.length;
    const codes = this.#names.fresh(`${name}_quantized`);
    const scale = this.#names.fresh(`${name}_scale`);
    const zeroPoint = this.#names.fresh(`${name}_zero_point`);
    const paramDims = perChannel ? [channels] : [];
    graph.initializers.set(codes, { dtype: 'int8', dims: [...tensor.dims], data: q.data });
    graph.initializers.set(scale, { dtype: 'float32', dims: paramDims, data: q.scales });
    graph.initializers.set(zeroPoint, { dtype: 'int8', dims: paramDims, data: new Int8Array(channels) });
    const value = this.#names.fresh(`${name}_dequantized`);
    this.#placeWeightNode(graph, node(this.#names.fresh(`${name}_DequantizeLinear`), 'DequantizeLinear', [codes, scale, zeroPoint], value, perChannel ? axis : undefined));
    const entry = { value, scales: q.scales, bytes: q.data.byteLength + channels * 5 };
    this.#weights.set(key, entry);
    return entry;
  }

  /** int32 bias codes for scale x_scale * w_scale[c], or undefined when one would not fit int32. */
  #bias(name: string, activationScale: number, weightScales: Float32Array): { value: string; bytes: number } | undefined {
    const tensor = this.#graph.initializers.get(name)!;
    const values = tensor.data as Float32Array;
    const scales = new Float32Array(values.length);
    const codes = new Int32Array(values.length);
    for (let c = 0; c < values.length; c++) {
      scales[c] = activationScale * weightScales[weightScales.length === 1 ? 0 : c];
      const code = Math.round(values[c] / scales[c]);
      if (!Number.isFinite(code) || Math.abs(code) > INT32_MAX) return undefined;
      codes[c] = code;
    }
    const codesName = this.#names.fresh(`${name}_quantized`);
    const scaleName = this.#names.fresh(`${name}_scale`);
    this.#graph.initializers.set(codesName, { dtype: 'int32', dims: [...tensor.dims], data: codes });
    this.#graph.initializers.set(scaleName, { dtype: 'float32', dims: [values.length], data: scales });
    const value = this.#names.fresh(`${name}_dequantized`);
    // No zero point: DequantizeLinear's default 0 is what int32 bias uses.
    this.#prefix.push(node(this.#names.fresh(`${name}_DequantizeLinear`), 'DequantizeLinear', [codesName, scaleName], value, 0));
    return { value, bytes: values.length * 8 };
  }

  /** Cast(float16 copy of the weight -> float32), in `graph`; cached per graph and weight. */
  #half(graph: Graph, weight: NonNullable<QuantizableNode['weight']>): string {
    const key = this.#cacheKey(graph, weight.name, -1);
    const cached = this.#halves.get(key);
    if (cached) return cached;
    const { name, tensor } = weight;
    const halfName = this.#names.fresh(`${name}_fp16`);
    graph.initializers.set(halfName, { dtype: 'float16', dims: [...tensor.dims], data: this.#options.float16.convert(tensor.data as Float32Array) });
    const value = this.#names.fresh(`${name}_fp16_cast`);
    const cast = node(this.#names.fresh(`${name}_Cast`), 'Cast', [halfName], value);
    cast.attributes.to = { type: 'int', value: 1 };
    this.#placeWeightNode(graph, cast);
    this.#halves.set(key, value);
    return value;
  }

  rewrite(planned: PlannedNode): WrittenNode {
    const { entry, precision } = planned;
    const n = entry.node;
    const weightBytes = entry.weight ? entry.weight.tensor.data.byteLength : 0;
    const floatBytes = (name: string | undefined) => (name ? (this.#graph.initializers.get(name)?.data.byteLength ?? 0) : 0);
    const before = weightBytes + floatBytes(entry.bias);
    const written: WrittenNode = { name: n.name, opType: n.opType, weightOnly: entry.weightOnly && precision === 'int8', precision, weightBytesBefore: before, weightBytesAfter: before, bias: entry.bias ? 'float32' : 'none', activations: [] };
    if (precision === 'fp16' && entry.weight) {
      n.inputs[1] = this.#half(entry.graph, entry.weight);
      written.weightBytesAfter = weightBytes / 2 + floatBytes(entry.bias);
    } else if (precision === 'int8') {
      for (const activation of entry.activations) {
        n.inputs = n.inputs.map((input) => (input === activation ? this.pair(activation) : input));
        written.activations.push(activation);
      }
      if (entry.weight) {
        const weight = this.#weight(entry.graph, entry.weight);
        n.inputs[1] = weight.value;
        written.weightBytesAfter = weight.bytes + floatBytes(entry.bias);
        if (this.#options.perChannel) written.weightAxis = entry.weight.axis;
        // Weight-only (subgraph) nodes have no activation scale, so their bias stays float.
        const bias = entry.bias && !entry.weightOnly ? this.#bias(entry.bias, this.#params(entry.activations[0]).scale, weight.scales) : undefined;
        if (bias) {
          n.inputs[2] = bias.value;
          written.bias = 'int32';
          written.weightBytesAfter = weight.bytes + bias.bytes;
        }
      }
    }
    return written;
  }

  /** Every reader of a model input goes through its pair, so the front end and the model see the same values. */
  quantizeInput(input: string): void {
    const dequantized = this.pair(input);
    const pair = this.#pairs.get(input)!;
    for (const n of this.#graph.nodes) n.inputs = n.inputs.map((value) => (value === input ? dequantized : value));
    for (const n of this.#prefix) if (n.outputs[0] !== pair.quantized) n.inputs = n.inputs.map((value) => (value === input ? dequantized : value));
  }

  /** The output's producer writes `<output>_float`, which goes through a pair whose DequantizeLinear writes the output. */
  quantizeOutput(output: string): void {
    const params = this.#params(output);
    const float = this.#names.fresh(`${output}_float`);
    const rename = (n: Node) => {
      n.inputs = n.inputs.map((value) => (value === output ? float : value));
      n.outputs = n.outputs.map((value) => (value === output ? float : value));
    };
    for (const n of [...this.#graph.nodes, ...this.#prefix, ...[...this.#after.values()].flat()]) rename(n);
    const info = this.#graph.valueInfo.get(output);
    if (info) {
      this.#graph.valueInfo.delete(output);
      this.#graph.valueInfo.set(float, { ...info, name: float });
    }
    const existing = this.#pairs.get(output);
    let quantized: string;
    let scale: string;
    let zeroPoint: string;
    if (existing) ({ quantized, scale, zeroPoint } = existing);
    else {
      scale = this.#names.fresh(`${output}_scale`);
      zeroPoint = this.#names.fresh(`${output}_zero_point`);
      this.#graph.initializers.set(scale, scalar('float32', params.scale));
      this.#graph.initializers.set(zeroPoint, scalar(params.dtype, params.zeroPoint));
      quantized = this.#names.fresh(`${output}_quantized`);
      this.#suffix.push(node(this.#names.fresh(`${output}_QuantizeLinear`), 'QuantizeLinear', [float, scale, zeroPoint], quantized));
    }
    this.#suffix.push(node(this.#names.fresh(`${output}_output_DequantizeLinear`), 'DequantizeLinear', [quantized, scale, zeroPoint], output));
  }

  /** The graph's node list with every inserted node in a topologically valid place. */
  finish(): void {
    const nodes: Node[] = [...this.#prefix];
    for (const n of this.#graph.nodes) nodes.push(n, ...(this.#after.get(n) ?? []));
    nodes.push(...this.#suffix);
    this.#graph.nodes = nodes;
    for (const [graph, first] of this.#subgraphPrefix) graph.nodes = [...first, ...graph.nodes];
  }
}

/**
 * Rewrites `model` (prepared by prepareFloatModel) in place; returns one entry per planned node. Weights the
 * rewrite leaves unread are removed afterwards by dead-node elimination (quantize-model.ts).
 */
export function writeQdq(model: Model, planned: readonly PlannedNode[], options: QdqWriteOptions): WrittenNode[] {
  const rewriter = new QdqRewriter(model.graph, options);
  const written = planned.map((entry) => rewriter.rewrite(entry));
  const outputs = new Set(model.graph.outputs.map((output) => output.name));
  for (const input of options.quantizeInputs) if (!outputs.has(input)) rewriter.quantizeInput(input);
  const inputs = new Set(model.graph.inputs.map((input) => input.name));
  for (const output of options.quantizeOutputs) if (!inputs.has(output)) rewriter.quantizeOutput(output);
  rewriter.finish();
  return written;
}
