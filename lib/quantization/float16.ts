/**
 * float32 -> float16 conversion of weights (round to nearest even, as ONNX Cast does) by the core's Cast
 * kernel: the addon has no standalone conversion call, so a one-node Cast model runs on the native backend.
 */
import { Engine } from '../engine';
import { writeModel } from '../onnx/writer';

export interface Float16Converter {
  /** The float16 bits of `values`. */
  convert(values: Float32Array): Uint16Array;
  dispose(): void;
}

export async function createFloat16Converter(): Promise<Float16Converter> {
  const bytes = writeModel({
    irVersion: 8,
    opsets: new Map([['', 13]]),
    producerName: 'edgeinfer',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'to_float16',
      nodes: [{ name: 'cast', opType: 'Cast', domain: '', inputs: ['x'], outputs: ['y'], attributes: { to: { type: 'int', value: 10 } } }],
      inputs: [{ name: 'x', dtype: 'float32', shape: ['n'] }],
      outputs: [{ name: 'y', dtype: 'float16', shape: ['n'] }],
      initializers: new Map(),
      valueInfo: new Map(),
    },
  });
  // Weights are finite (quantizeModel checks), but a converter should not refuse what Cast accepts.
  const engine = await Engine.load(bytes, { backend: 'native', threads: 1, allowNonFinite: true, maxPlans: 1 });
  return {
    convert: (values) => engine.inferSync({ x: { type: 'float32', data: values, dims: [values.length] } }).y.data as Uint16Array,
    dispose: () => engine.dispose(),
  };
}
