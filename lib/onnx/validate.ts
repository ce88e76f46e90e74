/**
 * Structural checks of a Model: every value defined exactly once before it is read, no cycles, graph outputs
 * defined; nodes put into topological order (Kahn). And `checkSupported`, which lists every op a backend
 * cannot run in one error.
 */
import { EdgeInferError } from '../errors';
import { Graph, Model, Node } from './ir';
import { modelInvalid } from './reader';

/** Values a subgraph reads from enclosing scopes (its implicit inputs), recursively. */
export function outerReferences(graph: Graph): Set<string> {
  const defined = new Set<string>([...graph.inputs.map((i) => i.name), ...graph.initializers.keys()]);
  for (const node of graph.nodes) for (const output of node.outputs) if (output) defined.add(output);
  const outer = new Set<string>();
  for (const node of graph.nodes) {
    for (const input of nodeReads(node)) if (input && !defined.has(input)) outer.add(input);
  }
  for (const output of graph.outputs) if (!defined.has(output.name)) outer.add(output.name);
  return outer;
}

/** A node's explicit inputs plus the outer-scope values its subgraphs read. */
export function nodeReads(node: Node): string[] {
  const reads = node.inputs.filter((input) => input !== '');
  for (const attribute of Object.values(node.attributes)) {
    const graphs = attribute.type === 'graph' ? [attribute.value] : attribute.type === 'graphs' ? attribute.value : [];
    for (const sub of graphs) for (const name of outerReferences(sub)) reads.push(name);
  }
  return reads;
}

/**
 * Checks the main graph and every subgraph and sorts their nodes topologically (stable: a graph already in
 * order keeps its order). Throws EdgeInferError('EDGEINFER_MODEL_INVALID') naming node, op and value.
 */
export function validateGraph(model: Model): void {
  validateScope(model.graph, new Set(), 'main graph');
}

function validateScope(graph: Graph, outerScope: Set<string>, role: string): void {
  const graphName = graph.name || role;
  const producer = new Map<string, Node>();
  const defined = new Set<string>();
  for (const input of graph.inputs) defined.add(input.name);
  for (const name of graph.initializers.keys()) defined.add(name);
  for (const node of graph.nodes) {
    for (const output of node.outputs) {
      if (output === '') continue;
      const other = producer.get(output);
      if (other !== undefined || defined.has(output)) {
        const what = other ? `node '${other.name}' (${other.opType})` : 'a graph input or initializer';
        throw modelInvalid(`node '${node.name}' (${node.opType}) writes '${output}', which ${what} already defines (duplicate output name)`, {
          problem: 'duplicate output',
          graph: graphName,
          node: node.name,
          op: node.opType,
          value: output,
          ...(other ? { otherNode: other.name } : {}),
        });
      }
      producer.set(output, node);
    }
  }
  const visible = (name: string) => defined.has(name) || producer.has(name) || outerScope.has(name);

  // Subgraphs first see everything visible here (ONNX scoping: outer values, not later siblings' order).
  const scopeForSubgraphs = new Set<string>([...outerScope, ...defined, ...producer.keys()]);
  for (const node of graph.nodes) {
    for (const input of node.inputs) {
      if (input !== '' && !visible(input)) {
        throw modelInvalid(`node '${node.name}' (${node.opType}) reads '${input}', which no node, graph input or initializer defines (dangling input)`, {
          problem: 'dangling input',
          graph: graphName,
          node: node.name,
          op: node.opType,
          input,
        });
      }
    }
    for (const [attributeName, attribute] of Object.entries(node.attributes)) {
      const graphs = attribute.type === 'graph' ? [attribute.value] : attribute.type === 'graphs' ? attribute.value : [];
      for (const sub of graphs) validateScope(sub, scopeForSubgraphs, `${node.name}.${attributeName}`);
    }
  }
  for (const output of graph.outputs) {
    if (!visible(output.name)) {
      throw modelInvalid(`graph '${graphName}' output '${output.name}' is not produced by any node, input or initializer`, {
        problem: 'undefined output',
        graph: graphName,
        value: output.name,
      });
    }
  }
  graph.nodes = topologicalOrder(graph, producer, graphName);
}

