/**
 * Liveness-based arena planning: every intermediate tensor gets a 64-byte aligned offset such that two
 * tensors alive at the same time never overlap. Greedy by size (largest first, lowest fitting offset), the
 * approach TFLite and ONNX Runtime use for static plans; tensors that alias (reshape-like copies) are
 * planned as one block with the union of their lifetimes.
 */

export interface PlannedBuffer {
  /** Bytes needed. */
  bytes: number;
  /** First step index that writes it. */
  first: number;
  /** Last step index that reads it (>= first). */
  last: number;
}

export interface MemoryPlan {
  offsets: number[];
  /** Arena size: the end of the highest block. */
  arenaBytes: number;
  /** Sum of all block sizes, what the arena would need without sharing. */
  unsharedBytes: number;
}

const alignment = 64;
const alignUp = (value: number) => Math.ceil(value / alignment) * alignment;

export function planMemory(buffers: readonly PlannedBuffer[]): MemoryPlan {
  const order = buffers.map((_, index) => index).sort((a, b) => buffers[b].bytes - buffers[a].bytes || buffers[a].first - buffers[b].first);
  const offsets = new Array<number>(buffers.length).fill(0);
  const placed: number[] = [];
  let arenaBytes = 0;
  let unsharedBytes = 0;
  for (const index of order) {
    const buffer = buffers[index];
    const size = alignUp(Math.max(1, buffer.bytes));
    unsharedBytes += size;
    // Blocks alive at the same time, by offset; take the first gap that fits.
    const conflicts = placed
      .filter((other) => buffers[other].first <= buffer.last && buffer.first <= buffers[other].last)
      .map((other) => ({ start: offsets[other], end: offsets[other] + alignUp(Math.max(1, buffers[other].bytes)) }))
      .sort((a, b) => a.start - b.start);
    let offset = 0;
    for (const block of conflicts) {
      if (offset + size <= block.start) break;
      offset = Math.max(offset, block.end);
    }
    offsets[index] = offset;
    arenaBytes = Math.max(arenaBytes, offset + size);
    placed.push(index);
  }
  return { offsets, arenaBytes, unsharedBytes };
}
