import type { DescMethod } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";

/**
 * Refresh tokens for browsers, out of reach of page scripts. A client that sends
 * `X-Chirp-Refresh-Cookie: 1` with Login or RefreshSession gets its refresh token as an HttpOnly,
 * Secure, SameSite=Strict cookie scoped to the RefreshSession path instead of in the answer; its
 * RefreshSession may then leave refresh_token empty, and the gateway takes it from the cookie.
 * Logout, and a refresh the service refuses, clear the cookie. Clients that send no such header
 * (apps, curl, gRPC) keep the token in the message, as the contract says.
 *
 * A page script never sees the token; another site cannot make the browser send it (SameSite=Strict,
 * and Connect's JSON content type needs a CORS preflight the gateway refuses to other origins).
 */
export const REFRESH_COOKIE = "chirp_refresh";
export const REFRESH_PATH = `/${UsersService.typeName}/${UsersService.method.refreshSession.name}`;
export const COOKIE_MODE_HEADER = "x-chirp-refresh-cookie";

/** Longer than any refresh token, so a cookie header is never scanned past what it could hold. */
const MAX_COOKIE_HEADER = 8 * 1024;

type Handled = "login" | "refreshSession" | "logout";
const HANDLED = new Set<string>(["login", "refreshSession", "logout"]);

/** The methods whose answers the gateway must read whole, whatever the encoding: it may move their refresh token. */
export const decodesAnswer = (method: DescMethod) =>
  method.parent.typeName === UsersService.typeName && (method.localName === "login" || method.localName === "refreshSession");

function cookieValue(header: string | null, name: string): string | undefined {
  if (!header || header.length > MAX_COOKIE_HEADER) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const setCookie = (value: string, maxAgeSeconds: number) =>
  `${REFRESH_COOKIE}=${value}; Path=${REFRESH_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Strict`;
const clearCookie = () => setCookie("", 0);

export function refreshCookies(): Interceptor {
  return (next) => async (req) => {
    if (req.stream || req.method.parent.typeName !== UsersService.typeName || !HANDLED.has(req.method.localName)) return next(req);
    if (req.header.get(COOKIE_MODE_HEADER) !== "1") return next(req);
    const name = req.method.localName as Handled;
    if (name === "refreshSession") {
      const message = req.message as unknown as { refreshToken: string };
      if (message.refreshToken === "") message.refreshToken = cookieValue(req.header.get("cookie"), REFRESH_COOKIE) ?? "";
    }
    try {
      const res = await next(req);
      if (name === "logout") {
        res.header.append("set-cookie", clearCookie());
      } else {
        const answer = res.message as unknown as { refreshToken: string; refreshExpiresAt?: Timestamp };
        if (answer.refreshToken !== "") {
          const expires = Number(answer.refreshExpiresAt?.seconds ?? 0n);
          res.header.append("set-cookie", setCookie(answer.refreshToken, Math.max(0, expires - Math.floor(Date.now() / 1000))));
          answer.refreshToken = "";
        }
      }
      return res;
    } catch (error) {
      // A refresh token that no longer works is no use to keep.
      if (name === "refreshSession" && error instanceof ConnectError && (error.code === Code.Unauthenticated || error.code === Code.InvalidArgument)) {
        error.metadata.append("set-cookie", clearCookie());
      }
      throw error;
    }
  };
}
