/**
 * Mixed precision: which precision each quantizable node gets. Rules match nodes by op type, exact name or a
 * name pattern; later rules override earlier ones, `nodesToExclude` overrides every rule. The 'seed' preset
 * is the policy of the system this project grew from: attention MatMuls INT8, feed-forward MatMul / Gemm
 * FP16, the first and last quantizable layers FP32 (LayerNormalization and Softmax are never quantized here,
 * so they stay FP32 under every policy).
 */
import type { Model, Node } from '../onnx/ir';
import { GraphIndex } from '../onnx/passes/graph-index';
import { checkOneOf, invalid } from '../validate';
import type { QuantizableNode } from './quantizable-nodes';

export type LayerPrecision = 'int8' | 'fp16' | 'fp32';
export const LAYER_PRECISIONS: readonly LayerPrecision[] = ['int8', 'fp16', 'fp32'];

/**
 * Matches the nodes that meet every criterion given (at least one is needed): 'int8' quantizes weights and
 * input activations; 'fp16' stores the weights as float16 initializers followed by a Cast to float (half
 * the bytes, runs everywhere, math in float32); 'fp32' leaves the node as it is.
 */
export interface PrecisionRule {
  opType?: string | readonly string[];
  name?: string | readonly string[];
  /** Tested against the node name (a string is compiled as a RegExp). */
  pattern?: RegExp | string;
  precision: LayerPrecision;
}

export type MixedPrecisionPreset = 'seed';

export interface NodePrecision {
  precision: LayerPrecision;
  /** Which rule decided, for the report. */
  reason: string;
}

interface CheckedRule {
  opTypes?: Set<string>;
  names?: Set<string>;
  pattern?: RegExp;
  precision: LayerPrecision;
  label: string;
}

function stringList(value: unknown, argument: string): Set<string> {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((item) => typeof item !== 'string' || item === '')) {
    throw invalid(`${argument} must be a non-empty string or array of non-empty strings`, { argument, got: value });
  }
  return new Set(list as string[]);
}

/** The names of every node, subgraphs included: what rules and nodesToExclude may name. */
export function allNodeNames(model: Model): Set<string> {
  const names = new Set<string>();
  const visit = (graph: Model['graph']) => {
    for (const node of graph.nodes) {
      names.add(node.name);
      for (const attribute of Object.values(node.attributes)) {
        if (attribute.type === 'graph') visit(attribute.value);
        if (attribute.type === 'graphs') attribute.value.forEach(visit);
      }
    }
  };
  visit(model.graph);
  return names;
}

/** Checks `precision` rules and that every name they give is a node of the model (a typo should not pass silently). */
export function checkPrecisionRules(value: unknown, nodeNames: ReadonlySet<string>): CheckedRule[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid('precision must be an array of rules { opType?, name?, pattern?, precision }', { argument: 'precision' });
  return value.map((rule: unknown, i) => {
    const argument = `precision[${i}]`;
    if (rule === null || typeof rule !== 'object') throw invalid(`${argument} must be a rule object`, { argument });
    const r = rule as Record<string, unknown>;
    const checked: CheckedRule = { precision: checkOneOf(r.precision, LAYER_PRECISIONS, `${argument}.precision`), label: argument };
    if (r.opType !== undefined) checked.opTypes = stringList(r.opType, `${argument}.opType`);
    if (r.name !== undefined) {
      checked.names = stringList(r.name, `${argument}.name`);
      for (const name of checked.names) {
        if (!nodeNames.has(name)) throw invalid(`${argument}.name '${name}' is not a node of the model (after folding)`, { argument: `${argument}.name`, got: name });
      }
    }
    if (r.pattern !== undefined) {
      if (r.pattern instanceof RegExp) checked.pattern = r.pattern;
      else if (typeof r.pattern === 'string') {
        try {
          checked.pattern = new RegExp(r.pattern);
        } catch (error) {
          throw invalid(`${argument}.pattern is not a valid RegExp: ${(error as Error).message}`, { argument: `${argument}.pattern` });
        }
      } else throw invalid(`${argument}.pattern must be a RegExp or a string`, { argument: `${argument}.pattern` });
    }
    if (!checked.opTypes && !checked.names && !checked.pattern) throw invalid(`${argument} needs opType, name or pattern`, { argument });
    return checked;
  });
}

function matches(rule: CheckedRule, node: Node): boolean {
  if (rule.opTypes && !rule.opTypes.has(node.opType)) return false;
  if (rule.names && !rule.names.has(node.name)) return false;
  if (rule.pattern) {
    rule.pattern.lastIndex = 0; // a /g or /y RegExp keeps state between test() calls
    if (!rule.pattern.test(node.name)) return false;
  }
  return true;
}

