/**
 * ONNX ModelProto bytes -> Model (lib/onnx/ir.ts). Decoding is done by onnx-proto (protobufjs static code);
 * this file checks what the decoder cannot: tensor data against dims and type, names, attribute kinds,
 * opset imports, external data paths. Every problem is an EdgeInferError('EDGEINFER_MODEL_INVALID') that
 * names the node, op and value at fault. Tensor data is copied into freshly allocated, aligned typed
 * arrays (little-endian hosts: x64 and arm64 Linux), except large external data, which is a view on a
 * memory map of its file (see readExternal).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { EdgeInferError, fromNative } from '../errors';
import { native } from '../native';
import { Attribute, Dim, Graph, Model, Node, TensorData, ValueInfo } from './ir';
import { allocate, bytesPerElement, dataTypeFromCode, viewOf } from './tensor';

export interface ReadOptions {
  /** Folder that external data locations are relative to (usually the model file's folder). */
  baseDir?: string;
}

/** Subgraphs nest at most this deep (a crafted file could otherwise exhaust the stack). */
const maxGraphDepth = 32;
/** Largest tensor accepted, in elements (2^31 - 1: what the native side can index). */
const maxElements = 2 ** 31 - 1;
/**
 * External tensors from this size up are memory-mapped rather than read: the bytes stay in the page cache
 * (shared, reclaimable, loaded on first touch) instead of a heap copy. Below it a read is cheaper than a
 * mapping (a syscall pair, a VMA and page-sized rounding).
 */
export const mapExternalMinBytes = 64 * 1024;

export function modelInvalid(message: string, detail: Record<string, unknown> = {}): EdgeInferError {
  return new EdgeInferError('EDGEINFER_MODEL_INVALID', message, detail);
}

type LongLike = number | { toNumber(): number; toString(): string; low: number; high: number; unsigned?: boolean };

/** A protobuf int64 (number or Long) as a safe JS integer. */
function toInt(value: LongLike | null | undefined, what: string, detail: Record<string, unknown>): number {
  if (value === null || value === undefined) return 0;
  const n = typeof value === 'number' ? value : value.toNumber();
  if (!Number.isSafeInteger(n)) throw modelInvalid(`${what} is ${String(value)}, outside the safe integer range`, detail);
  return n;
}

function toBigInt(value: LongLike, unsigned: boolean): bigint {
  if (typeof value === 'number') return BigInt(value);
  const big = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
  return unsigned ? big : BigInt.asIntN(64, big);
}

const textDecoder = new TextDecoder('utf-8');

/** Context for messages: which tensor / node / graph we are reading. */
interface Where {
  graph: string;
  node?: string;
  op?: string;
  depth: number;
  baseDir?: string;
}

function describe(where: Where): string {
  return where.node !== undefined ? `node '${where.node}' (${where.op})` : `graph '${where.graph}'`;
}

function whereDetail(where: Where, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const detail: Record<string, unknown> = { graph: where.graph };
  if (where.node !== undefined) detail.node = where.node;
  if (where.op !== undefined) detail.op = where.op;
  return { ...detail, ...extra };
}

/** Decodes and converts a model. Throws EdgeInferError('EDGEINFER_MODEL_INVALID') on any problem. */
export function readModel(bytes: Uint8Array, options: ReadOptions = {}): Model {
  if (!(bytes instanceof Uint8Array)) {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', 'readModel expects the model bytes as a Uint8Array', { argument: 'bytes' });
  }
  if (bytes.length === 0) throw modelInvalid('the model is empty (0 bytes)', { problem: 'empty' });
  let proto: onnx.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw modelInvalid(`not a valid ONNX model (protobuf decoding failed: ${reason}); the file may be truncated or not ONNX`, {
      problem: 'decode',
      reason,
    });
  }
  try {
    return convertModel(proto, options);
  } catch (error) {
    if (error instanceof EdgeInferError) throw error;
    // Anything else (RangeError from a pathological structure, ...) is still a bad model, not a crash.
    const reason = error instanceof Error ? error.message : String(error);
    throw modelInvalid(`the model could not be read: ${reason}`, { problem: 'convert', reason });
  }
}

