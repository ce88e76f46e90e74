/**
 * Many small models are exported with a batch of 1 written into their inputs ([1, 16, 96]) although their
 * graph batches fine (Flatten(axis 1) -> Gemm). Declaring that first dimension symbolic lets a scheduler run
 * several requests in one call. Shape inference then checks the graph really takes any batch: a Reshape to
 * a hard-coded [1, ...] or a data-dependent If on a single score fails at load, not at run time.
 */
import { EdgeInferError } from '../errors';
import type { Model } from './ir';

/** The symbol given to the freed dimension. */
export const freedBatchSymbol = 'batch';

/**
 * Rewrites, in place, every graph input (not initializer) and output whose first dimension is 1 to the symbol
 * `batch`. Returns the names it changed; throws EDGEINFER_INVALID_ARGUMENT when no input has a leading 1.
 */
export function freeBatchDimension(model: Model): string[] {
  const changed: string[] = [];
  const initializers = model.graph.initializers;
  for (const value of [...model.graph.inputs, ...model.graph.outputs]) {
    if (initializers.has(value.name) || value.shape === undefined || value.shape.length === 0 || value.shape[0] !== 1) continue;
    value.shape = [freedBatchSymbol, ...value.shape.slice(1)];
    changed.push(value.name);
  }
  // Shapes the file recorded for intermediate values carry the old batch of 1: let shape inference redo them.
  if (changed.length > 0) model.graph.valueInfo.clear();
  if (!model.graph.inputs.some((input) => changed.includes(input.name))) {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', 'dynamicBatch: no model input has a fixed first dimension of 1 to free', { argument: 'dynamicBatch' });
  }
  return changed;
}
