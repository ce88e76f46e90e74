/**
 * Element-wise maps added to the native backend after the first openWakeWord set: MobileNetV3's HardSigmoid
 * and HardSwish, the Sin / Cos of rotary-embedding tables. Against onnxruntime-node on the same model,
 * special values included (NaN propagates; the hard activations saturate at ±inf).
 */
import { f32, feed, float, matchOrt, node, randomFloats } from './helpers/op-models';

const special = [Number.NaN, Infinity, -Infinity, 0, -0, 3, -3, 2.9999, -3.0001, 1e30, -1e30];

function values(n: number, seed: number, scale: number): Float32Array {
  const data = randomFloats(n, seed, scale);
  data.set(special.slice(0, Math.min(special.length, n)));
  return data;
}

describe('element-wise ops (native vs ONNX Runtime)', () => {
  const cases: { op: string; attributes?: Record<string, ReturnType<typeof float>>; scale: number; finite?: boolean }[] = [
    { op: 'HardSigmoid', scale: 6 },
    { op: 'HardSigmoid', attributes: { alpha: float(0.3), beta: float(0.4) }, scale: 6 },
    { op: 'HardSwish', scale: 6 },
    // ORT's Sin / Cos of ±inf and huge values are NaN / libm's; rotary tables hold positions x frequencies.
    { op: 'Sin', scale: 100, finite: true },
    { op: 'Cos', scale: 100, finite: true },
  ];
  for (const { op, attributes, scale, finite } of cases) {
    it(`${op}${attributes ? ` ${JSON.stringify(Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, v.value])))}` : ''}`, async () => {
      const n = 1000 + 37;
      const data = finite ? randomFloats(n, 3, scale) : values(n, 3, scale);
      await matchOrt(
        { opset: 14, nodes: [node(op, ['x'], ['y'], attributes)], inputs: [{ name: 'x', dtype: 'float32', shape: [n] }], outputs: [{ name: 'y', dtype: 'float32' }] },
        { x: feed('float32', [n], data) },
        op,
      );
    });
  }

  it('HardSwish inside a conv trunk (MobileNetV3 block: Conv -> HardSwish -> Conv -> HardSigmoid gate)', async () => {
    const w1 = f32([8, 3, 3, 3], randomFloats(8 * 27, 5, 0.5));
    const w2 = f32([8, 8, 1, 1], randomFloats(64, 6, 0.5));
    await matchOrt(
      {
        opset: 14,
        nodes: [
          node('Conv', ['x', 'w1'], ['c1'], { pads: { type: 'ints', value: [1, 1, 1, 1] } }, 'conv1'),
          node('HardSwish', ['c1'], ['h1']),
          node('Conv', ['h1', 'w2'], ['c2'], {}, 'conv2'),
          node('HardSigmoid', ['c2'], ['g'], { alpha: float(1 / 6), beta: float(0.5) }),
          node('Mul', ['h1', 'g'], ['y']),
        ],
        inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 12, 12] }],
        outputs: [{ name: 'y', dtype: 'float32' }],
        initializers: { w1, w2 },
      },
      { x: feed('float32', [1, 3, 12, 12], randomFloats(3 * 144, 7, 2)) },
      'mobilenet block',
    );
  });
});
