/**
 * Element-wise ops: activations and other unary maps, broadcasting binary arithmetic and comparisons,
 * Where, Cast. A unary op the native runtime implements (cpp/runtime/ops/elementwise.cc) is one `unary()`
 * line here: its attributes become the step's floats.
 */
import type { Node } from '../ir';
import { binaryRule, castRule, isNaNLikeRule, unaryRule, whereRule } from '../shape-ops-elementwise';
import { dataTypeFromCode, fromNumbers, toNumbers } from '../tensor';
import { broadcastElements, foldBinary, isIntegerType, maxFoldElements } from './evaluate';
import { declareOps, type FoldRule, type LayoutRule, type LowerContext, type OpDeclaration } from './registry';

const floatAttr = (node: Node, name: string, fallback: number): number => {
  const a = node.attributes[name];
  return a?.type === 'float' ? a.value : a?.type === 'int' ? a.value : fallback;
};

interface UnaryOptions {
  /** The step's floats from the node's attributes (e.g. LeakyRelu's alpha). Default none. */
  floats?: (node: Node) => number[];
  layout?: LayoutRule;
  fold?: FoldRule;
}

/** A unary op run natively by the C++ step of the same name. */
function unary(op: string, options: UnaryOptions = {}): OpDeclaration {
  return {
    domain: '',
    op,
    shape: unaryRule,
    native: (ctx) => ctx.step([ctx.node.inputs[0]], [], options.floats?.(ctx.node) ?? []),
    steps: [op],
    layout: options.layout,
    fold: options.fold,
  };
}

/** A unary op with a shape rule only (ONNX Runtime runs it). */
function unaryShapeOnly(op: string, layout?: LayoutRule): OpDeclaration {
  return { domain: '', op, shape: unaryRule, layout };
}

/** A broadcasting binary op; `native` when the C++ step of the same name runs it. */
function binary(op: string, options: { native: boolean; bool?: boolean; fold?: FoldRule; layout?: LayoutRule }): OpDeclaration {
  return {
    domain: '',
    op,
    shape: binaryRule(options.bool ? 'bool' : undefined),
    native: options.native ? (ctx) => ctx.step([ctx.node.inputs[0], ctx.node.inputs[1]]) : undefined,
    steps: options.native ? [op] : undefined,
    fold: options.fold,
    layout: options.layout,
  };
}

/**
 * Clip whose bounds are computed at run time (melspectrogram clips to max - 80 dB): Max with the lower
 * bound, then Min with the upper one, both broadcasting the scalar bound. ints [1] makes them Clip's
 * Max / Min: a NaN in x stays, a NaN bound is ignored (ONNX Runtime's Clip), where a plain Max / Min
 * returns NaN for a NaN in either input.
 */
function lowerClip(ctx: LowerContext) {
  const node = ctx.node;
  const dynamic = [1, 2].filter((index) => node.inputs[index] && !ctx.constant(node.inputs[index]));
  if (dynamic.length === 0) {
    const bound = (index: number, attrName: string, fallback: number) =>
      node.inputs[index] ? toNumbers(ctx.constantValue(node.inputs[index]))[0] : floatAttr(node, attrName, fallback);
    return ctx.step([node.inputs[0]], [], [bound(1, 'min', -3.4028234663852886e38), bound(2, 'max', 3.4028234663852886e38)]);
  }
  const x = ctx.use(node.inputs[0]);
  const [low, high] = [node.inputs[1] ?? '', node.inputs[2] ?? ''];
  if (low && high) {
    const clamped = ctx.internal(ctx.slotDtype(x), ctx.dims(node.inputs[0]));
    ctx.before({ op: 'Max', name: `${node.name}/min`, inputs: [x, ctx.use(low)], outputs: [clamped], ints: [1], floats: [] });
    return { op: 'Min', name: `${node.name}/max`, inputs: [clamped, ctx.use(high)], outputs: [], ints: [1], floats: [] };
  }
  return low
    ? { op: 'Max', name: node.name, inputs: [x, ctx.use(low)], outputs: [], ints: [1], floats: [] }
    : { op: 'Min', name: node.name, inputs: [x, ctx.use(high)], outputs: [], ints: [1], floats: [] };
}

const foldCast: FoldRule = ([x], node) => {
  const to = node.attributes.to?.type === 'int' ? dataTypeFromCode(node.attributes.to.value) : undefined;
  if (!x || !to || to === 'string' || x.dtype === 'string' || x.data.length > maxFoldElements) return undefined;
  const values = toNumbers(x);
  return fromNumbers(to, [...x.dims], isIntegerType(to) ? values.map(Math.trunc) : values);
};

