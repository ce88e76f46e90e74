/**
 * INT8 GEMM: uint8/int8 activations with a per-tensor zero point times int8 symmetric weights with
 * per-output-channel scales, int32 accumulation. Weights are packed once for the kernel this CPU runs.
 */
import { awaitNative, callNative, EdgeInferError } from './errors';
import { NativeActivation, native, type NativePackedWeights } from './native';
import {
  checkInteger,
  checkLength,
  checkOneOf,
  checkOptions,
  checkPositiveFinite,
  checkTypedArray,
  invalid,
  shapeMismatch,
  toFloat32Array,
} from './validate';

export type WeightLayout = 'kn' | 'nk';
export type GemmActivation = 'none' | 'relu' | 'gelu' | 'gelu_tanh';

export interface PackWeightsOptions {
  /** Rows of the weight matrix in ONNX MatMul terms (the reduction dimension). */
  k: number;
  /** Output channels. */
  n: number;
  /** 'kn': weights[k * n + j] (ONNX MatMul B, default); 'nk': weights[j * k + i] (Gemm transB, Linear). */
  layout?: WeightLayout;
  /** Per-output-channel scales (n values) or one scale; used for float32 output. Default 1. */
  scales?: number | ArrayLike<number>;
  /** Per-output-channel bias added to float32 output. */
  bias?: ArrayLike<number>;
}

/** Weights packed for the GEMM kernel. Holds native memory until dispose() or collection. */
export class PackedWeights {
  /** @internal */
  readonly native: NativePackedWeights;
  readonly k: number;
  readonly n: number;

  /** @internal use packWeights() */
  constructor(packed: NativePackedWeights) {
    this.native = packed;
    this.k = packed.k;
    this.n = packed.n;
  }

  /** Bytes of native memory held (packed weights, column sums, scales, bias). */
  get bytes(): number {
    return this.native.bytes;
  }

  /** The kernel the weights were packed for, e.g. "qs8_gemm_8x48c4__avx512vnni". */
  get kernel(): string | undefined {
    return this.native.kernel;
  }

  get disposed(): boolean {
    return this.native.disposed;
  }

  /** Frees the packed memory now; calls still running keep their own reference. Idempotent. */
  dispose(): void {
    this.native.dispose();
  }
}

export function packWeights(weights: Int8Array, options: PackWeightsOptions): PackedWeights {
  checkTypedArray<Int8Array>(weights, [Int8Array], 'weights');
  const o = checkOptions(options, 'options');
  const k = checkInteger(o.k, 'k', 1, 2 ** 24);
  const n = checkInteger(o.n, 'n', 1, 2 ** 24);
  const layout = checkOneOf(o.layout ?? 'kn', ['kn', 'nk'] as const, 'layout');
  checkLength(weights, k * n, 'weights');
  const scales =
    o.scales === undefined
      ? null
      : toFloat32Array(o.scales, 'scales', (value, name) => {
          checkPositiveFinite(value, name);
        });
  if (scales !== null && scales.length !== 1 && scales.length !== n) {
    throw shapeMismatch(`scales has ${scales.length} values, expected 1 or n = ${n}`, { argument: 'scales', expected: n, got: scales.length });
  }
  const bias =
    o.bias === undefined
      ? null
      : toFloat32Array(o.bias, 'bias', (value, name) => {
          if (!Number.isFinite(value)) throw invalid(`${name} must be finite, got ${value}`, { argument: name });
        });
  if (bias !== null) checkLength(bias, n, 'bias');
  return new PackedWeights(callNative(() => native.packWeights(weights, k, n, layout === 'nk', scales, bias)));
}

interface GemmCommonOptions {
  /** Rows of the activation matrix. */
  m: number;
  /** Elements between the starts of two activation rows. Default k. */
  lda?: number;
  /** Zero point of the activations: 0..255 for Uint8Array, -128..127 for Int8Array. Default 0. */
  aZeroPoint?: number;
  /** Elements between the starts of two output rows. Default n. */
  ldc?: number;
}

export interface GemmInt32Options extends GemmCommonOptions {
  output?: 'int32';
  /** Where to write the m x n int32 result (a new array when omitted). */
  out?: Int32Array;
}

export interface GemmFloat32Options extends GemmCommonOptions {
  output: 'float32';
  /** Scale of the activations; output = act(aScale * scale[n] * acc + bias[n]). Default 1. */
  aScale?: number;
  activation?: GemmActivation;
  out?: Float32Array;
}

export type GemmOptions = GemmInt32Options | GemmFloat32Options;

