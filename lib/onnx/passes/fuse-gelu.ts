/**
 * GELU written out -> Gelu (domain '', attribute approximate), in the orders PyTorch exports:
 *   erf form:  e = Erf(Div(x, 1.41421) | Mul(x, 0.70711)); a = Add(e, 1); then one of
 *              Mul(Mul(x, a), 0.5) | Mul(Mul(x, 0.5), a) | Mul(x, Mul(a, 0.5))
 *   tanh form: t = Tanh(Mul(Add(x, Mul(Pow(x, 3) | Mul(x, Mul(x, x)), 0.044715)), 0.79788)); a = Add(t, 1);
 *              then the same tails.
 * And LayerNormalization -> Gelu -> edgeinfer LayerNormGelu.
 */
import { Graph, Model, Node } from '../ir';
import { fusedDomain } from '../fused-ops';
import { GraphIndex, close, forEachGraph, isOp, otherInput, replaceNodes, uniqueName } from './graph-index';

interface Match {
  removed: Node[];
  x: string;
  output: string;
  approximate: 'none' | 'tanh';
}

/** Matches the tail after `core` (Erf or Tanh output): Add 1, then the multiplications by x and 0.5. */
function matchTail(index: GraphIndex, core: Node, x: string): { removed: Node[]; output: string } | undefined {
  const add = index.soleConsumer(core.outputs[0]);
  if (!isOp(add, 'Add') || !close(index.scalar(otherInput(add, core.outputs[0]) ?? ''), 1)) return undefined;
  const a = add.outputs[0];
  const m1 = index.soleConsumer(a);
  if (!isOp(m1, 'Mul')) return undefined;
  const other = otherInput(m1, a);
  if (other === undefined) return undefined;
  if (other === x) {
    // Mul(x, a) then Mul(., 0.5)
    const m2 = index.soleConsumer(m1.outputs[0]);
    if (!isOp(m2, 'Mul') || !close(index.scalar(otherInput(m2, m1.outputs[0]) ?? ''), 0.5)) return undefined;
    return { removed: [add, m1, m2], output: m2.outputs[0] };
  }
  const half = index.producedBy(other, 'Mul');
  if (half && otherInput(half, x) !== undefined && close(index.scalar(otherInput(half, x)!), 0.5) && index.onlyFeeds(other, m1)) {
    // Mul(x, 0.5) then Mul(h, a)
    return { removed: [half, add, m1], output: m1.outputs[0] };
  }
  if (close(index.scalar(other), 0.5)) {
    // Mul(a, 0.5) then Mul(x, .)
    const m2 = index.soleConsumer(m1.outputs[0]);
    if (!isOp(m2, 'Mul') || otherInput(m2, m1.outputs[0]) !== x) return undefined;
    return { removed: [add, m1, m2], output: m2.outputs[0] };
  }
  return undefined;
}

function matchErf(index: GraphIndex, erf: Node): Match | undefined {
  if (!isOp(erf, 'Erf')) return undefined;
  const scaled = index.producedBy(erf.inputs[0], 'Div', 'Mul');
  if (!scaled || !index.onlyFeeds(erf.inputs[0], erf)) return undefined;
  const [x, c] = scaled.inputs;
  const ok = scaled.opType === 'Div' ? close(index.scalar(c), Math.SQRT2) : close(index.scalar(c), Math.SQRT1_2);
  if (!ok) return undefined;
  const tail = matchTail(index, erf, x);
  return tail && { removed: [scaled, erf, ...tail.removed], x, output: tail.output, approximate: 'none' };
}

