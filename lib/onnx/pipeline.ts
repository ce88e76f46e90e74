/**
 * From bytes to something the backends can run: read and validate (every backend); for the native backend,
 * check the ops are supported and optimise with symbolic shapes (once per model), then, per set of concrete
 * input shapes, a specialised copy with every shape known and shape computations folded (what lower.ts
 * needs). Which of these a backend runs is the backend's choice (lib/backends/).
 */
import { EdgeInferError } from '../errors';
import type { TensorInfo, TensorType } from '../tensor';
import type { Graph, Model, TensorData } from './ir';
import { nativeOps } from './native-ops';
import { eliminateDeadNodes, foldConstants, optimize, type OptimizeOptions } from './passes';
import { readModel } from './reader';
import { inferShapes } from './shapes';
import { checkSupported, validateGraph } from './validate';

export interface PreparedModel {
  model: Model;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  optimizations: Record<string, number>;
}

function tensorInfo(model: Model, name: string, kind: 'input' | 'output'): TensorInfo {
  const value = model.graph.valueInfo.get(name) ?? [...model.graph.inputs, ...model.graph.outputs].find((v) => v.name === name);
  if (!value?.dtype || value.dtype === 'string' || !value.shape) {
    throw new EdgeInferError('EDGEINFER_MODEL_INVALID', `the type or shape of graph ${kind} '${name}' is unknown`, { [kind]: name });
  }
  return { name, type: value.dtype as TensorType, dims: value.shape.slice() };
}

/** Reads ONNX bytes and validates the graph (every backend starts here). Throws EDGEINFER_MODEL_INVALID. */
export function readValidatedModel(bytes: Uint8Array, options: { baseDir?: string } = {}): Model {
  const model = readModel(bytes, { baseDir: options.baseDir });
  validateGraph(model);
  return model;
}

/**
 * The inputs and outputs as the file declares them (symbolic dims kept), for a backend that runs the model
 * as stored. An output without a declared shape gets one from shape inference on a copy, where it can.
 */
export function declaredSignature(model: Model): { inputs: TensorInfo[]; outputs: TensorInfo[] } {
  const inputs = model.graph.inputs.filter((input) => !model.graph.initializers.has(input.name)).map((input) => tensorInfo(model, input.name, 'input'));
  let source = model;
  if (model.graph.outputs.some((output) => output.dtype === undefined || output.shape === undefined)) {
    const copy = cloneModel(model);
    try {
      inferShapes(copy);
      source = copy;
    } catch {
      // Ops without a shape rule here are fine for the runtime; the output stays as declared.
    }
  }
  const outputs = source.graph.outputs.map((output) => tensorInfo(source, output.name, 'output'));
  return { inputs, outputs };
}

/**
 * The native backend's preparation: check every op against `supportedOps` (default: the native op list),
 * infer shapes, run the optimiser (fusions, channels-last, QDQ -> INT8: native-only rewrites), check again.
 * Takes bytes (read and validated here) or a model already read by readValidatedModel, which it changes.
 */
export function prepareModel(source: Uint8Array | Model, options: { baseDir?: string; supportedOps?: ReadonlySet<string>; optimize?: OptimizeOptions } = {}): PreparedModel {
  const supportedOps = (options.supportedOps ?? nativeOps) as Set<string>;
  const model = source instanceof Uint8Array ? readValidatedModel(source, { baseDir: options.baseDir }) : source;
  checkSupported(model, supportedOps);
  const declaredInputs = model.graph.inputs.filter((input) => !model.graph.initializers.has(input.name)).map((input) => input.name);
  inferShapes(model);
  const inputs = declaredInputs.map((name) => tensorInfo(model, name, 'input'));
  const { applied } = optimize(model, options.optimize);
  checkSupported(model, supportedOps);
  const outputs = model.graph.outputs.map((output) => tensorInfo(model, output.name, 'output'));
  return { model, inputs, outputs, optimizations: applied };
}

const weightOps = new Set(['MatMul', 'Gemm', 'Conv', 'FusedMatMul', 'FusedGemm', 'FusedConv', 'NhwcConv']);

/** Names of the MatMul/Gemm/Conv nodes (fused forms included), subgraphs too, in graph order. */
export function weightLayers(model: Model): string[] {
  const names: string[] = [];
  const visit = (graph: Graph) => {
    for (const node of graph.nodes) {
      if (weightOps.has(node.opType)) names.push(node.name);
      for (const attribute of Object.values(node.attributes)) if (attribute.type === 'graph') visit(attribute.value);
    }
  };
  visit(model.graph);
  return names;
}

/** A copy of `model` with the given input dims, all shapes concrete and shape arithmetic folded. */
export function specializeForShapes(model: Model, dims: Record<string, number[]>): Model {
  const copy = cloneModel(model);
  inferShapes(copy, dims);
  // Folding can make more shapes concrete (a folded Expand target, Where of constants), which lets more Shape
  // nodes fold in turn: repeat until nothing more folds (BERT's token-type ids take two rounds).
  for (let round = 0; round < 8; round++) {
    const folded = foldConstants(copy);
    eliminateDeadNodes(copy);
    inferShapes(copy, dims);
    if (folded === 0) break;
  }
  return copy;
}

/**
 * A deep copy of the graph structure whose initializer maps are new but hold the same TensorData objects:
 * the passes replace initializers, they never write into one, so weights (possibly a memory map of an
 * external data file) are not copied once per planned shape.
 */
export function cloneModel(model: Model): Model {
  const detached: Array<[Graph, Map<string, TensorData>]> = [];
  const detach = (graph: Graph) => {
    detached.push([graph, graph.initializers]);
    graph.initializers = new Map();
    for (const node of graph.nodes)
      for (const attribute of Object.values(node.attributes)) {
        if (attribute.type === 'graph') detach(attribute.value);
        if (attribute.type === 'graphs') attribute.value.forEach(detach);
      }
  };
  detach(model.graph);
  let copy: Model;
  try {
    copy = structuredClone(model);
  } finally {
    for (const [graph, initializers] of detached) graph.initializers = initializers;
  }
  // Same traversal order on the copy: reattach shallow copies of the maps.
  let next = 0;
  const attach = (graph: Graph) => {
    graph.initializers = new Map(detached[next++][1]);
    for (const node of graph.nodes)
      for (const attribute of Object.values(node.attributes)) {
        if (attribute.type === 'graph') attach(attribute.value);
        if (attribute.type === 'graphs') attribute.value.forEach(attach);
      }
  };
  attach(copy.graph);
  return copy;
}
