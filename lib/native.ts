/**
 * Loads the addon (a prebuild from prebuilds/<platform>-<arch>/ or a local build/Release) and types its
 * surface by hand. Arguments reaching these functions were already validated by lib/; the addon checks
 * sizes again and never trusts them.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface NativeArenaStats {
  capacity: number;
  reserved: number;
  used: number;
  peak: number;
  chunks: number;
  allocations: number;
  zeroCopy: boolean;
}

export interface NativeArena {
  /** A block of length * elementSize bytes (checked again natively, 64-bit). */
  alloc(length: number, elementSize: number): ArrayBuffer;
  mark(): number;
  reset(mark?: number): void;
  stats(): NativeArenaStats;
  dispose(): void;
}

export interface NativePackedWeights {
  readonly k: number;
  readonly n: number;
  readonly bytes: number;
  readonly kernel: string;
  readonly disposed: boolean;
  dispose(): void;
}

export interface NativeKernelChoice {
  kernel: string;
  isa: string;
  compiled: { kernel: string; isa: string; supported: boolean }[];
}

export interface NativeSimdInfo {
  arch: 'x64' | 'arm64' | 'unknown';
  features: string[];
  isa: string;
  forced: boolean;
  /** gemmF32 also serves Conv (NCHW panels and the channels-last igemm tiles). */
  kernels: { gemmS8: NativeKernelChoice; quantize: NativeKernelChoice; layerNormGelu: NativeKernelChoice; gemmF32: NativeKernelChoice };
}

/** Activation codes shared with the core's edgeinfer::Activation. */
export const NativeActivation = { None: 0, Relu: 1, GeluErf: 2, GeluTanh: 3 } as const;
export type NativeActivation = (typeof NativeActivation)[keyof typeof NativeActivation];

/**
 * One tensor slot of a native plan (cpp/include/edgeinfer/plan.h): ONNX dtype code, concrete dims, and where
 * it lives: 0 arena (byte `offset`, 64-byte aligned), 1 constant (`constant` bytes), 2 input / 3 output
 * (`binding` = index into run()'s inputs / outputs).
 */
export interface NativePlanTensor {
  dtype: number;
  dims: number[];
  storage: 0 | 1 | 2 | 3;
  offset: number;
  binding: number;
  constant?: ArrayBufferView;
}

/** One kernel call; attribute encodings per op are documented in plan.h. -1 marks an omitted input. */
export interface NativePlanStep {
  op: string;
  name: string;
  inputs: number[];
  outputs: number[];
  ints: number[];
  floats: number[];
}

/** A lowered model for createModel(); the native side validates every field before anything runs. */
export interface NativePlanDesc {
  tensors: NativePlanTensor[];
  steps: NativePlanStep[];
  inputs: number[];
  outputs: number[];
  arenaBytes: number;
  /** Branches of If steps: their steps use the root's tensors; `outputs` are copied into the If's outputs. */
  subplans: { steps: NativePlanStep[]; outputs: number[] }[];
}

/** The brief's name for NativePlanDesc. */
export type PlanDesc = NativePlanDesc;

export interface NativeModelOptions {
  threads: number;
  precision: 'float32' | 'int8';
  /** Time every step; stats().steps then carry calls and totalNanoseconds. Default false. */
  profile?: boolean;
}

export interface NativeModelStats {
  arenaBytes: number;
  scratchBytes: number;
  /** Packed / quantized weights owned by the prepared kernels. */
  weightBytes: number;
  /** Constant tensors of the plan. */
  constantBytes: number;
  runs: number;
  threads: number;
  /** Off-thread runs, and the bytes and wall time of their input copies and output deliveries. */
  asyncCalls: number;
  asyncCopyBytes: number;
  asyncCopyNanoseconds: number;
  /** calls / totalNanoseconds stay 0 unless the model was created with profile: true. */
  steps: { op: string; name: string; kernel: string; calls: number; totalNanoseconds: number }[];
}

