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
  alloc(bytes: number): ArrayBuffer;
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
  kernels: { gemmS8: NativeKernelChoice; quantize: NativeKernelChoice; layerNormGelu: NativeKernelChoice };
}

/** Activation codes shared with the core's edgeinfer::Activation. */
export const NativeActivation = { None: 0, Relu: 1, GeluErf: 2, GeluTanh: 3 } as const;
export type NativeActivation = (typeof NativeActivation)[keyof typeof NativeActivation];

export interface NativeAddon {
  NativeArena: new (capacity: number, chunkSize: number, initialSize: number) => NativeArena;
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
  simdInfo(): NativeSimdInfo;
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
