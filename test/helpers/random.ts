/** A seeded PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomInt(next: () => number, lo: number, hi: number): number {
  return lo + Math.floor(next() * (hi - lo + 1));
}

export function fillInt<T extends Int8Array | Uint8Array | Int32Array>(array: T, next: () => number, lo: number, hi: number): T {
  for (let i = 0; i < array.length; i++) array[i] = randomInt(next, lo, hi);
  return array;
}

export function fillFloat(array: Float32Array, next: () => number, lo = -1, hi = 1): Float32Array {
  for (let i = 0; i < array.length; i++) array[i] = lo + (hi - lo) * next();
  return array;
}
