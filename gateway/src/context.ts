import { createContextKey, type ContextValues } from "@connectrpc/connect";

export interface Caller {
  id: string;
  roles: string[];
  /** The session the access token was issued for, when it names one. */
  sessionId?: string;
  /** The verified access token itself, forwarded to the services, which verify it in their turn. */
  token: string;
}

/** Set only by the authentication interceptor, from a verified token. */
export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "verified caller" });
export const requestIdKey = createContextKey<string>("", { description: "request id" });
/** The client's network address: the rate-limit key for calls made without a token. */
export const clientAddressKey = createContextKey<string>("unknown", { description: "client address" });
/**
 * Set by the outermost interceptor when a call reaches it. A call refused before (by the router:
 * a body that is not a message, an unsupported content type) is logged by guardRoutes instead.
 */
export const reachedKey = createContextKey<boolean>(false, { description: "reached the interceptors" });

/**
 * Whose budgets a call spends (rates, open streams): the verified caller's, or before login the
 * client address's.
 */
export function budgetKey(values: ContextValues): string {
  const caller = values.get(callerKey);
  return caller ? `user:${caller.id}` : `address:${values.get(clientAddressKey)}`;
}
