/**
 * Recurrent ops: RNN, GRU and LSTM (ai.onnx, opset 7+ semantics; `layout` from opset 14). Each lowers to one
 * step of the same name (cpp/runtime/ops/rnn.cc) whose encoding plan.h documents: W, R and B must be
 * constants (packed at load), the activations the defaults or Sigmoid / Tanh / Relu.
 */
import type { Dim, Node } from '../ir';
import { badAttribute, intAttr, mismatch, stringAttr, type OpContext, type ShapeRule, type TypeShape } from '../shape-context';
import { intAttr as nodeInt, floatAttr as nodeFloat, stringAttr as nodeString } from './nn';
import { declareOps, type LowerRule } from './registry';

type Cell = 'RNN' | 'GRU' | 'LSTM';

const gateCount: Record<Cell, number> = { RNN: 1, GRU: 3, LSTM: 4 };
/** The default activations of one direction (f, g, h as the cell uses them). */
const defaultActivations: Record<Cell, string[]> = { RNN: ['Tanh'], GRU: ['Sigmoid', 'Tanh'], LSTM: ['Sigmoid', 'Tanh', 'Tanh'] };
/** FusedActivation codes of plan.h for the activations the step runs (ONNX names match case-insensitively, as in ONNX Runtime). */
const activationCodes: Record<string, number> = { relu: 1, sigmoid: 5, tanh: 7 };
const directionCodes: Record<string, number> = { forward: 0, reverse: 1, bidirectional: 2 };

/** Y [seq, dirs, batch, hidden] (layout 1: [batch, seq, dirs, hidden]); Y_h, Y_c [dirs, batch, hidden] ([batch, dirs, hidden]). */
const recurrentRule: ShapeRule = (ctx: OpContext) => {
  const x = ctx.input(0);
  const direction = stringAttr(ctx, 'direction', 'forward');
  if (!(direction in directionCodes)) badAttribute(ctx, `direction '${direction}' must be forward, reverse or bidirectional`, { direction });
  const dirs = direction === 'bidirectional' ? 2 : 1;
  const layout = ctx.opset >= 14 ? intAttr(ctx, 'layout', 0) : 0;
  if (layout !== 0 && layout !== 1) badAttribute(ctx, `layout ${layout} must be 0 or 1`, { layout });
  const r = ctx.input(2).shape;
  const hidden: Dim | undefined = ctx.node.attributes.hidden_size !== undefined ? intAttr(ctx, 'hidden_size', 0) : r?.[2];
  if (typeof hidden === 'number' && hidden < 1) badAttribute(ctx, `hidden_size ${hidden} must be positive`);
  const outputs: TypeShape[] = ctx.node.outputs.map(() => ({ dtype: x.dtype, shape: undefined }));
  if (x.shape === undefined || hidden === undefined) return { outputs };
  if (x.shape.length !== 3) mismatch(ctx, 'X must be 3-D', { X: x.shape });
  const [seq, batch] = layout === 0 ? [x.shape[0], x.shape[1]] : [x.shape[1], x.shape[0]];
  const state = layout === 0 ? [dirs, batch, hidden] : [batch, dirs, hidden];
  return {
    outputs: outputs.map((output, i) => ({
      dtype: x.dtype,
      shape: i === 0 ? (layout === 0 ? [seq, dirs, batch, hidden] : [batch, seq, dirs, hidden]) : [...state],
    })),
  };
};

/** The activation codes, num_directions x (1 RNN, 2 GRU, 3 LSTM); other activations are refused, named. */
function activationInts(node: Node, cell: Cell, dirs: number, fail: (problem: string) => never): number[] {
  const given = node.attributes.activations;
  const names = given?.type === 'strings' ? given.value : Array.from({ length: dirs }, () => defaultActivations[cell]).flat();
  const perDirection = defaultActivations[cell].length;
  if (names.length !== dirs * perDirection) fail(`activations lists ${names.length} functions; ${cell} with ${dirs} direction(s) takes ${dirs * perDirection}`);
  const unsupported = names.filter((name) => activationCodes[name.toLowerCase()] === undefined);
  if (unsupported.length > 0) fail(`activations ${[...new Set(unsupported)].join(', ')} are not supported (only Sigmoid, Tanh, Relu)`);
  return names.map((name) => activationCodes[name.toLowerCase()]);
}

