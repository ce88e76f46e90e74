/**
 * Lowers an optimized graph whose shapes are all concrete (after inferShapes with the run's input shapes)
 * to the flat native plan of cpp/include/edgeinfer/plan.h: a tensor table (arena offset from the memory
 * planner, constant bytes, or an input/output binding) and one step per node with its attributes encoded
 * as that header documents. Runs once per distinct set of input shapes; the native side re-validates all.
 */
import { EdgeInferError } from '../errors';
import type { NativePlanDesc, NativePlanStep, NativePlanTensor } from '../native';
import { onnxDataTypeCodes, type Attribute, type DataType, type Graph, type Model, type Node, type TensorData } from './ir';
import { planMemory, type PlannedBuffer } from './memory-plan';
import { bytesPerElement, dataTypeFromCode, toNumbers } from './tensor';

const enum Storage {
  Arena = 0,
  Constant = 1,
  Input = 2,
  Output = 3,
}

/** FusedActivation codes of plan.h, by the `activation` attribute of the fused ops (lib/onnx/fused-ops.ts). */
const activationCodes: Record<string, number> = { '': 0, Relu: 1, Gelu: 2, LeakyRelu: 4, Sigmoid: 5, Clip: 6, Tanh: 7 };

/** Ops whose output is the input's bytes with another shape: planned as an alias, run as a copy otherwise. */
const reshapeLike = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']);

const unaryOps = new Set(['Relu', 'Sigmoid', 'Tanh', 'Sqrt', 'Log', 'Exp', 'Erf', 'Neg', 'Abs', 'Reciprocal', 'Floor', 'Ceil', 'Not']);
const binaryOps = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Mod', 'Equal', 'Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual', 'And', 'Or', 'Xor']);
const reduceOps = new Set(['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceSum', 'ReduceProd', 'ReduceL2']);

export interface LoweredPlan {
  desc: NativePlanDesc;
  inputNames: string[];
  outputNames: string[];
  stats: { arenaBytes: number; intermediateBytes: number; constantBytes: number; steps: number };
}

interface TensorEntry {
  slot: NativePlanTensor;
  /** Index into the liveness buffers, for arena tensors. */
  buffer?: number;
}

function fail(node: Node | undefined, problem: string, code: 'EDGEINFER_MODEL_INVALID' | 'EDGEINFER_UNSUPPORTED_OP' = 'EDGEINFER_MODEL_INVALID'): never {
  const where = node ? `node '${node.name}' (${node.opType}): ` : '';
  throw new EdgeInferError(code, `${where}${problem}`, node ? { node: node.name, op: node.opType } : undefined);
}

function attr(node: Node, name: string): Attribute | undefined {
  return node.attributes[name];
}
function intAttr(node: Node, name: string, fallback: number): number {
  const a = attr(node, name);
  return a?.type === 'int' ? a.value : fallback;
}
function floatAttr(node: Node, name: string, fallback: number): number {
  const a = attr(node, name);
  return a?.type === 'float' ? a.value : a?.type === 'int' ? a.value : fallback;
}
function intsAttr(node: Node, name: string): number[] | undefined {
  const a = attr(node, name);
  return a?.type === 'ints' ? a.value : undefined;
}
function stringAttr(node: Node, name: string, fallback: string): string {
  const a = attr(node, name);
  return a?.type === 'string' ? a.value : fallback;
}

function tensorBytes(tensor: TensorData): ArrayBufferView {
  return tensor.data;
}

class Lowering {
  private readonly tensors: TensorEntry[] = [];
  private readonly ids = new Map<string, number>();
  private readonly buffers: PlannedBuffer[] = [];
  /** Union-find parent of each buffer, for aliases. */
  private readonly aliasOf: number[] = [];
  private position = 0;
  private readonly subplans: { steps: NativePlanStep[]; outputs: number[] }[] = [];
  /** Every constant by name: initializers (all scopes) and Constant nodes. */
  private readonly constants = new Map<string, TensorData>();
  /** Steps a node's lowering emits before its own (e.g. the Gemm inside a biased MatMul). */
  private pending: NativePlanStep[] = [];

  constructor(
    private readonly model: Model,
    private readonly options: LowerOptions,
  ) {}