function convertModel(proto: onnx.ModelProto, options: ReadOptions): Model {
  const top: Where = { graph: '(model)', depth: 0, baseDir: options.baseDir };
  if (!proto.graph) throw modelInvalid('the model has no graph (not an ONNX model, or truncated)', { problem: 'no graph' });
  const opsets = new Map<string, number>();
  for (const entry of proto.opsetImport ?? []) {
    const domain = entry.domain === 'ai.onnx' ? '' : (entry.domain ?? '');
    const version = toInt(entry.version as LongLike, `opset version of domain '${domain}'`, { domain });
    if (version < 1) throw modelInvalid(`opset import for domain '${domain}' has version ${version}`, { problem: 'opset', domain, version });
    if (opsets.has(domain)) throw modelInvalid(`opset for domain '${domain}' is imported twice`, { problem: 'duplicate opset', domain });
    opsets.set(domain, version);
  }
  const metadata: Record<string, string> = {};
  for (const entry of proto.metadataProps ?? []) metadata[entry.key ?? ''] = entry.value ?? '';
  const graph = convertGraph(proto.graph, top, 'main graph');
  const model: Model = {
    irVersion: toInt(proto.irVersion as LongLike, 'ir_version', {}),
    opsets,
    producerName: proto.producerName ?? '',
    producerVersion: proto.producerVersion ?? '',
    graph,
    metadata,
  };
  checkDomains(model.graph, opsets);
  return model;
}

function checkDomains(graph: Graph, opsets: Map<string, number>): void {
  for (const node of graph.nodes) {
    if (!opsets.has(node.domain)) {
      throw modelInvalid(`node '${node.name}' (${node.opType}) uses domain '${node.domain || 'ai.onnx'}', which the model does not import`, {
        problem: 'missing opset import',
        node: node.name,
        op: node.opType,
        domain: node.domain,
      });
    }
    for (const attribute of Object.values(node.attributes)) {
      if (attribute.type === 'graph') checkDomains(attribute.value, opsets);
      if (attribute.type === 'graphs') for (const sub of attribute.value) checkDomains(sub, opsets);
    }
  }
}

function convertGraph(proto: onnx.IGraphProto, parent: Where, role: string): Graph {
  const name = proto.name ?? '';
  const where: Where = { graph: name || role, depth: parent.depth + 1, baseDir: parent.baseDir };
  if (where.depth > maxGraphDepth) throw modelInvalid(`subgraphs nest deeper than ${maxGraphDepth} levels`, { problem: 'depth', graph: where.graph });

  const initializers = new Map<string, TensorData>();
  for (const tensor of proto.initializer ?? []) {
    const tensorName = tensor.name ?? '';
    if (tensorName === '') throw modelInvalid(`${describe(where)}: an initializer has no name`, whereDetail(where, { problem: 'unnamed initializer' }));
    if (initializers.has(tensorName)) {
      throw modelInvalid(`${describe(where)}: initializer '${tensorName}' is defined twice`, whereDetail(where, { problem: 'duplicate name', value: tensorName }));
    }
    initializers.set(tensorName, convertTensor(tensor, where, `initializer '${tensorName}'`));
  }
  if ((proto.sparseInitializer ?? []).length > 0) {
    throw modelInvalid(`${describe(where)}: sparse initializers are not supported`, whereDetail(where, { problem: 'sparse initializer' }));
  }

  const inputs = convertValueInfos(proto.input ?? [], where, 'input');
  const outputs = convertValueInfos(proto.output ?? [], where, 'output');
  const valueInfo = new Map<string, ValueInfo>();
  for (const info of convertValueInfos(proto.valueInfo ?? [], where, 'value_info')) valueInfo.set(info.name, info);

  const nodes: Node[] = [];
  const nodeNames = new Set<string>();
  const protoNodes = proto.node ?? [];
  // Names the file gives, so that generated names never collide with them.
  const given = new Set(protoNodes.map((node) => node.name ?? '').filter((nodeName) => nodeName !== ''));
  protoNodes.forEach((nodeProto, index) => {
    const opType = nodeProto.opType ?? '';
    let nodeName = nodeProto.name ?? '';
    if (nodeName === '') {
      nodeName = `${opType || 'node'}_${index}`;
      for (let k = 1; given.has(nodeName) || nodeNames.has(nodeName); k++) nodeName = `${opType || 'node'}_${index}_${k}`;
    }
    if (nodeNames.has(nodeName)) {
      throw modelInvalid(`${describe(where)}: two nodes are named '${nodeName}'`, whereDetail(where, { problem: 'duplicate name', node: nodeName, op: opType }));
    }
    nodeNames.add(nodeName);
    nodes.push(convertNode(nodeProto, nodeName, where));
  });
  return { name, nodes, inputs, outputs, initializers, valueInfo };
}

