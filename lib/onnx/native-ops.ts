/**
 * What the native backend runs: the ops whose declaration in the op registry (lib/onnx/ops) says how (a
 * lowering, 'folded' or 'structural'), as validate.opKey() keys, and the check that a model only uses them.
 */
import { EdgeInferError } from '../errors';
import type { Graph, Model } from './ir';
import { findOp, nativeOpKeys } from './ops';
import { expandQOperator } from './passes/expand-qoperator';
import { checkSupported } from './validate';

export const nativeOps: Set<string> = nativeOpKeys();

/**
 * checkSupported against nativeOps, and more: an op the native backend only runs folded (Range,
 * ConstantOfShape, Shape arithmetic) must compute from shapes and constants alone, which are known when a
 * plan is built for concrete input shapes; one that reads run-time values cannot become a constant and is
 * refused here, at load, as EDGEINFER_UNSUPPORTED_OP (detail.unsupported like checkSupported's).
 */
export function checkNativeSupport(model: Model): void {
  checkSupported(model, nativeOps);
  // QOperator nodes the expansion would refuse (passes/expand-qoperator.ts): refused here, as unsupported.
  expandQOperator(model, { dryRun: true });
  const opset = model.opsets.get('') ?? 13;
  const unfoldable = new Map<string, string[]>();
  const visit = (graph: Graph, outerStatic: ReadonlySet<string>) => {
    // Values known once the input shapes are: constants, shapes, and what folds from them.
    const known = new Set(outerStatic);
    for (const name of graph.initializers.keys()) known.add(name);
    for (const node of graph.nodes) {
      for (const attribute of Object.values(node.attributes)) {
        if (attribute.type === 'graph') visit(attribute.value, known);
        if (attribute.type === 'graphs') attribute.value.forEach((g) => visit(g, known));
      }
      if (node.domain !== '' && node.domain !== 'ai.onnx') continue;
      const declaration = findOp(node, opset);
      const inputsKnown = node.inputs.every((name) => name === '' || known.has(name));
      const folds = node.opType === 'Shape' || node.opType === 'Size' || (declaration?.fold !== undefined && inputsKnown);
      if (folds) for (const output of node.outputs) known.add(output);
      else if (declaration?.native === 'folded') {
        const list = unfoldable.get(node.opType) ?? [];
        list.push(node.name);
        unfoldable.set(node.opType, list);
      }
    }
  };
  visit(model.graph, new Set());
  if (unfoldable.size === 0) return;
  const unsupported = [...unfoldable].map(([op, nodes]) => ({ op, nodes }));
  const list = unsupported.map(({ op, nodes }) => `${op} computed from run-time values (${nodes.slice(0, 3).join(', ')}${nodes.length > 3 ? ', …' : ''})`).join('; ');
  throw new EdgeInferError('EDGEINFER_UNSUPPORTED_OP', `unsupported ops: ${list}: the native backend runs these only when they fold to constants once input shapes are known`, { unsupported });
}
