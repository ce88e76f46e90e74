/**
 * The float model both calibration and the QDQ writer work on: read, validated, shapes inferred, constants
 * and BatchNormalization folded, dead nodes dropped. Only these portable passes run (never the native-only
 * fusions), so the result is still a standard ONNX graph, and it is deterministic: calibrating and writing
 * the same bytes see the same tensor names.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

import type { Model } from '../onnx/ir';
import { eliminateDeadNodes, foldConstants } from '../onnx/passes';
import { foldBatchNorm } from '../onnx/passes/fold-batchnorm';
import { readModel } from '../onnx/reader';
import { inferShapes } from '../onnx/shapes';
import { validateGraph } from '../onnx/validate';
import { invalid } from '../validate';

export interface ModelSourceBytes {
  bytes: Uint8Array;
  /** Folder external data is relative to, when the model came from a file. */
  baseDir?: string;
}

/** Reads a model given as a path or as bytes; a bad source is EDGEINFER_INVALID_ARGUMENT naming `argument`. */
export async function readModelBytes(source: unknown, argument: string): Promise<ModelSourceBytes> {
  if (typeof source === 'string') {
    try {
      return { bytes: await fs.readFile(source), baseDir: path.dirname(path.resolve(source)) };
    } catch (error) {
      throw invalid(`cannot read model file '${source}': ${(error as Error).message}`, { argument, path: source });
    }
  }
  if (source instanceof Uint8Array) return { bytes: source };
  throw invalid(`${argument} must be a file path or a Uint8Array of ONNX bytes`, { argument });
}

/** Folding passes applied, by name, and how often each fired. */
export type PreparationPasses = Record<string, number>;

/**
 * Parses and folds the model (EDGEINFER_MODEL_INVALID for bytes that are not a valid ONNX model). The
 * returned model is owned by the caller and may be rewritten.
 */
export function prepareFloatModel(source: ModelSourceBytes): { model: Model; passes: PreparationPasses } {
  const model = readModel(source.bytes, { baseDir: source.baseDir });
  validateGraph(model);
  inferShapes(model);
  const passes: PreparationPasses = {};
  const run = (name: string, pass: (m: Model) => number) => (passes[name] = (passes[name] ?? 0) + pass(model));
  run('foldConstants', foldConstants);
  run('eliminateDeadNodes', eliminateDeadNodes);
  // Before quantizing: a BatchNormalization folded into its Conv / Gemm weights is quantized with them.
  run('foldBatchNorm', foldBatchNorm);
  run('eliminateDeadNodes', eliminateDeadNodes);
  validateGraph(model);
  inferShapes(model);
  return { model, passes };
}
