/**
 * NumPy .npy files (format versions 1.0 to 3.0): the header's dict (descr, fortran_order, shape) and the
 * raw little-endian data, read into a Tensor and written from one. Only what a model feed can be: float32,
 * float64, float16, int8/16/32/64, uint8/16/32/64 and bool, C order. The header is parsed by hand because it
 * is a Python literal, not JSON; everything in it is checked, so a corrupt file is an EDGEINFER_INVALID_ARGUMENT
 * naming the problem, never a bad read.
 */
import { EdgeInferError } from '../errors';
import type { Tensor, TensorType } from '../tensor';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** numpy descr (without the byte-order mark) -> tensor type. */
const TYPES: Record<string, TensorType> = {
  f4: 'float32', f8: 'float64', f2: 'float16',
  i1: 'int8', i2: 'int16', i4: 'int32', i8: 'int64',
  u1: 'uint8', u2: 'uint16', u4: 'uint32', u8: 'uint64',
  b1: 'bool',
};
const DESCR = Object.fromEntries(Object.entries(TYPES).map(([descr, type]) => [type, descr])) as Record<string, string>;

type ArrayCtor = { new (buffer: ArrayBuffer, offset: number, length: number): ArrayLike<unknown>; BYTES_PER_ELEMENT: number };
const ARRAYS: Record<string, ArrayCtor> = {
  float32: Float32Array, float64: Float64Array, float16: Uint16Array,
  int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array,
  uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array,
  bool: Uint8Array,
};

function bad(message: string, source: string): never {
  throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${source}: ${message}`, { source });
}

/** Reads a .npy file's bytes into a tensor; `source` names it in errors. */
export function readNpy(bytes: Uint8Array, source = '.npy'): Tensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) bad('not a .npy file (no \\x93NUMPY magic)', source);
  const major = bytes[6];
  if (major < 1 || major > 3) bad(`unsupported .npy format version ${major}.${bytes[7]}`, source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) bad(`truncated header (${headerLength} bytes announced, ${bytes.length - headerStart} present)`, source);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) bad(`header is not a numpy dict with descr, fortran_order and shape: ${header.trim()}`, source);
  if (fortran === 'True') bad('Fortran-ordered arrays are not supported (save with np.ascontiguousarray)', source);
  const order = descr[0];
  const code = descr.slice(1);
  const type = TYPES[code];
  if (type === undefined || !['<', '|', '='].includes(order)) bad(`unsupported dtype '${descr}' (little-endian numeric or bool only)`, source);
  const dims = shapeText.split(',').map((d) => d.trim()).filter((d) => d !== '').map((d) => {
    if (!/^\d+$/.test(d)) bad(`shape entry '${d}' is not a non-negative integer`, source);
    return Number(d);
  });
  const count = dims.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count)) bad(`shape (${dims.join(', ')}) is too large`, source);
  const Ctor = ARRAYS[type];
  const byteLength = count * Ctor.BYTES_PER_ELEMENT;
  if (bytes.length - dataStart !== byteLength) bad(`data holds ${bytes.length - dataStart} bytes, shape (${dims.join(', ')}) of ${descr} needs ${byteLength}`, source);
  // A copy: aligned for the typed array and independent of the file buffer.
  const copy = new ArrayBuffer(byteLength);
  new Uint8Array(copy).set(bytes.subarray(dataStart));
  return { type, dims, data: new Ctor(copy, 0, count) } as unknown as Tensor;
}

/** A tensor as .npy (format 1.0) bytes. */
export function writeNpy(tensor: Tensor): Uint8Array {
  const descr = DESCR[tensor.type];
  if (descr === undefined) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `cannot write ${tensor.type} to .npy`);
  const order = descr.endsWith('1') ? '|' : '<';
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '${order}${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Magic (6) + version (2) + length (2) + header + '\n', padded with spaces to a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const data = tensor.data as unknown as ArrayBufferView;
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}