/** A plan prepared for the native executor; made only by createModel(). */
export interface NativeModel {
  readonly disposed: boolean;
  /**
   * Buffers in binding order, each the typed array of its slot's dtype (float32: Float32Array, int64:
   * BigInt64Array, bool: Uint8Array, …) with exactly the slot's element count. Sync: inputs are read and
   * outputs written in place. Async returns a promise; inputs are copied before it returns and outputs are
   * written at settlement into the arrays, if they are still attached and large enough (else it rejects).
   */
  run(inputs: ArrayBufferView[], outputs: (ArrayBufferView | null)[], async: false, observers?: (NativeCalibrator | null)[]): undefined;
  run(inputs: ArrayBufferView[], outputs: (ArrayBufferView | null)[], async: true, observers?: (NativeCalibrator | null)[]): Promise<void>;
  /**
   * observers[i], when given, receives output i as one calibration batch on the thread that ran the model;
   * outputs[i] is then null and the values never reach JS.
   */
  run(inputs: ArrayBufferView[], outputs: (ArrayBufferView | null)[], async: boolean, observers?: (NativeCalibrator | null)[]): Promise<void> | undefined;
  stats(): NativeModelStats;
  dispose(): void;
}

export interface NativeCalibratorStats {
  bins: number;
  /** Finite values added. */
  count: number;
  nanCount: number;
  infCount: number;
  /** add() calls that held a finite value. */
  batches: number;
  /** NaN until a finite value was added. */
  min: number;
  max: number;
  movingMin: number;
  movingMax: number;
  /** 0 while every finite value was zero. */
  binWidth: number;
}

/** A calibrated range and the 8-bit parameters that follow (cpp/calib/threshold.h). */
export interface NativeCalibration {
  scale: number;
  zeroPoint: number;
  qmin: number;
  qmax: number;
  /** The chosen clipping range, widened to include 0. */
  min: number;
  max: number;
  threshold: number;
}

/** One tensor's streaming statistics; methods throw EDGEINFER_DISPOSED after dispose(). */
export interface NativeCalibrator {
  readonly disposed: boolean;
  /** Sync reads the values in place; async copies them first and returns a promise. */
  add(values: Float32Array, async: false): undefined;
  add(values: Float32Array, async: true): Promise<void>;
  /** method: 'minmax' | 'percentile' | 'entropy' | 'mse'; dtype: 'int8' | 'uint8'; percentile in (0, 100]. */
  compute(method: string, symmetric: boolean, dtype: string, percentile: number, movingAverage: boolean, async: false): NativeCalibration;
  compute(method: string, symmetric: boolean, dtype: string, percentile: number, movingAverage: boolean, async: true): Promise<NativeCalibration>;
  stats(): NativeCalibratorStats;
  /** A copy of the 2 * bins signed counts, ascending by value; edges at (k - bins) * binWidth. */
  histogram(): Float64Array;
  dispose(): void;
}

export interface NativeCalibratorConstructor {
  /** bins: histogram bins per side of zero, [8, 2^20]; averagingConstant in (0, 1]. */
  new (bins: number, averagingConstant: number): NativeCalibrator;
  /** Per-channel parameters of x viewed as [outer, channels, inner], from each channel's min / max. */
  channelParams(
    x: Float32Array,
    outer: number,
    channels: number,
    inner: number,
    symmetric: boolean,
    dtype: string,
  ): { scales: Float32Array; zeroPoints: Int32Array };
}

/** An opaque handle (an N-API external) to a native precise timer. */
export type NativePreciseTimer = { readonly __brand: 'NativePreciseTimer' };

