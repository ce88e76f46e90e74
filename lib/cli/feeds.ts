/**
 * Model inputs from files, for the CLI: `name=file` pairs (or a bare file for a one-input model) in .npy,
 * .json ({ "dims": [...], "data": [...] } or nested arrays, typed as the model's input) or .wav (16-bit PCM:
 * float32 [1, samples] on the int16 scale, as openWakeWord's melspectrogram model takes audio); and
 * calibration samples from .npy files or folders of them, split along the batch axis.
 */
import fs from 'node:fs';
import path from 'node:path';

import { EdgeInferError } from '../errors';
import { readNpy } from '../io/npy';
import { arrayClass, type Tensor, type TensorInfo } from '../tensor';
import { readWav16 } from '../wakeword/pipeline';

function usage(message: string, detail: Record<string, unknown> = {}): EdgeInferError {
  return new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', message, detail);
}

function readFile(file: string): Uint8Array {
  try {
    return new Uint8Array(fs.readFileSync(file));
  } catch (error) {
    throw usage(`cannot read ${file}: ${(error as Error).message}`, { file });
  }
}

function nestedDims(value: unknown): number[] {
  const dims: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    dims.push(level.length);
    level = level[0];
  }
  return dims;
}

/** One tensor from a .npy / .json / .wav file; `input` gives the type JSON numbers take. */
export function readTensorFile(file: string, input: TensorInfo): Tensor {
  const extension = path.extname(file).toLowerCase();
  const bytes = readFile(file);
  if (extension === '.npy') return readNpy(bytes, file);
  if (extension === '.wav') {
    let samples: Int16Array;
    try {
      samples = readWav16(bytes).samples;
    } catch (error) {
      throw usage(`${file}: ${(error as Error).message}`, { file });
    }
    return { type: 'float32', dims: [1, samples.length], data: Float32Array.from(samples) };
  }
  if (extension !== '.json') throw usage(`${file}: inputs are read from .npy, .json or .wav files`, { file });
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw usage(`${file}: not JSON (${(error as Error).message})`, { file });
  }
  const object = parsed as { dims?: unknown; data?: unknown };
  const explicit = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  const dims = explicit ? object.dims : nestedDims(parsed);
  const flat = explicit ? object.data : (parsed as unknown[]).flat(Infinity);
  if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw usage(`${file}: dims must be a list of non-negative integers`, { file });
  if (!Array.isArray(flat) || !flat.every((v) => typeof v === 'number' || typeof v === 'boolean')) throw usage(`${file}: data must be numbers`, { file });
  const count = (dims as number[]).reduce((a, b) => a * b, 1);
  if (flat.length !== count) throw usage(`${file}: ${flat.length} values for dims [${dims.join(', ')}] (${count})`, { file });
  const Ctor = arrayClass(input.type) as unknown as { from(values: unknown[]): Tensor['data'] };
  const integers64 = input.type === 'int64' || input.type === 'uint64';
  const values = integers64 ? flat.map((v) => BigInt(Math.trunc(Number(v)))) : flat.map(Number);
  return { type: input.type, dims: dims as number[], data: Ctor.from(values) };
}

/**
 * Feeds from `name=file` arguments; a bare file is the model's only input. Every input must be given once.
 */
export function readFeeds(args: readonly string[], inputs: readonly TensorInfo[]): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const arg of args) {
    const at = arg.indexOf('=');
    let name = at > 0 ? arg.slice(0, at) : undefined;
    const file = at > 0 ? arg.slice(at + 1) : arg;
    if (name === undefined) {
      if (inputs.length !== 1) throw usage(`the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}): give each as name=file`);
      name = inputs[0].name;
    }
    const input = inputs.find((i) => i.name === name);
    if (!input) throw usage(`the model has no input '${name}' (inputs: ${inputs.map((i) => i.name).join(', ')})`, { input: name });
    if (feeds[name]) throw usage(`input '${name}' is given twice`, { input: name });
    feeds[name] = readTensorFile(file, input);
  }
  const missing = inputs.filter((i) => !feeds[i.name]).map((i) => i.name);
  if (missing.length > 0) throw usage(`missing input${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} (give name=file.npy|.json|.wav)`, { missing });
  return feeds;
}

/** The .npy files of a path: the file itself, or a folder's .npy files in name order. */
export function npyFiles(target: string): string[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    throw usage(`calibration data ${target} does not exist`, { path: target });
  }
  if (stat.isFile()) return [target];
  const files = fs.readdirSync(target).filter((f) => f.toLowerCase().endsWith('.npy')).sort().map((f) => path.join(target, f));
  if (files.length === 0) throw usage(`${target} holds no .npy files`, { path: target });
  return files;
}

/**
 * Calibration feeds for a one-input model from .npy files, read one file at a time (nothing kept): a file of
 * the input's rank is split along axis 0 into batch-1 samples, a file one rank lower is one sample.
 */
export async function* npyCalibrationFeeds(files: readonly string[], input: TensorInfo): AsyncGenerator<Record<string, Tensor>> {
  const rank = input.dims.length;
  for (const file of files) {
    const tensor = readNpy(readFile(file), file);
    if (tensor.dims.length === rank - 1) {
      yield { [input.name]: { ...tensor, dims: [1, ...tensor.dims] } };
      continue;
    }
    if (tensor.dims.length !== rank) throw usage(`${file}: rank ${tensor.dims.length}, the input '${input.name}' has rank ${rank} [${input.dims.join(', ')}]`, { file });
    const rows = tensor.dims[0];
    const per = tensor.dims.slice(1).reduce((a, b) => a * b, 1);
    const data = tensor.data as unknown as { subarray(begin: number, end: number): Tensor['data'] };
    for (let r = 0; r < rows; r++) yield { [input.name]: { type: tensor.type, dims: [1, ...tensor.dims.slice(1)], data: data.subarray(r * per, (r + 1) * per) } };
  }
}

/** How many samples npyCalibrationFeeds will yield (headers only), for a progress bar's total. */
export function countNpySamples(files: readonly string[], rank: number): number | undefined {
  let total = 0;
  for (const file of files) {
    const head = new Uint8Array(4096);
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, 'r');
      fs.readSync(fd, head, 0, head.length, 0);
    } catch {
      return undefined;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(new TextDecoder('latin1').decode(head))?.[1];
    if (shape === undefined) return undefined;
    const dims = shape.split(',').map((d) => d.trim()).filter(Boolean).map(Number);
    total += dims.length === rank ? dims[0] : 1;
  }
  return total;
}