  lower(): LoweredPlan {
    const graph = this.model.graph;
    for (const [name, tensor] of graph.initializers) this.constant(name, tensor);
    const inputNames = graph.inputs.filter((input) => !graph.initializers.has(input.name)).map((input) => input.name);
    inputNames.forEach((name, binding) => {
      const info = this.info(graph, name);
      this.add(name, { dtype: onnxDataTypeCodes[info.dtype], dims: info.dims, storage: Storage.Input, offset: 0, binding });
    });
    const outputNames = graph.outputs.map((output) => output.name);
    const outputSet = new Map(outputNames.map((name, index) => [name, index]));
    const steps = this.lowerGraph(graph, outputSet, []);
    // An output that is an input or a constant needs a copy into its binding.
    outputNames.forEach((name, binding) => {
      const id = this.ids.get(name);
      if (id === undefined) fail(undefined, `graph output '${name}' is never produced`);
      const slot = this.tensors[id].slot;
      if (slot.storage !== Storage.Output) {
        const copyId = this.addRaw({ dtype: slot.dtype, dims: slot.dims, storage: Storage.Output, offset: 0, binding });
        steps.push({ op: 'Identity', name: `output_copy_${name}`, inputs: [id], outputs: [copyId], ints: [], floats: [] });
        this.ids.set(name, copyId);
      }
    });

    // Arena offsets from liveness; aliased buffers share their root's block.
    const roots = this.buffers.map((_, index) => this.root(index));
    const rootIndex = new Map<number, number>();
    const merged: PlannedBuffer[] = [];
    roots.forEach((root, index) => {
      const buffer = this.buffers[index];
      const existing = rootIndex.get(root);
      if (existing === undefined) {
        rootIndex.set(root, merged.length);
        merged.push({ ...buffer });
      } else {
        const block = merged[existing];
        block.bytes = Math.max(block.bytes, buffer.bytes);
        block.first = Math.min(block.first, buffer.first);
        block.last = Math.max(block.last, buffer.last);
      }
    });
    const memory = planMemory(merged);
    for (const entry of this.tensors) {
      if (entry.buffer !== undefined) entry.slot.offset = memory.offsets[rootIndex.get(roots[entry.buffer]) as number];
    }
    const intermediateBytes = this.buffers.reduce((sum, buffer) => sum + Math.ceil(Math.max(1, buffer.bytes) / 64) * 64, 0);
    const constantBytes = this.tensors.reduce((sum, entry) => sum + (entry.slot.constant?.byteLength ?? 0), 0);
    return {
      desc: {
        tensors: this.tensors.map((entry) => entry.slot),
        steps,
        inputs: inputNames.map((name) => this.ids.get(name) as number),
        outputs: outputNames.map((name) => this.ids.get(name) as number),
        arenaBytes: memory.arenaBytes,
        subplans: this.subplans,
      },
      inputNames,
      outputNames,
      stats: { arenaBytes: memory.arenaBytes, intermediateBytes, constantBytes, steps: steps.length },
    };
  }

  private root(index: number): number {
    while (this.aliasOf[index] !== index) index = this.aliasOf[index];
    return index;
  }

  private addRaw(slot: NativePlanTensor, buffer?: number): number {
    this.tensors.push({ slot, buffer });
    return this.tensors.length - 1;
  }

  private add(name: string, slot: NativePlanTensor, buffer?: number): number {
    const id = this.addRaw(slot, buffer);
    this.ids.set(name, id);
    return id;
  }

  private constant(name: string, tensor: TensorData): number {
    this.constants.set(name, tensor);
    if (tensor.dtype === 'string') fail(undefined, `string tensor '${name}' is not supported`, 'EDGEINFER_UNSUPPORTED_OP');
    return this.add(name, { dtype: onnxDataTypeCodes[tensor.dtype], dims: tensor.dims, storage: Storage.Constant, offset: 0, binding: 0, constant: tensorBytes(tensor) });
  }

  private info(graph: Graph, name: string, node?: Node): { dtype: DataType; dims: number[] } {
    const constant = this.constants.get(name) ?? graph.initializers.get(name);
    if (constant) return { dtype: constant.dtype, dims: constant.dims };
    const value = graph.valueInfo.get(name) ?? this.model.graph.valueInfo.get(name) ?? [...graph.inputs, ...graph.outputs].find((v) => v.name === name);
    if (!value?.dtype || !value.shape) fail(node, `type or shape of '${name}' is unknown`);
    const dims = value.shape.map((dim) => {
      if (typeof dim !== 'number') fail(node, `'${name}' has a symbolic dimension '${dim}' after shape inference`);
      return dim;
    });
    return { dtype: value.dtype, dims };
  }

  private constantValue(graph: Graph, name: string, node: Node): TensorData {
    const tensor = this.constants.get(name) ?? graph.initializers.get(name);
    if (!tensor) fail(node, `input '${name}' must be a constant`);
    return tensor;
  }

  private use(name: string, node: Node): number {
    if (name === '') return -1;
    const id = this.ids.get(name);
    if (id === undefined) fail(node, `input '${name}' is not defined before use`);
    const entry = this.tensors[id];
    if (entry.buffer !== undefined) {
      const buffer = this.buffers[entry.buffer];
      buffer.last = Math.max(buffer.last, this.position);
    }
    return id;
  }

