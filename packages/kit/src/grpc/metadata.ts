/**
 * Metadata keys shared by the gateway and the services. Who the end user is travels only as their
 * access token (`authorization: Bearer <token>`), which every service verifies itself: no header
 * naming a caller is believed (see context.ts).
 */
export const AUTHORIZATION_KEY = "authorization";
/**
 * The client's network address as the gateway saw it, for what records where a session was used
 * from; believed only from the gateway's workload (or on a plaintext development mesh).
 */
export const CLIENT_ADDRESS_KEY = "x-chirp-client-address";
export const REQUEST_ID_KEY = "x-request-id";

/**
 * What a request id may be: 1 to 64 letters, digits and `. _ : -`. Ids come from callers and are
 * written into every service's logs and echoed in headers, so anything else (quotes, spaces, JSON,
 * control characters, long text) is never taken as given: the call gets a new id instead.
 */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const MAX_REQUEST_ID_LENGTH = 64;

/** The caller's request id when it is an acceptable one, else undefined (make a new one). */
export function acceptedRequestId(supplied: unknown): string | undefined {
  return typeof supplied === "string" && supplied.length <= MAX_REQUEST_ID_LENGTH && REQUEST_ID.test(supplied) ? supplied : undefined;
}
