/** Dead-node elimination: drops nodes none of whose outputs are read or are graph outputs, and unused initializers. */
import { Graph, Model } from '../ir';
import { forEachGraph } from './graph-index';
import { nodeReads } from '../validate';

export function eliminateDeadNodes(model: Model): number {
  // nodeReads counts the outer values a subgraph reads as reads of its If/Loop node.
  return forEachGraph(model.graph, (graph) => eliminate(graph));
}

function eliminate(graph: Graph): number {
  const live = new Set(graph.outputs.map((o) => o.name));
  const kept = [];
  let removed = 0;
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i];
    if (node.outputs.some((o) => o !== '' && live.has(o))) {
      kept.push(node);
      for (const input of nodeReads(node)) live.add(input);
    } else removed++;
  }
  graph.nodes = kept.reverse();
  for (const name of [...graph.initializers.keys()]) if (!live.has(name)) graph.initializers.delete(name);
  for (const name of [...graph.valueInfo.keys()]) if (!live.has(name) && !graph.initializers.has(name)) graph.valueInfo.delete(name);
  return removed;
}