const activationCodes: Record<GemmActivation, NativeActivation> = {
  none: NativeActivation.None,
  relu: NativeActivation.Relu,
  gelu: NativeActivation.GeluErf,
  gelu_tanh: NativeActivation.GeluTanh,
};

interface GemmCall {
  a: Uint8Array | Int8Array;
  m: number;
  lda: number;
  aSigned: boolean;
  aZeroPoint: number;
  weights: NativePackedWeights;
  out: Int32Array | Float32Array;
  ldc: number;
  aScale: number;
  activation: NativeActivation;
}

function prepareGemm(a: Uint8Array | Int8Array, weights: PackedWeights, options: GemmOptions): GemmCall {
  checkTypedArray<Uint8Array | Int8Array>(a, [Uint8Array, Int8Array], 'a');
  if (!(weights instanceof PackedWeights)) throw invalid('weights must be a PackedWeights made by packWeights()', { argument: 'weights' });
  if (weights.disposed) throw new EdgeInferError('EDGEINFER_DISPOSED', 'the PackedWeights were disposed');
  const o = checkOptions(options, 'options');
  const { k, n } = weights;
  const m = checkInteger(o.m, 'm', 1, 2 ** 31);
  const lda = checkInteger(o.lda ?? k, 'lda', k, 2 ** 31);
  const ldc = checkInteger(o.ldc ?? n, 'ldc', n, 2 ** 31);
  const aSigned = a instanceof Int8Array;
  const aZeroPoint = checkInteger(o.aZeroPoint ?? 0, 'aZeroPoint', aSigned ? -128 : 0, aSigned ? 127 : 255);
  const output = checkOneOf(o.output ?? 'int32', ['int32', 'float32'] as const, 'output');
  const needA = (m - 1) * lda + k;
  if (a.length < needA) throw shapeMismatch(`a has ${a.length} elements, needs ${needA} for m=${m} rows of k=${k}`, { argument: 'a', expected: needA, got: a.length });
  const needOut = (m - 1) * ldc + n;
  let out: Int32Array | Float32Array;
  if (o.out === undefined) {
    out = output === 'int32' ? new Int32Array(needOut) : new Float32Array(needOut);
  } else {
    checkTypedArray<Int32Array | Float32Array>(o.out, [output === 'int32' ? Int32Array : Float32Array], 'out');
    out = o.out;
    if (out.length < needOut) throw shapeMismatch(`out has ${out.length} elements, needs ${needOut}`, { argument: 'out', expected: needOut, got: out.length });
  }
  let aScale = 1;
  let activation: NativeActivation = NativeActivation.None;
  if (output === 'float32') {
    aScale = checkPositiveFinite(o.aScale ?? 1, 'aScale');
    activation = activationCodes[checkOneOf(o.activation ?? 'none', ['none', 'relu', 'gelu', 'gelu_tanh'] as const, 'activation')];
  } else if (o.aScale !== undefined || (o.activation !== undefined && o.activation !== 'none')) {
    throw invalid("aScale and activation need output: 'float32'");
  }
  return { a, m, lda, aSigned, aZeroPoint, weights: weights.native, out, ldc, aScale, activation };
}

function invoke(call: GemmCall, async: boolean): Promise<void> | undefined {
  return native.gemmS8(
    call.a, call.m, call.lda, call.aSigned, call.aZeroPoint, call.weights, call.out, call.ldc, call.aScale, call.activation, async,
  );
}

/** C = (A - aZeroPoint) · W, off the JS thread. Resolves to `out` (or a new array). */
export async function gemmS8(a: Uint8Array | Int8Array, weights: PackedWeights, options: GemmFloat32Options): Promise<Float32Array>;
export async function gemmS8(a: Uint8Array | Int8Array, weights: PackedWeights, options: GemmInt32Options): Promise<Int32Array>;
export async function gemmS8(a: Uint8Array | Int8Array, weights: PackedWeights, options: GemmOptions): Promise<Int32Array | Float32Array> {
  const call = prepareGemm(a, weights, options);
  await awaitNative(callNative(() => invoke(call, true)) as Promise<void>);
  return call.out;
}

/** The synchronous form of gemmS8, for small products where a thread hop costs more than the work. */
export function gemmS8Sync(a: Uint8Array | Int8Array, weights: PackedWeights, options: GemmFloat32Options): Float32Array;
export function gemmS8Sync(a: Uint8Array | Int8Array, weights: PackedWeights, options: GemmInt32Options): Int32Array;
export function gemmS8Sync(a: Uint8Array | Int8Array, weights: PackedWeights, options: GemmOptions): Int32Array | Float32Array {
  const call = prepareGemm(a, weights, options);
  callNative(() => invoke(call, false));
  return call.out;
}
