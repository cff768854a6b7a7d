/**
 * Metadata keys shared by the gateway and the services. Only the gateway sets the caller entries,
 * after verifying an access token; internal services trust them because only the gateway and
 * other services can reach their ports.
 */
export const CALLER_ID_KEY = "x-chirp-caller-id";
export const CALLER_ROLES_KEY = "x-chirp-caller-roles";
export const REQUEST_ID_KEY = "x-request-id";