function convertNode(proto: onnx.INodeProto, name: string, parent: Where): Node {
  const opType = proto.opType ?? '';
  const where: Where = { ...parent, node: name, op: opType || '(no op type)' };
  if (opType === '') throw modelInvalid(`node '${name}' has no op type`, whereDetail(where, { problem: 'no op type' }));
  const attributes: Record<string, Attribute> = {};
  for (const attributeProto of proto.attribute ?? []) {
    const attributeName = attributeProto.name ?? '';
    if (attributeName === '') throw modelInvalid(`${describe(where)}: an attribute has no name`, whereDetail(where, { problem: 'unnamed attribute' }));
    if (attributeName in attributes) {
      throw modelInvalid(`${describe(where)}: attribute '${attributeName}' is given twice`, whereDetail(where, { problem: 'duplicate attribute', attribute: attributeName }));
    }
    attributes[attributeName] = convertAttribute(attributeProto, where);
  }
  const node: Node = {
    name,
    opType,
    domain: proto.domain === 'ai.onnx' ? '' : (proto.domain ?? ''),
    inputs: [...(proto.input ?? [])],
    outputs: [...(proto.output ?? [])],
    attributes,
  };
  if (opType === 'Constant' && node.domain === '') normalizeConstant(node, where);
  return node;
}

/** Rewrites Constant's value_float(s)/value_int(s) forms into the one `value` tensor attribute. */
function normalizeConstant(node: Node, where: Where): void {
  const keys = Object.keys(node.attributes);
  if (keys.length !== 1) {
    throw modelInvalid(`${describe(where)}: Constant needs exactly one value attribute, got ${keys.length} (${keys.join(', ')})`, whereDetail(where, { problem: 'constant attributes', attributes: keys }));
  }
  if (node.outputs.length !== 1) {
    throw modelInvalid(`${describe(where)}: Constant must have one output, got ${node.outputs.length}`, whereDetail(where, { problem: 'constant outputs' }));
  }
  const [key] = keys;
  const attribute = node.attributes[key];
  let value: TensorData;
  if (key === 'value' && attribute.type === 'tensor') value = attribute.value;
  else if (key === 'value_float' && attribute.type === 'float') value = { dtype: 'float32', dims: [], data: Float32Array.of(attribute.value) };
  else if (key === 'value_floats' && attribute.type === 'floats') value = { dtype: 'float32', dims: [attribute.value.length], data: Float32Array.from(attribute.value) };
  else if (key === 'value_int' && attribute.type === 'int') value = { dtype: 'int64', dims: [], data: BigInt64Array.of(BigInt(attribute.value)) };
  else if (key === 'value_ints' && attribute.type === 'ints') value = { dtype: 'int64', dims: [attribute.value.length], data: BigInt64Array.from(attribute.value, (v) => BigInt(v)) };
  else if (key === 'value_string' && attribute.type === 'string') value = { dtype: 'string', dims: [], data: new Uint8Array(1), strings: [attribute.value] };
  else if (key === 'value_strings' && attribute.type === 'strings') value = { dtype: 'string', dims: [attribute.value.length], data: new Uint8Array(attribute.value.length), strings: attribute.value };
  else {
    throw modelInvalid(`${describe(where)}: Constant attribute '${key}' of type ${attribute.type} is not supported`, whereDetail(where, { problem: 'constant attribute', attribute: key }));
  }
  node.attributes = { value: { type: 'tensor', value } };
}

