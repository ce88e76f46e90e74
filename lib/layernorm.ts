/**
 * LayerNormalization over the last dimension, GELU (exact erf form or tanh approximation), and the two
 * fused in one pass over memory per row.
 */
import { awaitNative, callNative } from './errors';
import { NativeActivation, native } from './native';
import { checkInteger, checkLength, checkOneOf, checkOptions, checkTypedArray, invalid, shapeMismatch } from './validate';

export type GeluApproximation = 'none' | 'tanh';

export interface LayerNormOptions {
  /** Length of the normalised (last) dimension; x.length must be a multiple of it. */
  width: number;
  /** Scale per position of the row (width values). Default all ones. */
  gamma?: Float32Array;
  /** Shift per position of the row (width values). Default all zeros. */
  beta?: Float32Array;
  /** Added to the variance. Default 1e-5. */
  epsilon?: number;
  /** Apply GELU to the result in the same pass. Default 'none'. */
  activation?: 'none' | 'gelu' | 'gelu_tanh';
  /** Output (may be x itself). Default: a new array. */
  out?: Float32Array;
}

export type LayerNormGeluOptions = Omit<LayerNormOptions, 'activation'> & { approximate?: GeluApproximation };

export interface GeluOptions {
  approximate?: GeluApproximation;
  out?: Float32Array;
}

interface LayerNormCall {
  x: Float32Array;
  y: Float32Array;
  rows: number;
  width: number;
  gamma: Float32Array | null;
  beta: Float32Array | null;
  epsilon: number;
  activation: NativeActivation;
}

const layerNormActivations = { none: NativeActivation.None, gelu: NativeActivation.GeluErf, gelu_tanh: NativeActivation.GeluTanh };

function outputFor(x: Float32Array, out: unknown): Float32Array {
  if (out === undefined) return new Float32Array(x.length);
  checkTypedArray<Float32Array>(out, [Float32Array], 'out');
  checkLength(out, x.length, 'out');
  return out;
}

function prepareLayerNorm(x: Float32Array, options: LayerNormOptions): LayerNormCall {
  checkTypedArray<Float32Array>(x, [Float32Array], 'x');
  const o = checkOptions(options, 'options');
  const width = checkInteger(o.width, 'width', 1, 2 ** 31);
  if (x.length === 0 || x.length % width !== 0) {
    throw shapeMismatch(`x has ${x.length} elements, not a positive multiple of width ${width}`, { argument: 'x', expected: `k * ${width}`, got: x.length });
  }
  const row = (value: unknown, name: string): Float32Array | null => {
    if (value === undefined) return null;
    checkTypedArray<Float32Array>(value, [Float32Array], name);
    checkLength(value, width, name);
    return value;
  };
  const epsilon = o.epsilon ?? 1e-5;
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon < 0) throw invalid(`epsilon must be a finite number >= 0, got ${String(epsilon)}`, { argument: 'epsilon' });
  const activation = layerNormActivations[checkOneOf(o.activation ?? 'none', ['none', 'gelu', 'gelu_tanh'] as const, 'activation')];
  return { x, y: outputFor(x, o.out), rows: x.length / width, width, gamma: row(o.gamma, 'gamma'), beta: row(o.beta, 'beta'), epsilon, activation };
}

function runLayerNorm(c: LayerNormCall, async: boolean) {
  return native.layerNorm(c.x, c.y, c.rows, c.width, c.gamma, c.beta, c.epsilon, c.activation, async);
}

export async function layerNorm(x: Float32Array, options: LayerNormOptions): Promise<Float32Array> {
  const call = prepareLayerNorm(x, options);
  await awaitNative(callNative(() => runLayerNorm(call, true)) as Promise<void>);
  return call.y;
}

export function layerNormSync(x: Float32Array, options: LayerNormOptions): Float32Array {
  const call = prepareLayerNorm(x, options);
  callNative(() => runLayerNorm(call, false));
  return call.y;
}

function fusedOptions(options: LayerNormGeluOptions): LayerNormOptions {
  const o = checkOptions(options, 'options');
  const approximate = checkOneOf(o.approximate ?? 'none', ['none', 'tanh'] as const, 'approximate');
  return { ...(o as unknown as LayerNormOptions), activation: approximate === 'tanh' ? 'gelu_tanh' : 'gelu' };
}

/** LayerNorm then GELU in one pass over memory per row. */
export function layerNormGelu(x: Float32Array, options: LayerNormGeluOptions): Promise<Float32Array> {
  return layerNorm(x, fusedOptions(options));
}

export function layerNormGeluSync(x: Float32Array, options: LayerNormGeluOptions): Float32Array {
  return layerNormSync(x, fusedOptions(options));
}

interface GeluCall {
  x: Float32Array;
  y: Float32Array;
  tanh: boolean;
}

function prepareGelu(x: Float32Array, options: GeluOptions | undefined): GeluCall {
  checkTypedArray<Float32Array>(x, [Float32Array], 'x');
  const o = checkOptions(options, 'options');
  if (x.length === 0) throw invalid('x must not be empty', { argument: 'x' });
  const approximate = checkOneOf(o.approximate ?? 'none', ['none', 'tanh'] as const, 'approximate');
  return { x, y: outputFor(x, o.out), tanh: approximate === 'tanh' };
}

export async function gelu(x: Float32Array, options?: GeluOptions): Promise<Float32Array> {
  const call = prepareGelu(x, options);
  await awaitNative(callNative(() => native.gelu(call.x, call.y, call.x.length, call.tanh, true)) as Promise<void>);
  return call.y;
}

export function geluSync(x: Float32Array, options?: GeluOptions): Float32Array {
  const call = prepareGelu(x, options);
  callNative(() => native.gelu(call.x, call.y, call.x.length, call.tanh, false));
  return call.y;
}
