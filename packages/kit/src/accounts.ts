import { permissionDenied, unauthenticated } from "./errors.js";
import { isId } from "./ids.js";

/**
 * Whether a user's account is live, as its owner (the users service) says at the moment of asking.
 * Services that accept writes on a user's behalf ask it before each one: the caller's access token
 * stays valid until it expires, even after the account is deleted, and the UserDeleted event that
 * tells every service reaches them only later.
 */
export interface Accounts {
  /** False once the account is deleted (that is final); UNAVAILABLE when there is no telling. */
  isLive(userId: string): Promise<boolean>;
}

export const accountDeleted = () => permissionDenied("your account has been deleted");

/**
 * Runs the reads a write needs first while asking whether the caller's account is live, so the
 * question adds no wait of its own, and answers with what they read. A deleted account is refused
 * (PERMISSION_DENIED) whatever the reads found or failed with, and a check that failed fails the
 * write: nothing is written for a caller not known to be live. A caller id that is not a user id is
 * no identity at all (UNAUTHENTICATED) and is not asked about.
 */
export async function asLiveCaller<T>(accounts: Accounts, callerId: string, reads: () => Promise<T>): Promise<T> {
  if (!isId(callerId)) throw unauthenticated("the caller id is not a valid user id");
  const [live, result] = await Promise.allSettled([accounts.isLive(callerId), reads()]);
  if (live.status === "rejected") throw live.reason;
  if (!live.value) throw accountDeleted();
  if (result.status === "rejected") throw result.reason;
  return result.value;
}