function convertAttribute(proto: onnx.IAttributeProto, where: Where): Attribute {
  const T = onnx.AttributeProto.AttributeType;
  const name = proto.name ?? '';
  const detail = (problem: string) => whereDetail(where, { problem, attribute: name });
  let type = proto.type ?? T.UNDEFINED;
  if (type === T.UNDEFINED) {
    // Old exporters leave the type out: take the kind from the field that is set.
    if (proto.g) type = T.GRAPH;
    else if (proto.t) type = T.TENSOR;
    else if (proto.s && proto.s.length > 0) type = T.STRING;
    else if (proto.floats && proto.floats.length > 0) type = T.FLOATS;
    else if (proto.ints && proto.ints.length > 0) type = T.INTS;
    else if (proto.i !== undefined && proto.i !== null && toInt(proto.i as LongLike, 'i', {}) !== 0) type = T.INT;
    else type = T.FLOAT;
  }
  switch (type) {
    case T.FLOAT:
      return { type: 'float', value: proto.f ?? 0 };
    case T.INT:
      return { type: 'int', value: toInt(proto.i as LongLike, `${describe(where)} attribute '${name}'`, detail('attribute value')) };
    case T.STRING:
      return { type: 'string', value: textDecoder.decode(proto.s ?? new Uint8Array(0)) };
    case T.FLOATS:
      return { type: 'floats', value: [...(proto.floats ?? [])] };
    case T.INTS:
      return { type: 'ints', value: (proto.ints ?? []).map((v) => toInt(v as LongLike, `${describe(where)} attribute '${name}'`, detail('attribute value'))) };
    case T.STRINGS:
      return { type: 'strings', value: (proto.strings ?? []).map((s) => textDecoder.decode(s)) };
    case T.TENSOR:
      if (!proto.t) throw modelInvalid(`${describe(where)}: tensor attribute '${name}' holds no tensor`, detail('attribute value'));
      return { type: 'tensor', value: convertTensor(proto.t, where, `attribute '${name}'`) };
    case T.TENSORS:
      return { type: 'tensors', value: (proto.tensors ?? []).map((t, i) => convertTensor(t, where, `attribute '${name}'[${i}]`)) };
    case T.GRAPH:
      if (!proto.g) throw modelInvalid(`${describe(where)}: graph attribute '${name}' holds no graph`, detail('attribute value'));
      return { type: 'graph', value: convertGraph(proto.g, where, `${where.node}.${name}`) };
    case T.GRAPHS:
      return { type: 'graphs', value: (proto.graphs ?? []).map((g, i) => convertGraph(g, where, `${where.node}.${name}[${i}]`)) };
    default:
      throw modelInvalid(`${describe(where)}: attribute '${name}' has unsupported attribute type ${String(type)}`, detail('attribute type'));
  }
}

function convertValueInfos(protos: onnx.IValueInfoProto[], where: Where, role: string): ValueInfo[] {
  const seen = new Set<string>();
  return protos.map((proto) => {
    const name = proto.name ?? '';
    if (name === '') throw modelInvalid(`${describe(where)}: a graph ${role} has no name`, whereDetail(where, { problem: `unnamed ${role}` }));
    if (seen.has(name)) throw modelInvalid(`${describe(where)}: graph ${role} '${name}' is listed twice`, whereDetail(where, { problem: 'duplicate name', value: name }));
    seen.add(name);
    const info: ValueInfo = { name };
    const tensorType = proto.type?.tensorType;
    if (!tensorType) return info; // sequence / map / optional: no tensor type known
    if (tensorType.elemType) {
      const dtype = dataTypeFromCode(tensorType.elemType);
      if (dtype === undefined) {
        throw modelInvalid(`${describe(where)}: ${role} '${name}' has unknown data type ${tensorType.elemType}`, whereDetail(where, { problem: 'unknown data type', value: name, dataType: tensorType.elemType }));
      }
      info.dtype = dtype;
    }
    if (tensorType.shape) {
      info.shape = (tensorType.shape.dim ?? []).map((dim, i): Dim => {
        if (dim.dimParam) return dim.dimParam;
        if (dim.dimValue !== null && dim.dimValue !== undefined) {
          const value = toInt(dim.dimValue as LongLike, `dim ${i} of ${role} '${name}'`, whereDetail(where, { problem: 'dim', value: name }));
          if (value < 0) {
            throw modelInvalid(`${describe(where)}: ${role} '${name}' has negative dim ${value} at axis ${i}`, whereDetail(where, { problem: 'negative dim', value: name, axis: i, dim: value }));
          }
          // proto3 cannot tell "0" from "unset": an unset dim with no param is unknown.
          if (value === 0 && !hasDimValue(dim)) return `${name}_dim${i}`;
          return value;
        }
        return `${name}_dim${i}`;
      });
    }
    return info;
  });
}

function hasDimValue(dim: onnx.TensorShapeProto.IDimension): boolean {
  // protobufjs sets the oneof discriminator `value` when the field was on the wire.
  return (dim as { value?: string }).value === 'dimValue';
}

