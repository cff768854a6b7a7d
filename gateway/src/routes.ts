import { create, type DescMessage, type DescMethod, type DescService, type Message } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type ConnectRouter, type HandlerContext, type Transport } from "@connectrpc/connect";
import { AUTHORIZATION_KEY, CLIENT_ADDRESS_KEY, REQUEST_ID_KEY } from "@chirp/kit/grpc";
import { ADMIN_ROLE, adminRefusal, isServed, notServed, ruleOf, type ServedRule } from "./access.js";
import { budgetKey, callerKey, clientAddressKey, requestIdKey } from "./context.js";
import { decodesAnswer } from "./refresh-cookie.js";
import { relayStream, StreamSlots, type StreamSettings } from "./streams.js";

export interface Upstream {
  service: DescService;
  transport: Transport;
}

type Forward = (request: unknown, options: object) => unknown;

/**
 * Serves every RPC of every upstream service under its own name by forwarding it over gRPC, as
 * its rule (access.ts) allows. The upstream sees only what the gateway vouches for: the caller's
 * access token, once verified here (the service verifies it again: no service believes a header
 * naming a caller), the request id and the remaining deadline; nothing else the client sent in
 * headers is passed on.
 *
 * Unary calls without a client deadline get `defaultTimeoutMs`. Server streams get none: they
 * last as long as the client wants, up to `streams.maxLifetimeMs` (see relayStream), and each
 * caller may hold `streams.maxPerCaller` of them at once.
 */
export function forwardingRoutes(upstreams: Upstream[], defaultTimeoutMs: number, streams: StreamSettings) {
  const upstreamHeaders = (ctx: HandlerContext) => {
    const headers = new Headers({ [REQUEST_ID_KEY]: ctx.values.get(requestIdKey), [CLIENT_ADDRESS_KEY]: ctx.values.get(clientAddressKey) });
    const caller = ctx.values.get(callerKey);
    if (caller) headers.set(AUTHORIZATION_KEY, `Bearer ${caller.token}`);
    return headers;
  };
  const upstreamOptions = (ctx: HandlerContext) => ({ headers: upstreamHeaders(ctx), signal: ctx.signal, timeoutMs: ctx.timeoutMs() ?? defaultTimeoutMs });
  // Only the client's own deadline, if it set one; the relay cancels the call through `signal`.
  const streamOptions = (ctx: HandlerContext, signal: AbortSignal, onHeader: () => void) => ({
    headers: upstreamHeaders(ctx),
    signal,
    timeoutMs: ctx.timeoutMs(),
    onHeader,
  });
  const slots = streams.slots ?? new StreamSlots(streams.maxPerCaller);

  return (router: ConnectRouter) => {
    for (const { service, transport } of upstreams) {
      const client = createClient(service, transport) as unknown as Record<string, Forward>;
      const opaqueClient = createClient(withOpaqueOutputs(service), transport) as unknown as Record<string, Forward>;
      for (const method of service.methods) {
        const forward = client[method.localName]!.bind(client);
        const forwardOpaque = opaqueClient[method.localName]!.bind(opaqueClient);
        const rule = ruleOf(method);
        if (!isServed(rule)) {
          // The authentication interceptor refuses these first; this keeps them refused regardless.
          router.rpc(method, refuse(method, () => notServed(method, rule)) as never);
        } else if (method.methodKind === "unary") {
          router.rpc(method, (async (request: object, ctx: HandlerContext) => {
            authorize(rule, request, ctx);
            try {
              // Binary clients get the upstream's bytes as they came; see withOpaqueOutputs.
              if (answersInBinary(ctx) && !decodesAnswer(method)) return carrying(method.output, (await forwardOpaque(request, upstreamOptions(ctx))) as Message);
              return (await forward(request, upstreamOptions(ctx))) as object;
            } catch (error) {
              throw unreachable(service, error);
            }
          }) as never);
        } else if (method.methodKind === "server_streaming") {
          router.rpc(method, (async function* (request: object, ctx: HandlerContext) {
            authorize(rule, request, ctx);
            const release = await slots.take(budgetKey(ctx.values));
            if (!release) {
              throw new ConnectError(
                `too many open streams: at most ${streams.maxPerCaller} ${method.name} streams per caller; close one to open another`,
                Code.ResourceExhausted,
              );
            }
            // The router may drop a generator it no longer reads without finishing it; the
            // client's signal aborts whatever the ending, so the slot is given back either way.
            ctx.signal.addEventListener("abort", release, { once: true });
            // Binary clients get the upstream's bytes as they came; see withOpaqueOutputs.
            const open = (signal: AbortSignal, onHeader: () => void) =>
              answersInBinary(ctx)
                ? carryingEach(method.output, forwardOpaque(request, streamOptions(ctx, signal, onHeader)) as AsyncIterable<Message>)
                : (forward(request, streamOptions(ctx, signal, onHeader)) as AsyncIterable<Message>);
            try {
              yield* relayStream(open, () => create(method.output), ctx.signal, streams);
            } catch (error) {
              throw unreachable(service, error);
            } finally {
              release();
              ctx.signal.removeEventListener("abort", release);
            }
          }) as never);
        }
      }
    }
  };
}

