import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type ConnectRouter, type HandlerContext, type Transport } from "@connectrpc/connect";
import { CALLER_ID_KEY, CALLER_ROLES_KEY, REQUEST_ID_KEY } from "@chirp/kit/grpc";
import { CountTweetsRequestSchema } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { callerKey, requestIdKey } from "./context.js";
import { accessOf, ADMIN_ROLE } from "./policy.js";

export interface Upstream {
  service: DescService;
  transport: Transport;
}

type Forward = (request: unknown, options: object) => unknown;

/**
 * Serves every RPC of every upstream service under its own name by forwarding it over gRPC.
 * The upstream sees only what the gateway vouches for: the verified caller, the request id and
 * the remaining deadline; nothing the client sent in headers is passed on.
 */
export function forwardingRoutes(upstreams: Upstream[], defaultTimeoutMs: number) {
  const upstreamOptions = (ctx: HandlerContext) => {
    const headers = new Headers({ [REQUEST_ID_KEY]: ctx.values.get(requestIdKey) });
    const caller = ctx.values.get(callerKey);
    if (caller) {
      headers.set(CALLER_ID_KEY, caller.id);
      if (caller.roles.length > 0) headers.set(CALLER_ROLES_KEY, caller.roles.join(","));
    }
    return { headers, signal: ctx.signal, timeoutMs: ctx.timeoutMs() ?? defaultTimeoutMs };
  };

  return (router: ConnectRouter) => {
    for (const { service, transport } of upstreams) {
      const client = createClient(service, transport) as unknown as Record<string, Forward>;
      for (const method of service.methods) {
        const forward = client[method.localName]!.bind(client);
        if (accessOf(method) === "internal") {
          // The authentication interceptor refuses these first; this keeps them refused regardless.
          router.rpc(method, refuseInternal(method) as never);
        } else if (method.methodKind === "unary") {
          router.rpc(method, (async (request: object, ctx: HandlerContext) => {
            authorize(method, request, ctx);
            try {
              return (await forward(request, upstreamOptions(ctx))) as object;
            } catch (error) {
              throw unreachable(service, error);
            }
          }) as never);
        } else if (method.methodKind === "server_streaming") {
          router.rpc(method, (async function* (request: object, ctx: HandlerContext) {
            try {
              yield* forward(request, upstreamOptions(ctx)) as AsyncIterable<object>;
            } catch (error) {
              throw unreachable(service, error);
            }
          }) as never);
        }
      }
    }
  };
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

function refuseInternal(method: DescMethod) {
  const error = () => new ConnectError(`${method.parent.typeName}/${method.name} is internal to the mesh and not served here`, Code.PermissionDenied);
  return method.methodKind === "unary"
    ? async () => {
        throw error();
      }
    : async function* () {
        yield* [];
        throw error();
      };
}

/** Rules that depend on the request as well as the caller. The services enforce everything else. */
function authorize(method: DescMethod, request: object, ctx: HandlerContext): void {
  if (method.input === CountTweetsRequestSchema && (request as { authorId: string }).authorId === "") {
    if (!ctx.values.get(callerKey)?.roles.includes(ADMIN_ROLE)) {
      throw new ConnectError("author_id: counting every user's tweets needs the admin role", Code.PermissionDenied);
    }
  }
}
