/**
 * Metadata keys shared by the gateway and the services. Only the gateway sets the caller entries,
 * after verifying an access token; internal services trust them because only the gateway and
 * other services can reach their ports.
 */
export const CALLER_ID_KEY = "x-chirp-caller-id";
export const CALLER_ROLES_KEY = "x-chirp-caller-roles";
/** The session of the caller's access token (its `sid`), when it names one. */
export const CALLER_SESSION_KEY = "x-chirp-caller-session";
/** The client's network address as the gateway saw it, for what records where a session was used from. */
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
