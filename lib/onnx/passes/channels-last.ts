/**
 * Channels-last layout for 2-D conv trunks. Each Conv / FusedConv with group 1 (or depthwise with one channel
 * per group in and out) and a constant 4-D weight becomes an edgeinfer NhwcConv between Transposes (NCHW ->
 * NHWC before, back after); MaxPool and AveragePool likewise become NhwcMaxPool / NhwcAveragePool. The
 * back-Transposes are then pushed down through element-wise ops (unary activations, binary ops with a
 * one-element constant or whose other operand is a Transpose of the same permutation: residual Adds and
 * squeeze-excitation Muls) and global pools (which become NhwcGlobal*Pool) until they meet the next
 * layer's forward Transpose and cancel, so a MobileNet / EfficientNet trunk runs in NHWC end to end. A
 * Transpose read by several nodes is pushed through them only when every reader can take it (otherwise one
 * Transpose would become several). Concats along channels take Transposes on all their inputs (DenseNet's
 * feature concats: the Concat moves to the NHWC inputs along the last axis), and an inference
 * BatchNormalization left unfolded (DenseNet's pre-activation BN after a Concat) becomes a per-channel Mul
 * and Add along the last axis. Finally a Max with a constant right after an NhwcConv folds into the conv
 * as `output_min` (speech CNNs clamp every conv output this way).
 *
 * Why: channels become the vector dimension of the conv kernels (a whole output pixel per register tile
 * row), which fills vectors for the 24-96 channel convs of small models. Transposes that only move size-1
 * dims (as at the ends of the openWakeWord trunk) cost nothing: the lowering turns them into reshapes.
 */
import { Graph, Model, Node } from '../ir';
import { fusedDomain } from '../fused-ops';
import { findOp, type LayoutRule } from '../ops';
import { affineOf } from './fold-batchnorm';
import { GraphIndex, forEachGraph, isOp, uniqueName } from './graph-index';

const toNhwc = [0, 2, 3, 1];
const toNchw = [0, 3, 1, 2];
const toNwc = [0, 2, 1];
const toNcw = [0, 2, 1];
/** The native channels-last conv's limit on kernel taps (kh * kw); larger kernels stay NCHW. */
const maxTaps = 1024;

/** What the op registry says of an ONNX-domain op's layout (its declaration's `layout`). */
const layoutOf = (node: Node): LayoutRule | undefined => (node.domain === '' || node.domain === 'ai.onnx' ? findOp(node)?.layout : undefined);

export function toChannelsLast(model: Model): number {
  const opset = model.opsets.get('') ?? model.opsets.get('ai.onnx') ?? 13;
  return forEachGraph(model.graph, (graph) => {
    const converted = convertLayers(graph);
    if (converted === 0) return 0;
    while (sinkTransposes(graph, opset) + cancelTransposes(graph) > 0);
    foldMaxIntoConv(graph);
    return converted;
  });
}

function rankOf(graph: Graph, name: string): number | undefined {
  const info = graph.valueInfo.get(name) ?? graph.inputs.find((input) => input.name === name);
  return info?.shape?.length;
}

function transpose(graph: Graph, input: string, output: string, perm: number[], base: string): Node {
  return { name: uniqueName(graph, `${base}/Transpose`), opType: 'Transpose', domain: '', inputs: [input], outputs: [output], attributes: { perm: { type: 'ints', value: perm } } };
}

/** Conv / FusedConv / MaxPool / AveragePool on 4-D NCHW -> their NHWC forms between Transposes. */
function convertLayers(graph: Graph): number {
  const targets = graph.nodes.map((node) => nhwcForm(graph, node));
  if (targets.every((target) => target === undefined)) return 0;
  const added = new Set<string>();
  const fresh = (base: string) => {
    let name = uniqueName(graph, base);
    for (let k = 1; added.has(name); k++) name = uniqueName(graph, `${base}_${k}`);
    added.add(name);
    return name;
  };
  const nodes: Node[] = [];
  graph.nodes.forEach((node, i) => {
    const target = targets[i];
    if (target === undefined) {
      nodes.push(node);
      return;
    }
    const rank = rankOf(graph, node.inputs[0]);
    const [forward, back] = rank === 3 ? [toNwc, toNcw] : [toNhwc, toNchw];
    const inputNhwc = fresh(`${node.inputs[0]}/nhwc`);
    const outputNhwc = fresh(`${node.outputs[0]}/nhwc`);
    const converted: Node = { ...node, name: fresh(`${node.name}/${target}`), opType: target, domain: fusedDomain, inputs: [inputNhwc, ...node.inputs.slice(1)], outputs: [outputNhwc] };
    const body: Node[] = [converted];
    nodes.push(
      { ...transpose(graph, node.inputs[0], inputNhwc, forward, node.name), name: fresh(`${node.name}/to-nhwc`) },
      ...body,
      { ...transpose(graph, outputNhwc, node.outputs[0], back, node.name), name: fresh(`${node.name}/to-nchw`) },
    );
  });
  graph.nodes = nodes;
  return targets.filter((target) => target !== undefined).length;
}

