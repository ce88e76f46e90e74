/**
 * Index-driven ops: GatherElements, CumSum, Resize and its predecessor Upsample (lowered to the same step).
 * Resize's scales / sizes / roi must be constants when a plan is built: they are when they come from shapes
 * (plans are built per input shape and such computations fold); run-time values are refused.
 */
import type { DataType, TensorData } from '../ir';
import { normalizeAxis } from '../dims';
import { cumSum, gatherElements, resize, resizeInputs, resizeTarget } from '../shape-ops-tensor';
import { elementCount, fromNumbers, toNumbers } from '../tensor';
import { maxFoldElements } from './evaluate';
import { floatAttr, intAttr, stringAttr } from './nn';
import { declareOps, type FoldRule, type LowerContext, type LowerRule } from './registry';

const indexTypes: readonly DataType[] = ['int32', 'int64'];
const cumSumTypes: readonly DataType[] = ['float32', 'float64', 'int32', 'int64', 'uint32', 'uint64'];

const lowerGatherElements: LowerRule = (ctx: LowerContext) => {
  const [data, indices] = ctx.node.inputs;
  if (!indexTypes.includes(ctx.dtype(indices))) ctx.fail(`GatherElements indices must be int32 or int64, got ${ctx.dtype(indices)}`);
  if (ctx.dtype(data) === 'string') ctx.fail('GatherElements on strings is not supported', 'EDGEINFER_UNSUPPORTED_OP');
  return ctx.step([data, indices], [ctx.axis(intAttr(ctx.node, 'axis', 0), ctx.rank(data))]);
};

const lowerCumSum: LowerRule = (ctx: LowerContext) => {
  const [x, axisName] = ctx.node.inputs;
  if (!cumSumTypes.includes(ctx.dtype(x))) ctx.fail(`CumSum on ${ctx.dtype(x)} is not supported`, 'EDGEINFER_UNSUPPORTED_OP');
  const axis = axisName ? ctx.constant(axisName) : undefined;
  if (!axis || axis.data.length !== 1) ctx.fail('CumSum axis must be a constant scalar', 'EDGEINFER_UNSUPPORTED_OP');
  return ctx.step([x], [ctx.axis(toNumbers(axis)[0], ctx.rank(x)), intAttr(ctx.node, 'exclusive', 0) ? 1 : 0, intAttr(ctx.node, 'reverse', 0) ? 1 : 0]);
};

const modes: Record<string, number> = { nearest: 0, linear: 1, cubic: 2 };
const coordinateModes: Record<string, number> = {
  half_pixel: 0, asymmetric: 1, pytorch_half_pixel: 2, tf_half_pixel_for_nn: 3, align_corners: 4, tf_crop_and_resize: 5, half_pixel_symmetric: 6,
};
const nearestModes: Record<string, number> = { round_prefer_floor: 1, round_prefer_ceil: 2, floor: 3, ceil: 4 };

/** A constant input's numbers, '' / empty tensor as undefined; refuses a run-time value. */
function constantNumbers(ctx: LowerContext, index: number, what: string): number[] | undefined {
  const name = index >= 0 ? ctx.node.inputs[index] : undefined;
  if (!name) return undefined;
  const t = ctx.constant(name);
  if (!t) ctx.fail(`Resize ${what} computed from run-time values ('${name}') is not supported: it must fold to a constant once input shapes are known`, 'EDGEINFER_UNSUPPORTED_OP');
  return t.data.length === 0 ? undefined : toNumbers(t);
}