  private define(graph: Graph, name: string, node: Node, outputBindings: Map<string, number>): number {
    const { dtype, dims } = this.info(graph, name, node);
    const binding = outputBindings.get(name);
    if (binding !== undefined) return this.add(name, { dtype: onnxDataTypeCodes[dtype], dims, storage: Storage.Output, offset: 0, binding });
    const bytes = dims.reduce((product, dim) => product * dim, 1) * bytesPerElement[dtype];
    this.buffers.push({ bytes, first: this.position, last: this.position });
    this.aliasOf.push(this.buffers.length - 1);
    return this.add(name, { dtype: onnxDataTypeCodes[dtype], dims, storage: Storage.Arena, offset: 0, binding: 0 }, this.buffers.length - 1);
  }

  /** Lowers a graph's nodes in order; `outerUses` collects outer-scope values a branch reads. */
  private lowerGraph(graph: Graph, outputBindings: Map<string, number>, outerUses: number[]): NativePlanStep[] {
    const steps: NativePlanStep[] = [];
    for (const [name, tensor] of graph === this.model.graph ? [] : graph.initializers) this.constant(name, tensor);
    for (const node of graph.nodes) {
      this.position++;
      if (node.opType === 'Constant') {
        const value = attr(node, 'value');
        if (value?.type !== 'tensor') fail(node, 'only Constant nodes with a tensor value are supported (fold the others first)');
        this.constant(node.outputs[0], value.value);
        continue;
      }
      if (node.opType === 'If') {
        steps.push(this.lowerIf(graph, node, outputBindings));
        continue;
      }
      this.pending = [];
      const step = this.lowerNode(graph, node);
      for (const lowered of [...this.pending, step]) this.choosePrecision(lowered, node);
      steps.push(...this.pending);
      step.outputs = node.outputs.map((name) => (name === '' ? -1 : this.define(graph, name, node, outputBindings)));
      if (reshapeLike.has(step.op)) this.alias(step);
      steps.push(step);
    }
    void outerUses;
    return steps;
  }

  /**
   * Under precision 'int8' / 'fp16', weight-bearing steps run their INT8 form (*S8Dynamic) or keep their
   * weights as halves (*F16), unless the node is kept float.
   */
  private choosePrecision(step: NativePlanStep, node: Node): void {
    const precision = this.options.precision ?? 'float32';
    if (precision === 'float32' || this.options.keepFloat?.has(node.name)) return;
    const constantWeight = step.inputs[1] >= 0 && this.tensors[step.inputs[1]]?.slot.storage === Storage.Constant;
    if (['Gemm', 'Conv', 'ConvNhwc', 'MatMul'].includes(step.op) && constantWeight) step.op += precision === 'int8' ? 'S8Dynamic' : 'F16';
  }

  /** A reshape of an arena tensor into an arena tensor shares its block, so the copy can be skipped. */
  private alias(step: NativePlanStep): void {
    if (step.op === 'Expand') return;
    const input = this.tensors[step.inputs[0]];
    const output = this.tensors[step.outputs[0]];
    if (input.buffer === undefined || output.buffer === undefined) return;
    this.aliasOf[this.root(output.buffer)] = this.root(input.buffer);
  }

  private lowerIf(graph: Graph, node: Node, outputBindings: Map<string, number>): NativePlanStep {
    const cond = this.use(node.inputs[0], node);
    const branchPlan = (name: 'then_branch' | 'else_branch'): number => {
      const branch = attr(node, name);
      if (branch?.type !== 'graph') fail(node, `${name} is missing`);
      const subgraph = branch.value;
      // Branch outputs become arena tensors of the branch; the If copies them into its own outputs.
      const steps = this.lowerGraph(subgraph, new Map(), []);
      const outputs = subgraph.outputs.map((output) => this.use(output.name, node));
      this.subplans.push({ steps, outputs });
      return this.subplans.length - 1;
    };
    const thenPlan = branchPlan('then_branch');
    const elsePlan = branchPlan('else_branch');
    this.position++;
    // Outer values read inside the branches must live until the If has run.
    for (const sub of [this.subplans[thenPlan], this.subplans[elsePlan]]) {
      for (const step of sub.steps) for (const id of step.inputs) if (id >= 0) this.touch(id);
      for (const id of sub.outputs) this.touch(id);
    }
    this.touch(cond);
    const outputs = node.outputs.map((name) => this.define(graph, name, node, outputBindings));
    return { op: 'If', name: node.name, inputs: [cond], outputs, ints: [thenPlan, elsePlan], floats: [] };
  }

  private touch(id: number): void {
    const entry = this.tensors[id];
    if (entry.buffer !== undefined) this.buffers[entry.buffer].last = Math.max(this.buffers[entry.buffer].last, this.position);
  }

