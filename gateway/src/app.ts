import { randomUUID, type KeyObject } from "node:crypto";
import { setMaxListeners } from "node:events";
import { createServer as createHttp1Server, type Server as Http1Server } from "node:http";
import { createServer as createHttp2Server, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport, type ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { createLogger, GATEWAY_SERVICES, parseVerificationKey, TokenVerifier, type LiveSubscriber, type Logger } from "@chirp/kit";
import { STREAMS } from "@chirp/kit/events";
import { DEFAULT_STREAM_SETTINGS, inboxPrefix, JetStreamBus, ownedStreams, SharedValues } from "@chirp/kit/nats";
import { acceptedRequestId, checkHealth, meshCertificates, meshTlsConnection, REQUEST_ID_KEY } from "@chirp/kit/grpc";
import { serveMetrics, Tracing, type MetricsServer } from "@chirp/kit/telemetry";
import { ruledService } from "./access.js";
import { BalancedTransport } from "./balanced-transport.js";
import { ByteUpstream, MAX_ANSWER_BYTES } from "./byte-upstream.js";
import { directPath, directRoutes } from "./direct.js";
import { RESPONSE_COMPRESSIONS } from "./compression.js";
import { TrustedProxies } from "./client-address.js";
import type { GatewayConfig } from "./config.js";
import { clientAddressKey, requestIdKey } from "./context.js";
import { apiDocument, corsHeaders, healthz, notFound, staticFiles, withCors, type Handler } from "./http.js";
import { gatewayInterceptors, oversizedAnswers } from "./interceptors.js";
import { servedOpenApi } from "./openapi.js";
import { RateLimiter, type Limiter } from "./rate-limit.js";
import { refreshCookies } from "./refresh-cookie.js";
import { followRevocations, Revocations } from "./revocations.js";
import { guardRoutes } from "./refusals.js";
import { LIMITS_VALUES, SharedRateLimiter, SharedStreamSlots } from "./shared-limits.js";
import { forwardingRoutes } from "./routes.js";
import { keepAlive } from "./streams.js";
import { traceAndMeasure, traceUpstream } from "./telemetry.js";

export interface GatewayOverrides {
  log?: Logger;
  /** Keys to verify tokens with, instead of AUTH_PUBLIC_KEY (the embedded mesh shares its own). */
  publicKeys?: KeyObject[];
  /** Services to forward beside the catalogued ones, such as the benchmark's do-nothing backend. */
  extraUpstreams?: UpstreamService[];
  /** The bus revocations come on, instead of NATS_URL (the embedded mesh's in-process bus). */
  bus?: LiveSubscriber;
  /**
   * A run's own name for its shared limits: meshes run beside each other on one NATS (tests,
   * benchmarks) would otherwise spend one budget per client address between them.
   */
  limitsNamespace?: string;
}

export interface UpstreamService {
  name: string;
  address: string;
  service: DescService;
}

export interface GatewayApp {
  http2Port: number;
  httpPort: number;
  /** Where /metrics is served, when METRICS_PORT is set: never one of the public ports. */
  metricsPort?: number;
  stop(): Promise<void>;
}

/**
 * Reads JSON request bodies strictly. A key the request message does not have is refused
 * (INVALID_ARGUMENT) as protobuf's JSON mapping asks of parsers by default, where connect-node
 * would drop it: a client's typo (`pagesize`) would otherwise be answered as if the field were
 * unset. And the body is read as UTF-8 strictly: connect-node's default decoder would put U+FFFD in
 * place of bytes that are not UTF-8 and go on with text the client never sent. (connect-node
 * hands the router's jsonOptions to its JSON serialization, textDecoder included.)
 */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const STRICT_JSON: NonNullable<ConnectNodeAdapterOptions["jsonOptions"]> & { textDecoder: { decode(bytes?: Uint8Array): string } } = {
  ignoreUnknownFields: false,
  textDecoder: {
    decode(bytes?: Uint8Array): string {
      try {
        return strictUtf8.decode(bytes);
      } catch {
        throw new ConnectError("request: the body is not valid UTF-8", Code.InvalidArgument);
      }
    },
  },
};

/**
 * The composition root of the public entry: upstream gRPC transports, the Connect router with
 * its interceptors (observe → authenticate → rate limits), and two listeners sharing one
 * handler: cleartext HTTP/2 for gRPC, gRPC-Web and Connect, and HTTP/1.1 for Connect, gRPC-Web,
 * the web client and /healthz.
 */
export async function startGateway(config: GatewayConfig, overrides: GatewayOverrides = {}): Promise<GatewayApp> {
  const log = overrides.log ?? createLogger(config.serviceName, config.logLevel);
  const keys = overrides.publicKeys ?? config.auth.publicKeysPem.map(parseVerificationKey);
  if (keys.length === 0) throw new Error("no key to verify access tokens with: set AUTH_PUBLIC_KEY");
  const verifier = new TokenVerifier(keys, { issuer: config.auth.issuer, audience: config.auth.audience });
  // The public edge: callers' trace ids are continued, their sampling flags are not obeyed.
  const tracing = Tracing.start(config.serviceName, config.telemetry, false);

  // PINGs while calls are open, so a live stream's connection is kept by anything in between and
  // a dead one is noticed (and the stream ended) within KEEPALIVE_MS and the PING timeout.
  // Every upstream address may name many replicas: calls are spread over them (balanced-transport.ts).
  // With TLS files, every upstream connection is mutual TLS as the workload `gateway`, checking
  // the server is the service meant; each new connection takes the newest certificate.
  const { tls } = config;
  if (tls && meshCertificates(tls, log).identity !== config.serviceName) throw new Error(`${tls.certFile} does not name the workload "${config.serviceName}"`);
  const transport = (u: UpstreamService) =>
    new BalancedTransport({
      address: u.address,
      log,
      secure: tls !== undefined,
      transportTo: (baseUrl) =>
        createGrpcTransport({
          baseUrl,
          pingIntervalMs: config.keepaliveMs,
          pingTimeoutMs: config.keepaliveMs,
          // An answer is held to what the direct path holds it to (byte-upstream.ts), not connect-node's 4 GiB.
          readMaxBytes: MAX_ANSWER_BYTES,
          interceptors: [oversizedAnswers, traceUpstream],
          ...(tls && { nodeOptions: { createConnection: meshTlsConnection(tls, u.name, log) } }),
        }),
    });
  const services: UpstreamService[] = [...catalogedUpstreams(config), ...(overrides.extraUpstreams ?? [])];
  const upstreams = services.map((u) => ({
    ...u,
    transport: transport(u),
    bytes: new ByteUpstream({ address: u.address, log, keepaliveMs: config.keepaliveMs, ...(tls && { secureConnection: meshTlsConnection(tls, u.name, log) }) }),
  }));

  const revocations = new Revocations(log);
  const revocationFeed = await followRevocationsFrom(config, overrides, revocations, log);
  const own = {
    writes: new RateLimiter(config.writesPerMinute, config.writeBurst),
    reads: new RateLimiter(config.readsPerMinute, config.readBurst),
  };
  // With NATS, every replica spends from the same budgets (shared-limits.ts); without, its own.
  // A namespace becomes one subject token: anything but letters, digits, _ and - is replaced.
  const space = (name: string) => (overrides.limitsNamespace ? `${overrides.limitsNamespace.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64)}_${name}` : name);
  const shared = revocationFeed.bus ? await SharedValues.open(revocationFeed.bus, { ...LIMITS_VALUES, replicas: config.streamReplicas }) : undefined;
  const limiters: Record<"writes" | "reads", Limiter> = shared
    ? {
        writes: new SharedRateLimiter(shared, space("writes"), config.writesPerMinute, config.writeBurst, own.writes, log),
        reads: new SharedRateLimiter(shared, space("reads"), config.readsPerMinute, config.readBurst, own.reads, log),
      }
    : own;
  const streamSlots = shared ? new SharedStreamSlots(shared, config.maxStreamsPerCaller, log, space("streams")) : undefined;
  const sweeper = setInterval(() => {
    Object.values(limiters).forEach((limiter) => limiter.sweep());
    revocations.sweep();
  }, 60_000);
  sweeper.unref();
  const proxies = new TrustedProxies(config.trustedProxies);

  const shutdown = new AbortController();
  // Every in-flight request listens for shutdown: hundreds at once are normal, not a leak.
  setMaxListeners(0, shutdown.signal);
  // No binaryOptions here: binary answers are the upstream's fields carried as unknown fields
  // (see forwardingRoutes), so writeUnknownFields must stay on, as it is by default.
  const rpc = connectNodeAdapter({
    routes: guardRoutes(
      forwardingRoutes(upstreams, config.defaultTimeoutMs, {
        maxLifetimeMs: config.streamMaxLifetimeMs,
        heartbeatMs: config.keepaliveMs,
        maxPerCaller: config.maxStreamsPerCaller,
        ...(streamSlots ? { slots: streamSlots } : {}),
      }),
      log,
      RESPONSE_COMPRESSIONS,
    ),
    interceptors: [traceAndMeasure(tracing), ...gatewayInterceptors(log, verifier, limiters, revocations, [refreshCookies()])],
    jsonOptions: STRICT_JSON,
    fallback: notFound(log) as ConnectNodeAdapterOptions["fallback"],
    readMaxBytes: config.maxBodyBytes,
    acceptCompression: RESPONSE_COMPRESSIONS,
    compressMinBytes: config.compressMinBytes,
    shutdownSignal: shutdown.signal,
    contextValues: (req) => {
      const values = createContextValues();
      values.set(requestIdKey, acceptedRequestId(req.headers[REQUEST_ID_KEY]) ?? randomUUID());
      values.set(clientAddressKey, proxies.clientAddress(req.socket?.remoteAddress, req.headers["x-forwarded-for"]));
      return values;
    },
  });

  const checkUpstreams = async () =>
    Object.fromEntries(
      await Promise.all(upstreams.map(async (u) => [u.name, await checkHealth(u.address, u.service.typeName, 1_000, { tls, workload: u.name })] as const)),
    );
  const webRoot = config.webRoot ?? join(__dirname, "web");
  const openapi = JSON.stringify(servedOpenApi(services.map((u) => u.service)));
  // Unary calls in binary protobuf take the verified-then-forwarded path (direct.ts); the rest, the router.
  const fast = directPath(
    directRoutes(upstreams),
    {
      log,
      verifier,
      revocations,
      limiters,
      proxies,
      tracing,
      compressions: RESPONSE_COMPRESSIONS,
      maxBodyBytes: config.maxBodyBytes,
      compressMinBytes: config.compressMinBytes,
      defaultTimeoutMs: config.defaultTimeoutMs,
    },
    corsHeaders(config.corsOrigins),
  );
  const handler: Handler = withCors(config.corsOrigins, healthz(checkUpstreams, apiDocument(openapi, staticFiles(webRoot, fast.handler(rpc as Handler)))));

  const sessions = new Set<ServerHttp2Session>();
  const http2 = createHttp2Server({}, handler);
  // HTTP/2 streams the direct path takes never become the compatibility layer's request and
  // response objects (which cost more than the rest of a forwarded call); the others do.
  const [compatibility] = http2.listeners("stream") as ((...args: unknown[]) => void)[];
  if (!compatibility) throw new Error("the HTTP/2 server has no compatibility layer to hand streams to");
  http2.removeListener("stream", compatibility);
  http2.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest: unknown[]) => {
    if (!fast.stream(stream, headers)) compatibility.call(http2, stream, headers, ...rest);
  });
  http2.on("session", (session) => {
    sessions.add(session);
    keepAlive(session, config.keepaliveMs);
    session.once("close", () => sessions.delete(session));
  });
  const http1 = createHttp1Server(handler);
  const http2Port = await listen(http2, config.host, config.http2Port);
  const httpPort = await listen(http1, config.host, config.httpPort);
  log.info({ http2Port, httpPort, upstreams: config.upstreams }, "gateway listening");
  let metrics: MetricsServer | undefined;
  try {
    metrics = config.telemetry.metricsPort ? await serveMetrics(config.host, config.telemetry.metricsPort, log) : undefined;
  } catch (error) {
    await Promise.all([close(http2), close(http1)]);
    throw error;
  }

  return {
    http2Port,
    httpPort,
    metricsPort: metrics?.port,
    stop: async () => {
      clearInterval(sweeper);
      streamSlots?.close();
      for (const u of upstreams) u.transport.close();
      await revocationFeed.stop();
      const closed = Promise.all([close(http2), close(http1)]);
      // Running handlers see their signal abort: streams end, unary calls finish what they can.
      shutdown.abort();
      for (const session of sessions) session.close();
      http1.closeIdleConnections();
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
      http1.closeAllConnections();
      for (const session of sessions) session.destroy();
      for (const u of upstreams) u.bytes.close();
      await metrics?.close();
      const failure = await tracing.shutdown();
      if (failure) log.warn({ err: failure }, "spans not sent at shutdown");
    },
  };
}

