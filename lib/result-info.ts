/**
 * Which model version and backend produced a result. Kept beside the outputs object in a WeakMap, never on it:
 * the outputs keep exactly one enumerable key per model output, and the record goes when they are collected.
 */
import type { Tensor } from './tensor';

export interface ResultInfo {
  /** The version of the model that ran (Engine info().modelVersion when the call was admitted). */
  modelVersion: string;
  /** The backend that ran it ('native' or 'onnxruntime'). */
  backend: string;
}

const origins = new WeakMap<object, ResultInfo>();

/**
 * The model version and backend that produced `outputs` (a result of Engine infer() / inferSync(), or of a
 * BatchScheduler request); undefined for any other object.
 */
export function resultInfo(outputs: Record<string, Tensor>): ResultInfo | undefined {
  if (outputs === null || typeof outputs !== 'object') return undefined;
  const found = origins.get(outputs);
  return found === undefined ? undefined : { ...found };
}

/** Records where `outputs` came from (the record is shared, frozen, per model version). */
export function tagResult<T extends object>(outputs: T, origin: Readonly<ResultInfo>): T {
  origins.set(outputs, origin);
  return outputs;
}

/** The record of `outputs` as stored (for passing it on to outputs derived from them, e.g. split from a batch). */
export function originOf(outputs: object): Readonly<ResultInfo> | undefined {
  return origins.get(outputs);
}
