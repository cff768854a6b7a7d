import {
  Metadata,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { invalidArgument } from "../errors.js";
import type { Logger } from "../logger.js";
import { SpanKind, SpanStatusCode, type Span } from "../telemetry/context.js";
import { kitMetrics } from "../telemetry/metrics.js";
import { Tracing } from "../telemetry/tracing.js";
import { createCallContext, type CallContext, type CallerTokens, type CallSecurity, type ServedCallContext } from "./context.js";
import { REQUEST_ID_KEY } from "./metadata.js";
import { peerRefusal, type PeerRules } from "./peers.js";
import { toServiceError } from "./status.js";
import { peerIdentity } from "./tls.js";

/**
 * What a request decoder gives instead of a message when the bytes are not one (truncated, a
 * wire type that does not exist, a string that is not UTF-8): GrpcServer's decoders never throw,
 * because grpc-js would answer INTERNAL without a log line, blaming the service for the caller's
 * bytes. The bound handler answers INVALID_ARGUMENT instead, logged with the call's request id.
 */
export class UnreadableRequest {
  constructor(
    readonly path: string,
    readonly cause: unknown,
  ) {}

  error() {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause);
    return invalidArgument("request", `not a valid request message for ${this.path}: ${reason.slice(0, 200)}`);
  }
}

/** The handler's answer, or the refusal of a call not allowed or a request that could not be decoded. */
function run<T>(ctx: CallContext, request: unknown, handle: (request: unknown) => Promise<T>): Promise<T> {
  if (ctx.refusal) return Promise.reject(ctx.refusal);
  return request instanceof UnreadableRequest ? Promise.reject(request.error()) : handle(request);
}

/**
 * Who may call what, and how callers are verified: the service's peer rules (enforced when the
 * server speaks mutual TLS) and what verifies the end user's access token. Absent, no token
 * verifies and no peer rule applies (tests of other things).
 */
export interface CallGuard<D> {
  peers: PeerRules<D>;
  tokens: CallerTokens | undefined;
  /** Whether the server speaks mutual TLS, so that every call has a peer identity to check. */
  tls: boolean;
}

type ServerCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>;

/** The workload each mutual-TLS connection's client certificate names, once read. */
const connectionPeers = new WeakMap<object, string>();

/**
 * The HTTP/2 session a grpc-js call arrived on, found through grpc-js's call objects (a call holds
 * the intercepting calls, the last of which holds the stream); undefined if their shape changes.
 */
function sessionOf(call: ServerCall): object | undefined {
  let link: unknown = (call as unknown as { call?: unknown }).call;
  for (let depth = 0; link && depth < 8; depth++) {
    const stream = (link as { stream?: { session?: object } }).stream;
    if (stream) return stream.session;
    link = (link as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

/**
 * The workload the call's peer certificate names. Reading the certificate (grpc-js's
 * getAuthContext, a full getPeerCertificate each time) cost more than the rest of a no-op call, and
 * a connection's client certificate is the one its handshake verified, so it is read once per
 * connection; a call whose connection cannot be found reads it itself.
 */
export function callPeer(call: ServerCall): string | undefined {
  const session = sessionOf(call);
  const known = session && connectionPeers.get(session);
  if (known) return known;
  const identity = peerIdentity(call.getAuthContext()?.sslPeerCertificate);
  if (session && identity) connectionPeers.set(session, identity);
  return identity;
}

/** The call's context, refused first when its peer may not call it. */
function guardedContext(call: ServerCall, path: string, log: Logger, guard: CallGuard<never> | undefined, allowed: readonly string[] | undefined): ServedCallContext {
  const peer = guard?.tls ? callPeer(call) : undefined;
  const security: CallSecurity = { tokens: guard?.tokens, tls: guard?.tls ?? false, peer };
  const ctx = createCallContext(call, path, log, security);
  if (!guard?.tls) return ctx;
  const refusal = peerRefusal(path, allowed, peer);
  if (refusal) ctx.refusal = refusal;
  return ctx;
}

/** The part of a ts-proto generated grpc-js method definition this module relies on. */
interface MethodShape {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (bytes: Buffer) => unknown;
  responseSerialize: (value: never) => Buffer;
}

type RequestOf<M> = M extends { requestDeserialize: (bytes: Buffer) => infer R } ? R : never;
type ResponseOf<M> = M extends { responseSerialize: (value: infer R) => Buffer } ? R : never;

export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;
export type StreamHandler<Req, Res> = (request: Req, ctx: CallContext, send: (response: Res) => Promise<void>) => Promise<void>;

/** The handlers a service needs: one async function per RPC, typed from the generated definition. */
export type ServiceHandlers<D> = {
  [K in keyof D]: D[K] extends { requestStream: false; responseStream: true }
    ? StreamHandler<RequestOf<D[K]>, ResponseOf<D[K]>>
    : D[K] extends { requestStream: false; responseStream: false }
      ? UnaryHandler<RequestOf<D[K]>, ResponseOf<D[K]>>
      : never;
};

/** How a bound service reports its calls: spans with its tracing, metrics under its name. */
export interface CallObservation {
  service: string;
  tracing: Tracing;
}

/** Reads W3C trace context from incoming call metadata. */
const METADATA_GETTER = {
  keys: (metadata: Metadata) => Object.keys(metadata.getMap()),
  get: (metadata: Metadata, key: string) => {
    const value = metadata.get(key)[0];
    return typeof value === "string" ? value : undefined;
  },
};

/** One call's observation: a server span continuing the caller's trace, and its duration by code. */
function observeCall(path: string, observation: CallObservation | undefined) {
  const tracing = observation?.tracing ?? Tracing.off;
  const durations = observation && kitMetrics().rpcDuration;
  const attributes = { "rpc.system": "grpc", "rpc.method": path };
  return (call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>, work: (ended: (code: status, error?: unknown) => void) => Promise<void>) => {
    const started = process.hrtime.bigint();
    return tracing.entry(path, SpanKind.SERVER, { source: call.metadata, getter: METADATA_GETTER as never }, attributes, (span: Span | undefined) =>
      work((code, error) => {
        durations?.observe({ service: observation!.service, method: path, code: status[code] }, Number(process.hrtime.bigint() - started) / 1e9);
        if (!span) return;
        span.setAttribute("rpc.grpc.status_code", code);
        if (code !== status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: status[code] + (error instanceof Error ? `: ${error.message.slice(0, 200)}` : "") });
      }),
    );
  };
}

/**
 * Turns async handlers into a grpc-js implementation. Every call gets a request id (the caller's
 * `x-request-id` or a new one, echoed back), a logger bound to it, the caller's identity and a
 * cancellation signal; every error becomes a status with a safe message; every call is logged once
 * when it ends, counted in the RPC metrics and, with tracing, recorded as a server span.
 */
export function bindService<D extends Record<string, MethodShape>>(
  definition: D,
  handlers: ServiceHandlers<D>,
  log: Logger,
  observation?: CallObservation,
  guard?: CallGuard<D>,
): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const handler = handlers[name as keyof D] as unknown;
    if (typeof handler !== "function") throw new Error(`no handler for ${method.path}`);
    if (method.requestStream) throw new Error(`${method.path}: client streaming is not supported`);
    const allowed = guard?.peers[name as keyof D];
    if (guard && !Array.isArray(allowed)) throw new Error(`no peer rule for ${method.path}`);
    const context = (call: ServerCall) => guardedContext(call, method.path, log, guard as CallGuard<never> | undefined, allowed);
    implementation[name] = method.responseStream
      ? streamCall(method.path, handler as StreamHandler<unknown, unknown>, context, observeCall(method.path, observation))
      : unaryCall(method.path, handler as UnaryHandler<unknown, unknown>, context, observeCall(method.path, observation));
  }
  return implementation;
}

