/**
 * QDQ -> INT8 kernels (see lib/onnx/fused-ops.ts for QLinearFused* and QuantizeDequantize):
 *   DequantizeLinear(W int8/uint8 constant, scale, zp) feeding the weight of MatMul / Gemm / Conv (or their
 *   Fused* forms) -> QLinearFused{MatMul,Gemm,Conv}; when the activation input comes from a
 *   QuantizeLinear -> DequantizeLinear pair with the same scale and zero point, its scale/zero point are
 *   taken (static), otherwise x_scale is left empty (dynamic per-tensor quantization). A bias from
 *   DequantizeLinear(int32 constant) is dequantized here. Q/DQ nodes left without readers are dropped by
 *   dead-node elimination; remaining Q -> DQ pairs become QuantizeDequantize.
 */
import { Model, Node, TensorData } from '../ir';
import { fusedDomain } from '../fused-ops';
import { toNumbers } from '../tensor';
import { GraphIndex, forEachGraph, isOp, replaceNodes, uniqueName } from './graph-index';

const targets: Record<string, string> = {
  MatMul: 'QLinearFusedMatMul',
  FusedMatMul: 'QLinearFusedMatMul',
  Gemm: 'QLinearFusedGemm',
  FusedGemm: 'QLinearFusedGemm',
  Conv: 'QLinearFusedConv',
  FusedConv: 'QLinearFusedConv',
};

function targetOf(node: Node): string | undefined {
  if (!Object.hasOwn(targets, node.opType)) return undefined;
  const fused = node.opType.startsWith('Fused');
  return (fused ? node.domain === fusedDomain : node.domain === '') ? targets[node.opType] : undefined;
}

/** Same tensor name, or constants with equal dtype and values ('' / absent equal only each other). */
export function sameConstant(index: GraphIndex, a: string | undefined, b: string | undefined): boolean {
  if ((a ?? '') === (b ?? '')) return true;
  const x = a ? index.constant(a) : undefined;
  const y = b ? index.constant(b) : undefined;
  if (!x || !y || x.dtype !== y.dtype || x.data.length !== y.data.length) return false;
  const u = toNumbers(x);
  const v = toNumbers(y);
  return u.every((value, i) => value === v[i]);
}

function dequantizeBias(index: GraphIndex, dq: Node): TensorData | undefined {
  const b = index.constant(dq.inputs[0]);
  const scale = index.constant(dq.inputs[1]);
  const zp = dq.inputs[2] ? index.constant(dq.inputs[2]) : undefined;
  if (!b || !scale || b.dtype !== 'int32' || (dq.inputs[2] && !zp)) return undefined;
  const s = toNumbers(scale);
  const z = zp ? toNumbers(zp) : [0];
  const out = new Float32Array(b.data.length);
  for (let i = 0; i < out.length; i++) out[i] = ((b.data as Int32Array)[i] - z[z.length === 1 ? 0 : i]) * s[s.length === 1 ? 0 : i];
  return { dtype: 'float32', dims: [...b.dims], data: out };
}

/** A quantization's scale and zero point, by value name. */
export interface QuantParameters {
  scale: string;
  zeroPoint: string;
}

/** Both given, a constant float32 scalar scale and a constant uint8 scalar zero point. */
export function perTensorUint8(index: GraphIndex, p: QuantParameters | undefined): p is QuantParameters {
  const scale = p?.scale ? index.constant(p.scale) : undefined;
  const zeroPoint = p?.zeroPoint ? index.constant(p.zeroPoint) : undefined;
  return scale?.dtype === 'float32' && scale.data.length === 1 && zeroPoint?.dtype === 'uint8' && zeroPoint.data.length === 1;
}

/**
 * A Q / DQ-like node (scale at input 1, zero point at input 2) with a constant float32 per-tensor scale and a
 * zero point that is absent or a constant uint8 / int8 scalar.
 */
export function perTensorParameters(index: GraphIndex, node: Node): boolean {
  const scale = index.constant(node.inputs[1]);
  if (scale?.dtype !== 'float32' || scale.data.length !== 1) return false;
  if (!node.inputs[2]) return true;
  const zeroPoint = index.constant(node.inputs[2]);
  return zeroPoint !== undefined && (zeroPoint.dtype === 'uint8' || zeroPoint.dtype === 'int8') && zeroPoint.data.length === 1;
}