/**
 * inputs [X, W, R, B, sequence_lens, initial_h(, initial_c, P)] ('' for omitted ones), ints [direction, hidden_size,
 * layout, linear_before_reset (GRU) / input_forget (LSTM) / 0, activation codes...], floats [clip (0: none)].
 */
const lowerRecurrent = (cell: Cell): LowerRule => (ctx) => {
  const node = ctx.node;
  const unsupported = (problem: string): never => ctx.fail(problem, 'EDGEINFER_UNSUPPORTED_OP');
  if (ctx.dtype(node.inputs[0]) !== 'float32') unsupported(`${cell} on ${ctx.dtype(node.inputs[0])} is not supported (float32 only)`);
  for (const [index, what] of [[1, 'W'], [2, 'R'], [3, 'B']] as const) {
    const name = node.inputs[index] ?? '';
    if (name !== '' && ctx.constant(name) === undefined) unsupported(`${cell} ${what} must be a constant (it is packed at load)`);
  }
  const direction = nodeString(node, 'direction', 'forward');
  const directionCode = directionCodes[direction];
  if (directionCode === undefined) ctx.fail(`direction '${direction}' must be forward, reverse or bidirectional`);
  const dirs = directionCode === 2 ? 2 : 1;
  const rDims = ctx.dims(node.inputs[2]);
  const hidden = nodeInt(node, 'hidden_size', rDims[2]);
  const layout = ctx.opset >= 14 ? nodeInt(node, 'layout', 0) : 0;
  const variant = cell === 'GRU' ? nodeInt(node, 'linear_before_reset', 0) : cell === 'LSTM' ? nodeInt(node, 'input_forget', 0) : 0;
  if (variant !== 0 && variant !== 1) ctx.fail(`${cell === 'GRU' ? 'linear_before_reset' : 'input_forget'} must be 0 or 1`);
  const clipAttribute = node.attributes.clip;
  const clip = clipAttribute === undefined ? 0 : nodeFloat(node, 'clip', 0);
  if (clipAttribute !== undefined && !(clip > 0)) ctx.fail(`clip ${clip} must be positive`);
  const gates = gateCount[cell];
  const wDims = ctx.dims(node.inputs[1]);
  if (rDims.length !== 3 || rDims[1] !== gates * hidden || rDims[2] !== hidden || wDims.length !== 3 || wDims[1] !== gates * hidden || wDims[0] !== dirs || rDims[0] !== dirs) {
    ctx.fail(`W ${JSON.stringify(wDims)} / R ${JSON.stringify(rDims)} do not match ${dirs} direction(s) of ${gates} gates x hidden_size ${hidden}`);
  }
  const inputCount = cell === 'LSTM' ? 8 : 6;
  const inputs = Array.from({ length: inputCount }, (_, i) => node.inputs[i] ?? '');
  // lower.ts gives an output named '' slot -1, which plan validation (plan.cc check_slots) refuses; outputs left
  // off the end of the list are fine.
  if (node.outputs.includes('')) unsupported(`${cell} with an output named '' (omitted in place) is not supported yet`);
  return ctx.step(inputs, [directionCode, hidden, layout, variant, ...activationInts(node, cell, dirs, unsupported)], [clip]);
};

declareOps(
  ...(['RNN', 'GRU', 'LSTM'] as const).map((cell) => ({ domain: '', op: cell, shape: recurrentRule, native: lowerRecurrent(cell), steps: [cell] })),
);