/** Resize (opsets 10-19) and Upsample (7-9, and 10 deprecated): the Resize step, see plan.h. */
const lowerResize: LowerRule = (ctx: LowerContext) => {
  const node = ctx.node;
  const x = node.inputs[0];
  const inDims = ctx.dims(x);
  const rank = inDims.length;
  const isResize = node.opType === 'Resize';
  const legacy = !isResize || ctx.opset < 11;  // no coordinate / nearest mode attributes: asymmetric, ORT's "simple" nearest
  const modeName = stringAttr(node, 'mode', 'nearest');
  const mode = modes[modeName];
  if (mode === undefined || (!isResize && mode === 2)) ctx.fail(`${node.opType} mode '${modeName}' is not supported`, 'EDGEINFER_UNSUPPORTED_OP');
  const coordName = legacy ? 'asymmetric' : stringAttr(node, 'coordinate_transformation_mode', 'half_pixel');
  const coord = coordinateModes[coordName];
  if (coord === undefined) ctx.fail(`Resize coordinate_transformation_mode '${coordName}' is not supported`, 'EDGEINFER_UNSUPPORTED_OP');
  const nearestName = stringAttr(node, 'nearest_mode', 'round_prefer_floor');
  const nearest = legacy ? 0 : nearestModes[nearestName];
  if (nearest === undefined) ctx.fail(`Resize nearest_mode '${nearestName}' is not supported`, 'EDGEINFER_UNSUPPORTED_OP');
  if (isResize && ctx.opset >= 18 && intAttr(node, 'antialias', 0) !== 0) ctx.fail('Resize antialias=1 is not supported', 'EDGEINFER_UNSUPPORTED_OP');
  const dtype = ctx.dtype(x);
  if (mode !== 0 && dtype !== 'float32') ctx.fail(`Resize mode '${modeName}' runs natively on float32 only, got ${dtype}`, 'EDGEINFER_UNSUPPORTED_OP');
  if (dtype === 'string') ctx.fail('Resize on strings is not supported', 'EDGEINFER_UNSUPPORTED_OP');

  const where = resizeInputs(node.opType, ctx.opset);
  const scalesAttr = node.attributes.scales;
  const scales = where.scales >= 0 ? constantNumbers(ctx, where.scales, 'scales') : scalesAttr?.type === 'floats' ? scalesAttr.value : undefined;
  const sizes = scales === undefined && where.sizes >= 0 ? constantNumbers(ctx, where.sizes, 'sizes') : undefined;
  if (scales === undefined && sizes === undefined) ctx.fail(`${node.opType} needs scales or sizes`);
  const axesAttr = isResize && ctx.opset >= 18 ? node.attributes.axes : undefined;
  const axes = axesAttr?.type === 'ints' ? axesAttr.value : undefined;
  // Read only now: with run-time scales / sizes the output dims are unknown, and the message above says why.
  const outDims = ctx.dims(node.outputs[0]);
  const target = resizeTarget(inDims, { scales, sizes, axes, policy: stringAttr(node, 'keep_aspect_ratio_policy', 'stretch') });
  if (typeof target === 'string') ctx.fail(target);
  if (target.dims.some((d, a) => d !== outDims[a])) ctx.fail(`output dims [${outDims.join(', ')}] differ from the resize target [${target.dims.join(', ')}]`);
  // Scales the coordinate formulas see; an empty input dim (nothing to read) keeps 1.
  const axisScales = target.scales.map((s) => (s !== undefined && Number.isFinite(s) && s > 0 ? s : 1));

  const roiStart = new Array<number>(rank).fill(0);
  const roiEnd = new Array<number>(rank).fill(1);
  if (coord === 5) {
    const roi = constantNumbers(ctx, where.roi, 'roi');
    if (roi) {
      const listed = (axes ?? inDims.map((_, a) => a)).map((a) => normalizeAxis(a, rank)!);
      if (roi.length !== 2 * listed.length) ctx.fail(`roi has ${roi.length} values, expected ${2 * listed.length}`);
      listed.forEach((a, i) => {
        roiStart[a] = roi[i];
        roiEnd[a] = roi[listed.length + i];
      });
    }
  }
  const floats = [floatAttr(node, 'cubic_coeff_a', -0.75), floatAttr(node, 'extrapolation_value', 0), ...axisScales, ...roiStart, ...roiEnd];
  if (floats.some((v) => !Number.isFinite(v))) ctx.fail('Resize scales, roi and attributes must be finite');
  return ctx.step([x], [mode, coord, nearest, intAttr(node, 'exclude_outside', 0) ? 1 : 0], floats, 'Resize');
};

const foldGatherElements: FoldRule = ([data, indices], node) => {
  if (!data || !indices || data.dtype === 'string' || data.dims.length !== indices.dims.length || indices.data.length > maxFoldElements) return undefined;
  const rank = data.dims.length;
  const axis = normalizeAxis(intAttr(node, 'axis', 0), rank);
  if (axis === undefined || indices.dims.some((d, a) => a !== axis && d > data.dims[a])) return undefined;
  const values = toNumbers(data);
  const idx = toNumbers(indices);
  const n = data.dims[axis];
  const strides = data.dims.map((_, a) => elementCount(data.dims.slice(a + 1)));
  const out: number[] = [];
  for (let i = 0; i < idx.length; i++) {
    const k = idx[i] < 0 ? idx[i] + n : idx[i];
    if (!(k >= 0 && k < n)) return undefined;
    let rest = i;
    let offset = 0;
    for (let a = rank - 1; a >= 0; a--) {
      const c = rest % indices.dims[a];
      rest = Math.floor(rest / indices.dims[a]);
      offset += (a === axis ? k : c) * strides[a];
    }
    out.push(values[offset]);
  }
  return fromNumbers(data.dtype, [...indices.dims], out);
};

const foldCumSum: FoldRule = ([x, axisTensor], node) => {
  if (!x || !axisTensor || !['float32', 'float64', 'int32'].includes(x.dtype) || x.data.length > maxFoldElements) return undefined;
  const axis = normalizeAxis(toNumbers(axisTensor)[0], x.dims.length);
  if (axis === undefined) return undefined;
  const [exclusive, reverse] = [intAttr(node, 'exclusive', 0), intAttr(node, 'reverse', 0)];
  const len = x.dims[axis];
  const inner = elementCount(x.dims.slice(axis + 1));
  const outer = elementCount(x.dims.slice(0, axis));
  const v = toNumbers(x);
  const out = new Array<number>(v.length).fill(0);
  const f = x.dtype === 'float32' ? Math.fround : x.dtype === 'int32' ? (n: number) => n | 0 : (n: number) => n;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let sum = 0;
      for (let s = 0; s < len; s++) {
        const k = reverse ? len - 1 - s : s;
        const at = (o * len + k) * inner + i;
        if (!exclusive) sum = f(sum + v[at]);
        out[at] = sum;
        if (exclusive) sum = f(sum + v[at]);
      }
    }
  }
  return fromNumbers(x.dtype, [...x.dims], out) as TensorData;
};

declareOps(
  { domain: '', op: 'GatherElements', shape: gatherElements, native: lowerGatherElements, steps: ['GatherElements'], fold: foldGatherElements },
  { domain: '', op: 'CumSum', shape: cumSum, native: lowerCumSum, steps: ['CumSum'], fold: foldCumSum },
  { domain: '', op: 'Resize', shape: resize, native: lowerResize, steps: ['Resize'] },
  { domain: '', op: 'Upsample', shape: resize, native: lowerResize, steps: ['Resize'] },
);
