/**
 * GatherElements, CumSum and Resize / Upsample run natively and match onnxruntime-node (floats within
 * 1e-4 x max|ORT|, integers exactly) across their attributes and opsets; bad indices fail at run time with
 * EDGEINFER_INVALID_ARGUMENT; Resize sizes computed from shapes fold and run natively, from run-time values
 * they are refused.
 */
import assert from 'node:assert/strict';

import { EdgeInferError, Engine } from '../lib';
import type { Attribute, DataType, TensorData } from '../lib/onnx/ir';
import { writeModel } from '../lib/onnx/writer';
import { buildModel, f32, feed, float, floats, i32, i64, int, ints, matchOrt, node, randomFloats, str, type GraphSpec } from './helpers/op-models';
import { rng } from './helpers/random';

const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
const xf = (dims: number[], seed = 1) => feed('float32', dims, randomFloats(count(dims), seed, 3));
const worst: number[] = [];
after(() => worst.length && console.log(`      indexing ops: max rel. error vs ORT ${Math.max(...worst).toExponential(1)}`));

describe('ops: GatherElements', () => {
  const cases: [string, number[], number[], number, DataType, DataType][] = [
    ['axis 1, int64 indices, float data', [3, 4, 5], [3, 6, 5], 1, 'float32', 'int64'],
    ['axis -1, int32 indices, smaller off-axis dims', [3, 4, 5], [2, 3, 7], -1, 'float32', 'int32'],
    ['axis 0, int64 data (exact)', [4, 3], [5, 2], 0, 'int64', 'int64'],
  ];
  for (const [name, dataDims, idxDims, axis, dtype, itype] of cases) {
    it(name, async () => {
      const next = rng(7);
      const n = dataDims[(axis + dataDims.length) % dataDims.length];
      const idx = Array.from({ length: count(idxDims) }, () => Math.floor(next() * 2 * n) - n); // negative ones wrap
      const spec: GraphSpec = {
        opset: 13,
        nodes: [node('GatherElements', ['data', 'idx'], ['y'], { axis: int(axis) })],
        inputs: [{ name: 'data', dtype, shape: dataDims }, { name: 'idx', dtype: itype, shape: idxDims }],
        outputs: [{ name: 'y', dtype }],
      };
      const data = dtype === 'int64' ? feed('int64', dataDims, BigInt64Array.from({ length: count(dataDims) }, (_, i) => BigInt(i * 7 - 5))) : xf(dataDims);
      const indices = itype === 'int64' ? feed('int64', idxDims, BigInt64Array.from(idx.map(BigInt))) : feed('int32', idxDims, Int32Array.from(idx));
      worst.push(await matchOrt(spec, { data, idx: indices }, name));
    });
  }

  it('an out-of-range index fails at run time with EDGEINFER_INVALID_ARGUMENT', async () => {
    const spec: GraphSpec = {
      opset: 13,
      nodes: [node('GatherElements', ['data', 'idx'], ['y'], { axis: int(1) })],
      inputs: [{ name: 'data', dtype: 'float32', shape: [2, 3] }, { name: 'idx', dtype: 'int64', shape: [2, 2] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
    };
    const engine = await Engine.load(writeModel(buildModel(spec)), { backend: 'native' });
    const data = xf([2, 3]);
    const ok = await engine.infer({ data, idx: feed('int64', [2, 2], BigInt64Array.of(0n, -3n, 2n, 1n)) });
    assert.equal(ok.y.data.length, 4);
    await assert.rejects(engine.infer({ data, idx: feed('int64', [2, 2], BigInt64Array.of(0n, 3n, 1n, 1n)) }), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT' && /out of range/.test(e.message));
    engine.dispose();
  });
});

describe('ops: CumSum', () => {
  for (const exclusive of [0, 1]) {
    for (const reverse of [0, 1]) {
      for (const [dtype, axis] of [['float32', 1], ['int32', -1], ['int64', 0], ['float64', 2]] as [DataType, number][]) {
        it(`${dtype}, axis ${axis}, exclusive ${exclusive}, reverse ${reverse}`, async () => {
          const dims = [3, 4, 5];
          const axisTensor: TensorData = dtype === 'int32' ? i32([], [axis]) : i64([], [axis]);
          const spec: GraphSpec = {
            opset: 14,
            nodes: [
              node('Constant', [], ['axis'], { value: { type: 'tensor', value: axisTensor } }),
              node('CumSum', ['x', 'axis'], ['y'], { exclusive: int(exclusive), reverse: int(reverse) }),
            ],
            inputs: [{ name: 'x', dtype, shape: dims }],
            outputs: [{ name: 'y', dtype }],
          };
          const n = count(dims);
          const next = rng(3);
          const x =
            dtype === 'float32' ? xf(dims)
              : dtype === 'float64' ? feed('float64', dims, Float64Array.from({ length: n }, () => next() * 10 - 5))
                : dtype === 'int32' ? feed('int32', dims, Int32Array.from({ length: n }, () => Math.floor(next() * 200) - 100))
                  : feed('int64', dims, BigInt64Array.from({ length: n }, () => BigInt(Math.floor(next() * 2e6) - 1e6)));
          worst.push(await matchOrt(spec, { x }, `cumsum ${dtype}`));
        });
      }
    }
  }

  it('an axis that is a run-time value is refused (EDGEINFER_UNSUPPORTED_OP)', async () => {
    const spec: GraphSpec = {
      opset: 14,
      nodes: [node('CumSum', ['x', 'axis'], ['y'])],
      inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3] }, { name: 'axis', dtype: 'int64', shape: [] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
    };
    await assert.rejects(Engine.load(writeModel(buildModel(spec)), { backend: 'native' }), (e: EdgeInferError) => e.code === 'EDGEINFER_UNSUPPORTED_OP' && /CumSum axis/.test(e.message));
  });
});

/** Resize of x [1, 2, 5, 7] (or `dims`) at `opset` with scales or sizes given as constants. */
function resizeSpec(opset: number, attrs: Record<string, Attribute>, given: { scales?: number[]; sizes?: number[]; roi?: number[] }, dims = [1, 2, 5, 7], dtype: DataType = 'float32', op = 'Resize'): GraphSpec {
  const initializers: Record<string, TensorData> = {};
  let inputs: string[];
  if (op === 'Upsample' || opset < 11) {
    initializers.scales = f32([given.scales!.length], given.scales!);
    inputs = ['x', 'scales'];
  } else {
    inputs = ['x', given.roi ? 'roi' : '', given.scales ? 'scales' : '', given.sizes ? 'sizes' : ''];
    if (given.roi) initializers.roi = f32([given.roi.length], given.roi);
    if (given.scales) initializers.scales = f32([given.scales.length], given.scales);
    if (given.sizes) initializers.sizes = i64([given.sizes.length], given.sizes);
    if (opset < 13 && !given.scales) {
      initializers.scales = f32([0], []); // opsets 11-12: scales is required, empty when sizes is given
      inputs[2] = 'scales';
      if (!given.roi) {
        initializers.roi = f32([0], []);
        inputs[1] = 'roi';
      }
    }
    while (inputs[inputs.length - 1] === '') inputs.pop();
  }
  return {
    opset,
    nodes: [node(op, inputs, ['y'], attrs)],
    inputs: [{ name: 'x', dtype, shape: dims }],
    outputs: [{ name: 'y', dtype }],
    initializers,
  };
}

describe('ops: Resize', () => {
  const up = [1, 1, 2, 1.5];
  const down = [1, 1, 0.6, 0.45];
  const coords = ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn'];
  for (const scales of [up, down]) {
    for (const coord of coords) {
      for (const nearest of ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']) {
        it(`nearest ${nearest}, ${coord}, scales [${scales.join(', ')}]`, async () => {
          worst.push(await matchOrt(resizeSpec(13, { mode: str('nearest'), coordinate_transformation_mode: str(coord), nearest_mode: str(nearest) }, { scales }), { x: xf([1, 2, 5, 7]) }, coord));
        });
      }
      if (coord === 'tf_half_pixel_for_nn') continue;
      it(`linear, ${coord}, scales [${scales.join(', ')}]`, async () => {
        worst.push(await matchOrt(resizeSpec(13, { mode: str('linear'), coordinate_transformation_mode: str(coord) }, { scales }), { x: xf([1, 2, 5, 7]) }, coord));
      });
      for (const exclude of [0, 1]) {
        it(`cubic, ${coord}, exclude_outside ${exclude}, scales [${scales.join(', ')}]`, async () => {
          const attrs = { mode: str('cubic'), coordinate_transformation_mode: str(coord), exclude_outside: int(exclude), cubic_coeff_a: float(-0.5) };
          worst.push(await matchOrt(resizeSpec(13, attrs, { scales }), { x: xf([1, 2, 5, 7]) }, coord));
        });
      }
    }
  }

  for (const mode of ['nearest', 'linear', 'cubic']) {
    it(`tf_crop_and_resize ${mode} with roi and extrapolation_value, sizes (opset 11)`, async () => {
      const attrs = { mode: str(mode), coordinate_transformation_mode: str('tf_crop_and_resize'), extrapolation_value: float(-7) };
      worst.push(await matchOrt(resizeSpec(11, attrs, { sizes: [1, 2, 6, 9], roi: [0, 0, -0.2, 0.1, 1, 1, 0.8, 1.3] }), { x: xf([1, 2, 5, 7]) }, 'crop'));
    });
  }

  it('sizes (opset 11, empty scales), linear half_pixel, downsample to 1 pixel on one axis', async () => {
    worst.push(await matchOrt(resizeSpec(11, { mode: str('linear') }, { sizes: [1, 2, 1, 12] }), { x: xf([1, 2, 5, 7]) }, 'sizes11'));
  });

  it('opset 10: scales input, asymmetric, nearest up and down (ORT "simple" rounding) and linear', async () => {
    for (const scales of [[1, 1, 2, 3], [1, 1, 0.5, 0.7]]) {
      worst.push(await matchOrt(resizeSpec(10, { mode: str('nearest') }, { scales }), { x: xf([1, 2, 5, 7]) }, 'resize10'));
    }
    worst.push(await matchOrt(resizeSpec(10, { mode: str('linear') }, { scales: [1, 1, 2, 1.5] }), { x: xf([1, 2, 5, 7]) }, 'resize10-linear'));
  });

  it('opset 18: axes and keep_aspect_ratio_policy not_larger / not_smaller', async () => {
    for (const policy of ['stretch', 'not_larger', 'not_smaller']) {
      const attrs = { mode: str('linear'), axes: ints([2, 3]), keep_aspect_ratio_policy: str(policy) };
      worst.push(await matchOrt(resizeSpec(18, attrs, { sizes: [9, 10] }), { x: xf([1, 2, 5, 7]) }, policy));
    }
    worst.push(await matchOrt(resizeSpec(18, { mode: str('nearest'), axes: ints([-1]) }, { scales: [2.5] }), { x: xf([1, 2, 5, 7]) }, 'axes-scales'));
  });

  it('opset 19: half_pixel_symmetric', async () => {
    for (const scales of [[1, 1, 1.7, 2.2], [1, 1, 0.7, 0.55]]) {
      worst.push(await matchOrt(resizeSpec(19, { mode: str('linear'), coordinate_transformation_mode: str('half_pixel_symmetric') }, { scales }), { x: xf([1, 2, 5, 7]) }, 'hps'));
    }
  });

  it('other ranks: 3-D linear (NCW), 5-D nearest, 2-D linear', async () => {
    worst.push(await matchOrt(resizeSpec(13, { mode: str('linear') }, { scales: [1, 1, 2.5] }, [2, 3, 6]), { x: xf([2, 3, 6]) }, 'ncw'));
    worst.push(await matchOrt(resizeSpec(13, { mode: str('nearest') }, { scales: [1, 1, 2, 2, 0.5] }, [1, 2, 3, 4, 6]), { x: xf([1, 2, 3, 4, 6]) }, '5d'));
    worst.push(await matchOrt(resizeSpec(13, { mode: str('linear') }, { scales: [1.5, 2] }, [4, 5]), { x: xf([4, 5]) }, '2d'));
  });

  it('nearest on int32 data is exact', async () => {
    const data = feed('int32', [1, 2, 5, 7], Int32Array.from({ length: 70 }, (_, i) => i * 3 - 50));
    await matchOrt(resizeSpec(13, { mode: str('nearest') }, { scales: [1, 1, 1.6, 0.8] }, [1, 2, 5, 7], 'int32'), { x: data }, 'int32');
  });

  it('Upsample opsets 7 (scales attribute) and 9 (scales input), nearest and linear', async () => {
    for (const mode of ['nearest', 'linear']) {
      const spec9 = resizeSpec(9, { mode: str(mode) }, { scales: [1, 1, 2, 3] }, [1, 2, 5, 7], 'float32', 'Upsample');
      worst.push(await matchOrt(spec9, { x: xf([1, 2, 5, 7]) }, `upsample9-${mode}`));
      const spec7: GraphSpec = { ...spec9, opset: 7, initializers: {}, nodes: [node('Upsample', ['x'], ['y'], { mode: str(mode), scales: floats([1, 1, 2, 1.5]) })] };
      worst.push(await matchOrt(spec7, { x: xf([1, 2, 5, 7]) }, `upsample7-${mode}`));
    }
  });

  it('sizes computed from another input\'s shape fold at plan time and run natively', async () => {
    const spec: GraphSpec = {
      opset: 13,
      nodes: [
        node('Shape', ['ref'], ['s']),
        node('Slice', ['s', 'start', 'end'], ['hw']),
        node('Concat', ['nc', 'hw'], ['sizes'], { axis: int(0) }),
        node('Resize', ['x', '', '', 'sizes'], ['y'], { mode: str('linear') }),
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 2, 5, 7] }, { name: 'ref', dtype: 'float32', shape: [1, 1, 'h', 'w'] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: { start: i64([1], [2]), end: i64([1], [4]), nc: i64([2], [1, 2]) },
    };
    for (const [h, w] of [[9, 11], [3, 4]]) {
      worst.push(await matchOrt(spec, { x: xf([1, 2, 5, 7]), ref: xf([1, 1, h, w], 2) }, `shape-sizes ${h}x${w}`));
    }
  });

  it('scales from a run-time value and antialias=1 are refused with EDGEINFER_UNSUPPORTED_OP', async () => {
    const runtime: GraphSpec = {
      opset: 13,
      nodes: [node('Resize', ['x', '', 'scales'], ['y'], { mode: str('nearest') })],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 2, 5, 7] }, { name: 'scales', dtype: 'float32', shape: [4] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
    };
    await assert.rejects(Engine.load(writeModel(buildModel(runtime)), { backend: 'native' }), (e: EdgeInferError) => e.code === 'EDGEINFER_UNSUPPORTED_OP' && /Resize scales/.test(e.message));
    const aa = resizeSpec(18, { mode: str('linear'), antialias: int(1) }, { scales: [1, 1, 0.5, 0.5] });
    await assert.rejects(Engine.load(writeModel(buildModel(aa)), { backend: 'native' }), (e: EdgeInferError) => e.code === 'EDGEINFER_UNSUPPORTED_OP' && /antialias/.test(e.message));
  });
});
