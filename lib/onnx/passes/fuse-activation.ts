/**
 * Gemm / MatMul / Conv (and their fused forms without an activation yet) followed by Relu, LeakyRelu, Gelu,
 * Sigmoid, Clip, HardSigmoid, HardSwish or SiLU (Mul(x, Sigmoid(x)), EfficientNet's activation) -> edgeinfer
 * FusedGemm / FusedMatMul / FusedConv with the activation attributes of lib/onnx/fused-ops.ts: the activation
 * runs in the kernel's epilogue while the output is still in registers or cache.
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
    case 'HardSwish':
      return { activation: { type: 'string', value: act.opType }, activation_params: floats([]) };
    case 'HardSigmoid': {
      const alpha = act.attributes.alpha?.type === 'float' ? act.attributes.alpha.value : 0.2;
      const beta = act.attributes.beta?.type === 'float' ? act.attributes.beta.value : 0.5;
      return { activation: { type: 'string', value: 'HardSigmoid' }, activation_params: floats([alpha, beta]) };
    }
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

/** x read by exactly Sigmoid(x) and Mul(x, that Sigmoid) (in either order): the SiLU's two nodes. */
function siluOf(index: GraphIndex, x: string): { sigmoid: Node; mul: Node } | undefined {
  if (index.outputs.has(x)) return undefined;
  const readers = index.consumersOf(x);
  if (readers.length !== 2) return undefined;
  const sigmoid = readers.find((n) => isOp(n, 'Sigmoid'));
  const mul = readers.find((n) => isOp(n, 'Mul'));
  if (!sigmoid || !mul || mul.inputs.length !== 2 || index.outputs.has(sigmoid.outputs[0])) return undefined;
  const other = mul.inputs[0] === x ? mul.inputs[1] : mul.inputs[1] === x ? mul.inputs[0] : undefined;
  if (other !== sigmoid.outputs[0] || index.consumersOf(sigmoid.outputs[0]).length !== 1) return undefined;
  return { sigmoid, mul };
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
        const silu = siluOf(index, node.outputs[0]);
        const act = silu?.mul ?? index.soleConsumer(node.outputs[0]);
        if (!silu && !isOp(act, 'Relu', 'LeakyRelu', 'Gelu', 'Sigmoid', 'Clip', 'HardSigmoid', 'HardSwish')) continue;
        const attributes = silu ? { activation: { type: 'string', value: 'Silu' } as Attribute, activation_params: { type: 'floats', value: [] } as Attribute } : activationOf(index, act!, opset);
        if (!attributes || !act) continue;
        const opType = node.domain === fusedDomain ? node.opType : fusedName[node.opType];
        replaceNodes(graph, silu ? [node, silu.sigmoid, silu.mul] : [node, act], [
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