function matchTanh(index: GraphIndex, tanh: Node): Match | undefined {
  if (!isOp(tanh, 'Tanh')) return undefined;
  const scale = index.producedBy(tanh.inputs[0], 'Mul');
  if (!scale || !index.onlyFeeds(tanh.inputs[0], tanh)) return undefined;
  const inner = scale.inputs.find((name) => index.producedBy(name, 'Add'));
  if (!inner || !close(index.scalar(otherInput(scale, inner)!), Math.sqrt(2 / Math.PI)) || !index.onlyFeeds(inner, scale)) return undefined;
  const sum = index.producedBy(inner, 'Add')!;
  for (const x of sum.inputs) {
    const cubicTerm = otherInput(sum, x);
    const times = cubicTerm === undefined ? undefined : index.producedBy(cubicTerm, 'Mul');
    if (!times || !index.onlyFeeds(cubicTerm!, sum)) continue;
    const cube = times.inputs.find((name) => index.scalar(name) === undefined);
    if (!cube || !close(index.scalar(otherInput(times, cube)!), 0.044715) || !index.onlyFeeds(cube, times)) continue;
    const removedCube: Node[] = [];
    const pow = index.producedBy(cube, 'Pow', 'Mul')!;
    if (!pow) continue;
    if (pow.opType === 'Pow') {
      if (pow.inputs[0] !== x || !close(index.scalar(pow.inputs[1]), 3, 1e-6)) continue;
      removedCube.push(pow);
    } else {
      const square = otherInput(pow, x);
      const sq = square === undefined ? undefined : index.producedBy(square, 'Mul');
      if (!sq || sq.inputs[0] !== x || sq.inputs[1] !== x || !index.onlyFeeds(square!, pow)) continue;
      removedCube.push(sq, pow);
    }
    const tail = matchTail(index, tanh, x);
    if (tail) return { removed: [...removedCube, times, sum, scale, tanh, ...tail.removed], x, output: tail.output, approximate: 'tanh' };
  }
  return undefined;
}

function fuseIn(graph: Graph, outer: Map<string, import('../ir').TensorData>): number {
  let count = 0;
  for (;;) {
    const index = new GraphIndex(graph, outer);
    let match: Match | undefined;
    for (const node of graph.nodes) {
      match = matchErf(index, node) ?? matchTanh(index, node);
      if (match) break;
    }
    if (!match) return count;
    const last = match.removed[match.removed.length - 1];
    replaceNodes(graph, match.removed, [
      {
        name: uniqueName(graph, `${last.name}/Gelu`),
        opType: 'Gelu',
        domain: '',
        inputs: [match.x],
        outputs: [match.output],
        attributes: { approximate: { type: 'string', value: match.approximate } },
      },
    ]);
    count++;
  }
}

/** Erf-form and tanh-form GELU -> Gelu. Returns the number of fusions. */
export function fuseGelu(model: Model): number {
  return forEachGraph(model.graph, fuseIn);
}

/** LayerNormalization (only output Y used) -> Gelu -> edgeinfer LayerNormGelu. */
export function fuseLayerNormGelu(model: Model): number {
  const count = forEachGraph(model.graph, (graph, outer) => {
    let fused = 0;
    for (;;) {
      const index = new GraphIndex(graph, outer);
      const ln = graph.nodes.find((node) => {
        if (!isOp(node, 'LayerNormalization') || node.outputs.slice(1).some((o) => o !== '')) return false;
        return isOp(index.soleConsumer(node.outputs[0]), 'Gelu');
      });
      if (!ln) return fused;
      const gelu = index.soleConsumer(ln.outputs[0])!;
      const approximate = gelu.attributes.approximate?.type === 'string' ? gelu.attributes.approximate.value : 'none';
      replaceNodes(graph, [ln, gelu], [
        {
          name: uniqueName(graph, `${ln.name}/LayerNormGelu`),
          opType: 'LayerNormGelu',
          domain: fusedDomain,
          inputs: [...ln.inputs],
          outputs: [gelu.outputs[0]],
          attributes: {
            axis: ln.attributes.axis ?? { type: 'int', value: -1 },
            epsilon: ln.attributes.epsilon ?? { type: 'float', value: 1e-5 },
            approximate: { type: 'string', value: approximate },
          },
        },
      ]);
      fused++;
    }
  });
  return count;
}
