/**
 * Ops of domain 'edgeinfer' that the optimiser's fusions write (see lib/onnx/fused-ops.ts for their
 * inputs and attributes): conv / gemm / matmul with bias and activation, the channels-last conv and pools,
 * LayerNorm+GELU. (The quantized ones are in quantized.ts.)
 */
import type { NativePlanStep } from '../../native';
import { channelsLast, convRule, fusedMatMulRule, gemmRule, globalPool, layerNorm, pool } from '../shape-ops-nn';
import { activation, activationParams, intAttr, lowerConv, lowerGemm, lowerLayerNorm, precisionForms } from './nn';
import { declareOps, type LowerContext } from './registry';

/** NhwcConv: X [N, H, W, C] (the window attributes see it as NCHW); floats [output_min, activation params]. */
function lowerNhwcConv(ctx: LowerContext): NativePlanStep {
  const node = ctx.node;
  const xDims = ctx.dims(node.inputs[0]);
  const wDims = ctx.dims(node.inputs[1]);
  if (xDims.length !== 4 && xDims.length !== 3) ctx.fail(`NhwcConv takes a 3-D or 4-D input (got rank ${xDims.length})`);
  const nchw = [xDims[0], xDims[xDims.length - 1], ...xDims.slice(1, -1)];
  const window = ctx.window(nchw, wDims.slice(2), xDims.length - 2);
  const outMin = node.attributes.output_min?.type === 'float' ? node.attributes.output_min.value : -Infinity;
  return ctx.step([node.inputs[0], node.inputs[1], node.inputs[2] ?? ''], [intAttr(node, 'group', 1), ...activation(ctx), ...window], [outMin, ...activationParams(node)], 'ConvNhwc');
}

/** NhwcGlobalAveragePool / NhwcGlobalMaxPool: a mean / max over the spatial axes of [N, H, W, C] or [N, W, C]. */
function lowerNhwcGlobalPool(ctx: LowerContext): NativePlanStep {
  const rank = ctx.rank(ctx.node.inputs[0]);
  if (rank !== 4 && rank !== 3) ctx.fail(`channels-last global pooling takes a 3-D or 4-D input (got rank ${rank})`);
  const spatialAxes = rank === 4 ? [1, 2] : [1];
  return ctx.step([ctx.node.inputs[0]], [1, ...spatialAxes], [], ctx.node.opType === 'NhwcGlobalMaxPool' ? 'ReduceMax' : 'ReduceMean');
}

function lowerNhwcPool(ctx: LowerContext): NativePlanStep {
  const node = ctx.node;
  const xDims = ctx.dims(node.inputs[0]);
  const kernel = node.attributes.kernel_shape?.type === 'ints' ? node.attributes.kernel_shape.value : undefined;
  if (xDims.length !== 4 || !kernel || kernel.length !== 2) ctx.fail('channels-last pooling takes a 4-D input and a 2-D kernel_shape');
  const window = ctx.window([xDims[0], xDims[3], xDims[1], xDims[2]], kernel, 2);
  return ctx.step([node.inputs[0]], [intAttr(node, 'count_include_pad', 0), ...window], [], node.opType === 'NhwcMaxPool' ? 'MaxPoolNhwc' : 'AveragePoolNhwc');
}

/**
 * MatMul of A [..., K] by a constant B [K, N] plus bias [N]: a Gemm over the rows of A, between two
 * reshapes that alias (no copies). The Gemm step writes an internal [M, N] tensor that shares the
 * output's block.
 */
function lowerFusedMatMul(ctx: LowerContext): NativePlanStep {
  const node = ctx.node;
  const transB = intAttr(node, 'transB', 0);
  if (!node.inputs[2]) return ctx.step([node.inputs[0], node.inputs[1]], [...activation(ctx), ...(transB ? [1] : [])], activationParams(node), 'MatMul');
  const aDims = ctx.dims(node.inputs[0]);
  const bDims = ctx.dims(node.inputs[1]);
  if (bDims.length !== 2 || !ctx.constant(node.inputs[1])) ctx.fail('a bias needs a constant 2-D weight', 'EDGEINFER_UNSUPPORTED_OP');
  const k = aDims[aDims.length - 1];
  const n = bDims[transB ? 0 : 1];
  const m = aDims.slice(0, -1).reduce((product, dim) => product * dim, 1);
  const a = ctx.use(node.inputs[0]);
  const dtype = ctx.slotDtype(a);
  const flat = ctx.internal(dtype, [m, k]);
  const product = ctx.internal(dtype, [m, n]);
  const prelude: NativePlanStep = { op: 'Reshape', name: `${node.name}/flatten`, inputs: [a], outputs: [flat], ints: [], floats: [] };
  ctx.alias(prelude);
  ctx.before(prelude);
  ctx.before({
    op: 'Gemm',
    name: node.name,
    inputs: [flat, ctx.use(node.inputs[1]), ctx.use(node.inputs[2])],
    outputs: [product],
    ints: [0, transB, ...activation(ctx)],
    floats: [1, 1, ...activationParams(node)],
  });
  // The node's own output is defined by the caller; this step reshapes [M, N] into it.
  return { op: 'Reshape', name: `${node.name}/unflatten`, inputs: [product], outputs: [], ints: [], floats: [] };
}

declareOps(
  { domain: 'edgeinfer', op: 'FusedConv', shape: convRule, native: (ctx) => lowerConv(ctx, true), steps: precisionForms('Conv') },
  { domain: 'edgeinfer', op: 'NhwcConv', shape: channelsLast(convRule), native: lowerNhwcConv, steps: precisionForms('ConvNhwc') },
  { domain: 'edgeinfer', op: 'NhwcMaxPool', shape: channelsLast(pool), native: lowerNhwcPool, steps: ['MaxPoolNhwc'] },
  { domain: 'edgeinfer', op: 'NhwcAveragePool', shape: channelsLast(pool), native: lowerNhwcPool, steps: ['AveragePoolNhwc'] },
  { domain: 'edgeinfer', op: 'NhwcGlobalAveragePool', shape: channelsLast(globalPool), native: lowerNhwcGlobalPool, steps: ['ReduceMean'] },
  { domain: 'edgeinfer', op: 'NhwcGlobalMaxPool', shape: channelsLast(globalPool), native: lowerNhwcGlobalPool, steps: ['ReduceMax'] },
  { domain: 'edgeinfer', op: 'FusedGemm', shape: gemmRule, native: (ctx) => lowerGemm(ctx, true), steps: precisionForms('Gemm') },
  { domain: 'edgeinfer', op: 'FusedMatMul', shape: fusedMatMulRule, native: lowerFusedMatMul, steps: [...precisionForms('MatMul'), ...precisionForms('Gemm'), 'Reshape'] },
  { domain: 'edgeinfer', op: 'LayerNormGelu', shape: layerNorm, native: (ctx) => lowerLayerNorm(ctx, true), steps: ['LayerNorm'] },
);
