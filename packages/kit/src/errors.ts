/**
 * Errors the domain raises on purpose. Each carries a transport-neutral code; the gRPC layer maps
 * it to a status and passes the message through, so messages must be safe to show to callers and
 * start with the request field they are about.
 */
export type ErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "UNAUTHENTICATED"
  | "PERMISSION_DENIED"
  | "FAILED_PRECONDITION"
  | "RESOURCE_EXHAUSTED"
  | "ABORTED"
  | "UNAVAILABLE";

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The request field at fault, in proto (snake_case) spelling, when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

const fieldError = (code: ErrorCode) => (field: string, problem: string) =>
  new DomainError(code, `${field}: ${problem}`, field);

export const invalidArgument = fieldError("INVALID_ARGUMENT");
export const notFound = fieldError("NOT_FOUND");
export const alreadyExists = fieldError("ALREADY_EXISTS");
export const failedPrecondition = fieldError("FAILED_PRECONDITION");

export const unauthenticated = (message: string) => new DomainError("UNAUTHENTICATED", message);
export const permissionDenied = (message: string) => new DomainError("PERMISSION_DENIED", message);
export const resourceExhausted = (message: string) => new DomainError("RESOURCE_EXHAUSTED", message);

export const isDomainError = (error: unknown): error is DomainError => error instanceof DomainError;