/** TensorProto -> TensorData, checking type, dims and data length. `label` names the tensor in messages. */
function convertTensor(proto: onnx.ITensorProto, where: Where, label: string): TensorData {
  const detail = (problem: string, extra: Record<string, unknown> = {}) => whereDetail(where, { problem, tensor: proto.name ?? label, ...extra });
  const at = `${describe(where)}: ${label}`;
  const code = proto.dataType ?? 0;
  const dtype = dataTypeFromCode(code);
  if (dtype === undefined) throw modelInvalid(`${at} has unknown or unsupported data type ${code}`, detail('unknown data type', { dataType: code }));
  const dims = (proto.dims ?? []).map((d) => toInt(d as LongLike, `${label} dim`, detail('dim')));
  let count = 1;
  for (const [axis, dim] of dims.entries()) {
    if (dim < 0) throw modelInvalid(`${at} has negative dim ${dim} at axis ${axis}`, detail('negative dim', { dims, axis }));
    count *= dim;
  }
  if (count > maxElements) throw modelInvalid(`${at} has dims [${dims.join(', ')}]: ${count} elements is more than ${maxElements}`, detail('huge dims', { dims }));
  if (proto.segment) throw modelInvalid(`${at} is segmented, which is not supported`, detail('segment'));

  if (proto.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const { buffer, external } = readExternal(proto, where, label, dtype, count * bytesPerElement[dtype]);
    // The buffer is this tensor's own (read or mapped) and exactly its size: view it, do not copy it. bool
    // goes through fromRaw, which copies before normalizing to 0/1 (a mapping is never written; bool is
    // never mapped anyway); string fails there as raw data.
    if (dtype === 'bool' || dtype === 'string') return { ...fromRaw(new Uint8Array(buffer), dtype, dims, count, at, detail), external };
    return { dtype, dims, data: viewOf(dtype, buffer, count), external };
  }
  if (dtype === 'string') {
    const strings = (proto.stringData ?? []).map((s) => textDecoder.decode(s));
    if (strings.length !== count) throw modelInvalid(`${at} holds ${strings.length} strings, dims [${dims.join(', ')}] need ${count}`, detail('data length', { dims, expected: count, got: strings.length }));
    return { dtype, dims, data: new Uint8Array(count), strings };
  }
  const raw = proto.rawData;
  if (raw && raw.length > 0) return fromRaw(raw, dtype, dims, count, at, detail);

  const data = allocate(dtype, count);
  const check = (got: number, field: string) => {
    if (got !== count) {
      throw modelInvalid(`${at} has ${got} values in ${field}, dims [${dims.join(', ')}] need ${count}`, detail('data length', { dims, field, expected: count, got }));
    }
  };
  switch (dtype) {
    case 'float32': {
      const values = proto.floatData ?? [];
      check(values.length, 'float_data');
      (data as Float32Array).set(values);
      break;
    }
    case 'float64': {
      const values = proto.doubleData ?? [];
      check(values.length, 'double_data');
      (data as Float64Array).set(values);
      break;
    }
    case 'int64': {
      const values = proto.int64Data ?? [];
      check(values.length, 'int64_data');
      const out = data as BigInt64Array;
      for (let i = 0; i < count; i++) out[i] = toBigInt(values[i] as LongLike, false);
      break;
    }
    case 'uint64':
    case 'uint32': {
      const values = proto.uint64Data ?? [];
      check(values.length, 'uint64_data');
      for (let i = 0; i < count; i++) {
        const big = toBigInt(values[i] as LongLike, true);
        if (dtype === 'uint64') (data as BigUint64Array)[i] = big;
        else (data as Uint32Array)[i] = Number(BigInt.asUintN(32, big));
      }
      break;
    }
    default: {
      // int32, int16, int8, uint16, uint8, bool and float16 (bits) all travel in int32_data.
      const values = proto.int32Data ?? [];
      check(values.length, 'int32_data');
      const out = data as Int32Array;
      for (let i = 0; i < count; i++) out[i] = dtype === 'bool' ? (values[i] ? 1 : 0) : values[i];
    }
  }
  return { dtype, dims, data };
}

/** raw_data (or external bytes) -> a typed array with its own aligned buffer. */
function fromRaw(
  raw: Uint8Array,
  dtype: TensorData['dtype'],
  dims: number[],
  count: number,
  at: string,
  detail: (problem: string, extra?: Record<string, unknown>) => Record<string, unknown>,
): TensorData {
  if (dtype === 'string') throw modelInvalid(`${at}: string tensors cannot use raw_data`, detail('string raw data'));
  const expected = count * bytesPerElement[dtype];
  if (raw.length !== expected) {
    throw modelInvalid(`${at} has ${raw.length} bytes of data, dims [${dims.join(', ')}] of ${dtype} need ${expected}`, detail('data length', { dims, expected, got: raw.length }));
  }
  const data = allocate(dtype, count);
  new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(raw);
  if (dtype === 'bool') {
    const bytes = data as Uint8Array;
    for (let i = 0; i < bytes.length; i++) bytes[i] = bytes[i] ? 1 : 0;
  }
  return { dtype, dims, data };
}