/** Ops that make a MatMul / Gemm next to them part of a feed-forward block (an MLP's nonlinearity). */
const FEED_FORWARD_ACTIVATIONS = new Set(['Relu', 'LeakyRelu', 'Gelu', 'FastGelu', 'BiasGelu', 'Erf', 'Tanh', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Elu', 'Selu', 'Softplus', 'Mish']);
/** Element-wise ops between a layer and its activation (bias add, the pieces of an exported GELU). */
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Cast', ...FEED_FORWARD_ACTIVATIONS]);
/** Hops searched: MatMul -> Add (bias) -> Div -> Erf is three, Erf -> Add -> Mul -> Mul -> MatMul four. */
const FEED_FORWARD_HOPS = 4;

/** A MatMul / Gemm with a nonlinearity within a few element-wise hops after its output or before its input. */
function isFeedForward(index: GraphIndex, node: Node): boolean {
  const reaches = (start: string, next: (value: string) => Node[], step: (n: Node) => string[]): boolean => {
    let frontier = [start];
    for (let hop = 0; hop < FEED_FORWARD_HOPS && frontier.length > 0; hop++) {
      const nodes = frontier.flatMap(next).filter((n) => n.domain === '' && ELEMENTWISE.has(n.opType));
      if (nodes.some((n) => FEED_FORWARD_ACTIVATIONS.has(n.opType))) return true;
      frontier = nodes.flatMap(step);
    }
    return false;
  };
  const after = reaches(node.outputs[0], (value) => index.consumersOf(value), (n) => n.outputs);
  const producer = (value: string) => {
    const found = index.producer.get(value);
    return found ? [found] : [];
  };
  return after || reaches(node.inputs[0], producer, (n) => n.inputs.filter((input) => input !== '' && !index.graph.initializers.has(input)));
}

/** The 'seed' policy's precision for each quantizable node. */
function seedPolicy(model: Model, nodes: readonly QuantizableNode[]): Map<Node, NodePrecision> {
  const index = new GraphIndex(model.graph);
  const decided = new Map<Node, NodePrecision>();
  // First and last in the main graph's order (a subgraph's layers are branches, not the model's ends).
  const layers = nodes.filter((entry) => entry.unsupported === undefined && entry.weight !== undefined && !entry.weightOnly);
  for (const entry of nodes) {
    const { node } = entry;
    if ((node.opType === 'MatMul' || node.opType === 'Gemm') && entry.weight && isFeedForward(index, node)) {
      decided.set(node, { precision: 'fp16', reason: "mixedPrecision 'seed': feed-forward layer" });
    } else if (node.opType === 'MatMul' || node.opType === 'Gemm') {
      decided.set(node, { precision: 'int8', reason: "mixedPrecision 'seed': attention layer" });
    }
  }
  // Last, so a first / last layer that is also feed-forward stays FP32.
  for (const entry of [layers[0], layers[layers.length - 1]]) {
    if (entry) decided.set(entry.node, { precision: 'fp32', reason: "mixedPrecision 'seed': first / last layer" });
  }
  return decided;
}

export interface PrecisionPlanOptions {
  rules: CheckedRule[];
  preset?: MixedPrecisionPreset;
  nodesToExclude: ReadonlySet<string>;
}

/**
 * The precision of every quantizable node: 'int8' by default, then the preset, then the rules in order, then
 * `nodesToExclude` (FP32). A node that cannot be quantized gets FP32 when INT8 was asked (FP16 still applies
 * to its constant weight when it has one).
 */
export function planPrecisions(model: Model, nodes: readonly QuantizableNode[], options: PrecisionPlanOptions): Map<Node, NodePrecision> {
  const plan = new Map<Node, NodePrecision>();
  const preset = options.preset === 'seed' ? seedPolicy(model, nodes) : new Map<Node, NodePrecision>();
  for (const entry of nodes) {
    const { node } = entry;
    let decision: NodePrecision = preset.get(node) ?? { precision: 'int8', reason: entry.weightOnly ? 'default (weight-only: in a subgraph)' : 'default' };
    for (const rule of options.rules) if (matches(rule, node)) decision = { precision: rule.precision, reason: rule.label };
    if (options.nodesToExclude.has(node.name)) decision = { precision: 'fp32', reason: 'nodesToExclude' };
    if (decision.precision === 'int8' && entry.unsupported !== undefined) decision = { precision: 'fp32', reason: `not quantizable: ${entry.unsupported}` };
    if (decision.precision === 'fp16' && entry.weight === undefined) decision = { precision: 'fp32', reason: `no float32 weight to store as FP16 (${decision.reason})` };
    plan.set(node, decision);
  }
  return plan;
}

export function checkPreset(value: unknown): MixedPrecisionPreset | undefined {
  return value === undefined ? undefined : checkOneOf(value, ['seed'] as const, 'mixedPrecision');
}
