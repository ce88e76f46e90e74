/**
 * ONNX Runtime's quantize_dynamic output -> the INT8 GEMM. It writes, per MatMul (Conv) with a constant weight:
 *   (xq, xs, xzp) = DynamicQuantizeLinear(x)
 *   y = Mul(Cast<float>(MatMulInteger(xq, Wq, xzp, wzp)), Mul(xs, ws))   (ConvInteger with the conv's attributes)
 * which is QLinearFusedMatMul(x, -, -, Wq, ws, wzp) (QLinearFusedConv) with activations quantized per call the way
 * DynamicQuantizeLinear does (attribute dynamic_quantization 'onnx': same scale, zero point and rounding, so
 * the integer sums are the same). Weights must be what the INT8 kernels take: int8 with zero point 0 or
 * uint8 with 128, scales per tensor or per column. DynamicQuantizeLinear nodes left without readers go with
 * dead-node elimination; MatMulIntegers of two run-time operands (and anything else) stay as they are.
 */
import { Model, Node } from '../ir';
import { fusedDomain } from '../fused-ops';
import { toNumbers } from '../tensor';
import { GraphIndex, forEachGraph, isOp, replaceNodes, uniqueName } from './graph-index';

/** Replacement of one MatMulInteger / ConvInteger -> Cast -> Mul chain, or undefined when it does not match. */
function fusedFor(index: GraphIndex, matmul: Node): { remove: Node[]; node: Node } | undefined {
  const conv = matmul.opType === 'ConvInteger';
  const [xq, w, xzp, wzp] = [0, 1, 2, 3].map((i) => matmul.inputs[i] ?? '');
  const dql = index.producedBy(xq, 'DynamicQuantizeLinear');
  if (!dql || dql.outputs[0] !== xq || !xzp || dql.outputs[2] !== xzp) return undefined;
  const weight = index.constant(w);
  if (!weight || (weight.dtype !== 'int8' && weight.dtype !== 'uint8')) return undefined;
  if (conv ? weight.dims.length < 3 : weight.dims.length !== 2) return undefined;
  // Output channels: the weight's columns (MatMul [K, N]) or its first dim (Conv [M, C / group, kernel...]).
  const n = conv ? weight.dims[0] : weight.dims[1];
  const symmetric = weight.dtype === 'int8' ? 0 : 128;
  const zeroPoint = wzp ? index.constant(wzp) : undefined;
  if (wzp && (!zeroPoint || zeroPoint.dtype !== weight.dtype || (zeroPoint.data.length !== 1 && zeroPoint.data.length !== n))) return undefined;
  if ((zeroPoint ? toNumbers(zeroPoint) : [0]).some((z) => z !== symmetric) || (!wzp && symmetric !== 0)) return undefined;

  const cast = index.soleConsumer(matmul.outputs[0]);
  if (!isOp(cast, 'Cast') || cast.attributes.to?.type !== 'int' || cast.attributes.to.value !== 1) return undefined;
  const mul = index.soleConsumer(cast.outputs[0]);
  if (!isOp(mul, 'Mul') || mul.inputs.length !== 2) return undefined;
  const scaleName = mul.inputs[0] === cast.outputs[0] ? mul.inputs[1] : mul.inputs[0];
  const scaleMul = index.producedBy(scaleName, 'Mul');
  if (!scaleMul || scaleMul.inputs.length !== 2) return undefined;
  const ws = scaleMul.inputs[0] === dql.outputs[1] ? scaleMul.inputs[1] : scaleMul.inputs[1] === dql.outputs[1] ? scaleMul.inputs[0] : undefined;
  const wScale = ws ? index.constant(ws) : undefined;
  if (!ws || !wScale || wScale.dtype !== 'float32' || (wScale.data.length !== 1 && wScale.data.length !== n)) return undefined;
  if (wScale.data.length === n && n !== 1 && wScale.dims.length !== 1) return undefined;

  const node: Node = {
    name: uniqueName(index.graph, `${matmul.name}/qlinear`),
    opType: conv ? 'QLinearFusedConv' : 'QLinearFusedMatMul',
    domain: fusedDomain,
    inputs: [dql.inputs[0], '', '', w, ws, wzp, ''],
    outputs: [mul.outputs[0]],
    attributes: { ...(conv ? matmul.attributes : {}), w_axis: { type: 'int', value: conv ? 0 : 1 }, dynamic_quantization: { type: 'string', value: 'onnx' } },
  };
  return { remove: [matmul, cast, mul], node };
}

export function fuseDynamicQuant(model: Model): number {
  return forEachGraph(model.graph, (graph, outer) => {
    let count = 0;
    for (;;) {
      const index = new GraphIndex(graph, outer);
      const match = graph.nodes.map((node) => (isOp(node, 'MatMulInteger', 'ConvInteger') ? fusedFor(index, node) : undefined)).find((m) => m !== undefined);
      if (!match) return count;
      replaceNodes(graph, match.remove, [match.node]);
      count++;
    }
  });
}
