/**
 * The optimizer: shape inference, constant folding, dead-node elimination and the fusions, in an order where
 * each pass sees the previous one's result. The model is changed in place and also returned.
 */
import { Model } from '../ir';
import { fusedDomain, fusedOpsetVersion } from '../fused-ops';
import { inferShapes } from '../shapes';
import { validateGraph } from '../validate';
import { eliminateDeadNodes } from './dce';
import { foldConstants } from './fold';
import { toChannelsLast } from './channels-last';
import { foldBatchNorm } from './fold-batchnorm';
import { fuseActivation } from './fuse-activation';
import { fuseConvBias, fuseMatMulBias } from './fuse-bias';
import { fuseGelu, fuseLayerNormGelu } from './fuse-gelu';
import { fuseLayerNorm } from './fuse-layernorm';
import { fuseDynamicQuant } from './fuse-dynamic-quant';
import { fuseQdq, fuseQdqPairs } from './fuse-qdq';
import { fuseOutputQdq } from './fuse-output-qdq';
import { byteActivations } from './byte-activations';
import { fuseQuantizedAdd } from './fuse-quantized-add';
import { expandQOperator } from './expand-qoperator';
import { fuseTransposeMatMul } from './fuse-transpose-matmul';

export { byteActivations, fuseQuantizedAdd, expandQOperator, fuseOutputQdq, toChannelsLast, eliminateDeadNodes, foldConstants, fuseActivation, fuseConvBias, fuseGelu, fuseLayerNorm, fuseLayerNormGelu, fuseMatMulBias, fuseDynamicQuant, fuseQdq, fuseQdqPairs, fuseTransposeMatMul };

export interface OptimizeOptions {
  /** Concrete input shapes for inference and folding (see inferShapes). */
  inputShapes?: Record<string, number[]>;
  /** Skip the QDQ -> INT8 fusions (keep a QDQ model's Q/DQ nodes). */
  keepQdq?: boolean;
  /** Keep 2-D convs and pools in NCHW (skip the channels-last pass). */
  keepNchw?: boolean;
  /** Keep INT8 convs' outputs as floats (skip byteActivations; the same results, for comparisons). */
  floatActivations?: boolean;
}

/** Pass name -> how many times it fired (nodes folded/removed for the first two). */
export type Applied = Record<string, number>;

export function optimize(model: Model, options: OptimizeOptions = {}): { model: Model; applied: Applied } {
  const applied: Applied = {};
  const run = (name: string, pass: (m: Model) => number) => {
    const n = pass(model);
    applied[name] = (applied[name] ?? 0) + n;
    return n;
  };
  run('qoperator', expandQOperator); // first: what follows sees a QOperator model as the QDQ one it equals
  validateGraph(model);
  inferShapes(model, options.inputShapes);
  run('foldConstants', foldConstants);
  run('eliminateDeadNodes', eliminateDeadNodes);
  run('layerNorm', fuseLayerNorm);
  run('gelu', fuseGelu);
  run('layerNormGelu', fuseLayerNormGelu);
  run('batchNorm', foldBatchNorm); // before the bias / activation fusions, which then see a plain Conv / Gemm / MatMul + Add
  run('matMulBias', fuseMatMulBias);
  run('convBias', fuseConvBias);
  run('activation', fuseActivation);
  if (!options.keepQdq) {
    run('dynamicQuant', fuseDynamicQuant);
    run('qdq', fuseQdq);
    run('eliminateDeadNodes', eliminateDeadNodes);
    run('qdqPairs', fuseQdqPairs);
  }
  run('transposeMatMul', fuseTransposeMatMul);
  if (!options.keepNchw) run('channelsLast', toChannelsLast);
  if (!options.keepQdq) run('outputQdq', fuseOutputQdq); // after channelsLast: it fuses into the NHWC INT8 convs
  if (!options.keepQdq && !options.floatActivations) run('byteActivations', byteActivations); // after outputQdq: it reads the fused output parameters
  run('eliminateDeadNodes', eliminateDeadNodes);
  if (usesDomain(model, fusedDomain) && !model.opsets.has(fusedDomain)) model.opsets.set(fusedDomain, fusedOpsetVersion);
  validateGraph(model);
  inferShapes(model, options.inputShapes);
  // Last: it compares the shapes that inference just gave every value (its node keeps the names it replaces).
  if (!options.keepQdq) run('quantizedAdd', fuseQuantizedAdd);
  return { model, applied };
}

function usesDomain(model: Model, domain: string): boolean {
  const visit = (graph: Model['graph']): boolean =>
    graph.nodes.some(
      (node) =>
        node.domain === domain ||
        Object.values(node.attributes).some((a) => (a.type === 'graph' ? visit(a.value) : a.type === 'graphs' ? a.value.some(visit) : false)),
    );
  return visit(model.graph);
}