/**
 * A QDQ depthwise conv (QLinearFusedConv, one channel per group in and out, static activation scale, int8 or
 * uint8-with-128 weights): the native channels-last INT8 depthwise conv takes it (conv_depthwise_nhwc_s8.cc,
 * ORT's output levels when its output quantization is fused).
 */
function quantizedDepthwise(graph: Graph, node: Node): boolean {
  const [x, xScale, , w, wScale, wZeroPoint] = [0, 1, 2, 3, 4, 5].map((i) => node.inputs[i] ?? '');
  const group = node.attributes.group?.type === 'int' ? node.attributes.group.value : 1;
  const weight = graph.initializers.get(w);
  const scales = graph.initializers.get(wScale);
  const channels = graph.valueInfo.get(x)?.shape?.[1] ?? graph.inputs.find((i) => i.name === x)?.shape?.[1];
  if (!xScale || graph.initializers.get(xScale)?.data.length !== 1) return false;
  if (!weight || (weight.dtype !== 'int8' && weight.dtype !== 'uint8') || !scales || scales.dtype !== 'float32') return false;
  if (group <= 1 || weight.dims[0] !== group || weight.dims[1] !== 1 || channels !== group) return false;
  if (scales.data.length !== 1 && scales.data.length !== group) return false;
  const zeroPoint = weight.dtype === 'int8' ? 0 : 128;
  const zeroPoints = wZeroPoint ? graph.initializers.get(wZeroPoint) : undefined;
  return !wZeroPoint || (zeroPoints !== undefined && Array.from(zeroPoints.data as ArrayLike<number>).every((z) => Number(z) === zeroPoint));
}

/** isOp without the type narrowing (several checks on one node). */
function hasOp(node: Node, ...ops: string[]): boolean {
  return isOp(node, ...ops);
}

function nhwcForm(graph: Graph, node: Node): string | undefined {
  if (node.outputs.length !== 1 && !(hasOp(node, 'MaxPool') && node.outputs.slice(1).every((o) => o === ''))) return undefined;
  const rank = rankOf(graph, node.inputs[0]);
  if (node.domain === fusedDomain && node.opType === 'QLinearFusedConv' && (rank === 4 || rank === 3)) {
    // INT8 (QDQ) convs: group 1, and depthwise ones (see quantizedDepthwise).
    const group = node.attributes.group?.type === 'int' ? node.attributes.group.value : 1;
    const weight = graph.initializers.get(node.inputs[3]);
    if (weight === undefined || weight.dims.length !== rank) return undefined;
    if (weight.dims.slice(2).reduce((a, b) => a * b, 1) > maxTaps) return undefined;
    return group === 1 || quantizedDepthwise(graph, node) ? 'NhwcQLinearFusedConv' : undefined;
  }
  const conv = hasOp(node, 'Conv') || (node.domain === fusedDomain && node.opType === 'FusedConv');
  if (conv && (rank === 4 || rank === 3)) {
    // 2-D convs, and 1-D ones (NWC: an STFT as a strided 1-D conv has few output positions and many filters).
    const group = node.attributes.group?.type === 'int' ? node.attributes.group.value : 1;
    const weight = graph.initializers.get(node.inputs[1]);
    if (weight === undefined || weight.dims.length !== rank || weight.dtype !== 'float32') return undefined;
    const channels = graph.valueInfo.get(node.inputs[0])?.shape?.[1] ?? graph.inputs.find((i) => i.name === node.inputs[0])?.shape?.[1];
    const depthwise = group > 1 && weight.dims[1] === 1 && weight.dims[0] === group && channels === group;
    if (group !== 1 && !depthwise) return undefined;
    if (weight.dims.slice(2).reduce((a, b) => a * b, 1) > maxTaps) return undefined;
    return 'NhwcConv';
  }
  if (rank !== 4) return undefined;
  if (hasOp(node, 'MaxPool')) {
    const storage = node.attributes.storage_order?.type === 'int' ? node.attributes.storage_order.value : 0;
    return storage === 0 ? 'NhwcMaxPool' : undefined;
  }
  if (hasOp(node, 'AveragePool')) return 'NhwcAveragePool';
  return undefined;
}

