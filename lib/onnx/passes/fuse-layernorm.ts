/**
 * Written-out LayerNorm -> LayerNormalization(axis=-1, epsilon):
 *   m = ReduceMean(x, [-1]); d = Sub(x, m); p = Pow(d, 2) | Mul(d, d); v = ReduceMean(p, [-1]);
 *   s = Sqrt(Add(v, eps)); n = Div(d, s); [Mul(n, gamma)]; [Add(., beta)]
 * Every intermediate must feed only the next node of the pattern and not be a graph output.
 */
import { Graph, Model, Node, TensorData } from '../ir';
import { toNumbers } from '../tensor';
import { GraphIndex, close, forEachGraph, isOp, otherInput, replaceNodes, uniqueName } from './graph-index';

/** True when the ReduceMean reduces exactly the last axis with keepdims. */
function reducesLastAxis(index: GraphIndex, node: Node, rank: number | undefined, opset: number): boolean {
  if (node.attributes.keepdims?.type === 'int' && node.attributes.keepdims.value !== 1) return false;
  let axes: number[] | undefined;
  const attribute = node.attributes.axes;
  if (attribute?.type === 'ints') axes = attribute.value;
  else if (opset >= 18 && node.inputs[1]) {
    const t = index.constant(node.inputs[1]);
    axes = t ? toNumbers(t) : undefined;
  }
  if (!axes || axes.length !== 1) return false;
  return axes[0] === -1 || (rank !== undefined && axes[0] === rank - 1);
}

export function fuseLayerNorm(model: Model): number {
  const opset = model.opsets.get('') ?? 1;
  return forEachGraph(model.graph, (graph, outer) => {
    let count = 0;
    for (;;) {
      const index = new GraphIndex(graph, outer);
      const match = graph.nodes.map((node) => matchAt(index, graph, node, opset)).find((m) => m !== undefined);
      if (!match) return count;
      apply(graph, match);
      count++;
    }
  });
}

interface Match {
  removed: Node[];
  x: string;
  epsilon: number;
  gamma?: string;
  beta?: string;
  output: string;
  width?: number;
}

function matchAt(index: GraphIndex, graph: Graph, sub: Node, opset: number): Match | undefined {
  if (!isOp(sub, 'Sub')) return undefined;
  const [x, mean] = sub.inputs;
  const m = index.producedBy(mean, 'ReduceMean');
  const shape = graph.valueInfo.get(x)?.shape ?? graph.inputs.find((i) => i.name === x)?.shape;
  if (!m || m.inputs[0] !== x || !reducesLastAxis(index, m, shape?.length, opset) || !index.onlyFeeds(mean, sub)) return undefined;
  const d = sub.outputs[0];
  const users = index.consumersOf(d);
  if (index.outputs.has(d) || users.length !== 2) return undefined;
  const square = users.find((n) => (isOp(n, 'Pow') && n.inputs[0] === d && close(index.scalar(n.inputs[1]), 2, 1e-6)) || (isOp(n, 'Mul') && n.inputs[0] === d && n.inputs[1] === d));
  const div = users.find((n) => isOp(n, 'Div') && n.inputs[0] === d);
  if (!square || !div) return undefined;
  const v = index.soleConsumer(square.outputs[0]);
  if (!isOp(v, 'ReduceMean') || !reducesLastAxis(index, v, shape?.length, opset)) return undefined;
  const addEps = index.soleConsumer(v.outputs[0]);
  if (!isOp(addEps, 'Add')) return undefined;
  const epsName = otherInput(addEps, v.outputs[0]);
  const epsilon = epsName === undefined ? undefined : index.scalar(epsName);
  if (epsilon === undefined || !(epsilon >= 0)) return undefined;
  const sqrt = index.soleConsumer(addEps.outputs[0]);
  if (!isOp(sqrt, 'Sqrt') || !index.onlyFeeds(sqrt.outputs[0], div) || div.inputs[1] !== sqrt.outputs[0]) return undefined;
  const removed = [m, sub, square, v, addEps, sqrt, div];
  let output = div.outputs[0];
  let gamma: string | undefined;
  let beta: string | undefined;
  const lastDimConstant = (name: string | undefined): TensorData | undefined => {
    const t = name === undefined ? undefined : index.constant(name);
    return t && t.dtype === 'float32' && t.dims.filter((n) => n !== 1).length <= 1 && t.dims.length <= 1 ? t : undefined;
  };
  const mul = index.soleConsumer(output);
  if (isOp(mul, 'Mul') && lastDimConstant(otherInput(mul, output))) {
    gamma = otherInput(mul, output)!;
    removed.push(mul);
    output = mul.outputs[0];
  }
  const add = index.soleConsumer(output);
  if (isOp(add, 'Add') && lastDimConstant(otherInput(add, output))) {
    beta = otherInput(add, output)!;
    removed.push(add);
    output = add.outputs[0];
  }
  const last = shape?.[shape.length - 1];
  const width = typeof last === 'number' ? last : (gamma ? index.constant(gamma)!.data.length : beta ? index.constant(beta)!.data.length : undefined);
  if (width === undefined) return undefined;
  if ((gamma && index.constant(gamma)!.data.length !== width) || (beta && index.constant(beta)!.data.length !== width)) return undefined;
  return { removed, x, epsilon, gamma, beta, output, width };
}

function apply(graph: Graph, match: Match): void {
  const last = match.removed[match.removed.length - 1];
  const ensure1d = (name: string | undefined, fill: number): string | undefined => {
    if (name === undefined) {
      if (fill === 0) return undefined;
      const created = uniqueName(graph, `${last.name}/ln_scale`);
      graph.initializers.set(created, { dtype: 'float32', dims: [match.width!], data: new Float32Array(match.width!).fill(fill) });
      return created;
    }
    const t = graph.initializers.get(name);
    if (t && t.dims.length === 1) return name;
    // A [1, W]-style constant (or one from an outer scope): give the op its own [W] copy.
    const created = uniqueName(graph, `${name}/1d`);
    const source = t ?? undefined;
    if (!source) return name;
    graph.initializers.set(created, { ...source, dims: [source.data.length] });
    return created;
  };
  const scale = ensure1d(match.gamma, 1)!;
  const bias = ensure1d(match.beta, 0);
  const fused: Node = {
    name: uniqueName(graph, `${last.name}/LayerNormalization`),
    opType: 'LayerNormalization',
    domain: '',
    inputs: bias ? [match.x, scale, bias] : [match.x, scale],
    outputs: [match.output],
    attributes: { axis: { type: 'int', value: -1 }, epsilon: { type: 'float', value: match.epsilon } },
  };
  replaceNodes(graph, match.removed, [fused]);
}
