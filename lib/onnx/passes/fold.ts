/**
 * Constant folding: Constant nodes become initializers, and nodes whose inputs are all constants are
 * evaluated by their declaration's `fold` rule (lib/onnx/ops: the shape-computation ops, plain TS on
 * TensorData, small tensors only), plus Shape of a value whose shape is concrete (from graph.valueInfo,
 * i.e. after inferShapes). Nodes writing a graph output are kept.
 */
import { Graph, Model, Node, TensorData } from '../ir';
import { findOp } from '../ops';
import { fromNumbers, isConcrete } from '../tensor';
import { forEachGraph } from './graph-index';

/** Folds constants in the model (and its subgraphs). Returns how many nodes were removed. */
export function foldConstants(model: Model): number {
  const opset = model.opsets.get('') ?? 1;
  return forEachGraph(model.graph, (graph, outer) => foldGraph(graph, outer, opset));
}

function knownShape(graph: Graph, name: string): number[] | undefined {
  const info = graph.valueInfo.get(name) ?? graph.inputs.find((i) => i.name === name);
  const t = graph.initializers.get(name);
  if (t) return t.dims;
  return isConcrete(info?.shape) ? info!.shape as number[] : undefined;
}

function foldGraph(graph: Graph, outer: Map<string, TensorData>, opset: number): number {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const constant = (name: string) => (name === '' ? undefined : (graph.initializers.get(name) ?? outer.get(name)));
  let folded = 0;
  const kept: Node[] = [];
  for (const node of graph.nodes) {
    const result = node.domain === '' && !node.outputs.some((o) => outputs.has(o)) && node.outputs.length === 1 ? evaluate(graph, node, constant, opset) : undefined;
    if (result === undefined) {
      kept.push(node);
      continue;
    }
    graph.initializers.set(node.outputs[0], result);
    graph.valueInfo.set(node.outputs[0], { name: node.outputs[0], dtype: result.dtype, shape: [...result.dims] });
    folded++;
  }
  graph.nodes = kept;
  return folded;
}

function evaluate(graph: Graph, node: Node, constant: (name: string) => TensorData | undefined, opset: number): TensorData | undefined {
  if (node.opType === 'Shape') {
    const dims = knownShape(graph, node.inputs[0]);
    if (!dims) return undefined;
    const rank = dims.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    const start = clamp(node.attributes.start?.type === 'int' ? node.attributes.start.value : 0);
    const end = clamp(node.attributes.end?.type === 'int' ? node.attributes.end.value : rank);
    const slice = dims.slice(start, Math.max(start, end));
    return fromNumbers('int64', [slice.length], slice);
  }
  const fold = findOp(node, opset)?.fold;
  if (fold === undefined) return undefined;
  const inputs = node.inputs.map(constant);
  if (inputs.some((t, i) => node.inputs[i] !== '' && t === undefined)) return undefined;
  try {
    return fold(inputs, node, opset);
  } catch {
    return undefined; // leave anything odd to the executor, which reports it properly
  }
}
