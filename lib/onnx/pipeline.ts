/**
 * From bytes to something the backends can run: read, validate, check the ops are supported, optimise
 * with symbolic shapes (once per model); then, per set of concrete input shapes, a specialised copy with
 * every shape known and shape computations folded (what lower.ts needs).
 */
import { EdgeInferError } from '../errors';
import type { TensorInfo, TensorType } from '../tensor';
import type { Graph, Model, TensorData } from './ir';
import { nativeOps } from './native-ops';
import { eliminateDeadNodes, foldConstants, optimize } from './passes';
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

export function prepareModel(bytes: Uint8Array, options: { baseDir?: string } = {}): PreparedModel {
  const model = readModel(bytes, { baseDir: options.baseDir });
  validateGraph(model);
  checkSupported(model, nativeOps);
  const declaredInputs = model.graph.inputs.filter((input) => !model.graph.initializers.has(input.name)).map((input) => input.name);
  inferShapes(model);
  const inputs = declaredInputs.map((name) => tensorInfo(model, name, 'input'));
  const { applied } = optimize(model);
  checkSupported(model, nativeOps);
  const outputs = model.graph.outputs.map((output) => tensorInfo(model, output.name, 'output'));
  return { model, inputs, outputs, optimizations: applied };
}

/** A copy of `model` with the given input dims, all shapes concrete and shape arithmetic folded. */
export function specializeForShapes(model: Model, dims: Record<string, number[]>): Model {
  const copy = cloneSharingInitializers(model);
  inferShapes(copy, dims);
  foldConstants(copy);
  eliminateDeadNodes(copy);
  inferShapes(copy, dims);
  return copy;
}

/**
 * A deep copy of the graph structure whose initializer maps are new but hold the same TensorData objects:
 * the passes replace initializers, they never write into one, so weights (possibly a memory map of an
 * external data file) are not copied once per planned shape.
 */
function cloneSharingInitializers(model: Model): Model {
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
