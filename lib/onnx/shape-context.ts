/**
 * What a shape rule sees of one node (lib/onnx/shapes.ts builds it; lib/onnx/shape-ops-*.ts use it) and
 * small helpers the rules share: attribute access and the opset-dependent "attribute or input" lookups.
 */
import { EdgeInferError } from '../errors';
import { Attribute, DataType, Dim, Graph, Node, TensorData } from './ir';
import { formatShape } from './dims';
import { toNumbers } from './tensor';

export interface TypeShape {
  dtype?: DataType;
  /** undefined: rank unknown. */
  shape?: Dim[];
}

export interface RuleResult {
  outputs: TypeShape[];
  /**
   * Known element values of small integer outputs (rank <= 1), for shape computations such as
   * Shape -> Gather -> Concat -> Reshape: numbers, or symbols where a value is a symbolic dim.
   */
  values?: (Dim[] | undefined)[];
}

export interface OpContext {
  node: Node;
  /** Version of the node's domain ('' domain opset for edgeinfer fused ops). */
  opset: number;
  /** Type/shape of input i; {} for an omitted or unknown input. */
  input(i: number): TypeShape;
  /** True when input i is given (not omitted). */
  has(i: number): boolean;
  /** Constant value of input i (initializer or Constant), if any. */
  tensor(i: number): TensorData | undefined;
  /** Known element values of input i (constant or propagated symbolic shape values). */
  value(i: number): Dim[] | undefined;
  /** A new symbol for an output dim that cannot be expressed. */
  fresh(output: number, axis: number): string;
  /** Infers a subgraph (If branches) in the current scope; returns its output types. */
  subgraph(graph: Graph): TypeShape[];
}

export type ShapeRule = (ctx: OpContext) => RuleResult;

export function mismatch(ctx: OpContext, problem: string, shapes: Record<string, readonly Dim[] | undefined>): never {
  const list = Object.entries(shapes)
    .map(([name, shape]) => `${name} ${formatShape(shape)}`)
    .join(', ');
  throw new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', `node '${ctx.node.name}' (${ctx.node.opType}): ${problem}: ${list}`, {
    node: ctx.node.name,
    op: ctx.node.opType,
    problem,
    shapes: Object.fromEntries(Object.entries(shapes).map(([name, shape]) => [name, shape ? [...shape] : null])),
  });
}

export function badAttribute(ctx: OpContext, problem: string, extra: Record<string, unknown> = {}): never {
  throw new EdgeInferError('EDGEINFER_MODEL_INVALID', `node '${ctx.node.name}' (${ctx.node.opType}): ${problem}`, {
    node: ctx.node.name,
    op: ctx.node.opType,
    problem,
    ...extra,
  });
}

function attribute(ctx: OpContext, name: string): Attribute | undefined {
  return ctx.node.attributes[name];
}

export function intAttr(ctx: OpContext, name: string, fallback: number): number {
  const a = attribute(ctx, name);
  if (a === undefined) return fallback;
  if (a.type !== 'int') badAttribute(ctx, `attribute '${name}' must be an int, got ${a.type}`, { attribute: name });
  return a.value;
}

export function floatAttr(ctx: OpContext, name: string, fallback: number): number {
  const a = attribute(ctx, name);
  if (a === undefined) return fallback;
  if (a.type !== 'float' && a.type !== 'int') badAttribute(ctx, `attribute '${name}' must be a float, got ${a.type}`, { attribute: name });
  return a.value;
}

export function intsAttr(ctx: OpContext, name: string): number[] | undefined {
  const a = attribute(ctx, name);
  if (a === undefined) return undefined;
  if (a.type !== 'ints') badAttribute(ctx, `attribute '${name}' must be ints, got ${a.type}`, { attribute: name });
  return a.value;
}

export function stringAttr(ctx: OpContext, name: string, fallback: string): string {
  const a = attribute(ctx, name);
  if (a === undefined) return fallback;
  if (a.type !== 'string') badAttribute(ctx, `attribute '${name}' must be a string, got ${a.type}`, { attribute: name });
  return a.value;
}

/**
 * Integer list that moved from an attribute to input `inputIndex` at opset `sinceOpset` (axes of
 * Squeeze/Unsqueeze/Reduce*, split, pads). Returns null when neither is given, undefined when the input is
 * given but not constant.
 */
export function intsFromAttrOrInput(ctx: OpContext, name: string, inputIndex: number, sinceOpset: number): number[] | null | undefined {
  if (ctx.opset < sinceOpset || attribute(ctx, name) !== undefined) return intsAttr(ctx, name) ?? null;
  if (!ctx.has(inputIndex)) return null;
  const t = ctx.tensor(inputIndex);
  if (t !== undefined) return toNumbers(t);
  const v = ctx.value(inputIndex);
  if (v !== undefined && v.every((d) => typeof d === 'number')) return v as number[];
  return undefined;
}

/** Known numbers of input i when all of them are concrete. */
export function numbersOf(ctx: OpContext, i: number): number[] | undefined {
  if (!ctx.has(i)) return undefined;
  const t = ctx.tensor(i);
  if (t !== undefined && t.dtype !== 'string') return toNumbers(t);
  const v = ctx.value(i);
  return v !== undefined && v.every((d) => typeof d === 'number') ? (v as number[]) : undefined;
}

export function same(ctx: OpContext, i = 0): TypeShape {
  const x = ctx.input(i);
  return { dtype: x.dtype, shape: x.shape ? [...x.shape] : undefined };
}