/**
 * The bytes of an external tensor in a buffer of their own, after checking location (inside baseDir, also
 * after resolving links), offset and length. Tensors of mapExternalMinBytes or more are memory-mapped by
 * the addon when their offset keeps the elements aligned (the mapping starts on a page boundary, so the
 * view's alignment is offset % element size); the rest are read with fs.
 */
function readExternal(
  proto: onnx.ITensorProto,
  where: Where,
  label: string,
  dtype: TensorData['dtype'],
  expectedBytes: number,
): { buffer: ArrayBuffer; external: NonNullable<TensorData['external']> } {
  const at = `${describe(where)}: ${label}`;
  const detail = (problem: string, extra: Record<string, unknown> = {}) => whereDetail(where, { problem, tensor: proto.name ?? label, ...extra });
  const entries = new Map((proto.externalData ?? []).map((entry) => [entry.key ?? '', entry.value ?? '']));
  const location = entries.get('location');
  if (!location) throw modelInvalid(`${at} keeps its data externally but gives no location`, detail('external location'));
  if (where.baseDir === undefined) {
    throw modelInvalid(`${at} keeps its data in '${location}'; pass options.baseDir (the model's folder) to read it`, detail('external without baseDir', { location }));
  }
  const parseOffset = (key: string): number | undefined => {
    const text = entries.get(key);
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw modelInvalid(`${at}: external data ${key} '${text}' is not a byte count`, detail('external ' + key, { location }));
    return Number(text);
  };
  const offset = parseOffset('offset') ?? 0;
  const length = parseOffset('length') ?? expectedBytes;
  if (length !== expectedBytes) {
    throw modelInvalid(`${at}: external data length ${length} does not match the ${expectedBytes} bytes its dims need`, detail('data length', { expected: expectedBytes, got: length }));
  }
  const base = path.resolve(where.baseDir);
  const target = path.resolve(base, location);
  const escapes = (from: string, to: string) => {
    const relative = path.relative(from, to);
    return relative === '' || relative.startsWith('..') || path.isAbsolute(relative);
  };
  if (path.isAbsolute(location) || escapes(base, target)) {
    throw modelInvalid(`${at}: external data location '${location}' escapes the model folder`, detail('external path', { location }));
  }
  let fd: number | undefined;
  try {
    const real = fs.realpathSync(target);
    if (escapes(fs.realpathSync(base), real)) throw modelInvalid(`${at}: external data location '${location}' escapes the model folder`, detail('external path', { location }));
    fd = fs.openSync(real, 'r');
    const size = fs.fstatSync(fd).size;
    if (offset + length > size) {
      throw modelInvalid(`${at}: external data [${offset}, ${offset + length}) lies beyond the end of '${location}' (${size} bytes)`, detail('external range', { location, offset, length, size }));
    }
    const elementBytes = bytesPerElement[dtype];
    if (length >= mapExternalMinBytes && dtype !== 'bool' && offset % elementBytes === 0) {
      const buffer = native.mapFile(real, offset, length);
      // A copy instead of a mapping where the runtime refuses external buffers (checked after the call,
      // which is what turns it off).
      return { buffer, external: { path: real, offset, length, mapped: native.externalBuffersEnabled() } };
    }
    const buffer = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(fd, buffer, done, length - done, offset + done);
      if (n <= 0) break;
      done += n;
    }
    if (done !== length) throw modelInvalid(`${at}: could read only ${done} of ${length} bytes from '${location}'`, detail('external read', { location }));
    return { buffer: buffer.buffer, external: { path: real, offset, length, mapped: false } };
  } catch (error) {
    if (error instanceof EdgeInferError) throw error;
    if ((error as { code?: unknown }).code === 'EDGEINFER_OUT_OF_MEMORY') throw fromNative(error); // not the model's fault
    throw modelInvalid(`${at}: cannot read external data '${location}': ${(error as Error).message}`, detail('external read', { location }));
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