  private lowerNode(graph: Graph, node: Node): NativePlanStep {
    const op = node.opType;
    const step = (inputs: string[], ints: number[] = [], floats: number[] = [], name = op): NativePlanStep => ({
      op: name,
      name: node.name,
      inputs: inputs.map((input) => this.use(input, node)),
      outputs: [],
      ints,
      floats,
    });
    const rank = (name: string) => this.info(graph, name, node).dims.length;
    const normalizeAxis = (axis: number, r: number) => {
      if (axis < -r || axis >= r) fail(node, `axis ${axis} is out of range for rank ${r}`);
      return axis < 0 ? axis + r : axis;
    };
    const activation = (): number[] => {
      const kind = stringAttr(node, 'activation', '');
      const code = activationCodes[kind];
      if (code === undefined) fail(node, `unknown fused activation '${kind}'`, 'EDGEINFER_UNSUPPORTED_OP');
      return [code === 2 && stringAttr(node, 'approximate', 'none') === 'tanh' ? 3 : code];
    };
    const activationParams = (): number[] => {
      const a = attr(node, 'activation_params');
      return a?.type === 'floats' ? a.value : [];
    };

    if (unaryOps.has(op)) return step([node.inputs[0]]);
    if (binaryOps.has(op)) return step([node.inputs[0], node.inputs[1]]);
    if (reshapeLike.has(op) || op === 'Expand') return step([node.inputs[0]], [], [], reshapeLike.has(op) ? op : 'Expand');
    switch (op) {
      case 'LeakyRelu':
        return step([node.inputs[0]], [], [floatAttr(node, 'alpha', 0.01)]);
      case 'Gelu':
        return step([node.inputs[0]], [stringAttr(node, 'approximate', 'none') === 'tanh' ? 1 : 0]);
      case 'Clip': {
        const dynamic = [1, 2].filter((index) => node.inputs[index] && !this.constants.has(node.inputs[index]));
        if (dynamic.length > 0) return this.dynamicClip(graph, node);
        const bound = (index: number, attrName: string, fallback: number) =>
          node.inputs[index] ? toNumbers(this.constantValue(graph, node.inputs[index], node))[0] : floatAttr(node, attrName, fallback);
        return step([node.inputs[0]], [], [bound(1, 'min', -3.4028234663852886e38), bound(2, 'max', 3.4028234663852886e38)]);
      }
      case 'Cast':
        return step([node.inputs[0]]);
      case 'Where':
        return step(node.inputs.slice(0, 3));
      case 'Softmax':
      case 'LogSoftmax': {
        const r = rank(node.inputs[0]);
        const opset = this.model.opsets.get('') ?? 13;
        const axis = normalizeAxis(intAttr(node, 'axis', opset >= 13 ? -1 : 1), r);
        if (opset < 13 && axis !== r - 1) fail(node, 'Softmax before opset 13 over a non-last axis is not supported', 'EDGEINFER_UNSUPPORTED_OP');
        return step([node.inputs[0]], [axis]);
      }
      case 'ReduceMean':
      case 'ReduceMax':
      case 'ReduceMin':
      case 'ReduceSum':
      case 'ReduceProd':
      case 'ReduceL2': {
        const r = rank(node.inputs[0]);
        let axes = intsAttr(node, 'axes');
        if (axes === undefined && node.inputs[1]) axes = toNumbers(this.constantValue(graph, node.inputs[1], node));
        if (axes === undefined || axes.length === 0) {
          if (intAttr(node, 'noop_with_empty_axes', 0) === 1) return step([node.inputs[0]], [], [], 'Identity');
          axes = Array.from({ length: r }, (_, i) => i);
        }
        const normalized = [...new Set(axes.map((axis) => normalizeAxis(axis, r)))].sort((a, b) => a - b);
        return step([node.inputs[0]], [intAttr(node, 'keepdims', 1), ...normalized]);
      }
      case 'LayerNormalization':
      case 'LayerNormGelu': {
        const r = rank(node.inputs[0]);
        const act = op === 'LayerNormGelu' ? (stringAttr(node, 'approximate', 'none') === 'tanh' ? 3 : 2) : 0;
        return step([node.inputs[0], node.inputs[1], node.inputs[2] ?? ''], [normalizeAxis(intAttr(node, 'axis', -1), r), act], [floatAttr(node, 'epsilon', 1e-5)], 'LayerNorm');
      }
      case 'MatMul':
        return step([node.inputs[0], node.inputs[1]], [0], []);
      case 'FusedMatMul':
        if (node.inputs[2]) return this.matMulWithBias(graph, node, activation(), activationParams());
        return step([node.inputs[0], node.inputs[1]], activation(), activationParams(), 'MatMul');
      case 'Gemm':
      case 'FusedGemm': {
        if (this.info(graph, node.inputs[0], node).dims.length !== 2) fail(node, 'Gemm input A must be 2-D');
        const ints = [intAttr(node, 'transA', 0), intAttr(node, 'transB', 0), ...(op === 'FusedGemm' ? activation() : [0])];
        return step([node.inputs[0], node.inputs[1], node.inputs[2] ?? ''], ints, [floatAttr(node, 'alpha', 1), floatAttr(node, 'beta', 1), ...(op === 'FusedGemm' ? activationParams() : [])], 'Gemm');
      }
      case 'Conv':
      case 'FusedConv': {
        const xDims = this.info(graph, node.inputs[0], node).dims;
        const wDims = this.info(graph, node.inputs[1], node).dims;
        const spatial = xDims.length - 2;
        if (spatial < 1 || spatial > 2) fail(node, `only 1-D and 2-D convolutions are supported (input rank ${xDims.length})`, 'EDGEINFER_UNSUPPORTED_OP');
        const window = this.window(node, xDims, wDims.slice(2), spatial, graph);
        return step([node.inputs[0], node.inputs[1], node.inputs[2] ?? ''], [intAttr(node, 'group', 1), ...(op === 'FusedConv' ? activation() : [0]), ...window], op === 'FusedConv' ? activationParams() : [], 'Conv');
      }
      case 'NhwcConv': {
        // X [N, H, W, C]: the window attributes see it as NCHW.
        const xDims = this.info(graph, node.inputs[0], node).dims;
        const wDims = this.info(graph, node.inputs[1], node).dims;
        if (xDims.length !== 4 && xDims.length !== 3) fail(node, `NhwcConv takes a 3-D or 4-D input (got rank ${xDims.length})`);
        const nchw = [xDims[0], xDims[xDims.length - 1], ...xDims.slice(1, -1)];
        const window = this.window(node, nchw, wDims.slice(2), xDims.length - 2, graph);
        const outMin = node.attributes.output_min?.type === 'float' ? node.attributes.output_min.value : -Infinity;
        return step([node.inputs[0], node.inputs[1], node.inputs[2] ?? ''], [intAttr(node, 'group', 1), ...activation(), ...window], [outMin, ...activationParams()], 'ConvNhwc');
      }
      case 'NhwcMaxPool':
      case 'NhwcAveragePool': {
        const xDims = this.info(graph, node.inputs[0], node).dims;
        const kernel = intsAttr(node, 'kernel_shape');
        if (xDims.length !== 4 || !kernel || kernel.length !== 2) fail(node, 'channels-last pooling takes a 4-D input and a 2-D kernel_shape');
        const window = this.window(node, [xDims[0], xDims[3], xDims[1], xDims[2]], kernel, 2, graph);
        return step([node.inputs[0]], [intAttr(node, 'count_include_pad', 0), ...window], [], op === 'NhwcMaxPool' ? 'MaxPoolNhwc' : 'AveragePoolNhwc');
      }
      case 'MaxPool':
      case 'AveragePool': {
        if (node.outputs.length > 1 && node.outputs[1]) fail(node, 'MaxPool indices output is not supported', 'EDGEINFER_UNSUPPORTED_OP');
        const xDims = this.info(graph, node.inputs[0], node).dims;
        const spatial = xDims.length - 2;
        const kernel = intsAttr(node, 'kernel_shape');
        if (!kernel || kernel.length !== spatial) fail(node, 'kernel_shape is missing or of the wrong length');
        return step([node.inputs[0]], [intAttr(node, 'count_include_pad', 0), ...this.window(node, xDims, kernel, spatial, graph)]);
      }
      case 'GlobalAveragePool':
      case 'GlobalMaxPool':
        return step([node.inputs[0]]);
      case 'Transpose': {
        const r = rank(node.inputs[0]);
        const perm = intsAttr(node, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
        // Moving only size-1 dims keeps the element order: a reshape (aliased, no copy).
        const dims = this.info(graph, node.inputs[0], node).dims;
        const kept = perm.filter((axis) => dims[axis] !== 1);
        if (kept.every((axis, i) => i === 0 || axis > kept[i - 1])) return step([node.inputs[0]], [], [], 'Reshape');
        return step([node.inputs[0]], perm);
      }
      case 'Concat':
        return step(node.inputs, [normalizeAxis(intAttr(node, 'axis', 0), rank(node.outputs[0]))]);
      case 'Split':
        return step([node.inputs[0]], [normalizeAxis(intAttr(node, 'axis', 0), rank(node.inputs[0]))]);
      case 'Gather':
        return step([node.inputs[0], node.inputs[1]], [normalizeAxis(intAttr(node, 'axis', 0), rank(node.inputs[0]))]);
      case 'Slice':
        return step([node.inputs[0]], this.slice(graph, node));
      case 'Pad': {
        const r = rank(node.inputs[0]);
        const mode = { constant: 0, reflect: 1, edge: 2 }[stringAttr(node, 'mode', 'constant')];
        if (mode === undefined) fail(node, `pad mode '${stringAttr(node, 'mode', '')}' is not supported`, 'EDGEINFER_UNSUPPORTED_OP');
        let pads = intsAttr(node, 'pads');
        if (node.inputs[1]) pads = toNumbers(this.constantValue(graph, node.inputs[1], node));
        if (!pads) fail(node, 'pads are missing');
        let full = new Array<number>(2 * r).fill(0);
        if (node.inputs[3]) {
          const axes = toNumbers(this.constantValue(graph, node.inputs[3], node)).map((axis) => normalizeAxis(axis, r));
          axes.forEach((axis, i) => {
            full[axis] = pads![i];
            full[r + axis] = pads![axes.length + i];
          });
        } else {
          if (pads.length !== 2 * r) fail(node, `pads has ${pads.length} values, expected ${2 * r}`);
          full = pads;
        }
        const value = node.inputs[2] ? toNumbers(this.constantValue(graph, node.inputs[2], node))[0] : floatAttr(node, 'value', 0);
        return step([node.inputs[0]], [mode, ...full], [value]);
      }
      case 'QuantizeLinear':
      case 'DequantizeLinear':
        return step([node.inputs[0], node.inputs[1], node.inputs[2] ?? ''], [normalizeAxis(intAttr(node, 'axis', 1), Math.max(1, rank(node.inputs[0])))]);
      case 'QuantizeDequantize': {
        const zeroPoint = node.inputs[2] ? this.info(graph, node.inputs[2], node).dtype : 'uint8';
        if (zeroPoint !== 'uint8' && zeroPoint !== 'int8') fail(node, `fake quantization to ${zeroPoint} is not supported (uint8 or int8)`, 'EDGEINFER_UNSUPPORTED_OP');
        return step([node.inputs[0], node.inputs[1], node.inputs[2] ?? ''], [normalizeAxis(intAttr(node, 'axis', 1), Math.max(1, rank(node.inputs[0])))]);
      }
      case 'QLinearFusedMatMul':
      case 'QLinearFusedGemm':
      case 'QLinearFusedConv':
        return this.qlinear(graph, node, step, activation(), activationParams());
      default:
        fail(node, `op ${node.domain ? node.domain + '.' : ''}${op} has no native kernel`, 'EDGEINFER_UNSUPPORTED_OP');
    }
  }

  /**
   * QLinearFused{MatMul,Gemm,Conv} (lib/onnx/fused-ops.ts) -> QLinear{MatMul,Gemm,Conv} (plan.h): the float
   * op's ints and floats plus w_axis. Checked here so a model the INT8 kernels cannot run fails at load with
   * the node's name: constant int8 weights with zero point 0 (or uint8 with 128, shifted natively), scales
   * per tensor or per output channel, static activation parameters per tensor.
   */
  private qlinear(graph: Graph, node: Node, step: (inputs: string[], ints: number[], floats: number[], name: string) => NativePlanStep, act: number[], actParams: number[]): NativePlanStep {
    const [x, xScale, xZeroPoint, w, wScale, wZeroPoint, bias] = [0, 1, 2, 3, 4, 5, 6].map((i) => node.inputs[i] ?? '');
    const unsupported: (problem: string) => never = (problem) => fail(node, problem, 'EDGEINFER_UNSUPPORTED_OP');
    const weight = this.constants.get(w);
    if (!weight || (weight.dtype !== 'int8' && weight.dtype !== 'uint8')) unsupported('the weight must be a constant int8 or uint8 tensor');
    const scales = this.constants.get(wScale);
    if (!scales || scales.dtype !== 'float32') unsupported('the weight scale must be a constant float32 tensor');
    const wantZeroPoint = weight.dtype === 'int8' ? 0 : 128;
    const zeroPoints = wZeroPoint ? this.constants.get(wZeroPoint) : undefined;
    if (wZeroPoint && !zeroPoints) unsupported('the weight zero point must be a constant');
    const badZeroPoint = (zeroPoints ? toNumbers(zeroPoints) : [0]).find((value) => value !== wantZeroPoint);
    if (badZeroPoint !== undefined) {
      unsupported(`${weight.dtype} weights need zero point ${wantZeroPoint} (symmetric quantization); got ${badZeroPoint}`);
    }
    if (xZeroPoint && !xScale) fail(node, 'an activation zero point without a scale');
    const xScaleValue = this.constants.get(xScale);
    const xZeroPointValue = this.constants.get(xZeroPoint);
    if (xScale && (xScaleValue?.dtype !== 'float32' || xScaleValue.data.length !== 1)) unsupported('the activation scale must be a constant float32 scalar (per tensor)');
    if (xZeroPoint && (!xZeroPointValue || !['uint8', 'int8'].includes(xZeroPointValue.dtype) || xZeroPointValue.data.length !== 1)) {
      unsupported('the activation zero point must be a constant uint8 or int8 scalar (per tensor)');
    }

    const op = node.opType.replace('QLinearFused', 'QLinear');
    const wDims = weight.dims;
    let ints: number[];
    let floats = actParams;
    let outAxis: number;
    let outChannels: number;
    if (op === 'QLinearMatMul') {
      if (wDims.length !== 2) unsupported(`the weight must be 2-D (got [${wDims.join(', ')}])`);
      ints = act;
      [outAxis, outChannels] = [1, wDims[1]];
    } else if (op === 'QLinearGemm') {
      if (this.info(graph, x, node).dims.length !== 2 || wDims.length !== 2) fail(node, 'Gemm inputs must be 2-D');
      const transB = intAttr(node, 'transB', 0);
      const alpha = floatAttr(node, 'alpha', 1);
      if (!(alpha > 0) || !Number.isFinite(alpha)) unsupported(`alpha ${alpha} (the INT8 Gemm folds it into the weight scales: it must be positive)`);
      ints = [intAttr(node, 'transA', 0), transB, ...act];
      floats = [alpha, floatAttr(node, 'beta', 1), ...actParams];
      [outAxis, outChannels] = transB ? [0, wDims[0]] : [1, wDims[1]];
    } else {
      const xDims = this.info(graph, x, node).dims;
      const spatial = xDims.length - 2;
      if (spatial < 1 || spatial > 2) unsupported(`only 1-D and 2-D convolutions are supported (input rank ${xDims.length})`);
      ints = [intAttr(node, 'group', 1), ...act, ...this.window(node, xDims, wDims.slice(2), spatial, graph)];
      [outAxis, outChannels] = [0, wDims[0]];
    }
    const axisAttr = intAttr(node, 'w_axis', 1);
    const wAxis = axisAttr < 0 ? axisAttr + wDims.length : axisAttr;
    if (scales.data.length !== 1 && (scales.data.length !== outChannels || wAxis !== outAxis)) {
      unsupported(`weight scales must be per tensor or per output channel (axis ${outAxis} of [${wDims.join(', ')}]); got ${scales.data.length} along axis ${wAxis}`);
    }
    if (bias) {
      const value = this.constants.get(bias);
      const fits = value?.dtype === 'float32' && (value.data.length === outChannels || (op === 'QLinearGemm' && value.data.length === 1));
      if (!fits || (op === 'QLinearGemm' && value!.dims.length === 2 && value!.dims[0] !== 1)) {
        unsupported('the bias must be a constant float32 vector with one value per output channel');
      }
    }
    return step([x, xScale, xZeroPoint, w, wScale, wZeroPoint, bias], [...ints, wAxis], floats, op);
  }

  /**
   * MatMul of A [..., K] by a constant B [K, N] plus bias [N]: a Gemm over the rows of A, between two
   * reshapes that alias (no copies). The Gemm step writes an internal [M, N] tensor that shares the
   * output's block.
   */
  private matMulWithBias(graph: Graph, node: Node, act: number[], actParams: number[]): NativePlanStep {
    const aDims = this.info(graph, node.inputs[0], node).dims;
    const bDims = this.info(graph, node.inputs[1], node).dims;
    if (bDims.length !== 2 || !this.constants.has(node.inputs[1])) {
      fail(node, 'a bias needs a constant 2-D weight', 'EDGEINFER_UNSUPPORTED_OP');
    }
    const k = aDims[aDims.length - 1];
    const n = bDims[1];
    const m = aDims.slice(0, -1).reduce((product, dim) => product * dim, 1);
    const a = this.use(node.inputs[0], node);
    const dtype = this.tensors[a].slot.dtype;
    const flat = this.internal(dtype, [m, k], node);
    const product = this.internal(dtype, [m, n], node);
    const prelude: NativePlanStep = { op: 'Reshape', name: `${node.name}/flatten`, inputs: [a], outputs: [flat], ints: [], floats: [] };
    this.alias(prelude);
    this.pending.push(prelude);
    const gemm: NativePlanStep = {
      op: 'Gemm',
      name: node.name,
      inputs: [flat, this.use(node.inputs[1], node), this.use(node.inputs[2], node)],
      outputs: [product],
      ints: [0, 0, ...act],
      floats: [1, 1, ...actParams],
    };
    this.pending.push(gemm);
    // The node's own output is defined by the caller; this step reshapes [M, N] into it.
    return { op: 'Reshape', name: `${node.name}/unflatten`, inputs: [product], outputs: [], ints: [], floats: [] };
  }

  /**
   * Clip whose bounds are computed at run time (melspectrogram clips to max - 80 dB): Max with the lower
   * bound, then Min with the upper one, both broadcasting the scalar bound. ints [1] makes them Clip's
   * Max / Min: a NaN in x stays, a NaN bound is ignored (ONNX Runtime's Clip), where a plain Max / Min
   * returns NaN for a NaN in either input.
   */
  private dynamicClip(graph: Graph, node: Node): NativePlanStep {
    const x = this.use(node.inputs[0], node);
    const { dtype, dims } = this.tensors[x].slot;
    const [low, high] = [node.inputs[1] ?? '', node.inputs[2] ?? ''];
    let current = x;
    if (low && high) {
      const clamped = this.internal(dtype, dims, node);
      this.pending.push({ op: 'Max', name: `${node.name}/min`, inputs: [current, this.use(low, node)], outputs: [clamped], ints: [1], floats: [] });
      current = clamped;
      return { op: 'Min', name: `${node.name}/max`, inputs: [current, this.use(high, node)], outputs: [], ints: [1], floats: [] };
    }
    return low
      ? { op: 'Max', name: node.name, inputs: [current, this.use(low, node)], outputs: [], ints: [1], floats: [] }
      : { op: 'Min', name: node.name, inputs: [current, this.use(high, node)], outputs: [], ints: [1], floats: [] };
  }

  /** An arena tensor that no graph value names (for steps the lowering adds). */
  private internal(dtype: number, dims: number[], node: Node): number {
    const type = dataTypeFromCode(dtype);
    const size = type === undefined ? 0 : bytesPerElement[type];
    if (size === 0) fail(node, `internal tensor of dtype ${dtype}`);
    this.buffers.push({ bytes: dims.reduce((product, dim) => product * dim, 1) * size, first: this.position, last: this.position });
    this.aliasOf.push(this.buffers.length - 1);
    return this.addRaw({ dtype, dims, storage: Storage.Arena, offset: 0, binding: 0 }, this.buffers.length - 1);
  }

  /** kernel/strides/pads/dilations for Conv and pooling, with auto_pad resolved on concrete shapes. */
  private window(node: Node, xDims: number[], kernel: number[], spatial: number, graph: Graph): number[] {
    void graph;
    const strides = intsAttr(node, 'strides') ?? new Array<number>(spatial).fill(1);
    const dilations = intsAttr(node, 'dilations') ?? new Array<number>(spatial).fill(1);
    let pads = intsAttr(node, 'pads') ?? new Array<number>(2 * spatial).fill(0);
    const autoPad = stringAttr(node, 'auto_pad', 'NOTSET');
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      pads = new Array<number>(2 * spatial).fill(0);
      for (let i = 0; i < spatial; i++) {
        const input = xDims[2 + i];
        const output = Math.ceil(input / strides[i]);
        const total = Math.max(0, (output - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - input);
        const small = Math.floor(total / 2);
        pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
        pads[spatial + i] = total - pads[i];
      }
    } else if (autoPad === 'VALID') {
      pads = new Array<number>(2 * spatial).fill(0);
    }
    if (strides.length !== spatial || dilations.length !== spatial || pads.length !== 2 * spatial || kernel.length !== spatial) {
      fail(node, 'kernel_shape, strides, pads or dilations do not match the spatial rank');
    }
    return [...kernel, ...strides, ...pads.slice(0, spatial), ...pads.slice(spatial), ...dilations];
  }

  /** Slice as [starts[rank], steps[rank]] over every axis, clamped like ONNX. */
  private slice(graph: Graph, node: Node): number[] {
    const dims = this.info(graph, node.inputs[0], node).dims;
    const r = dims.length;
    const read = (index: number, attrName: string) =>
      node.inputs[index] ? toNumbers(this.constantValue(graph, node.inputs[index], node)) : intsAttr(node, attrName);
    const starts = read(1, 'starts');
    const ends = read(2, 'ends');
    if (!starts || !ends || starts.length !== ends.length) fail(node, 'starts and ends are missing or differ in length');
    const axes = (read(3, 'axes') ?? starts.map((_, i) => i)).map((axis) => (axis < 0 ? axis + r : axis));
    const stepsIn = read(4, '') ?? starts.map(() => 1);
    const allStarts = new Array<number>(r).fill(0);
    const allSteps = new Array<number>(r).fill(1);
    axes.forEach((axis, i) => {
      if (axis < 0 || axis >= r) fail(node, `slice axis ${axes[i]} is out of range`);
      const step = stepsIn[i];
      if (step === 0) fail(node, 'slice step 0');
      const dim = dims[axis];
      let start = starts[i] < 0 ? starts[i] + dim : starts[i];
      start = step > 0 ? Math.min(Math.max(start, 0), dim) : Math.min(Math.max(start, -1), dim - 1);
      allStarts[axis] = start;
      allSteps[axis] = step;
    });
    return [...allStarts, ...allSteps];
  }
}

export interface LowerOptions {
  /** 'int8': Gemm, MatMul with a constant weight and Conv become their *S8Dynamic forms (plan.h); 'fp16': their *F16 forms. */
  precision?: 'float32' | 'int8' | 'fp16';
  /** Names of nodes (as in the optimised graph) that stay float32 under precision 'int8'. */
  keepFloat?: ReadonlySet<string>;
}

export function lowerToPlan(model: Model, options: LowerOptions = {}): LoweredPlan {
  return new Lowering(model, options).lower();
}
