/** ONNX Runtime behind the ModelRunner interface, for same-input comparisons with the native Engine. */
import * as ort from 'onnxruntime-node';

import type { Tensor } from '../../lib/tensor';
import type { ModelRunner } from '../../lib/wakeword/pipeline';

export class OrtRunner implements ModelRunner {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async load(path: string): Promise<OrtRunner> {
    return new OrtRunner(await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 }));
  }

  get inputs() {
    return this.session.inputNames.map((name) => ({ name }));
  }

  get outputs() {
    return this.session.outputNames.map((name) => ({ name }));
  }

  async infer(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims as number[]);
    const out = await this.session.run(ortFeeds);
    const result: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(out)) result[name] = { type: t.type as Tensor['type'], data: t.data as Float32Array, dims: t.dims as number[] };
    return result;
  }
}
