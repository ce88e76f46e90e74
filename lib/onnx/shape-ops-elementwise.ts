/** Shape rules of elementwise ops: broadcasting binary/variadic ops, comparisons, Where, unary ops, Cast. */
import { DataType, Dim } from './ir';
import { addDim, broadcast, divDim, mulDim, subDim } from './dims';
import { OpContext, ShapeRule, TypeShape, badAttribute, intAttr, mismatch, same } from './shape-context';
import { dataTypeFromCode } from './tensor';

function broadcastInputs(ctx: OpContext, indices: number[]): Dim[] | undefined {
  let shape: Dim[] | undefined = [];
  const seen: Record<string, readonly Dim[] | undefined> = {};
  for (const i of indices) {
    const s = ctx.input(i).shape;
    seen[ctx.node.inputs[i] || `input ${i}`] = s;
    if (s === undefined) {
      shape = undefined;
      continue;
    }
    if (shape === undefined) continue;
    const next = broadcast(shape, s);
    if (next === undefined) mismatch(ctx, 'shapes cannot be broadcast together', seen);
    shape = next;
  }
  return shape;
}

function allInputs(ctx: OpContext): number[] {
  return ctx.node.inputs.map((_, i) => i).filter((i) => ctx.has(i));
}

/** Elementwise arithmetic on known values (length-1 vectors broadcast), for shape computations. */
function combineValues(ctx: OpContext, op: (a: Dim | undefined, b: Dim | undefined) => Dim | undefined): Dim[] | undefined {
  const a = ctx.value(0);
  const b = ctx.value(1);
  if (a === undefined || b === undefined) return undefined;
  const n = Math.max(a.length, b.length);
  if ((a.length !== n && a.length !== 1) || (b.length !== n && b.length !== 1)) return undefined;
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const r = op(a[a.length === 1 ? 0 : i], b[b.length === 1 ? 0 : i]);
    if (r === undefined) return undefined;
    out.push(r);
  }
  return out;
}

const valueOps: Record<string, (a: Dim | undefined, b: Dim | undefined) => Dim | undefined> = {
  Add: addDim,
  Sub: subDim,
  Mul: mulDim,
  Div: (a, b) => (typeof a === 'number' && typeof b === 'number' ? (b === 0 ? undefined : Math.trunc(a / b)) : divDim(a, b)),
};

/** The same on float tensors: numbers only (no symbolic algebra), rounded to float32 as the model computes. */
const floatValueOps: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
};

const isNumber = (d: Dim | undefined): d is number => typeof d === 'number';

/** Element-wise arithmetic on known float values (every one a number), float32-rounded for float32. */
function combineFloatValues(ctx: OpContext, dtype: DataType, op: (a: number, b: number) => number): Dim[] | undefined {
  const round = dtype === 'float32' ? Math.fround : (x: number) => x;
  return combineValues(ctx, (a, b) => (isNumber(a) && isNumber(b) ? round(op(a, b)) : undefined));
}

export function binaryRule(outputType?: DataType): ShapeRule {
  return (ctx) => {
    const shape = broadcastInputs(ctx, allInputs(ctx));
    const dtype = outputType ?? ctx.input(0).dtype ?? ctx.input(1).dtype;
    const op = ctx.node.opType;
    let value: Dim[] | undefined;
    if (ctx.node.domain === '' && dtype !== undefined && dtype.startsWith('float')) {
      value = Object.hasOwn(floatValueOps, op) ? combineFloatValues(ctx, dtype, floatValueOps[op]) : undefined;
    } else if (ctx.node.domain === '' && Object.hasOwn(valueOps, op)) {
      value = combineValues(ctx, valueOps[op]);
    }
    return { outputs: [{ dtype, shape }], values: [value] };
  };
}

export const whereRule: ShapeRule = (ctx) => ({
  outputs: [{ dtype: ctx.input(1).dtype ?? ctx.input(2).dtype, shape: broadcastInputs(ctx, [0, 1, 2]) }],
});

/** Same type and shape as input 0 (extra outputs, such as Dropout's mask, get the same shape). */
/** Unary maps that shape arithmetic uses (int(math.ceil(h / p)) exports as Ceil), on numbers. */
const unaryValueOps: Record<string, (x: number) => number> = {
  Ceil: Math.ceil,
  Floor: Math.floor,
  // ONNX Round: half to even.
  Round: (x) => (Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x)),
  Neg: (x) => -x,
  Abs: Math.abs,
  Sqrt: Math.sqrt,
};

export const unaryRule: ShapeRule = (ctx) => {
  const x = same(ctx);
  const outputs: TypeShape[] = ctx.node.outputs.map((_, i) => (i === 0 ? x : { dtype: 'bool', shape: x.shape }));
  const op = ctx.node.opType;
  let value: Dim[] | undefined;
  if (op === 'Identity') value = ctx.value(0);
  else if (Object.hasOwn(unaryValueOps, op)) {
    const known = ctx.value(0);
    if (known !== undefined && known.every(isNumber)) {
      const round = x.dtype === 'float32' ? Math.fround : (v: number) => v;
      value = known.map((v) => round(unaryValueOps[op](v as number)));
    }
  }
  return { outputs, values: value === undefined ? undefined : [value] };
};

export const castRule: ShapeRule = (ctx) => {
  const to = intAttr(ctx, 'to', 0);
  const dtype = dataTypeFromCode(to);
  if (dtype === undefined) badAttribute(ctx, `Cast to unknown data type ${to}`, { attribute: 'to', got: to });
  const numeric = dtype !== 'string' && dtype !== 'bool' && dtype !== 'float16';
  const known = ctx.value(0);
  let value: Dim[] | undefined;
  if (numeric && known !== undefined && known.every(isNumber)) {
    // Numbers: to an integer type truncates (ONNX Cast), to float32 rounds.
    value = known.map((v) => (dtype.startsWith('float') ? (dtype === 'float32' ? Math.fround(v as number) : (v as number)) : Math.trunc(v as number)));
  } else if (numeric && !dtype.startsWith('float') && !(ctx.input(0).dtype ?? '').startsWith('float')) {
    value = known; // symbolic dims between integer types
  }
  return { outputs: [{ dtype, shape: same(ctx).shape }], values: [value] };
};

export const isNaNLikeRule: ShapeRule = (ctx) => ({ outputs: [{ dtype: 'bool', shape: same(ctx).shape }] });



export function broadcastRule(ctx: OpContext, indices: number[]): Dim[] | undefined {
  return broadcastInputs(ctx, indices);
}

