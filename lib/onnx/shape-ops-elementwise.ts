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

export function binaryRule(outputType?: DataType): ShapeRule {
  return (ctx) => {
    const shape = broadcastInputs(ctx, allInputs(ctx));
    const dtype = outputType ?? ctx.input(0).dtype ?? ctx.input(1).dtype;
    const combine = Object.hasOwn(valueOps, ctx.node.opType) ? valueOps[ctx.node.opType] : undefined;
    const value = combine && ctx.node.domain === '' ? combineValues(ctx, combine) : undefined;
    return { outputs: [{ dtype, shape }], values: [value] };
  };
}

export const whereRule: ShapeRule = (ctx) => ({
  outputs: [{ dtype: ctx.input(1).dtype ?? ctx.input(2).dtype, shape: broadcastInputs(ctx, [0, 1, 2]) }],
});

/** Same type and shape as input 0 (extra outputs, such as Dropout's mask, get the same shape). */
export const unaryRule: ShapeRule = (ctx) => {
  const x = same(ctx);
  const outputs: TypeShape[] = ctx.node.outputs.map((_, i) => (i === 0 ? x : { dtype: 'bool', shape: x.shape }));
  const values = ctx.node.opType === 'Identity' ? [ctx.value(0)] : undefined;
  return { outputs, values };
};

export const castRule: ShapeRule = (ctx) => {
  const to = intAttr(ctx, 'to', 0);
  const dtype = dataTypeFromCode(to);
  if (dtype === undefined) badAttribute(ctx, `Cast to unknown data type ${to}`, { attribute: 'to', got: to });
  const numeric = dtype !== 'string' && dtype !== 'bool' && dtype !== 'float16';
  return { outputs: [{ dtype, shape: same(ctx).shape }], values: [numeric && !dtype.startsWith('float') ? ctx.value(0) : undefined] };
};

export const isNaNLikeRule: ShapeRule = (ctx) => ({ outputs: [{ dtype: 'bool', shape: same(ctx).shape }] });



export function broadcastRule(ctx: OpContext, indices: number[]): Dim[] | undefined {
  return broadcastInputs(ctx, indices);
}