/**
 * Where revoked sessions are heard of: the bus the embedding process gives, else JetStream at
 * NATS_URL, else nowhere (development only: a revoked session's access tokens then work until they
 * expire, though its refresh token stops at once).
 */
async function followRevocationsFrom(config: GatewayConfig, overrides: GatewayOverrides, revocations: Revocations, log: Logger): Promise<{ stop(): Promise<void>; bus?: JetStreamBus }> {
  if (overrides.bus) return followRevocations(overrides.bus, revocations, log);
  if (!config.natsUrl) {
    log.warn("NATS_URL is not set: revoked sessions' access tokens are accepted until they expire");
    return { stop: async () => undefined };
  }
  const bus = await JetStreamBus.connect(config.natsUrl, "chirp-gateway", log, {
    nkeySeed: config.natsNkeySeed,
    inboxPrefix: inboxPrefix("gateway"),
    ownedStreams: ownedStreams("gateway"),
  });
  try {
    await bus.ensureStreams([STREAMS.users], { ...DEFAULT_STREAM_SETTINGS, replicas: config.streamReplicas });
    const subscription = await followRevocations(bus, revocations, log);
    return {
      bus,
      stop: async () => {
        await subscription.stop();
        await bus.close();
      },
    };
  } catch (error) {
    await bus.close();
    throw error;
  }
}

/**
 * The services of the catalogue (packages/kit/src/services.ts) the gateway forwards, each at its
 * configured address, served as the descriptor its access rules (access.ts) were written for.
 */
function catalogedUpstreams(config: GatewayConfig): UpstreamService[] {
  return GATEWAY_SERVICES.map(({ name, grpcService }) => {
    const service = ruledService(grpcService);
    if (!service) throw new Error(`the service catalogue has the gateway forward ${grpcService}, but gateway/src/access.ts has no rules for it`);
    return { name, address: config.upstreams[name], service };
  });
}

function listen(server: Http1Server | Http2Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

const close = (server: Http1Server | Http2Server) => new Promise<void>((resolve) => server.close(() => resolve()));
