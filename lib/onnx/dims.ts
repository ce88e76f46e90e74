/**
 * Symbolic dimension arithmetic for shape inference. A Dim is a number or a symbol ("N"); products and
 * sums of symbols become expressions ("N*76", "(N+1)"); what cannot be expressed (a symbol divided by a
 * number that does not divide its factor) becomes undefined and the caller falls back to a fresh symbol.
 */
import { Dim } from './ir';

function wrap(expression: string): string {
  return /[+\-]/.test(expression) ? `(${expression})` : expression;
}

export function mulDim(a: Dim | undefined, b: Dim | undefined): Dim | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  if (a === 1) return b;
  if (b === 1) return a;
  if (a === 0 || b === 0) return 0;
  // Keep numbers last so that "N*76" is the canonical form and N*4*19 folds to N*76.
  if (typeof a === 'number') [a, b] = [b, a];
  if (typeof b === 'number') {
    const match = /^(.*)\*(\d+)$/.exec(a as string);
    if (match) return `${match[1]}*${Number(match[2]) * b}`;
    return `${wrap(a as string)}*${b}`;
  }
  return `${wrap(a as string)}*${wrap(b as string)}`;
}

export function divDim(a: Dim | undefined, b: Dim | undefined): Dim | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (typeof a === 'number' && typeof b === 'number') return b !== 0 && a % b === 0 ? a / b : undefined;
  if (b === 1) return a;
  if (a === b) return 1;
  if (typeof a === 'string') {
    if (typeof b === 'number') {
      const match = /^(.*)\*(\d+)$/.exec(a);
      if (match && Number(match[2]) % b === 0) return mulDim(match[1], Number(match[2]) / b);
    } else if (a.startsWith(`${wrap(b)}*`)) {
      const rest = a.slice(wrap(b).length + 1);
      return /^\d+$/.test(rest) ? Number(rest) : rest;
    }
  }
  return undefined;
}

export function addDim(a: Dim | undefined, b: Dim | undefined): Dim | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  if (typeof b === 'number' && b < 0) return `${a}-${-b}`;
  return `${a}+${b}`;
}

export function subDim(a: Dim | undefined, b: Dim | undefined): Dim | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (a === b) return 0;
  if (b === 0) return a;
  return `${a}-${wrap(String(b))}`;
}

/** Product of all dims (number when concrete, expression or undefined otherwise). */
export function sizeOf(shape: readonly Dim[]): Dim | undefined {
  let size: Dim | undefined = 1;
  for (const dim of shape) size = mulDim(size, dim);
  return size;
}

/**
 * Numpy-style broadcast of two shapes. Returns undefined when the shapes cannot broadcast (two different
 * concrete dims, neither 1). A symbol against a number n > 1 gives n; two different symbols give the first.
 */
export function broadcast(a: readonly Dim[], b: readonly Dim[]): Dim[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = new Array(rank);
  for (let i = 0; i < rank; i++) {
    const x = i - (rank - a.length) >= 0 ? a[i - (rank - a.length)] : 1;
    const y = i - (rank - b.length) >= 0 ? b[i - (rank - b.length)] : 1;
    if (x === y) out[i] = x;
    else if (x === 1) out[i] = y;
    else if (y === 1) out[i] = x;
    else if (typeof x === 'number' && typeof y === 'number') return undefined;
    else if (typeof x === 'number') out[i] = x;
    else if (typeof y === 'number') out[i] = y;
    else out[i] = x;
  }
  return out;
}

export function formatShape(shape: readonly Dim[] | undefined): string {
  return shape === undefined ? '(unknown)' : `[${shape.join(', ')}]`;
}

/** Normalizes a possibly negative axis for a rank; undefined when out of range. */
export function normalizeAxis(axis: number, rank: number): number | undefined {
  const a = axis < 0 ? axis + rank : axis;
  return Number.isInteger(a) && a >= 0 && a < rank ? a : undefined;
}