function permOf(node: Node | undefined): number[] | undefined {
  if (!isOp(node, 'Transpose')) return undefined;
  return node.attributes.perm?.type === 'ints' ? node.attributes.perm.value : undefined;
}

const nchwToNhwc = (perm: number[]) => perm.length === 4 ? perm.every((axis, i) => axis === toNchw[i]) : perm.length === 3 && perm.every((axis, i) => axis === toNcw[i]);

/**
 * How `node` can take a Transpose(P) on its input `name` by running on the Transpose's input instead (the
 * Transpose then moves to its output): 'data' for element-wise ops whose other operands do not depend on the
 * layout (unary ops, Clip with constant bounds, binary ops with a one-element constant), 'pair' for binary
 * ops whose other operand is a Transpose of the same P too, 'pool' for global pools behind an NHWC -> NCHW
 * Transpose, 'concat' for a Concat all of whose inputs are Transposes of the same P, 'batchnorm' for an
 * inference BatchNormalization with constant parameters behind an NHWC -> NCHW Transpose; undefined otherwise.
 */
type SinkKind = 'data' | 'pair' | 'pool' | 'concat' | 'batchnorm';

function sinkKind(index: GraphIndex, node: Node, name: string, perm: number[], opset: number): SinkKind | undefined {
  if (node.outputs.length !== 1 || index.outputs.has(name)) return undefined;
  if (hasOp(node, 'Concat')) return node.inputs.every((input) => samePerm(permOf(index.producer.get(input)), perm)) ? 'concat' : undefined;
  if (hasOp(node, 'BatchNormalization')) return node.inputs[0] === name && nchwToNhwc(perm) && perm.length === 4 && channelAffine(index, node, opset) !== undefined ? 'batchnorm' : undefined;
  if (layoutOf(node) === 'elementwise' && node.inputs.length === 1) return 'data';
  if (node.domain === fusedDomain && node.opType === 'QuantizeDequantize') {
    // Per-tensor fake quantization is element-wise (a per-channel one's axis would move).
    const scale = index.constant(node.inputs[1]);
    return node.inputs[0] === name && scale !== undefined && scale.data.length === 1 ? 'data' : undefined;
  }
  if (hasOp(node, 'Clip')) return node.inputs[0] === name && node.inputs.slice(1).every((input) => input === '' || index.scalar(input) !== undefined) ? 'data' : undefined;
  if (hasOp(node, 'GlobalAveragePool', 'GlobalMaxPool')) return nchwToNhwc(perm) ? 'pool' : undefined;
  if (layoutOf(node) !== 'scalar-binary' || node.inputs.length !== 2) return undefined;
  const other = node.inputs[0] === name ? node.inputs[1] : node.inputs[0];
  if (other === name) return 'data'; // x op x
  const constant = index.constant(other);
  if (constant !== undefined) return constant.data.length === 1 && constant.dims.length <= perm.length ? 'data' : undefined;
  return samePerm(permOf(index.producer.get(other)), perm) ? 'pair' : undefined;
}

const samePerm = (p: number[] | undefined, q: number[]) => p !== undefined && p.length === q.length && p.every((axis, i) => axis === q[i]);

/** An inference BatchNormalization's per-channel affine form (constant float32 parameters), if it has one. */
function channelAffine(index: GraphIndex, bn: Node, opset: number) {
  const channels = index.constant(bn.inputs[1])?.data.length ?? 0;
  return channels > 0 ? affineOf(bn, index, channels, opset) : undefined;
}

/** Whether every reader of the Transpose's output can take it or cancels it (an inverse Transpose). */
function readersTakeTranspose(index: GraphIndex, transposeNode: Node, perm: number[], opset: number): boolean {
  const out = transposeNode.outputs[0];
  if (index.outputs.has(out)) return false;
  const cancels = (reader: Node) => {
    const q = permOf(reader);
    return q !== undefined && q.length === perm.length && q.every((axis, i) => perm[axis] === i);
  };
  return index.consumersOf(out).every((reader) => cancels(reader) || sinkKind(index, reader, out, perm, opset) !== undefined);
}

/**
 * Transpose(P) -> element-wise op / global pool  ==>  the op on the Transpose's input -> Transpose(P), when
 * every reader of the Transpose can take it (the Transpose then disappears once all have moved).
 */