export function fuseQdq(model: Model): number {
  return forEachGraph(model.graph, (graph, outer) => {
    let count = 0;
    for (;;) {
      const index = new GraphIndex(graph, outer);
      let done = false;
      for (const node of graph.nodes) {
        const opType = targetOf(node);
        if (!opType) continue;
        const wdq = index.producedBy(node.inputs[1], 'DequantizeLinear');
        const w = wdq ? index.constant(wdq.inputs[0]) : undefined;
        if (!wdq || !w || (w.dtype !== 'int8' && w.dtype !== 'uint8') || !index.constant(wdq.inputs[1])) continue;
        if (wdq.inputs[2] && !index.constant(wdq.inputs[2])) continue;
        let x = node.inputs[0];
        let xScale = '';
        let xZeroPoint = '';
        const xdq = index.producedBy(x, 'DequantizeLinear');
        const q = xdq ? index.producedBy(xdq.inputs[0], 'QuantizeLinear') : undefined;
        if (xdq && q && sameConstant(index, q.inputs[1], xdq.inputs[1]) && sameConstant(index, q.inputs[2], xdq.inputs[2]) && index.constant(xdq.inputs[1])) {
          x = q.inputs[0];
          xScale = xdq.inputs[1];
          xZeroPoint = xdq.inputs[2] ?? '';
        } else if (xdq && perTensorParameters(index, xdq)) {
          // Bytes dequantized without a QuantizeLinear right before (they went through a Reshape / Flatten, or
          // are a graph input): x is the dequantized values, exactly on this grid, so quantizing them again with
          // the same scale and zero point gives the same bytes back; a dynamic range would pick other levels.
          xScale = xdq.inputs[1];
          xZeroPoint = xdq.inputs[2] ?? '';
        }
        let bias = node.inputs[2] ?? '';
        // Exporters share equal biases between layers through Identity nodes: look through them.
        while (bias && index.producedBy(bias, 'Identity')) bias = index.producedBy(bias, 'Identity')!.inputs[0];
        const bdq = bias ? index.producedBy(bias, 'DequantizeLinear') : undefined;
        if (bdq) {
          const value = dequantizeBias(index, bdq);
          if (!value) continue;
          bias = uniqueName(graph, `${node.name}/bias`);
          graph.initializers.set(bias, value);
        }
        const axis = wdq.attributes.axis?.type === 'int' ? wdq.attributes.axis.value : 1;
        replaceNodes(graph, [node], [
          {
            name: uniqueName(graph, `${node.name}/${opType}`),
            opType,
            domain: fusedDomain,
            inputs: [x, xScale, xZeroPoint, wdq.inputs[0], wdq.inputs[1], wdq.inputs[2] ?? '', bias],
            outputs: [...node.outputs],
            attributes: { ...node.attributes, w_axis: { type: 'int', value: axis } },
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

/** Remaining QuantizeLinear -> DequantizeLinear pairs (Q read only by the DQ) -> QuantizeDequantize. */
export function fuseQdqPairs(model: Model): number {
  return forEachGraph(model.graph, (graph, outer) => {
    let count = 0;
    for (;;) {
      const index = new GraphIndex(graph, outer);
      const dq = graph.nodes.find((node) => {
        if (!isOp(node, 'DequantizeLinear')) return false;
        const q = index.producedBy(node.inputs[0], 'QuantizeLinear');
        return q !== undefined && index.onlyFeeds(node.inputs[0], node) && sameConstant(index, q.inputs[1], node.inputs[1]) && sameConstant(index, q.inputs[2], node.inputs[2]);
      });
      if (!dq) return count;
      const q = index.producer.get(dq.inputs[0])!;
      replaceNodes(graph, [q, dq], [
        {
          name: uniqueName(graph, `${dq.name}/QuantizeDequantize`),
          opType: 'QuantizeDequantize',
          domain: fusedDomain,
          inputs: [q.inputs[0], q.inputs[1], q.inputs[2] ?? ''],
          outputs: [...dq.outputs],
          attributes: q.attributes.axis ? { axis: q.attributes.axis } : {},
        },
      ]);
      count++;
    }
  });
}
