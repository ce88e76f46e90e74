/**
 * Tensors on the wire (edgeinfer.v1.Tensor: name, dtype, shape, little-endian raw_data) to and from the
 * library's { type, data, dims }. Decoding checks everything the bytes alone can say (name, dtype, shape,
 * byte length, bool values) and names the input and the problem; what depends on the model (unknown or
 * missing input, dtype, dims, NaN) is the Engine's own check, done when the request is queued.
 * Byte order: the package runs on x64 and arm64 (package.json "cpu"), both little-endian, so raw_data is
 * copied as is.
 */
import { EdgeInferError } from '../errors';
import { bytesPerElement } from '../onnx/tensor';
import { allocateTensorData, type Tensor, type TensorInfo, type TensorType } from '../tensor';
import { invalid } from '../validate';

/** A Tensor message as @grpc/proto-loader gives it with protoLoaderOptions. */
export interface WireTensor {
  name: string;
  /** An enum name ('DATA_TYPE_FLOAT32'), or a number for values this proto does not know. */
  dtype: string | number;
  shape: number[];
  raw_data: Uint8Array;
}

export interface WireTensorSpec {
  name: string;
  dtype: string;
  shape: number[];
  dim_names: string[];
}

const elementBytes = bytesPerElement;

const prefix = 'DATA_TYPE_';
/** Proto enum name -> tensor type, for every type the proto declares. */
const fromWireType = new Map<string, TensorType>(Object.keys(elementBytes).map((type) => [`${prefix}${type.toUpperCase()}`, type as TensorType]));

export function wireType(type: TensorType): string {
  return `${prefix}${type.toUpperCase()}`;
}

/** No dim may exceed this: far above any real tensor, and it keeps the element count exact in a double. */
const maxDim = 2 ** 31 - 1;

function decodeType(name: string, dtype: unknown): TensorType {
  if (dtype === 'DATA_TYPE_UNSPECIFIED' || dtype === 0 || dtype === undefined || dtype === '') throw invalid(`input '${name}' has no dtype`, { input: name });
  const type = typeof dtype === 'string' ? fromWireType.get(dtype) : undefined;
  if (type === undefined) throw invalid(`input '${name}' has an unknown dtype ${String(dtype)}`, { input: name, got: dtype });
  return type;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** One wire tensor to a Tensor on its own (aligned) memory. */
export function decodeTensor(wire: WireTensor, index: number): { name: string; tensor: Tensor } {
  if (wire === null || typeof wire !== 'object') throw invalid(`inputs[${index}] is not a tensor`);
  const name = wire.name;
  if (typeof name !== 'string' || name === '') throw invalid(`inputs[${index}] has no name`, { index });
  const type = decodeType(name, wire.dtype);
  const shape = Array.isArray(wire.shape) ? wire.shape : [];
  const raw = wire.raw_data instanceof Uint8Array ? wire.raw_data : new Uint8Array(0);
  const size = elementBytes[type];
  let count = 1;
  for (let i = 0; i < shape.length; i++) {
    const dim = shape[i];
    if (!Number.isInteger(dim) || dim < 0 || dim > maxDim) throw invalid(`input '${name}' shape[${i}] is ${String(dim)}: dims must be integers in [0, ${maxDim}]`, { input: name, got: shape });
    count *= dim;
    // Past the bytes given, the length cannot match: stop before the product loses exactness.
    if (count * size > raw.byteLength) count = Math.min(count, raw.byteLength + 1);
  }
  if (count * size !== raw.byteLength) {
    if (shape.length === 0) {
      throw invalid(`input '${name}' has no shape (a ${type} scalar is ${size} bytes) but raw_data holds ${raw.byteLength} bytes: set shape`, { input: name, got: raw.byteLength });
    }
    const needed = shape.reduce((product, dim) => product * dim, 1);
    throw invalid(`input '${name}' has shape ${shapeText(shape)}, ${needed} ${type} elements = ${needed * size} bytes, but raw_data holds ${raw.byteLength} bytes`, {
      input: name,
      expected: needed * size,
      got: raw.byteLength,
    });
  }
  if (type === 'bool') {
    const bad = raw.findIndex((byte) => byte > 1);
    if (bad >= 0) throw invalid(`input '${name}' is bool but byte ${bad} of raw_data is ${raw[bad]} (must be 0 or 1)`, { input: name, index: bad });
  }
  const data = allocateTensorData(type, count);
  new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(raw);
  return { name, tensor: { type, data, dims: shape.slice() } };
}

/** The request's inputs as feeds; a name given twice is refused. */
export function decodeInputs(inputs: unknown): Record<string, Tensor> {
  if (!Array.isArray(inputs) || inputs.length === 0) throw invalid('the request has no inputs');
  const feeds: Record<string, Tensor> = Object.create(null) as Record<string, Tensor>;
  inputs.forEach((wire: WireTensor, index) => {
    const { name, tensor } = decodeTensor(wire, index);
    if (Object.prototype.hasOwnProperty.call(feeds, name)) throw invalid(`input '${name}' is given twice`, { input: name });
    feeds[name] = tensor;
  });
  // The Engine wants a plain object (a null-prototype one reads the same, but keep the usual shape).
  return { ...feeds };
}

/** Outputs to wire tensors; raw_data is a view of each output's own memory (no copy). */
export function encodeOutputs(outputs: Record<string, Tensor>): WireTensor[] {
  return Object.entries(outputs).map(([name, tensor]) => {
    const { data } = tensor;
    if (!ArrayBuffer.isView(data)) throw new EdgeInferError('EDGEINFER_INTERNAL', `output '${name}' has no typed array`);
    return { name, dtype: wireType(tensor.type), shape: tensor.dims.slice(), raw_data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
  });
}

/** A model input or output for ModelInfo: symbolic dims as -1 with their names beside. */
export function tensorSpec(info: TensorInfo): WireTensorSpec {
  return {
    name: info.name,
    dtype: wireType(info.type),
    shape: info.dims.map((dim) => (typeof dim === 'number' ? dim : -1)),
    dim_names: info.dims.map((dim) => (typeof dim === 'number' ? '' : dim)),
  };
}
