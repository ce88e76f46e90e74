/**
 * EdgeInferError codes to gRPC status codes, and the error object grpc-js sends as a call's status. Messages
 * of EdgeInferErrors are written for callers (they name the input, the dims, the limit) and go out as they
 * are; anything else becomes INTERNAL with a fixed text, so no stack or path leaks to a client.
 */
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';

import { EdgeInferError, type EdgeInferErrorCode } from '../errors';

const statusByCode: Record<EdgeInferErrorCode, Status> = {
  EDGEINFER_INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  EDGEINFER_SHAPE_MISMATCH: Status.INVALID_ARGUMENT,
  // Only SwapModel loads models: a model that does not parse or uses unsupported ops is the request's fault.
  EDGEINFER_MODEL_INVALID: Status.INVALID_ARGUMENT,
  EDGEINFER_UNSUPPORTED_OP: Status.INVALID_ARGUMENT,
  EDGEINFER_QUEUE_FULL: Status.RESOURCE_EXHAUSTED,
  EDGEINFER_OUT_OF_MEMORY: Status.RESOURCE_EXHAUSTED,
  EDGEINFER_TIMEOUT: Status.DEADLINE_EXCEEDED,
  EDGEINFER_ABORTED: Status.CANCELLED,
  EDGEINFER_VERIFY_FAILED: Status.FAILED_PRECONDITION,
  EDGEINFER_DISPOSED: Status.UNAVAILABLE,
  EDGEINFER_BACKEND_UNAVAILABLE: Status.INTERNAL,
  EDGEINFER_INTERNAL: Status.INTERNAL,
};

/** A status to send: code, details, and the EdgeInferError code in trailing metadata for programs. */
export interface CallStatus {
  code: Status;
  details: string;
  /** The error was not a caller's fault (INTERNAL): worth logging on the server. */
  internal: boolean;
}

export function toStatus(error: unknown): CallStatus {
  if (error instanceof EdgeInferError) {
    const code = statusByCode[error.code] ?? Status.INTERNAL;
    const internal = code === Status.INTERNAL;
    return { code, details: internal ? `internal error (${error.code})` : error.message, internal };
  }
  if (isStatusError(error)) return { code: error.code, details: error.details, internal: false };
  return { code: Status.INTERNAL, details: 'internal error', internal: true };
}

/** A status the server raises itself (UNAUTHENTICATED, UNIMPLEMENTED, …), already in gRPC terms. */
export class StatusError extends Error {
  constructor(
    readonly code: Status,
    readonly details: string,
  ) {
    super(details);
    this.name = 'StatusError';
  }
}

function isStatusError(error: unknown): error is StatusError {
  return error instanceof StatusError;
}

/** The object grpc-js turns into the call's status (no stack: grpc-js sends only code, details, metadata). */
export function serviceError(status: CallStatus, edgeinferCode?: string): Partial<ServiceError> {
  const metadata = new Metadata();
  if (edgeinferCode !== undefined) metadata.set('edgeinfer-error-code', edgeinferCode);
  return { code: status.code, details: status.details, metadata };
}

/** The status name for metrics labels ('OK', 'INVALID_ARGUMENT', …). */
export function statusName(code: Status): string {
  return Status[code] ?? String(code);
}
