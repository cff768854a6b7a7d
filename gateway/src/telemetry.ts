import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { failed, kitMetrics, SpanKind, startChildSpan, traceHeaders, type Tracing } from "@chirp/kit/telemetry";
import { onResponseEnd, rpcName } from "./responses.js";

/** A Connect code as gRPC names it (INVALID_ARGUMENT), so the gateway's series read like the services'. */
const codeName = (code: Code) => Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();

const HEADERS_GETTER = {
  keys: (headers: Headers) => [...headers.keys()],
  get: (headers: Headers, key: string) => headers.get(key) ?? undefined,
};

/**
 * Outermost of the router's interceptors: each call, whatever its protocol (Connect, gRPC-Web,
 * gRPC), is a server span continuing the caller's `traceparent` if it sent one (the sampling
 * decision stays the gateway's: see Tracing.start), and counts in the RPC latency histogram by
 * method and code. A server stream's span covers its opening; it is counted when it ends.
 */
export function traceAndMeasure(tracing: Tracing): Interceptor {
  const durations = kitMetrics().rpcDuration;
  return (next) => (req) => {
    const method = rpcName(req.method);
    const started = performance.now();
    const record = (code: string) => durations.observe({ service: "gateway", method, code }, (performance.now() - started) / 1000);
    const codeOf = (error: unknown) => (error instanceof ConnectError ? codeName(error.code) : "INTERNAL");
    const attributes = { "rpc.system": "connect", "rpc.method": method, "chirp.content_type": (req.header.get("content-type") ?? "").slice(0, 64) };
    return tracing.entry(method, SpanKind.SERVER, { source: req.header, getter: HEADERS_GETTER as never }, attributes, async (span) => {
      try {
        return onResponseEnd(
          await next(req),
          () => record("OK"),
          (error) => {
            record(codeOf(error));
            return error;
          },
        );
      } catch (error) {
        record(codeOf(error));
        if (span) span.setAttribute("rpc.connect.code", codeOf(error));
        throw error;
      }
    });
  };
}

/**
 * For the upstream transports: a client span for each forwarded call inside a recorded span, its
 * context sent as `traceparent` so the service continues the trace.
 */
export const traceUpstream: Interceptor = (next) => (req) => {
  const method = rpcName(req.method);
  const child = startChildSpan(method, SpanKind.CLIENT, { "rpc.system": "grpc", "rpc.method": method });
  for (const [key, value] of Object.entries(traceHeaders(child?.context))) req.header.set(key, value);
  if (!child) return next(req);
  const ended = (res: Awaited<ReturnType<typeof next>>) => {
    child.span.end();
    return res;
  };
  return next(req).then(ended, (error: unknown) => {
    failed(child.span, error);
    child.span.end();
    throw error;
  });
};
