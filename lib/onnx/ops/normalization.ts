/**
 * Normalisation ops with per-channel parameters: BatchNormalization (inference form) and
 * InstanceNormalization, on NC[spatial...] float32 tensors. A BatchNormalization after a Conv / Gemm /
 * MatMul with constant weights is folded into that layer (passes/fold-batchnorm.ts); the rest run as steps.
 */
import { sameShapeRule } from '../shape-ops-nn';
import { floatAttr, intAttr } from './nn';
import { declareOps, type LowerContext, type LowerRule } from './registry';

const lowerBatchNorm: LowerRule = (ctx: LowerContext) => {
  const node = ctx.node;
  if (intAttr(node, 'training_mode', 0) === 1) ctx.fail('BatchNormalization with training_mode=1 (batch statistics) is not supported', 'EDGEINFER_UNSUPPORTED_OP');
  // Before opset 14 training is told by the running-statistics outputs (and is_test=0 before opset 7).
  if (node.outputs.slice(1).some((name) => name !== '')) ctx.fail('BatchNormalization training outputs (mean, var, saved statistics) are not supported', 'EDGEINFER_UNSUPPORTED_OP');
  if (node.inputs.length < 5 || node.inputs.slice(0, 5).some((name) => name === '')) ctx.fail('BatchNormalization needs X, scale, B, mean and var');
  if (node.inputs.slice(0, 5).some((name) => ctx.dtype(name) !== 'float32')) ctx.fail('BatchNormalization runs natively on float32 only', 'EDGEINFER_UNSUPPORTED_OP');
  if (ctx.rank(node.inputs[0]) < 2) ctx.fail('BatchNormalization input must have rank >= 2');
  // spatial=0 (opsets < 9): one parameter per element of dims[1..].
  const perActivation = ctx.opset < 9 && intAttr(node, 'spatial', 1) === 0 ? 1 : 0;
  return ctx.step(node.inputs.slice(0, 5), [perActivation], [floatAttr(node, 'epsilon', 1e-5)]);
};

const lowerInstanceNorm: LowerRule = (ctx: LowerContext) => {
  const node = ctx.node;
  if (node.inputs.slice(0, 3).some((name) => !name || ctx.dtype(name) !== 'float32')) ctx.fail('InstanceNormalization runs natively on float32 only', 'EDGEINFER_UNSUPPORTED_OP');
  if (ctx.rank(node.inputs[0]) < 2) ctx.fail('InstanceNormalization input must have rank >= 2');
  return ctx.step(node.inputs.slice(0, 3), [], [floatAttr(node, 'epsilon', 1e-5)]);
};

declareOps(
  { domain: '', op: 'BatchNormalization', shape: sameShapeRule, native: lowerBatchNorm, steps: ['BatchNormalization'] },
  { domain: '', op: 'InstanceNormalization', shape: sameShapeRule, native: lowerInstanceNorm, steps: ['InstanceNormalization'] },
);
