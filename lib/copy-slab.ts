/**
 * Copies of small typed arrays carved out of shared 256 KiB ArrayBuffers. A queued request needs its own copy
 * of its inputs (the caller may reuse them at once). One ArrayBuffer per copy costs more than the copy itself
 * for a wake-word head's 6 KB window (~1.2 µs vs ~0.5 µs), and at 200 000 requests/s its external memory makes
 * V8 scavenge every few ms, each pause landing on the latency tail. A slab whose copies were all released
 * is reused; one still referenced is left to the garbage collector. Large arrays get a buffer of their own.
 */
import { copyTypedArray, typedArrayKind, typedArrayLength } from './validate';

const slabBytes = 256 * 1024;
/** Larger copies get an ArrayBuffer of their own (they would waste too much of a slab, and gain little). */
const largestSlabCopy = slabBytes / 8;
/** Emptied slabs kept for reuse; more go to the garbage collector. */
const sparesKept = 4;

type ViewClass = (new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView & { set(source: ArrayLike<number | bigint>): void }) & {
  BYTES_PER_ELEMENT: number;
};

interface Slab {
  buffer: ArrayBuffer;
  /** Copies handed out and not yet released. */
  live: number;
}

export class CopySlab {
  readonly #recycle: boolean;
  #current: Slab = { buffer: new ArrayBuffer(0), live: 0 };
  #offset = 0;
  readonly #spares: Slab[] = [];
  readonly #byBuffer = new WeakMap<ArrayBuffer, Slab>();

  /**
   * recycle: the owner calls release() for every copy once nothing reads it any more, so its memory can be
   * handed out again. Without it slabs are only ever freed by the garbage collector.
   */
  constructor(options: { recycle: boolean }) {
    this.#recycle = options.recycle;
  }

  /** A copy of a genuine typed array (same kind, this realm's class). */
  copy<T extends ArrayBufferView>(view: T): T {
    const Kind = (globalThis as unknown as Record<string, ViewClass>)[typedArrayKind(view)!];
    const length = typedArrayLength(view);
    const bytes = length * Kind.BYTES_PER_ELEMENT;
    if (bytes > largestSlabCopy || bytes === 0) return copyTypedArray(view);
    // 8-byte alignment keeps every kind (Float64Array, BigInt64Array) aligned.
    let offset = (this.#offset + 7) & ~7;
    if (offset + bytes > this.#current.buffer.byteLength) {
      this.#retire(this.#current);
      this.#current = this.#spares.pop() ?? this.#newSlab();
      offset = 0;
    }
    this.#offset = offset + bytes;
    this.#current.live++;
    const copy = new Kind(this.#current.buffer, offset, length);
    copy.set(view as unknown as ArrayLike<number>);
    return copy as unknown as T;
  }

  /** The copy is no longer read by anyone: its slab may be reused once all its copies are released. */
  release(copy: ArrayBufferView): void {
    if (!this.#recycle) return;
    const slab = this.#byBuffer.get(copy.buffer as ArrayBuffer);
    if (slab === undefined) return; // a copy with a buffer of its own
    slab.live--;
    if (slab !== this.#current) this.#retire(slab);
  }

  #newSlab(): Slab {
    const slab = { buffer: new ArrayBuffer(slabBytes), live: 0 };
    if (this.#recycle) this.#byBuffer.set(slab.buffer, slab);
    return slab;
  }

  /** A slab that is no longer carved from: back to the spares once empty. */
  #retire(slab: Slab): void {
    if (this.#recycle && slab.live === 0 && slab.buffer.byteLength > 0 && this.#spares.length < sparesKept && !this.#spares.includes(slab)) {
      this.#spares.push(slab);
    }
  }
}
