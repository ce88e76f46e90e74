/**
 * Calibration feeds as a folder of NumPy .npy files, the form both quantizers of the benchmarks read (ours
 * through readFeedFolder, ONNX Runtime's through bench/ort_quantize.py): inputs.json and s<i>_<k>.npy, sample
 * i's value of input k.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { Tensor } from '../lib';

type Feeds = Record<string, Tensor>;

const NPY_TYPES: Record<string, { descr: string; array: Float32ArrayConstructor | BigInt64ArrayConstructor }> = {
  float32: { descr: '<f4', array: Float32Array },
  int64: { descr: '<i8', array: BigInt64Array },
};

/** NumPy format 1.0: magic, version, header length, a dict literal padded to 64 bytes, then the data. */
function writeNpy(file: string, tensor: Tensor): void {
  const type = NPY_TYPES[tensor.type];
  if (type === undefined) throw new Error(`writeNpy: no .npy mapping for ${tensor.type}`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '${type.descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix.writeUInt8(1, 6);
  prefix.writeUInt8(0, 7);
  prefix.writeUInt16LE(header.length, 8);
  const data = tensor.data as Float32Array | BigInt64Array;
  fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

/** Reads what writeNpy writes (little-endian float32 / int64, C order). */
function readNpy(file: string): Tensor {
  const bytes = fs.readFileSync(file);
  if (bytes.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file} is not a .npy file`);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.toString('latin1', 10, 10 + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  const entry = Object.entries(NPY_TYPES).find(([, t]) => t.descr === descr);
  if (entry === undefined || shape === undefined || /True/.test(header)) throw new Error(`${file}: unsupported .npy header ${header.trim()}`);
  const dims = shape.split(',').map((d) => d.trim()).filter(Boolean).map(Number);
  const body = bytes.subarray(10 + headerLength);
  const copy = new Uint8Array(body); // aligned copy
  const data = new entry[1].array(copy.buffer, 0, body.length / entry[1].array.BYTES_PER_ELEMENT);
  return { type: entry[0], data, dims } as Tensor;
}

/** A folder both quantizers read: inputs.json and s<i>_<k>.npy (sample i, input k). */
export function writeFeedFolder(dir: string, feeds: Feeds[]): string {
  fs.mkdirSync(dir, { recursive: true });
  const inputs = Object.keys(feeds[0]);
  feeds.forEach((feed, i) => inputs.forEach((name, k) => writeNpy(path.join(dir, `s${i}_${k}.npy`), feed[name])));
  fs.writeFileSync(path.join(dir, 'inputs.json'), JSON.stringify({ inputs, count: feeds.length }));
  return dir;
}

/** The folder's feeds, one file read per sample when asked (nothing kept). */
export function* readFeedFolder(dir: string): Generator<Feeds> {
  const { inputs, count } = JSON.parse(fs.readFileSync(path.join(dir, 'inputs.json'), 'utf8')) as { inputs: string[]; count: number };
  for (let i = 0; i < count; i++) yield Object.fromEntries(inputs.map((name, k) => [name, readNpy(path.join(dir, `s${i}_${k}.npy`))]));
}
