/** Argument checks shared by the public calls. Each failure is an EdgeInferError naming the argument. */
import { types as nodeTypes } from 'node:util';

import { EdgeInferError } from './errors';

type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor;

export function invalid(message: string, detail?: Record<string, unknown>): EdgeInferError {
  return new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', message, detail);
}

export function shapeMismatch(message: string, detail?: Record<string, unknown>): EdgeInferError {
  return new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', message, detail);
}

function isDetached(buffer: ArrayBufferLike): boolean {
  if (buffer.byteLength !== 0) return false;
  try {
    new Uint8Array(buffer); // throws on a detached buffer
    return false;
  } catch {
    return true;
  }
}

// The intrinsic accessors, captured once: a typed array whose prototype was replaced (or whose own `length`
// was shadowed) cannot lie about its size to these.
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
const intrinsicLength = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'length')!.get!;
const intrinsicBuffer = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'buffer')!.get!;
// %TypedArray%.prototype[@@toStringTag] reads the [[TypedArrayName]] internal slot: the kind of a genuine typed
// array (from any realm), undefined for anything else, Proxies and look-alikes included. One call, no allocation.
const intrinsicKind = Object.getOwnPropertyDescriptor(typedArrayPrototype, Symbol.toStringTag)!.get!;

const intrinsicSlice = (typedArrayPrototype as { slice: (this: ArrayBufferView) => ArrayBufferView }).slice;

/** The typed-array kind of `value` ('Float32Array', …), or undefined for anything else, Proxies included. */
export function typedArrayKind(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null ? (intrinsicKind.call(value) as string | undefined) : undefined;
}

/**
 * A genuine typed array of this kind: not a Proxy around one (whose accessors throw a plain TypeError), and
 * recognised by its internal slots rather than `instanceof`, so arrays from another realm (vm, a worker's
 * transferred view) are accepted and forged prototypes are not.
 */
export function isTypedArrayOf(value: unknown, type: { name: string }): boolean {
  return typedArrayKind(value) === type.name;
}

/** A copy of a genuine typed array (same kind, its own ArrayBuffer), made by the intrinsic slice. */
export function copyTypedArray<T extends ArrayBufferView>(view: T): T {
  return intrinsicSlice.call(view) as T;
}

/** Element count of a genuine typed array, read through the intrinsic getter. */
export function typedArrayLength(view: ArrayBufferView): number {
  return intrinsicLength.call(view) as number;
}

const intrinsicByteOffset = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'byteOffset')!.get!;

/** A view of this realm's `Kind` on exactly the memory of a genuine typed array, whatever its own properties say. */
export function sameMemoryView<T extends ArrayBufferView>(view: ArrayBufferView, Kind: new (buffer: ArrayBufferLike, byteOffset: number, length: number) => T): T {
  return new Kind(intrinsicBuffer.call(view) as ArrayBufferLike, intrinsicByteOffset.call(view) as number, intrinsicLength.call(view) as number);
}

/** True when a genuine typed array's memory is a SharedArrayBuffer (another thread may write it at any time). */
export function isShared(view: ArrayBufferView): boolean {
  return nodeTypes.isSharedArrayBuffer(intrinsicBuffer.call(view));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (nodeTypes.isProxy(value)) return 'a Proxy';
  const kind = typedArrayKind(value);
  if (kind !== undefined) return kind;
  if (typeof value !== 'object') return typeof value;
  try {
    return String(Object.getPrototypeOf(value)?.constructor?.name ?? 'object');
  } catch {
    return 'object';
  }
}

/**
 * The value must be a typed array of one of `types` whose buffer is attached. SharedArrayBuffer-backed
 * arrays are accepted: async calls copy their inputs at submission, so another thread writing them later
 * cannot change a running call.
 */
export function checkTypedArray<T extends ArrayBufferView>(
  value: unknown,
  types: readonly TypedArrayConstructor[],
  name: string,
): asserts value is T {
  if (!types.some((type) => isTypedArrayOf(value, type))) {
    const got = describe(value);
    throw invalid(`${name} must be a ${types.map((type) => type.name).join(' or ')}, got ${got}`, {
      argument: name,
      expected: types.map((type) => type.name),
      got,
    });
  }
  const view = value as unknown as ArrayBufferView;
  if (view.byteLength === 0 && isDetached(view.buffer)) {
    throw invalid(`${name} is backed by a detached ArrayBuffer`, { argument: name });
  }
}

export function checkLength(view: { length: number }, expected: number, name: string): void {
  if (view.length !== expected) {
    throw shapeMismatch(`${name} has ${view.length} elements, expected ${expected}`, {
      argument: name,
      expected,
      got: view.length,
    });
  }
}

export function checkInteger(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`, { argument: name, got: value });
  }
  return value;
}

export function checkPositiveFinite(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalid(`${name} must be a finite number > 0, got ${String(value)}`, { argument: name, got: value });
  }
  return value;
}

export function checkOneOf<T extends string>(value: unknown, allowed: readonly T[], name: string): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw invalid(`${name} must be one of ${allowed.map((item) => `'${item}'`).join(', ')}, got ${String(value)}`, {
      argument: name,
      got: value,
    });
  }
  return value as T;
}

export function checkOptions(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(`${name} must be an options object`, { argument: name });
  }
  return value as Record<string, unknown>;
}

/** A number or a list of numbers as a Float32Array, every value checked with `check`. */
export function toFloat32Array(
  value: unknown,
  name: string,
  check: (item: number, itemName: string) => void,
): Float32Array {
  const values =
    typeof value === 'number'
      ? Float32Array.of(value)
      : value instanceof Float32Array
        ? value
        : Array.isArray(value) || ArrayBuffer.isView(value)
          ? Float32Array.from(value as ArrayLike<number>)
          : undefined;
  if (values === undefined) throw invalid(`${name} must be a number, an array of numbers or a Float32Array`, { argument: name });
  if (values.length === 0) throw invalid(`${name} must not be empty`, { argument: name });
  for (let i = 0; i < values.length; i++) check(values[i], `${name}[${i}]`);
  return values;
}
