import { invalidArgument, isId, unauthenticated } from "@chirp/kit";

export const DEFAULT_BATCH_SIZE = 1_000;
export const MAX_BATCH_SIZE = 10_000;

export function userId(value: string, field: string): string {
  if (value === "") throw invalidArgument(field, "is required");
  if (!isId(value)) throw invalidArgument(field, "is not a valid user id");
  return value;
}

/** The gateway names the caller by the id in their verified token; anything else is no identity at all. */
export function callerId(value: string): string {
  if (!isId(value)) throw unauthenticated("the caller id is not a valid user id");
  return value;
}

/** Cursors are the `since` key of the last edge a page or batch held. */
export const isSinceCursor = (value: unknown): value is string => typeof value === "string" && isId(value);
