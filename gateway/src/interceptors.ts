import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { isDomainError, type Logger, type TokenVerifier } from "@chirp/kit";
import { REQUEST_ID_KEY } from "@chirp/kit/grpc";
import { callerKey, clientAddressKey, requestIdKey } from "./context.js";
import { accessOf, isWrite } from "./policy.js";
import type { RateLimiter } from "./rate-limit.js";

const rpcName = (method: { parent: { typeName: string }; name: string }) => `${method.parent.typeName}/${method.name}`;

/**
 * Outermost: logs every call once with its request id, echoes the id to the client, and lets
 * errors through with their code and message only. Upstream errors keep what the service said;
 * anything unexpected becomes INTERNAL naming just the request id.
 */
export function observe(log: Logger): Interceptor {
  return (next) => async (req) => {
    const requestId = req.contextValues.get(requestIdKey);
    const fields = { requestId, method: rpcName(req.method) };
    const started = performance.now();
    const safe = (error: unknown): ConnectError => {
      if (error instanceof ConnectError) {
        const passed = new ConnectError(error.rawMessage, error.code, retryHeaders(error));
        passed.metadata.set(REQUEST_ID_KEY, requestId);
        log.info({ ...fields, code: Code[error.code], durationMs: elapsed(started) }, "rpc failed");
        return passed;
      }
      log.error({ ...fields, err: error, durationMs: elapsed(started) }, "rpc failed unexpectedly");
      return new ConnectError(`internal error (request id ${requestId})`, Code.Internal, { [REQUEST_ID_KEY]: requestId });
    };
    try {
      const res = await next(req);
      res.header.set(REQUEST_ID_KEY, requestId);
      if (!res.stream) {
        log.info({ ...fields, code: "OK", durationMs: elapsed(started) }, "rpc finished");
        return res;
      }
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
            log.info({ ...fields, code: "OK", durationMs: elapsed(started) }, "stream finished");
          } catch (error) {
            throw safe(error);
          }
        })(),
      };
    } catch (error) {
      throw safe(error);
    }
  };
}

function retryHeaders(error: ConnectError): Record<string, string> {
  const retryAfter = error.metadata.get("retry-after");
  return retryAfter ? { "retry-after": retryAfter } : {};
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 100) / 100;

/**
 * Verifies the bearer token once and records the caller for the forwarding handlers. Internal-only
 * methods are refused outright; public ones (register, login) need no token.
 */
export function authenticate(verifier: TokenVerifier): Interceptor {
  return (next) => async (req) => {
    const access = accessOf(req.method);
    if (access === "internal") {
      throw new ConnectError(`${rpcName(req.method)} is internal to the mesh and not served here`, Code.PermissionDenied);
    }
    if (access === "authenticated") {
      const token = /^Bearer\s+(\S+)$/i.exec(req.header.get("authorization") ?? "")?.[1];
      if (!token) throw new ConnectError("authorization: a bearer access token is required", Code.Unauthenticated);
      try {
        const claims = verifier.verify(token);
        req.contextValues.set(callerKey, { id: claims.sub, roles: claims.roles });
      } catch (error) {
        if (isDomainError(error)) throw new ConnectError(`authorization: ${error.message}`, Code.Unauthenticated);
        throw error;
      }
    }
    return next(req);
  };
}

/** Writes cost a token from the caller's bucket (or the client address's, before login). */
export function limitWrites(limiter: RateLimiter): Interceptor {
  return (next) => async (req) => {
    if (isWrite(req.method)) {
      const caller = req.contextValues.get(callerKey);
      const key = caller ? `user:${caller.id}` : `address:${req.contextValues.get(clientAddressKey)}`;
      const waitMs = limiter.take(key);
      if (waitMs > 0) {
        const seconds = Math.max(1, Math.ceil(waitMs / 1000));
        throw new ConnectError(`too many writes: retry after ${seconds} s`, Code.ResourceExhausted, { "retry-after": String(seconds) });
      }
    }
    return next(req);
  };
}
