import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { isDomainError, type ErrorCode } from "../errors.js";

const GRPC_CODES: Record<ErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  ABORTED: status.ABORTED,
  UNAVAILABLE: status.UNAVAILABLE,
};

export interface MappedError {
  error: Partial<ServiceError>;
  /** False for failures the caller did not cause: those are logged with their stack. */
  expected: boolean;
}

/** Domain errors keep their message; anything else becomes INTERNAL without internals. */
export function toServiceError(error: unknown, requestId: string): MappedError {
  if (isDomainError(error)) {
    return { error: { code: GRPC_CODES[error.code], details: error.message, metadata: new Metadata() }, expected: true };
  }
  if (isServiceError(error) && error.code === status.CANCELLED) {
    return { error, expected: true };
  }
  return {
    error: { code: status.INTERNAL, details: `internal error (request id ${requestId})`, metadata: new Metadata() },
    expected: false,
  };
}

export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === "number" && "metadata" in error;
}
