/**
 * A 64-byte aligned arena whose blocks are handed to JS as typed arrays pointing into native memory (no
 * copy). A view keeps the arena memory alive, even after dispose(); memory is reused after reset(), so a
 * view taken before a reset may see later data. In runtimes that refuse external buffers (Electron),
 * blocks are separate JS buffers instead; stats().zeroCopy says which.
 *
 * Sizes are 64-bit natively; a block may be as large as the runtime's largest ArrayBuffer
 * (buffer.constants.MAX_LENGTH: 4 GiB on Node 20) and the arena's capacity. Marks: see reset().
 */
import { constants as bufferConstants } from 'node:buffer';

import { callNative, EdgeInferError } from './errors';
import { native, type NativeArena } from './native';
import { checkInteger, checkOneOf, checkOptions, invalid } from './validate';

export interface ArenaOptions {
  /** Hard limit on reserved bytes, in [64, 2^46]; allocation past it throws EDGEINFER_OUT_OF_MEMORY. Default 256 MiB. */
  capacity?: number;
  /** Growth granularity in bytes, in [1, 2^46] (the last chunk is cut to the capacity). Default 1 MiB. */
  chunkSize?: number;
  /** Bytes reserved up front, at most the capacity. Default 0. */
  initialSize?: number;
}

export interface ArenaStats {
  capacity: number;
  reserved: number;
  used: number;
  peak: number;
  chunks: number;
  allocations: number;
  /** False when the runtime refused external buffers and blocks are copies. */
  zeroCopy: boolean;
}

const viewTypes = {
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
} as const;

export type ArenaDataType = keyof typeof viewTypes;
export type ArenaView<T extends ArenaDataType> = InstanceType<(typeof viewTypes)[T]>;
const dataTypes = Object.keys(viewTypes) as ArenaDataType[];

/** The largest block: what this runtime can make an ArrayBuffer of (Node refuses longer external buffers). */
const maxBlockBytes = bufferConstants.MAX_LENGTH;

export class Arena {
  #native: NativeArena | undefined;

  constructor(options?: ArenaOptions) {
    const o = checkOptions(options, 'options');
    const capacity = checkInteger(o.capacity ?? 256 * 2 ** 20, 'capacity', 64, 2 ** 46);
    const chunkSize = checkInteger(o.chunkSize ?? Math.min(2 ** 20, capacity), 'chunkSize', 1, 2 ** 46);
    const initialSize = checkInteger(o.initialSize ?? 0, 'initialSize', 0, capacity);
    this.#native = callNative(() => new native.NativeArena(capacity, chunkSize, initialSize, maxBlockBytes));
  }

  #live(): NativeArena {
    if (this.#native === undefined) throw new EdgeInferError('EDGEINFER_DISPOSED', 'the arena was disposed');
    return this.#native;
  }

  /**
   * An uninitialised view of `length` (>= 1) elements of `type`, 64-byte aligned, pointing into the arena.
   * A block larger than the runtime's largest ArrayBuffer is EDGEINFER_INVALID_ARGUMENT; one past the
   * capacity, EDGEINFER_OUT_OF_MEMORY. Either is refused before anything is allocated.
   */
  alloc<T extends ArenaDataType>(type: T, length: number): ArenaView<T> {
    const arena = this.#live();
    const dataType = checkOneOf(type, dataTypes, 'type');
    checkInteger(length, 'length', 1);
    const View = viewTypes[dataType];
    const bytes = length * View.BYTES_PER_ELEMENT; // exact: length <= 2^53 - 1, BYTES_PER_ELEMENT <= 8
    if (bytes > maxBlockBytes) {
      throw invalid(
        `${length} ${dataType} elements (${bytes} bytes) exceed the largest ArrayBuffer of this runtime (${maxBlockBytes} bytes)`,
        { argument: 'length', got: length, maxBytes: maxBlockBytes },
      );
    }
    const buffer = callNative(() => arena.alloc(length, View.BYTES_PER_ELEMENT));
    return new View(buffer, 0, length) as ArenaView<T>;
  }

  /** The current position; reset(mark) frees everything allocated after it. */
  mark(): number {
    return this.#live().mark();
  }

  /**
   * Frees every block allocated after `mark` (default 0: all). `mark` must be a value mark() returned that
   * is still valid: a reset below it invalidates it (a stale mark that again falls on the end of a live
   * block means the same as a fresh one). Any other number is EDGEINFER_INVALID_ARGUMENT and changes
   * nothing, so blocks stay 64-byte aligned and a reset never frees part of a block.
   */
  reset(mark = 0): void {
    const arena = this.#live();
    checkInteger(mark, 'mark', 0);
    callNative(() => arena.reset(mark));
  }

  /**
   * Runs `body` and frees what it allocated afterwards (also when it throws). scope() returns the body's
   * result or throws its error, always: when the body itself reset below the scope's mark (or disposed
   * the arena), the mark is no longer valid and the arena is left as the body left it. The body must be
   * synchronous: its blocks are freed when it returns, not when a promise it returns settles.
   */
  scope<R>(body: (arena: Arena) => R): R {
    const mark = this.mark();
    try {
      return body(this);
    } finally {
      const arena = this.#native;
      if (arena !== undefined && arena.mark() !== mark) {
        try {
          arena.reset(mark);
        } catch {
          // `mark` was invalidated by the body's own reset below it: nothing of the scope's to free.
        }
      }
    }
  }

  stats(): ArenaStats {
    return this.#live().stats();
  }

  get disposed(): boolean {
    return this.#native === undefined;
  }

  /** Releases the arena; its memory is freed once no view into it remains. Idempotent. */
  dispose(): void {
    this.#native?.dispose();
    this.#native = undefined;
  }
}
