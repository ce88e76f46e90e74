/**
 * Gemm / MatMul / Conv (and their fused forms without an activation yet) followed by Relu, LeakyRelu, Gelu,
 * Sigmoid or Clip -> edgeinfer FusedGemm / FusedMatMul / FusedConv with the activation attributes of
 * lib/onnx/fused-ops.ts.
 */
import { Attribute, Model, Node } from '../ir';
import { clipUnbounded, fusedDomain } from '../fused-ops';
import { GraphIndex, forEachGraph, isOp, replaceNodes, uniqueName } from './graph-index';

const fusedName: Record<string, string> = { Gemm: 'FusedGemm', MatMul: 'FusedMatMul', Conv: 'FusedConv' };

function isFusable(node: Node): boolean {
  if ((node.domain === '' || node.domain === 'ai.onnx') && node.opType in fusedName) return true;
  return node.domain === fusedDomain && ['FusedGemm', 'FusedMatMul', 'FusedConv'].includes(node.opType) && !node.attributes.activation;
}

/** The activation attributes for `act`, or undefined when it cannot be expressed (non-constant Clip bounds). */
function activationOf(index: GraphIndex, act: Node, opset: number): Record<string, Attribute> | undefined {
  const floats = (value: number[]): Attribute => ({ type: 'floats', value });
  switch (act.opType) {
    case 'Relu':
    case 'Sigmoid':
      return { activation: { type: 'string', value: act.opType }, activation_params: floats([]) };
    case 'LeakyRelu': {
      const alpha = act.attributes.alpha?.type === 'float' ? act.attributes.alpha.value : 0.01;
      return { activation: { type: 'string', value: 'LeakyRelu' }, activation_params: floats([alpha]) };
    }
    case 'Gelu': {
      const approximate = act.attributes.approximate?.type === 'string' ? act.attributes.approximate.value : 'none';
      return { activation: { type: 'string', value: 'Gelu' }, activation_params: floats([]), approximate: { type: 'string', value: approximate } };
    }
    case 'Clip': {
      let min = -clipUnbounded;
      let max = clipUnbounded;
      if (opset < 11) {
        if (act.attributes.min?.type === 'float') min = act.attributes.min.value;
        if (act.attributes.max?.type === 'float') max = act.attributes.max.value;
      } else {
        if (act.inputs[1]) {
          const v = index.scalar(act.inputs[1]);
          if (v === undefined) return undefined;
          min = v;
        }
        if (act.inputs[2]) {
          const v = index.scalar(act.inputs[2]);
          if (v === undefined) return undefined;
          max = v;
        }
      }
      return { activation: { type: 'string', value: 'Clip' }, activation_params: floats([min, max]) };
    }
  }
  return undefined;
}

export function fuseActivation(model: Model): number {
  const opset = model.opsets.get('') ?? 1;
  return forEachGraph(model.graph, (graph, outer) => {
    let count = 0;
    for (;;) {
      const index = new GraphIndex(graph, outer);
      let done = false;
      for (const node of graph.nodes) {
        if (!isFusable(node) || node.outputs.length !== 1) continue;
        const act = index.soleConsumer(node.outputs[0]);
        if (!isOp(act, 'Relu', 'LeakyRelu', 'Gelu', 'Sigmoid', 'Clip')) continue;
        const attributes = activationOf(index, act, opset);
        if (!attributes) continue;
        const opType = node.domain === fusedDomain ? node.opType : fusedName[node.opType];
        replaceNodes(graph, [node, act], [
          {
            name: uniqueName(graph, `${node.name}/${opType}`),
            opType,
            domain: fusedDomain,
            inputs: [...node.inputs],
            outputs: [act.outputs[0]],
            attributes: { ...node.attributes, ...attributes },
          },
        ]);
        count++;
        done = true;
        break;
      }
      if (!done) return count;
    }
  });
}