function sinkTransposes(graph: Graph, opset: number): number {
  const index = new GraphIndex(graph);
  for (const node of graph.nodes) {
    if (hasOp(node, 'Unsqueeze')) {
      if (sinkThroughUnsqueeze(graph, index, node)) return 1;
      continue;
    }
    for (const name of new Set(node.inputs)) {
      const producer = index.producer.get(name);
      const perm = permOf(producer);
      if (producer === undefined || perm === undefined) continue;
      const kind = sinkKind(index, node, name, perm, opset);
      if (kind === undefined || !readersTakeTranspose(index, producer, perm, opset)) continue;
      if (kind === 'pair') {
        const otherProducer = index.producer.get(node.inputs[0] === name ? node.inputs[1] : node.inputs[0])!;
        if (!readersTakeTranspose(index, otherProducer, perm, opset)) continue;
      }
      if (kind === 'concat' && !node.inputs.every((input) => readersTakeTranspose(index, index.producer.get(input)!, perm, opset))) continue;
      if (kind === 'concat' || kind === 'batchnorm') {
        const after = transpose(graph, uniqueName(graph, `${node.outputs[0]}/before-transpose`), node.outputs[0], perm, node.name);
        const moved = kind === 'concat' ? concatBefore(graph, index, node, perm, after.inputs[0]) : batchNormBefore(graph, index, node, producer, after.inputs[0], opset);
        graph.nodes = graph.nodes.flatMap((n) => (n === node ? [...moved, after] : [n]));
        graph.valueInfo.delete(node.outputs[0]);
        dropUnread(graph);
        return 1;
      }
      const untransposed = (input: string) => {
        if (input === name) return producer.inputs[0];
        if (kind === 'pair' && input !== '' && index.constant(input) === undefined) return index.producer.get(input)!.inputs[0];
        return input;
      };
      const before = uniqueName(graph, `${node.outputs[0]}/before-transpose`);
      const moved: Node =
        kind === 'pool'
          ? { name: uniqueName(graph, `${node.name}/nhwc`), opType: node.opType === 'GlobalMaxPool' ? 'NhwcGlobalMaxPool' : 'NhwcGlobalAveragePool', domain: fusedDomain, inputs: [producer.inputs[0]], outputs: [before], attributes: {} }
          : { ...node, inputs: node.inputs.map(untransposed), outputs: [before] };
      const after = transpose(graph, before, node.outputs[0], perm, node.name);
      graph.nodes = graph.nodes.flatMap((n) => (n === node ? [moved, after] : [n]));
      graph.valueInfo.delete(node.outputs[0]);
      dropUnread(graph);
      return 1;
    }
  }
  return 0;
}

/** Concat(Transpose_P(x_i), axis a)  ==>  Concat(x_i, axis P[a]) writing `output` (then Transpose(P)). */
function concatBefore(graph: Graph, index: GraphIndex, concat: Node, perm: number[], output: string): Node[] {
  const axisAttr = concat.attributes.axis?.type === 'int' ? concat.attributes.axis.value : 0;
  const axis = perm[axisAttr < 0 ? axisAttr + perm.length : axisAttr];
  return [{ ...concat, inputs: concat.inputs.map((input) => index.producer.get(input)!.inputs[0]), outputs: [output], attributes: { ...concat.attributes, axis: { type: 'int', value: axis } } }];
}

/** BatchNormalization(Transpose_NHWC->NCHW(x))  ==>  Mul(x, a) -> Add(b) along the last axis writing `output`. */
function batchNormBefore(graph: Graph, index: GraphIndex, bn: Node, producer: Node, output: string, opset: number): Node[] {
  const { a, shift } = channelAffine(index, bn, opset)!;
  const constant = (base: string, data: Float32Array) => {
    const name = uniqueName(graph, `${bn.name}/${base}`);
    graph.initializers.set(name, { dtype: 'float32', dims: [data.length], data });
    return name;
  };
  const scaled = uniqueName(graph, `${bn.outputs[0]}/scaled`);
  return [
    { name: uniqueName(graph, `${bn.name}/nhwc-scale`), opType: 'Mul', domain: '', inputs: [producer.inputs[0], constant('scale', a)], outputs: [scaled], attributes: {} },
    { name: uniqueName(graph, `${bn.name}/nhwc-shift`), opType: 'Add', domain: '', inputs: [scaled, constant('shift', shift)], outputs: [output], attributes: {} },
  ];
}

/**
 * Transpose(P) -> Unsqueeze(axes)  ==>  Unsqueeze(axes) -> Transpose(P'): the new size-1 dims stay where
 * they are and the others move as P moved them (so a following Transpose can cancel).
 */