type Observe = ReturnType<typeof observeCall>;

type MakeContext = (call: ServerCall) => ServedCallContext;

function unaryCall(path: string, handler: UnaryHandler<unknown, unknown>, makeContext: MakeContext, observe: Observe) {
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) =>
    observe(call, (ended) => {
      const started = process.hrtime.bigint();
      const ctx = makeContext(call);
      call.sendMetadata(requestIdMetadata(ctx.requestId));
      return run(ctx, call.request, (request) => handler(request, ctx)).then(
        (response) => {
          logEnd(ctx, started, status.OK);
          ended(status.OK);
          callback(null, response);
        },
        (error: unknown) => {
          const mapped = toServiceError(error, ctx.requestId);
          const code = mapped.error.code ?? status.UNKNOWN;
          logEnd(ctx, started, code, mapped.expected ? undefined : error);
          ended(code, error);
          callback(mapped.error, null);
        },
      );
    });
}

function streamCall(path: string, handler: StreamHandler<unknown, unknown>, makeContext: MakeContext, observe: Observe) {
  return (call: ServerWritableStream<unknown, unknown>) =>
    observe(call, (ended) => {
      const started = process.hrtime.bigint();
      const ctx = makeContext(call);
      call.sendMetadata(requestIdMetadata(ctx.requestId));
      const cancelled = () => Object.assign(new Error("call cancelled"), { code: status.CANCELLED, metadata: new Metadata() });
      // Respect flow control: wait for the transport to drain before producing more, unless the
      // client goes away meanwhile (then no drain ever comes).
      const send = (response: unknown) =>
        new Promise<void>((resolve, reject) => {
          if (ctx.signal.aborted) return reject(cancelled());
          if (call.write(response)) return resolve();
          const settle = (error?: Error) => {
            call.off("drain", onDrain);
            ctx.signal.removeEventListener("abort", onAbort);
            if (error) reject(error);
            else resolve();
          };
          const onDrain = () => settle();
          const onAbort = () => settle(cancelled());
          call.once("drain", onDrain);
          ctx.signal.addEventListener("abort", onAbort, { once: true });
        });
      return run(ctx, call.request, (request) => handler(request, ctx, send)).then(
        () => {
          logEnd(ctx, started, status.OK);
          ended(status.OK);
          call.end();
        },
        (error: unknown) => {
          const mapped = toServiceError(error, ctx.requestId);
          const code = mapped.error.code ?? status.UNKNOWN;
          logEnd(ctx, started, code, mapped.expected ? undefined : error);
          ended(code, error);
          if (!ctx.signal.aborted) call.emit("error", mapped.error);
        },
      );
    });
}

function requestIdMetadata(requestId: string): Metadata {
  const metadata = new Metadata();
  metadata.set(REQUEST_ID_KEY, requestId);
  return metadata;
}

function logEnd(ctx: ServedCallContext, started: bigint, code: status, unexpected?: unknown) {
  const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
  const fields = { code: status[code], durationMs: Math.round(durationMs * 100) / 100 };
  if (unexpected !== undefined) ctx.logLine("error", { ...fields, err: unexpected }, "rpc failed");
  else ctx.logLine("info", fields, "rpc finished");
}
