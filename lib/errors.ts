/** Stable error codes. Every failure of a public call carries one of these. */
export type EdgeInferErrorCode =
  | 'EDGEINFER_INVALID_ARGUMENT'
  | 'EDGEINFER_SHAPE_MISMATCH'
  | 'EDGEINFER_OUT_OF_MEMORY'
  | 'EDGEINFER_MODEL_INVALID'
  | 'EDGEINFER_UNSUPPORTED_OP'
  | 'EDGEINFER_QUEUE_FULL'
  | 'EDGEINFER_TIMEOUT'
  | 'EDGEINFER_ABORTED'
  | 'EDGEINFER_VERIFY_FAILED'
  | 'EDGEINFER_DISPOSED'
  | 'EDGEINFER_BACKEND_UNAVAILABLE'
  | 'EDGEINFER_INTERNAL';

export class EdgeInferError extends Error {
  readonly code: EdgeInferErrorCode;
  /** What was wrong, for programs: the argument, node or op at fault, and expected vs. got where known. */
  readonly detail?: Record<string, unknown>;

  constructor(code: EdgeInferErrorCode, message: string, detail?: Record<string, unknown>) {
    super(message);
    this.name = 'EdgeInferError';
    this.code = code;
    if (detail !== undefined) this.detail = detail;
  }
}

/**
 * Turns an error thrown by the addon (a plain Error with .code) into an EdgeInferError created here, so
 * its stack starts at the public call the user made rather than inside the binding.
 */
export function fromNative(error: unknown): EdgeInferError {
  if (error instanceof EdgeInferError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && code.startsWith('EDGEINFER_')) return new EdgeInferError(code as EdgeInferErrorCode, message);
  return new EdgeInferError('EDGEINFER_INTERNAL', message);
}

/** Runs a native call, re-throwing its failure as an EdgeInferError at this call site. */
export function callNative<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw fromNative(error);
  }
}

/** Awaits a native promise, re-throwing its rejection as an EdgeInferError at this call site. */
export async function awaitNative<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw fromNative(error);
  }
}
