import type { DescMessage, DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type StreamRequest } from "@connectrpc/connect";
import { isDomainError, type Logger, type TokenVerifier } from "@chirp/kit";
import { REQUEST_ID_KEY } from "@chirp/kit/grpc";
import { isServed, notServed, ruleOf, type ServedRule } from "./access.js";
import { budgetKey, callerKey, clientAddressKey, reachedKey, requestIdKey } from "./context.js";
import type { Limiter } from "./rate-limit.js";
import { onResponseEnd, rpcName } from "./responses.js";
import type { Revocations } from "./revocations.js";

/**
 * Outermost: logs every call once with its request id, echoes the id to the client, and lets
 * errors through with their code and message only. Upstream errors keep what the service said;
 * anything unexpected becomes INTERNAL naming just the request id.
 */
export function observe(log: Logger): Interceptor {
  return (next) => async (req) => {
    req.contextValues.set(reachedKey, true);
    // A server stream's request is read inside the interceptors, when the handler asks for it.
    if (req.stream) req = { ...req, message: readRequest(req) as StreamRequest["message"] };
    const requestId = req.contextValues.get(requestIdKey);
    const fields = { requestId, method: rpcName(req.method) };
    const started = performance.now();
    const safe = (thrown: unknown): ConnectError => {
      const error = raisedInside(thrown);
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
      return onResponseEnd(res, () => log.info({ ...fields, code: "OK", durationMs: elapsed(started) }, res.stream ? "stream finished" : "rpc finished"), safe);
    } catch (error) {
      throw safe(error);
    }
  };
}

/**
 * connect-node's client passes on a failure raised in the gateway's own upstream interceptors
 * (oversizedAnswers, or a bug) as UNKNOWN with its message, keeping the failure as the cause: that
 * is the gateway's fault, not the service's, so it is unwrapped, to be logged and answered INTERNAL.
 */
function raisedInside(error: unknown): unknown {
  return error instanceof ConnectError && error.code === Code.Unknown && error.cause instanceof Error && !(error.cause instanceof ConnectError) ? error.cause : error;
}

/**
 * connect-node reports a request message that is not valid protobuf (truncated, a wire type that
 * does not exist, a string that is not UTF-8) as INTERNAL "parse binary: …", the code it also
 * uses for an answer it cannot read, as if the gateway had failed. Coming from the request, it is
 * the client's: INVALID_ARGUMENT, naming the message it should have been.
 */
export function unreadableRequest(error: unknown, input: DescMessage): unknown {
  const prefix = "parse binary: ";
  if (error instanceof ConnectError && error.code === Code.Internal && error.rawMessage.startsWith(prefix)) {
    return new ConnectError(`request: not a valid ${input.typeName}: ${error.rawMessage.slice(prefix.length, prefix.length + 200)}`, Code.InvalidArgument);
  }
  return error;
}

async function* readRequest(req: StreamRequest): AsyncIterable<unknown> {
  try {
    yield* req.message;
  } catch (error) {
    throw unreadableRequest(error, req.method.input);
  }
}

function retryHeaders(error: ConnectError): Record<string, string> {
  const retryAfter = error.metadata.get("retry-after");
  return retryAfter ? { "retry-after": retryAfter } : {};
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 100) / 100;

/**
 * Verifies the bearer token once and records the caller for the forwarding handlers, as the RPC's
 * rule (access.ts) says: a method the gateway does not serve is refused outright, a public one
 * (register, login) reads no token, any other needs a valid one whose session has not been revoked.
 */
export function authenticate(verifier: TokenVerifier, revocations?: Revocations): Interceptor {
  return (next) => async (req) => {
    const rule = servedRule(req.method);
    if (rule.who !== "public") {
      const token = /^Bearer\s+(\S+)$/i.exec(req.header.get("authorization") ?? "")?.[1];
      if (!token) throw new ConnectError("authorization: a bearer access token is required", Code.Unauthenticated);
      try {
        const claims = verifier.verify(token);
        if (revocations?.refuses(claims)) throw new ConnectError("authorization: the session has ended; sign in again", Code.Unauthenticated);
        req.contextValues.set(callerKey, { id: claims.sub, roles: claims.roles, token, ...(claims.sid !== undefined && { sessionId: claims.sid }) });
      } catch (error) {
        if (isDomainError(error)) throw new ConnectError(`authorization: ${error.message}`, Code.Unauthenticated);
        throw error;
      }
    }
    return next(req);
  };
}

/**
 * Every call costs a token from the bucket its rule names: reads from the caller's read budget,
 * writes from the caller's write budget, register and login from the write budget of the client
 * address. One busy reader can neither starve the services nor spend anyone's writes.
 */
export function limitRates(limiters: { writes: Limiter; reads: Limiter }): Interceptor {
  return (next) => async (req) => {
    const { budget } = servedRule(req.method);
    const key = budget === "entry" ? `address:${req.contextValues.get(clientAddressKey)}` : budgetKey(req.contextValues);
    const waitMs = await (budget === "read" ? limiters.reads : limiters.writes).take(key);
    if (waitMs > 0) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw new ConnectError(`too many ${budget === "read" ? "reads" : "writes"}: retry after ${seconds} s`, Code.ResourceExhausted, { "retry-after": String(seconds) });
    }
    return next(req);
  };
}

/** The interceptors every call goes through, outermost first: `extra` (the refresh cookie), observe, authenticate, rate limits. */
export function gatewayInterceptors(
  log: Logger,
  verifier: TokenVerifier,
  limiters: { writes: Limiter; reads: Limiter },
  revocations?: Revocations,
  extra: Interceptor[] = [],
): Interceptor[] {
  return [...extra, observe(log), authenticate(verifier, revocations), limitRates(limiters)];
}

/** The served rule of `method`; a method without one, or an internal one, is refused here. */
function servedRule(method: DescMethod): ServedRule {
  const rule = ruleOf(method);
  if (!isServed(rule)) throw notServed(method, rule);
  return rule;
}

/**
 * For the upstream transports: an answer past their readMaxBytes is the service's fault, not the
 * client's, so it is not passed on as connect-node words it (RESOURCE_EXHAUSTED naming the
 * gateway's setting) but thrown as a failure, which `observe` logs and answers INTERNAL, as the
 * direct path does (byte-upstream.ts). A service's own RESOURCE_EXHAUSTED carries its status in
 * its metadata, and passes.
 */
export const oversizedAnswers: Interceptor = (next) => async (req) => {
  const overrun = (error: unknown) =>
    error instanceof ConnectError && error.code === Code.ResourceExhausted && !error.metadata.has("grpc-status")
      ? new Error(`${rpcName(req.method)}: the service's answer passed the gateway's limit: ${error.rawMessage}`)
      : error;
  try {
    return onResponseEnd(await next(req), () => undefined, overrun);
  } catch (error) {
    throw overrun(error);
  }
};