function sinkThroughUnsqueeze(graph: Graph, index: GraphIndex, node: Node): boolean {
  const producer = index.producer.get(node.inputs[0]);
  const perm = permOf(producer);
  if (producer === undefined || perm === undefined || !index.onlyFeeds(producer.outputs[0], node)) return false;
  const axesAttr = node.attributes.axes?.type === 'ints' ? node.attributes.axes.value : undefined;
  const axesConstant = node.inputs[1] ? index.constant(node.inputs[1]) : undefined;
  const axes = axesAttr ?? (axesConstant ? Array.from(axesConstant.data as ArrayLike<number | bigint>, Number) : undefined);
  if (axes === undefined) return false;
  const outRank = perm.length + axes.length;
  const inserted = new Set(axes.map((a) => (a < 0 ? a + outRank : a)));
  if (inserted.size !== axes.length || [...inserted].some((a) => a < 0 || a >= outRank)) return false;
  const kept = Array.from({ length: outRank }, (_, i) => i).filter((i) => !inserted.has(i));
  const moved = Array.from({ length: outRank }, (_, i) => i);
  kept.forEach((position, k) => (moved[position] = kept[perm[k]]));
  const before = uniqueName(graph, `${node.outputs[0]}/before-transpose`);
  const unsqueeze: Node = { ...node, inputs: [producer.inputs[0], ...node.inputs.slice(1)], outputs: [before] };
  const after = transpose(graph, before, node.outputs[0], moved, node.name);
  graph.nodes = graph.nodes.flatMap((n) => (n === producer ? [] : n === node ? [unsqueeze, after] : [n]));
  return true;
}

/** Transpose(P) -> Transpose(Q) with P then Q the identity: readers of the second read P's input. */
function cancelTransposes(graph: Graph): number {
  const index = new GraphIndex(graph);
  let count = 0;
  for (const second of graph.nodes) {
    const q = permOf(second);
    const first = q && index.producer.get(second.inputs[0]);
    const p = permOf(first);
    if (!q || !first || !p || p.length !== q.length || !q.every((axis, i) => p[axis] === i)) continue;
    if (index.outputs.has(second.outputs[0])) continue;
    for (const reader of index.consumersOf(second.outputs[0])) {
      reader.inputs = reader.inputs.map((name) => (name === second.outputs[0] ? first.inputs[0] : name));
      renameInSubgraphs(reader, second.outputs[0], first.inputs[0]);
    }
    count++;
  }
  if (count > 0) dropUnread(graph);
  return count;
}

function renameInSubgraphs(node: Node, from: string, to: string): void {
  for (const attribute of Object.values(node.attributes)) {
    const graphs = attribute.type === 'graph' ? [attribute.value] : attribute.type === 'graphs' ? attribute.value : [];
    for (const sub of graphs) {
      for (const inner of sub.nodes) {
        inner.inputs = inner.inputs.map((name) => (name === from ? to : name));
        renameInSubgraphs(inner, from, to);
      }
      sub.outputs.forEach((output) => output.name === from && (output.name = to));
    }
  }
}

/** Removes Transposes nobody reads (the cancelled pairs), repeatedly. */
function dropUnread(graph: Graph): void {
  for (;;) {
    const index = new GraphIndex(graph);
    const dead = graph.nodes.filter((node) => isOp(node, 'Transpose') && !index.outputs.has(node.outputs[0]) && index.consumersOf(node.outputs[0]).length === 0);
    if (dead.length === 0) return;
    graph.nodes = graph.nodes.filter((node) => !dead.includes(node));
  }
}

/** NhwcConv -> Max(y, constant c)  ==>  NhwcConv with output_min = c. */
function foldMaxIntoConv(graph: Graph): void {
  for (;;) {
    const index = new GraphIndex(graph);
    let folded = false;
    for (const conv of graph.nodes) {
      if (conv.domain !== fusedDomain || conv.opType !== 'NhwcConv') continue;
      const max = index.soleConsumer(conv.outputs[0]);
      if (!isOp(max, 'Max') || max.inputs.length !== 2) continue;
      const other = max.inputs[0] === conv.outputs[0] ? max.inputs[1] : max.inputs[0];
      const constant = index.constant(other);
      const bound = index.scalar(other);
      if (constant === undefined || bound === undefined || constant.dims.length > 4 || Number.isNaN(bound)) continue;
      const previous = conv.attributes.output_min?.type === 'float' ? conv.attributes.output_min.value : -Infinity;
      conv.attributes = { ...conv.attributes, output_min: { type: 'float', value: Math.max(previous, bound) } };
      graph.valueInfo.delete(conv.outputs[0]);
      conv.outputs = [max.outputs[0]];
      graph.nodes = graph.nodes.filter((node) => node !== max);
      folded = true;
      break;
    }
    if (!folded) return;
  }
}
