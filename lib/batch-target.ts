/** What a BatchScheduler runs: an Engine, or anything shaped like one. */
import type { Tensor, TensorInfo } from './tensor';

/** The method a target may offer for batches of requests it already validated (no second NaN/Inf scan). */
export const inferPrescanned = Symbol('edgeinfer.inferPrescanned');

/**
 * Whether each distinct input shape costs the target a plan of its own (the native backend: shape inference,
 * lowering and an arena per batch size, a few kept). A BatchScheduler then pads its batches to a few sizes.
 */
export const plansPerShape = Symbol('edgeinfer.plansPerShape');

export interface BatchTarget {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  infer(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /**
   * Throws an EdgeInferError for feeds the target would refuse (Engine: dtype, dims, length, NaN/Inf). Called
   * per request at admission, so one bad request is refused alone and never fails the batch it would join.
   */
  validateFeeds?(feeds: Record<string, Tensor>): void;
  /** A batch of requests that each passed validateFeeds(): everything but the NaN/Inf scan is checked again. */
  [inferPrescanned]?(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** True when a batch of a size not seen lately costs a new plan (see plansPerShape). Absent: any size is free. */
  [plansPerShape]?(): boolean;
}
