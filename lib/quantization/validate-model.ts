/**
 * A written quantized model is only returned once it loads and runs: on each backend asked, load the bytes
 * and run the sample batch kept by calibration, and measure how far each output is from the float model's.
 */
import { Engine } from '../engine';
import { EdgeInferError } from '../errors';
import type { Tensor } from '../tensor';

export interface ValidationResult {
  backend: 'native' | 'onnxruntime';
  /** Not run because the backend is not installed (onnxruntime-node is an optional peer dependency). */
  skipped?: string;
  /** Per output: cosine similarity and largest absolute difference to the float model on the sample batch. */
  outputs: Record<string, { cosine: number; maxAbsError: number }>;
  milliseconds: number;
}

/**
 * Cosine similarity and max |a - b| of two float outputs (small: a model's outputs for one batch). Two zero
 * vectors agree (1); a zero one against a non-zero one is as far as orthogonal (0).
 */
export function agreement(a: Float32Array, b: Float32Array): { cosine: number; maxAbsError: number } {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let maxAbsError = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
    maxAbsError = Math.max(maxAbsError, Math.abs(a[i] - b[i]));
  }
  const cosine = na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
  return { cosine, maxAbsError };
}

export async function validateQuantizedModel(
  bytes: Uint8Array,
  sample: { feeds: Record<string, Tensor>; outputs: Record<string, Tensor> },
  backends: readonly ('native' | 'onnxruntime')[],
  threads?: number,
): Promise<ValidationResult[]> {
  const results: ValidationResult[] = [];
  for (const backend of backends) {
    const available = Engine.backends().find((b) => b.name === backend);
    if (available && !available.available) {
      results.push({ backend, skipped: available.reason ?? 'not available', outputs: {}, milliseconds: 0 });
      continue;
    }
    const started = performance.now();
    let engine: Engine | undefined;
    try {
      engine = await Engine.load(bytes, { backend, threads });
      const outputs = await engine.infer(sample.feeds);
      const compared: ValidationResult['outputs'] = {};
      for (const [name, reference] of Object.entries(sample.outputs)) {
        const got = outputs[name];
        if (got === undefined) throw new EdgeInferError('EDGEINFER_MODEL_INVALID', `output '${name}' is missing`);
        if (got.data.length !== reference.data.length) throw new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', `output '${name}' has ${got.data.length} values, the float model ${reference.data.length}`);
        if (got.data instanceof Float32Array && reference.data instanceof Float32Array) compared[name] = agreement(got.data, reference.data);
      }
      results.push({ backend, outputs: compared, milliseconds: Math.round(performance.now() - started) });
    } catch (error) {
      const cause = error instanceof EdgeInferError ? `${error.code}: ${error.message}` : String(error);
      throw new EdgeInferError('EDGEINFER_MODEL_INVALID', `the quantized model failed to load or run on the ${backend} backend: ${cause}`, { backend, cause });
    } finally {
      engine?.dispose();
    }
  }
  return results;
}