/**
 * The service as the pass-through calls see it: every method's output read as Empty, its parent
 * and name kept so the calls go to the same upstream paths.
 *
 * Why: decoding an upstream answer into objects only to encode the same message again costs real
 * CPU on big pages (about 1.5 ms for a 5 KB timeline page). Read as Empty, the answer's fields
 * all stay unknown fields, each a slice of the upstream's bytes (nothing below the top level is
 * parsed), and the router's toBinary writes unknown fields back as they came. Only binary clients
 * can take that: JSON needs the schema to name the fields, so JSON clients keep the full decode.
 */
function withOpaqueOutputs(service: DescService): DescService {
  const methods = service.methods.map((method) => ({ ...method, output: EmptySchema }) as DescMethod);
  return { ...service, methods, method: Object.fromEntries(methods.map((method) => [method.localName, method])) };
}

/** Wraps upstream fields kept as raw bytes in a message of the type the router expects to serialize. */
function carrying(schema: DescMessage, raw: Message): Message {
  const message = create(schema);
  if (raw.$unknown) message.$unknown = raw.$unknown;
  return message;
}

async function* carryingEach(schema: DescMessage, raws: AsyncIterable<Message>): AsyncGenerator<Message> {
  for await (const raw of raws) yield carrying(schema, raw);
}

/** The binary content types of Connect (unary, streaming), gRPC and gRPC-Web, as the router accepts them. */
const BINARY_CONTENT_TYPES = new Set([
  "application/proto",
  "application/connect+proto",
  "application/grpc",
  "application/grpc+proto",
  "application/grpc-web",
  "application/grpc-web+proto",
]);

/**
 * Whether the router will answer this call in binary protobuf, the only format that can carry
 * unparsed fields. It must never say yes for a JSON answer (the client would get an empty
 * message), so it reads the request as the router does and says no to anything else: a Connect
 * GET names its encoding in the query, every other call in its content type (the whole value,
 * ignoring case, as the router's own patterns do).
 */
export function answersInBinary(ctx: Pick<HandlerContext, "protocolName" | "requestMethod" | "requestHeader" | "url">): boolean {
  if (ctx.protocolName === "connect" && ctx.requestMethod === "GET") {
    return new URL(ctx.url).searchParams.get("encoding") === "proto";
  }
  const contentType = ctx.requestHeader.get("content-type");
  return contentType !== null && BINARY_CONTENT_TYPES.has(contentType.toLowerCase());
}

const NETWORK_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EPIPE"]);

/**
 * The transport reports a service it cannot reach as INTERNAL with the socket error inside; to
 * the client that is UNAVAILABLE (worth a retry), and the upstream's address is not its business.
 */
function unreachable(service: DescService, error: unknown): unknown {
  const cause = error instanceof ConnectError ? error.cause : error;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && NETWORK_ERRORS.has(code)) {
    return new ConnectError(`${service.typeName} is unavailable; retry shortly`, Code.Unavailable);
  }
  return error;
}

function refuse(method: DescMethod, error: () => ConnectError) {
  return method.methodKind === "unary"
    ? async () => {
        throw error();
      }
    : async function* () {
        yield* [];
        throw error();
      };
}

/** The admin role, where the RPC's rule asks it of this request. Everything else the services enforce. */
function authorize(rule: ServedRule, request: object, ctx: HandlerContext): void {
  const refusal = adminRefusal(rule, request);
  if (refusal !== undefined && !ctx.values.get(callerKey)?.roles.includes(ADMIN_ROLE)) {
    throw new ConnectError(refusal, Code.PermissionDenied);
  }
}
