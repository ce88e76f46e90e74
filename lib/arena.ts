/**
 * A 64-byte aligned arena whose blocks are handed to JS as typed arrays pointing into native memory (no
 * copy). A view keeps the arena memory alive, even after dispose(); memory is reused after reset(), so a
 * view taken before a reset may see later data. In runtimes that refuse external buffers (Electron),
 * blocks are separate JS buffers instead; stats().zeroCopy says which.
 */
import { callNative, EdgeInferError } from './errors';
import { native, type NativeArena } from './native';
import { checkInteger, checkOneOf, checkOptions } from './validate';

export interface ArenaOptions {
  /** Hard limit on reserved bytes; allocation past it throws EDGEINFER_OUT_OF_MEMORY. Default 256 MiB. */
  capacity?: number;
  /** Growth granularity in bytes. Default 1 MiB. */
  chunkSize?: number;
  /** Bytes reserved up front. Default 0. */
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

export class Arena {
  #native: NativeArena | undefined;

  constructor(options?: ArenaOptions) {
    const o = checkOptions(options, 'options');
    const capacity = checkInteger(o.capacity ?? 256 * 2 ** 20, 'capacity', 1, 2 ** 46);
    const chunkSize = checkInteger(o.chunkSize ?? Math.min(2 ** 20, capacity), 'chunkSize', 1, 2 ** 46);
    const initialSize = checkInteger(o.initialSize ?? 0, 'initialSize', 0, capacity);
    this.#native = callNative(() => new native.NativeArena(capacity, chunkSize, initialSize));
  }

  #live(): NativeArena {
    if (this.#native === undefined) throw new EdgeInferError('EDGEINFER_DISPOSED', 'the arena was disposed');
    return this.#native;
  }

  /** An uninitialised view of `length` elements of `type`, 64-byte aligned, pointing into the arena. */
  alloc<T extends ArenaDataType>(type: T, length: number): ArenaView<T> {
    const arena = this.#live();
    const dataType = checkOneOf(type, dataTypes, 'type');
    checkInteger(length, 'length', 1, 2 ** 46);
    const View = viewTypes[dataType];
    const buffer = callNative(() => arena.alloc(length * View.BYTES_PER_ELEMENT));
    return new View(buffer, 0, length) as ArenaView<T>;
  }

  /** The current position; reset(mark) frees everything allocated after it. */
  mark(): number {
    return this.#live().mark();
  }

  reset(mark = 0): void {
    const arena = this.#live();
    checkInteger(mark, 'mark', 0);
    callNative(() => arena.reset(mark));
  }

  /** Runs `body` and frees what it allocated afterwards (also when it throws). */
  scope<R>(body: (arena: Arena) => R): R {
    const mark = this.mark();
    try {
      return body(this);
    } finally {
      if (this.#native !== undefined) this.reset(mark);
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
