/** What the Engine needs from a backend: load once, run feeds to outputs, report, release. */
import type { Tensor, TensorInfo } from '../tensor';

export type Precision = 'float32' | 'int8' | 'fp16';

export interface BackendStats {
  backend: string;
  precision: Precision;
  /**
   * Bytes of weights and constants held by the backend (the largest plan): packed weights in the
   * precision's form plus the constants still needed at run time (copied weights are freed at load).
   */
  weightBytes: number;
  /** Arena bytes of the plans built so far (native), by input shape. */
  plans: { shapes: string; arenaBytes: number; intermediateBytes: number; steps: number }[];
  runs: number;
  /** infer() calls that ran on the JS thread because the model is fast (see inlineBelowMicroseconds). */
  inlineRuns: number;
  /**
   * What owning their memory cost the off-thread runs: inputs are copied at submission and outputs delivered
   * at completion (the inline and sync paths copy nothing).
   */
  asyncCopies: { calls: number; bytes: number; microseconds: number };
}

/** Per-step times of one plan, from a session created with profile: true. */
export interface StepProfile {
  op: string;
  name: string;
  kernel: string;
  calls: number;
  /** Mean wall time per call. */
  meanMicroseconds: number;
  totalMicroseconds: number;
}

export interface BackendSession {
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  run(feeds: Record<string, Tensor>, dims: Record<string, number[]>, sync: boolean): Promise<Record<string, Tensor>> | Record<string, Tensor>;
  stats(): BackendStats;
  /** Step times of the plan for these input shapes (the most recently used plan when omitted). */
  profile(shapes?: string): StepProfile[];
  dispose(): void;
}
