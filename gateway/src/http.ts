import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { extname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { cors } from "@connectrpc/connect";
import type { Logger } from "@chirp/kit";
import { acceptedRequestId, REQUEST_ID_KEY } from "@chirp/kit/grpc";

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;
export type Handler = (req: Request, res: Response) => void;

/**
 * What browsers may send and read across origins: what Connect, gRPC-Web and gRPC need, as
 * connect-es lists it, and the gateway's own headers (the token in, the request id both ways,
 * the rate limits' retry hint out).
 */
const ALLOWED_METHODS = cors.allowedMethods.join(", ");
const ALLOWED_HEADERS = [...cors.allowedHeaders, "Authorization", "X-Request-Id"].join(", ");
const EXPOSED_HEADERS = [...cors.exposedHeaders, "Retry-After", "X-Request-Id"].join(", ");

/**
 * CORS for an explicit allow-list of origins. Tokens travel in the Authorization header, not in
 * cookies, so credentials are never allowed and the origin is echoed, never "*".
 */
export function withCors(origins: string[], next: Handler): Handler {
  const allowed = new Set(origins);
  return (req, res) => {
    const origin = req.headers.origin;
    if (typeof origin === "string" && allowed.has(origin)) {
      for (const [name, value] of Object.entries(corsAnswerHeaders(origin))) res.setHeader(name, value);
      if (req.method === "OPTIONS") {
        res.setHeader("Access-Control-Allow-Methods", ALLOWED_METHODS);
        res.setHeader("Access-Control-Allow-Headers", ALLOWED_HEADERS);
        res.setHeader("Access-Control-Max-Age", "7200");
        res.writeHead(204);
        res.end();
        return;
      }
    } else if (req.method === "OPTIONS" && origin !== undefined) {
      res.writeHead(403);
      res.end();
      return;
    }
    next(req, res);
  };
}

/** The CORS headers of an answer to a listed origin's (non-preflight) request. */
const corsAnswerHeaders = (origin: string) => ({ "access-control-allow-origin": origin, vary: "Origin", "access-control-expose-headers": EXPOSED_HEADERS });

/** The CORS headers a request's Origin earns, for answers made outside withCors (the direct path's HTTP/2 streams). */
export function corsHeaders(origins: string[]): (origin: string | undefined) => Record<string, string> | undefined {
  const allowed = new Set(origins);
  return (origin) => (origin !== undefined && allowed.has(origin) ? corsAnswerHeaders(origin) : undefined);
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
};

/**
 * The file under `root` a URL path names, or undefined when the path leaves `root`. Compared as
 * path segments: a string prefix test would let `/../www-secret/x` out of `/srv/www`.
 */
export function fileUnder(root: string, path: string): string | undefined {
  const base = resolve(root);
  const file = join(base, path);
  const inside = relative(base, file);
  if (inside === "" || isAbsolute(inside) || inside === ".." || inside.startsWith(`..${sep}`)) return undefined;
  return file;
}

/**
 * The web client's policy: its own scripts and styles only (no inline ones, no eval), calls to
 * this origin only, no plugins, forms that cannot post anywhere, and no framing by anyone (both
 * `frame-ancestors` and, for older browsers, X-Frame-Options), so no other site can load the page
 * under a decoy and have it clicked. The API reference (/reference/, Swagger UI) works under the
 * same policy: it sets styles only through the DOM, which a policy allows, and draws its icons as
 * data: images (mesh/test/reference.browser.test.ts checks it raises no violation).
 */
export const WEB_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The headers every served file carries: the policy, no framing, no sniffing, no referrer. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": WEB_POLICY,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};

/** Serves the web client's files for GET requests outside the RPC paths. */
export function staticFiles(root: string, next: Handler): Handler {
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (req.method !== "GET" || path.split("/")[1]?.includes(".v1.")) return next(req, res);
    const file = fileUnder(root, path.endsWith("/") ? `${path}index.html` : path);
    const type = file && CONTENT_TYPES[extname(file)];
    if (!file || !type) return next(req, res);
    readFile(file).then(
      (body) => {
        res.writeHead(200, { "content-type": type, "cache-control": "no-cache", ...PAGE_HEADERS });
        res.end(body);
      },
      () => next(req, res),
    );
  };
}

/**
 * `GET /openapi.json`: the OpenAPI document of what this gateway serves (see openapi.ts), made
 * once at start; and `/reference`, the page that shows it, sent to its folder's index.
 */
export function apiDocument(document: string, next: Handler): Handler {
  const body = Buffer.from(document);
  return (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") return next(req, res);
    if (path === "/openapi.json") {
      res.writeHead(200, { "content-type": "application/json", "content-length": body.length, "cache-control": "no-cache" });
      if (req.method === "HEAD") res.end();
      else res.end(body);
    } else if (path === "/reference") {
      res.writeHead(301, { location: "/reference/" });
      res.end();
    } else next(req, res);
  };
}

/** `GET /healthz`: 200 when every upstream is serving, 503 with the details otherwise. */
export function healthz(check: () => Promise<Record<string, string>>, next: Handler): Handler {
  return (req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/healthz") return next(req, res);
    void check().then((upstreams) => {
      const ok = Object.values(upstreams).every((s) => s === "SERVING");
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: ok ? "ok" : "degraded", upstreams }));
    });
  };
}

/**
 * Answers what nothing else serves (an RPC that does not exist, a file that is not there) with
 * 404, logged like every other refused call, with the request id it is answered with.
 */
export function notFound(log: Logger): Handler {
  return (req, res) => {
    const requestId = acceptedRequestId(req.headers[REQUEST_ID_KEY]) ?? randomUUID();
    log.info({ requestId, httpMethod: req.method, path: (req.url ?? "").split("?")[0]!.slice(0, 200), httpStatus: 404 }, "no such route");
    res.writeHead(404, { [REQUEST_ID_KEY]: requestId });
    res.end();
  };
}
