/**
 * Model (lib/onnx/ir.ts) -> ONNX ModelProto bytes, through onnx-proto. Tensors are written as raw_data
 * (little-endian; strings as string_data), external data inline; the reader reads the result back to an
 * equal model (same nodes, attributes, initializers bit for bit).
 */
import { onnx } from 'onnx-proto';
import { Attribute, Dim, Graph, Model, Node, TensorData, ValueInfo, onnxDataTypeCodes } from './ir';
import { tensorBytes } from './tensor';

const textEncoder = new TextEncoder();

export function tensorToProto(name: string, tensor: TensorData): onnx.ITensorProto {
  const proto: onnx.ITensorProto = { name, dataType: onnxDataTypeCodes[tensor.dtype], dims: [...tensor.dims] };
  if (tensor.dtype === 'string') proto.stringData = (tensor.strings ?? []).map((s) => textEncoder.encode(s));
  else proto.rawData = tensorBytes(tensor);
  return proto;
}

function valueInfoToProto(info: ValueInfo): onnx.IValueInfoProto {
  const proto: onnx.IValueInfoProto = { name: info.name };
  if (info.dtype !== undefined || info.shape !== undefined) {
    const tensorType: onnx.TypeProto.ITensor = {};
    if (info.dtype !== undefined) tensorType.elemType = onnxDataTypeCodes[info.dtype];
    if (info.shape !== undefined) {
      tensorType.shape = { dim: info.shape.map((d: Dim) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
    }
    proto.type = { tensorType };
  }
  return proto;
}

function attributeToProto(name: string, attribute: Attribute): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (attribute.type) {
    case 'float':
      return { name, type: T.FLOAT, f: attribute.value };
    case 'int':
      return { name, type: T.INT, i: attribute.value };
    case 'string':
      return { name, type: T.STRING, s: textEncoder.encode(attribute.value) };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...attribute.value] };
    case 'ints':
      return { name, type: T.INTS, ints: [...attribute.value] };
    case 'strings':
      return { name, type: T.STRINGS, strings: attribute.value.map((s) => textEncoder.encode(s)) };
    case 'tensor':
      return { name, type: T.TENSOR, t: tensorToProto('', attribute.value) };
    case 'tensors':
      return { name, type: T.TENSORS, tensors: attribute.value.map((t) => tensorToProto('', t)) };
    case 'graph':
      return { name, type: T.GRAPH, g: graphToProto(attribute.value) };
    case 'graphs':
      return { name, type: T.GRAPHS, graphs: attribute.value.map(graphToProto) };
  }
}

function nodeToProto(node: Node): onnx.INodeProto {
  return {
    name: node.name,
    opType: node.opType,
    domain: node.domain,
    input: [...node.inputs],
    output: [...node.outputs],
    attribute: Object.entries(node.attributes).map(([name, attribute]) => attributeToProto(name, attribute)),
  };
}

export function graphToProto(graph: Graph): onnx.IGraphProto {
  return {
    name: graph.name,
    node: graph.nodes.map(nodeToProto),
    initializer: [...graph.initializers].map(([name, tensor]) => tensorToProto(name, tensor)),
    input: graph.inputs.map(valueInfoToProto),
    output: graph.outputs.map(valueInfoToProto),
    valueInfo: [...graph.valueInfo.values()].map(valueInfoToProto),
  };
}

export function modelToProto(model: Model): onnx.IModelProto {
  return {
    irVersion: model.irVersion,
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    opsetImport: [...model.opsets].map(([domain, version]) => ({ domain, version })),
    metadataProps: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
    graph: graphToProto(model.graph),
  };
}

/** Encodes a model as ONNX bytes. */
export function writeModel(model: Model): Uint8Array {
  return onnx.ModelProto.encode(modelToProto(model)).finish();
}
