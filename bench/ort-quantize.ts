/**
 * The benchmarks' quantizer baseline: ONNX Runtime's quantize_static in Python (bench/ort_quantize.py) on a
 * folder of .npy feeds (bench/npy-feeds.ts), in a venv that scripts/python-venv.js makes when missing.
 */
import * as path from 'node:path';

import { progress, root, runJson } from './harness';

export interface OrtQuantizeJob {
  model: string;
  out: string;
  method: 'minmax' | 'entropy' | 'percentile';
  /** A folder written by writeFeedFolder. */
  calib: string;
  /** Op types ORT may quantize (the benchmarks pass the ones ours quantizes). */
  opTypes: string[];
  /** Entropy only: ORT's histogram bins with 128 quantized bins, TensorRT's search (default: ORT's 128 / 128, a single candidate). */
  entropyBins?: number;
}

/** The Python with onnxruntime: made by scripts/python-venv.js when missing; a clear error when it cannot be. */
export function quantizePython(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ensureVenv } = require(path.join(root, 'scripts', 'python-venv.js')) as { ensureVenv(): { python: string; version: string } };
  try {
    const { python, version } = ensureVenv();
    progress(`baseline: onnxruntime ${version} quantize_static (${python})`);
    return python;
  } catch (error) {
    throw new Error(`the ONNX Runtime baseline needs a Python venv: ${(error as Error).message}`);
  }
}

/**
 * quantize_static (QDQ, per-channel int8 weights, uint8 activations, ORT's defaults otherwise) on `job`; its
 * JSON line: seconds, peak_rss_kib, rss_before_kib, bytes, ort (its version).
 */
export function runOrtQuantize(python: string, job: OrtQuantizeJob): Record<string, number | string> {
  return runJson(`bench/ort_quantize.py (${path.basename(job.model)}, ${job.method})`, python, [
    path.join(__dirname, 'ort_quantize.py'),
    '--model', job.model,
    '--out', job.out,
    '--method', job.method,
    '--calib', job.calib,
    '--op-types', job.opTypes.join(','),
    ...(job.entropyBins ? ['--entropy-bins', String(job.entropyBins)] : []),
  ]);
}
