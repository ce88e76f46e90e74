/**
 * Lookups the passes share: who produces and who reads each value, which values are constants (initializers),
 * and the "an intermediate may be absorbed" rule: read by exactly the one node that absorbs it and not a graph
 * output. Rebuilt after each rewrite (graphs are small; simplicity wins).
 */
import { Attribute, Graph, Node, TensorData } from '../ir';
import { getNumber } from '../tensor';
import { nodeReads } from '../validate';

export class GraphIndex {
  readonly producer = new Map<string, Node>();
  readonly consumers = new Map<string, Node[]>();
  readonly outputs: Set<string>;

  constructor(readonly graph: Graph, private readonly outerConstants?: Map<string, TensorData>) {
    for (const node of graph.nodes) {
      for (const output of node.outputs) if (output) this.producer.set(output, node);
      for (const input of new Set(nodeReads(node))) {
        const list = this.consumers.get(input) ?? [];
        list.push(node);
        this.consumers.set(input, list);
      }
    }
    this.outputs = new Set(graph.outputs.map((o) => o.name));
  }

  constant(name: string): TensorData | undefined {
    return this.graph.initializers.get(name) ?? this.outerConstants?.get(name);
  }

  /** A one-element float/int constant's value. */
  scalar(name: string): number | undefined {
    const t = this.constant(name);
    if (t === undefined || t.dtype === 'string' || t.data.length !== 1) return undefined;
    return getNumber(t, 0);
  }

  /** The node producing `name` if its op is one of `ops` (default domain). */
  producedBy(name: string, ...ops: string[]): Node | undefined {
    const node = this.producer.get(name);
    return node && (node.domain === '' || node.domain === 'ai.onnx') && ops.includes(node.opType) ? node : undefined;
  }

  /** True when `name` is read only by `node` (any number of times) and is not a graph output. */
  onlyFeeds(name: string, node: Node): boolean {
    if (this.outputs.has(name)) return false;
    const list = this.consumers.get(name) ?? [];
    return list.length === 1 && list[0] === node;
  }

  /** The single consumer of `name` (undefined when none, several, or a graph output). */
  soleConsumer(name: string): Node | undefined {
    if (this.outputs.has(name)) return undefined;
    const list = this.consumers.get(name) ?? [];
    return list.length === 1 ? list[0] : undefined;
  }

  consumersOf(name: string): Node[] {
    return this.consumers.get(name) ?? [];
  }
}

export function isOp(node: Node | undefined, ...ops: string[]): node is Node {
  return node !== undefined && (node.domain === '' || node.domain === 'ai.onnx') && ops.includes(node.opType);
}

/** The other input of a two-input node, given one of them. */
export function otherInput(node: Node, name: string): string | undefined {
  if (node.inputs.length !== 2) return undefined;
  if (node.inputs[0] === name) return node.inputs[1];
  if (node.inputs[1] === name) return node.inputs[0];
  return undefined;
}

export function close(value: number | undefined, target: number, tolerance = 1e-3): boolean {
  return value !== undefined && Math.abs(value - target) <= tolerance * Math.max(1, Math.abs(target));
}

/**
 * Replaces `remove` (a connected pattern) by `fused`, placed where the last removed node was, and
 * registers the 'edgeinfer' opset when a fused node uses it.
 */
export function replaceNodes(graph: Graph, remove: Node[], fused: Node[]): void {
  const doomed = new Set(remove);
  let last = -1;
  graph.nodes.forEach((node, i) => doomed.has(node) && (last = i));
  const kept: Node[] = [];
  graph.nodes.forEach((node, i) => {
    if (!doomed.has(node)) kept.push(node);
    if (i === last) kept.push(...fused);
  });
  graph.nodes = kept;
}

/** A unique name for a new node or value in `graph`. */
export function uniqueName(graph: Graph, base: string): string {
  const taken = new Set<string>([...graph.initializers.keys(), ...graph.inputs.map((i) => i.name)]);
  for (const node of graph.nodes) {
    taken.add(node.name);
    for (const output of node.outputs) taken.add(output);
  }
  if (!taken.has(base)) return base;
  for (let k = 1; ; k++) if (!taken.has(`${base}_${k}`)) return `${base}_${k}`;
}

/** Runs `visit` on the graph and every subgraph, inner first; sums what it returns. */
export function forEachGraph(graph: Graph, visit: (graph: Graph, outer: Map<string, TensorData>) => number, outer = new Map<string, TensorData>()): number {
  let count = 0;
  const scope = new Map([...outer, ...graph.initializers]);
  for (const node of graph.nodes) {
    for (const attribute of Object.values(node.attributes)) {
      const graphs = attribute.type === 'graph' ? [attribute.value] : attribute.type === 'graphs' ? attribute.value : [];
      for (const sub of graphs) count += forEachGraph(sub, visit, scope);
    }
  }
  return count + visit(graph, outer);
}

export function attr(node: Node, name: string): Attribute | undefined {
  return node.attributes[name];
}
