import { credentials, InterceptingCall, Metadata, status, type CallOptions, type Client, type ClientOptions, type Interceptor, type ServiceError } from "@grpc/grpc-js";
import { context, propagation, trace } from "@opentelemetry/api";
import { SpanKind, SpanStatusCode, startChildSpan } from "../telemetry/context.js";

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

/** Calls a unary method of a generated grpc-js client and resolves with its response. */
export function unary<Req, Res>(
  client: Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  metadata: Metadata = new Metadata(),
  options: Partial<CallOptions> = {},
): Promise<Res> {
  return new Promise((resolve, reject) =>
    method.call(client, request, metadata, options, (error, response) => (error ? reject(error) : resolve(response))),
  );
}

/**
 * Plaintext channel credentials, for a development mesh without TLS files and for tests of other
 * things; a mesh client's are `channelCredentials(tls, service)` (tls.ts), plaintext only without TLS.
 */
export const insecureChannel = () => credentials.createInsecure();

/** Writes W3C trace context into outgoing call metadata. */
const METADATA_SETTER = { set: (metadata: Metadata, key: string, value: string) => metadata.set(key, value) };

/**
 * A client span for every call made inside a recorded span, its context sent in the call's
 * metadata (`traceparent`), so the service called continues the trace; ended with the status. A
 * call made inside an unrecorded span still carries its context, so the service called keeps the
 * decision not to record. Otherwise the call goes out untouched.
 */
export const traceCalls: Interceptor = (options, nextCall) => {
  const path = options.method_definition.path;
  const child = startChildSpan(path, SpanKind.CLIENT, { "rpc.system": "grpc", "rpc.method": path });
  const sent = child?.context ?? context.active();
  if (!child && !trace.getSpanContext(sent)) return new InterceptingCall(nextCall(options));
  return new InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      propagation.inject(sent, metadata, METADATA_SETTER);
      if (!child) return next(metadata, listener);
      next(metadata, {
        onReceiveStatus(received, nextStatus) {
          child.span.setAttribute("rpc.grpc.status_code", received.code);
          if (received.code !== status.OK) child.span.setStatus({ code: SpanStatusCode.ERROR, message: `${status[received.code]}: ${received.details.slice(0, 200)}` });
          child.span.end();
          nextStatus(received);
        },
      });
    },
  });
};

/** The options every client of another service is made with: traced calls. */
export const clientOptions = (): ClientOptions => ({ interceptors: [traceCalls] });