export interface NativeAddon {
  NativeCalibrator: NativeCalibratorConstructor;
  /** maxBlockBytes: the largest ArrayBuffer of the runtime (buffer.constants.MAX_LENGTH); 2^32 when omitted. */
  NativeArena: new (capacity: number, chunkSize: number, initialSize: number, maxBlockBytes?: number) => NativeArena;
  /** Made only by packWeights(); constructing it directly throws. */
  PackedWeights: abstract new () => NativePackedWeights;
  packWeights(
    weights: Int8Array,
    k: number,
    n: number,
    layoutNK: boolean,
    scales: Float32Array | null,
    bias: Float32Array | null,
  ): NativePackedWeights;
  gemmS8(
    a: Uint8Array | Int8Array,
    m: number,
    lda: number,
    aSigned: boolean,
    aZeroPoint: number,
    weights: NativePackedWeights,
    out: Int32Array | Float32Array,
    ldc: number,
    aScale: number,
    activation: NativeActivation,
    async: boolean,
  ): Promise<void> | undefined;
  quantize(
    x: Float32Array,
    y: Int8Array | Uint8Array,
    outer: number,
    channels: number,
    inner: number,
    scales: Float32Array,
    zeroPoints: Int32Array,
    async: boolean,
  ): Promise<void> | undefined;
  dequantize(
    q: Int8Array | Uint8Array,
    x: Float32Array,
    outer: number,
    channels: number,
    inner: number,
    scales: Float32Array,
    zeroPoints: Int32Array,
    async: boolean,
  ): Promise<void> | undefined;
  layerNorm(
    x: Float32Array,
    y: Float32Array,
    rows: number,
    width: number,
    gamma: Float32Array | null,
    beta: Float32Array | null,
    epsilon: number,
    activation: NativeActivation,
    async: boolean,
  ): Promise<void> | undefined;
  gelu(x: Float32Array, y: Float32Array, n: number, tanhApproximation: boolean, async: boolean): Promise<void> | undefined;
  /**
   * File bytes [offset, offset + length) as an ArrayBuffer of exactly `length` bytes over a private memory map
   * (zero copy; unmapped when the buffer is collected). Treat it as read-only: V8 cannot enforce that, and a
   * write only changes a private copy of the page, never the file. A copy where the runtime refuses
   * external buffers (see externalBuffersEnabled). The file must not be truncated while mapped (SIGBUS).
   * Missing file, range past the end, non-integer or negative numbers: EDGEINFER_INVALID_ARGUMENT.
   */
  mapFile(path: string, offset: number, length: number): ArrayBuffer;
  /** False once the runtime refused an external ArrayBuffer or EDGEINFER_NO_EXTERNAL_BUFFERS=1: mapFile copies. */
  externalBuffersEnabled(): boolean;
  simdInfo(): NativeSimdInfo;
  /**
   * A one-deadline timer with microsecond resolution (a thread of its own; libuv timers count milliseconds):
   * `callback` runs on the event loop when a deadline set by preciseTimerStart passes. Armed it keeps the loop
   * alive, idle it does not. Used through lib/precise-timer.ts.
   */
  createPreciseTimer(callback: () => void): NativePreciseTimer;
  /** Fires once, `micros` from now, replacing any earlier deadline. */
  preciseTimerStart(timer: NativePreciseTimer, micros: number): void;
  preciseTimerCancel(timer: NativePreciseTimer): void;
  /** Stops its thread; the handle is dead afterwards (EDGEINFER_DISPOSED). */
  preciseTimerClose(timer: NativePreciseTimer): void;
  /** Index of the first NaN or ±Infinity, or -1 (a vectorised scan, in place, synchronous). */
  firstNonFinite(values: Float32Array | Float64Array): number;
  /** Made only by createModel(); constructing it directly throws. */
  NativeModel: abstract new () => NativeModel;
  /** Validates the plan (EDGEINFER_MODEL_INVALID / _UNSUPPORTED_OP naming the step) and prepares every step. */
  createModel(plan: NativePlanDesc, options: NativeModelOptions): NativeModel;
  /** The step ops the runtime registered (NativePlanStep.op values): the C++ side of lib/onnx/ops. */
  stepOps(): string[];
}

/** The package root: the nearest folder above this file with a package.json (dist/, lib/ or a compiled test tree). */
function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return path.join(__dirname, '..');
    dir = parent;
  }
  return dir;
}

/**
 * EDGEINFER_ADDON=<file.node> loads that binary instead of the usual search (prebuilds/, build/Release):
 * used to test the arm64 build under emulation next to an x64 build in the same checkout.
 */
function loadAddon(): NativeAddon {
  const override = process.env.EDGEINFER_ADDON;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (override) return require(path.resolve(override)) as NativeAddon;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('node-gyp-build')(packageRoot()) as NativeAddon;
}

export const native: NativeAddon = loadAddon();