declareOps(
  // Activations and maps the runtime runs.
  unary('Relu', { layout: 'elementwise' }),
  unary('Sigmoid', { layout: 'elementwise' }),
  unary('Tanh', { layout: 'elementwise' }),
  unary('Sqrt', { layout: 'elementwise' }),
  unary('Log', { layout: 'elementwise' }),
  unary('Exp', { layout: 'elementwise' }),
  unary('Erf', { layout: 'elementwise' }),
  unary('Neg', { layout: 'elementwise' }),
  unary('Abs', { layout: 'elementwise' }),
  unary('Reciprocal'),
  unary('Floor'),
  unary('Ceil'),
  unary('Not'),
  unary('LeakyRelu', { layout: 'elementwise', floats: (node) => [floatAttr(node, 'alpha', 0.01)] }),
  {
    domain: '',
    op: 'Gelu',
    shape: unaryRule,
    native: (ctx) => {
      const a = ctx.node.attributes.approximate;
      return ctx.step([ctx.node.inputs[0]], [a?.type === 'string' && a.value === 'tanh' ? 1 : 0]);
    },
    steps: ['Gelu'],
  },
  { domain: '', op: 'Clip', shape: unaryRule, native: lowerClip, steps: ['Clip', 'Max', 'Min'] },
  // A copy in the plan, aliased away when both sides live in the arena.
  { domain: '', op: 'Identity', shape: unaryRule, native: (ctx) => ctx.step([ctx.node.inputs[0]]), steps: ['Identity'], layout: 'elementwise', fold: ([x]) => x && { ...x, dims: [...x.dims] } },
  unary('HardSigmoid', { layout: 'elementwise', floats: (node) => [floatAttr(node, 'alpha', 0.2), floatAttr(node, 'beta', 0.5)] }),
  unary('HardSwish', { layout: 'elementwise' }),
  // Rotary embeddings' position tables (Llama-family exports compute them in the graph).
  unary('Sin'),
  unary('Cos'),
  // Shape rules only: ONNX Runtime runs these.
  ...['Round', 'Sign', 'Selu', 'Softsign', 'Dropout', 'Celu', 'ThresholdedRelu', 'Mish'].map((op) => unaryShapeOnly(op)),
  ...['Elu', 'Softplus'].map((op) => unaryShapeOnly(op, 'elementwise')),

  binary('Add', { native: true, layout: 'scalar-binary', fold: foldBinary((a, b) => a + b) }),
  binary('Sub', { native: true, layout: 'scalar-binary', fold: foldBinary((a, b) => a - b) }),
  binary('Mul', { native: true, layout: 'scalar-binary', fold: foldBinary((a, b) => a * b) }),
  binary('Div', { native: true, layout: 'scalar-binary', fold: foldBinary((a, b, integer) => (integer ? (b === 0 ? 0 : Math.trunc(a / b)) : a / b)) }),
  binary('Pow', { native: true, layout: 'scalar-binary' }),
  binary('Max', { native: true, layout: 'scalar-binary' }),
  binary('Min', { native: true, layout: 'scalar-binary' }),
  binary('Mod', { native: true }),
  ...['Sum', 'Mean', 'PRelu', 'BitShift'].map((op) => binary(op, { native: false })),
  binary('Equal', { native: true, bool: true, fold: foldBinary((a, b) => (a === b ? 1 : 0), 'bool') }),
  ...['Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual', 'And', 'Or', 'Xor'].map((op) => binary(op, { native: true, bool: true })),

  {
    domain: '',
    op: 'Where',
    shape: whereRule,
    native: (ctx) => ctx.step(ctx.node.inputs.slice(0, 3)),
    steps: ['Where'],
    fold: ([c, x, y]) => (c && x && y && x.dtype !== 'string' ? broadcastElements([c, x, y], x.dtype, ([p, a, b]) => (p ? a : b)) : undefined),
  },
  { domain: '', op: 'Cast', shape: castRule, native: (ctx) => ctx.step([ctx.node.inputs[0]]), steps: ['Cast'], fold: foldCast },
  { domain: '', op: 'IsNaN', shape: isNaNLikeRule },
  { domain: '', op: 'IsInf', shape: isNaNLikeRule },
);
