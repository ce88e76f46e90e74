/**
 * The op registry: every op the library knows is declared once, with what each part of the pipeline needs
 * of it: its shape rule (shape inference), how to evaluate it on constants (folding), how to lower it to
 * native plan steps (and which C++ step ops that may emit), and how the channels-last pass may move a
 * transpose across it. The family files (elementwise.ts, tensor.ts, nn.ts, quantized.ts, fused.ts,
 * control.ts) declare; shapes.ts, passes/fold.ts, passes/channels-last.ts, lower.ts and the native backend's
 * support check read from here. A test checks the declared step ops against the C++ op table.
 */
import type { NativePlanStep } from '../../native';
import type { DataType, Model, Node, TensorData } from '../ir';
import type { ShapeRule } from '../shape-context';

/** Inputs of a node whose every (non-omitted) input is constant; returns the output, or undefined to leave it. */
export type FoldRule = (inputs: (TensorData | undefined)[], node: Node, opset: number) => TensorData | undefined;

/**
 * What lowering one node sees: its shapes are concrete (the plan is built per input shape), constants known.
 * Every failure names the node.
 */
export interface LowerContext {
  readonly node: Node;
  readonly model: Model;
  /** Opset of the ONNX domain. */
  readonly opset: number;
  /** A step reading `inputs` (names; '' for an omitted one) with the node's name; `op` defaults to the node's op. */
  step(inputs: string[], ints?: number[], floats?: number[], op?: string): NativePlanStep;
  dims(name: string): number[];
  dtype(name: string): DataType;
  rank(name: string): number;
  /** The value of a constant input (initializer, Constant node), or undefined. */
  constant(name: string): TensorData | undefined;
  /** The value of an input that must be constant (fails otherwise). */
  constantValue(name: string): TensorData;
  /** An axis attribute normalised to [0, rank). */
  axis(value: number, rank: number): number;
  /** kernel / strides / pads (begin, end) / dilations for a conv or pool window on NCHW dims, auto_pad resolved. */
  window(xDims: number[], kernel: number[], spatial: number): number[];
  /** Slot id of a named tensor (marks it read here). */
  use(name: string): number;
  /** A new arena tensor no graph value names, for steps a lowering adds (dtype as plan.h code). */
  internal(dtypeCode: number, dims: number[]): number;
  /** The plan.h dtype code of slot `id`. */
  slotDtype(id: number): number;
  /** Emits a step before the node's own (its outputs must be set: internal slots). */
  before(step: NativePlanStep): void;
  /** Lets a reshape-like step's output share its input's arena block. */
  alias(step: NativePlanStep): void;
  fail(problem: string, code?: 'EDGEINFER_MODEL_INVALID' | 'EDGEINFER_UNSUPPORTED_OP'): never;
}

/** The node's own step; its outputs are defined by the caller from node.outputs. */
export type LowerRule = (ctx: LowerContext) => NativePlanStep;

/**
 * How the channels-last pass may carry an NHWC layout across the op:
 *   'elementwise': one input, same shape out (an activation): the transpose moves below it.
 *   'scalar-binary': two inputs, the other a one-element constant: likewise.
 */
export type LayoutRule = 'elementwise' | 'scalar-binary';

export interface OpDeclaration {
  /** '' (ai.onnx), 'edgeinfer' (our fused ops) or another domain. */
  domain: string;
  op: string;
  /** Versions of the domain's opset this declaration implements (inclusive); default: all. */
  opsets?: readonly [number, number];
  shape: ShapeRule;
  fold?: FoldRule;
  /**
   * How the native backend runs it: a lowering to plan steps, 'folded' when it only ever reaches a plan as a
   * constant (shape computations: every input depends on shapes and constants alone, which are concrete when
   * a plan is built), 'expanded' when the optimiser rewrites it into ops that lower before any plan is built
   * (ONNX Runtime's QOperator ops: passes/expand-qoperator.ts; ConvInteger: passes/fuse-dynamic-quant.ts), or
   * undefined when the native backend cannot run it.
   */
  native?: LowerRule | 'folded' | 'structural' | 'expanded';
  /** The C++ step ops (cpp/runtime/ops OpDef names) the lowering may emit. */
  steps?: readonly string[];
  layout?: LayoutRule;
}

const declarations = new Map<string, OpDeclaration[]>();

const keyOf = (domain: string, op: string) => (domain === '' || domain === 'ai.onnx' ? op : `${domain}:${op}`);

/** Registers ops; a second declaration of the same op must cover other opsets. */
export function declareOps(...ops: OpDeclaration[]): void {
  for (const declaration of ops) {
    const key = keyOf(declaration.domain, declaration.op);
    const list = declarations.get(key) ?? [];
    const [lo, hi] = declaration.opsets ?? [1, Infinity];
    if (list.some((other) => (other.opsets?.[0] ?? 1) <= hi && lo <= (other.opsets?.[1] ?? Infinity))) {
      throw new Error(`op ${key} is declared twice for overlapping opsets`);
    }
    list.push(declaration);
    declarations.set(key, list);
  }
}

/**
 * The declaration of `node`'s op at `opset` (the version of its domain), or undefined. Fused ops of the
 * edgeinfer domain fall back to the ONNX declaration of the same name (a node of ours may carry it).
 */
export function findOp(node: Pick<Node, 'domain' | 'opType'>, opset = Infinity): OpDeclaration | undefined {
  const list = declarations.get(keyOf(node.domain, node.opType)) ?? (node.domain === 'edgeinfer' ? declarations.get(node.opType) : undefined);
  return list?.find((d) => opset >= (d.opsets?.[0] ?? 1) && opset <= (d.opsets?.[1] ?? Infinity)) ?? list?.[list.length - 1];
}

/** Every declaration, in registration order. */
export function allOps(): OpDeclaration[] {
  return [...declarations.values()].flat();
}

/** Op keys ("Op" for ai.onnx, "domain:Op" otherwise) the native backend can run, lowered or folded. */
export function nativeOpKeys(): Set<string> {
  return new Set(allOps().filter((d) => d.native !== undefined).map((d) => keyOf(d.domain, d.op)));
}

/** The C++ step ops the declarations may emit. */
export function declaredStepOps(): Set<string> {
  return new Set(allOps().flatMap((d) => d.steps ?? []));
}
