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
import { findOp, type LowerContext } from './ops';
import { bytesPerElement, dataTypeFromCode } from './tensor';

const enum Storage {
  Arena = 0,
  Constant = 1,
  Input = 2,
  Output = 3,
}

/** Ops whose output is the input's bytes with another shape: planned as an alias, run as a copy otherwise. */
const reshapeLike = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']);


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

  /** The node's step, from its declaration in the op registry; steps it needs first go to `pending`. */
  private lowerNode(graph: Graph, node: Node): NativePlanStep {
    const opset = this.model.opsets.get('') ?? 13;
    const declaration = node.domain === '' || node.domain === 'ai.onnx' || node.domain === 'edgeinfer' ? findOp(node, opset) : undefined;
    const lower = declaration?.native;
    if (typeof lower !== 'function') fail(node, `op ${node.domain ? node.domain + '.' : ''}${node.opType} has no native kernel`, 'EDGEINFER_UNSUPPORTED_OP');
    return lower(this.context(graph, node, opset));
  }

  /** What a declaration's lowering sees of this node (lib/onnx/ops/registry.ts LowerContext). */
  private context(graph: Graph, node: Node, opset: number): LowerContext {
    return {
      node,
      model: this.model,
      opset,
      step: (inputs, ints = [], floats = [], op = node.opType) => ({ op, name: node.name, inputs: inputs.map((input) => this.use(input, node)), outputs: [], ints, floats }),
      dims: (name) => this.info(graph, name, node).dims,
      dtype: (name) => this.info(graph, name, node).dtype,
      rank: (name) => this.info(graph, name, node).dims.length,
      constant: (name) => this.constants.get(name) ?? graph.initializers.get(name),
      constantValue: (name) => this.constantValue(graph, name, node),
      axis: (value, rank) => {
        if (value < -rank || value >= rank) fail(node, `axis ${value} is out of range for rank ${rank}`);
        return value < 0 ? value + rank : value;
      },
      window: (xDims, kernel, spatial) => this.window(node, xDims, kernel, spatial),
      use: (name) => this.use(name, node),
      internal: (dtype, dims) => this.internal(dtype, dims, node),
      slotDtype: (id) => this.tensors[id].slot.dtype,
      before: (step) => this.pending.push(step),
      alias: (step) => this.alias(step),
      fail: (problem, code) => fail(node, problem, code),
    };
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
  private window(node: Node, xDims: number[], kernel: number[], spatial: number): number[] {
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