function topologicalOrder(graph: Graph, producer: Map<string, Node>, graphName: string): Node[] {
  const nodes = graph.nodes;
  const reads = nodes.map(nodeReads);
  // Fast path: already in order.
  const seen = new Set<Node>();
  let ordered = true;
  for (let i = 0; i < nodes.length && ordered; i++) {
    for (const input of reads[i]) {
      const from = producer.get(input);
      if (from !== undefined && !seen.has(from)) ordered = false;
    }
    seen.add(nodes[i]);
  }
  if (ordered) return nodes;

  const index = new Map(nodes.map((node, i) => [node, i]));
  const indegree = new Array<number>(nodes.length).fill(0);
  const consumers: number[][] = nodes.map(() => []);
  reads.forEach((inputs, i) => {
    for (const input of new Set(inputs)) {
      const from = producer.get(input);
      if (from === undefined) continue;
      indegree[i]++;
      consumers[index.get(from)!].push(i);
    }
  });
  const heap = new MinHeap();
  indegree.forEach((degree, i) => degree === 0 && heap.push(i));
  const result: Node[] = [];
  while (heap.size > 0) {
    const i = heap.pop();
    result.push(nodes[i]);
    for (const j of consumers[i]) if (--indegree[j] === 0) heap.push(j);
  }
  if (result.length === nodes.length) return result;

  const cycle = findCycle(nodes, reads, producer, new Set(indegree.flatMap((d, i) => (d > 0 ? [i] : []))), index);
  throw modelInvalid(`graph '${graphName}' has a cycle through nodes ${cycle.map((n) => `'${n.name}' (${n.opType})`).join(' -> ')}`, {
    problem: 'cycle',
    graph: graphName,
    nodes: cycle.map((n) => n.name),
    ops: cycle.map((n) => n.opType),
  });
}

/** Walks producer edges among the stuck nodes until one repeats; returns the loop in data-flow order. */
function findCycle(nodes: Node[], reads: string[][], producer: Map<string, Node>, stuck: Set<number>, index: Map<Node, number>): Node[] {
  let current = Math.min(...stuck);
  const path: number[] = [];
  const position = new Map<number, number>();
  for (let steps = 0; steps <= nodes.length; steps++) {
    if (position.has(current)) return path.slice(position.get(current)!).reverse().map((i) => nodes[i]);
    position.set(current, path.length);
    path.push(current);
    const next = reads[current].map((input) => producer.get(input)).find((from) => from !== undefined && stuck.has(index.get(from)!));
    if (next === undefined) break;
    current = index.get(next)!;
  }
  return [...stuck].map((i) => nodes[i]);
}

class MinHeap {
  private items: number[] = [];
  get size(): number {
    return this.items.length;
  }
  push(value: number): void {
    const items = this.items;
    items.push(value);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent] <= items[i]) break;
      [items[parent], items[i]] = [items[i], items[parent]];
      i = parent;
    }
  }
  pop(): number {
    const items = this.items;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && items[left] < items[smallest]) smallest = left;
        if (right < items.length && items[right] < items[smallest]) smallest = right;
        if (smallest === i) break;
        [items[smallest], items[i]] = [items[i], items[smallest]];
        i = smallest;
      }
    }
    return top;
  }
}

/** The key checkSupported looks up: the op type for the default domain, "domain:OpType" otherwise. */
export function opKey(node: Node): string {
  return node.domain === '' || node.domain === 'ai.onnx' ? node.opType : `${node.domain}:${node.opType}`;
}

/**
 * Throws one EdgeInferError('EDGEINFER_UNSUPPORTED_OP') listing every op (with the nodes using it, subgraphs
 * included) whose key (see opKey) is not in `supportedOps`. detail: { unsupported: [{ op, nodes }] }.
 */
export function checkSupported(model: Model, supportedOps: Set<string>): void {
  const missing = new Map<string, string[]>();
  const visit = (graph: Graph) => {
    for (const node of graph.nodes) {
      const key = opKey(node);
      if (!supportedOps.has(key)) {
        const list = missing.get(key) ?? [];
        list.push(node.name);
        missing.set(key, list);
      }
      for (const attribute of Object.values(node.attributes)) {
        if (attribute.type === 'graph') visit(attribute.value);
        if (attribute.type === 'graphs') attribute.value.forEach(visit);
      }
    }
  };
  visit(model.graph);
  if (missing.size === 0) return;
  const unsupported = [...missing].map(([op, nodes]) => ({ op, nodes }));
  const list = unsupported.map(({ op, nodes }) => `${op} (${nodes.length > 3 ? `${nodes.slice(0, 3).join(', ')} and ${nodes.length - 3} more` : nodes.join(', ')})`);
  throw new EdgeInferError('EDGEINFER_UNSUPPORTED_OP', `unsupported ops: ${list.join('; ')}`, { unsupported });
}
