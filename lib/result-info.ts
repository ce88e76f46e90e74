/**
 * Which model version and backend produced a result. Kept on the outputs object under a private symbol,
 * non-enumerable: the outputs keep exactly one enumerable key per model output (Object.keys, spread, JSON and
 * structuredClone see only those), and the record goes with them. Not a WeakMap: at 200 000 requests/s its
 * ephemeron entries made every young-generation collection ~0.4 ms longer, which was the alexa head's latency
 * tail through the BatchScheduler (p99 1.07 ms with the WeakMap, 0.64 ms without; bench/scheduler.bench.ts).
 */
import { types } from 'node:util';

import type { Tensor } from './tensor';

export interface ResultInfo {
  /** The version of the model that ran (Engine info().modelVersion when the call was admitted). */
  modelVersion: string;
  /** The backend that ran it ('native' or 'onnxruntime'). */
  backend: string;
}

const originKey = Symbol('edgeinfer.resultInfo');
/** The records tagResult was given (one per model version): what a lookup returns must be one of them. */
const records = new WeakSet<object>();

/** The record stored on `outputs`, or undefined (also for a Proxy or an object whose symbol property is not ours). */
function recordOf(outputs: object): Readonly<ResultInfo> | undefined {
  if (types.isProxy(outputs)) return undefined; // its traps would run (and may throw) for a record it cannot hold
  const descriptor = Object.getOwnPropertyDescriptor(outputs, originKey);
  const value: unknown = descriptor?.value;
  return value !== null && typeof value === 'object' && records.has(value) ? (value as Readonly<ResultInfo>) : undefined;
}

/**
 * The model version and backend that produced `outputs` (a result of Engine infer() / inferSync(), or of a
 * BatchScheduler request); undefined for any other object.
 */
export function resultInfo(outputs: Record<string, Tensor>): ResultInfo | undefined {
  if (outputs === null || typeof outputs !== 'object') return undefined;
  const found = recordOf(outputs);
  return found === undefined ? undefined : { ...found };
}

/** Records where `outputs` came from (the record is shared, frozen, per model version). */
export function tagResult<T extends object>(outputs: T, origin: Readonly<ResultInfo>): T {
  records.add(origin);
  Object.defineProperty(outputs, originKey, { value: origin, enumerable: false, writable: false, configurable: true });
  return outputs;
}

/** The record of `outputs` as stored (for passing it on to outputs derived from them, e.g. split from a batch). */
export function originOf(outputs: object): Readonly<ResultInfo> | undefined {
  return recordOf(outputs);
}
