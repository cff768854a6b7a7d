import { randomUUID, type KeyObject } from "node:crypto";
import { setMaxListeners } from "node:events";
import { createServer as createHttp1Server, type Server as Http1Server } from "node:http";
import { createServer as createHttp2Server, type Http2Server, type ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, parseVerificationKey, TokenVerifier, type Logger } from "@chirp/kit";
import { checkHealth, REQUEST_ID_KEY } from "@chirp/kit/grpc";
import { GraphService } from "@chirp/proto/es/chirp/graph/v1/graph_pb";
import { TimelineService } from "@chirp/proto/es/chirp/timeline/v1/timeline_pb";
import { TweetsService } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";
import { RESPONSE_COMPRESSIONS } from "./compression.js";
import type { GatewayConfig } from "./config.js";
import { clientAddressKey, requestIdKey } from "./context.js";
import { healthz, staticFiles, withCors, type Handler } from "./http.js";
import { authenticate, limitWrites, observe } from "./interceptors.js";
import { RateLimiter } from "./rate-limit.js";
import { forwardingRoutes } from "./routes.js";
import { keepAlive } from "./streams.js";

export interface GatewayOverrides {
  log?: Logger;
  /** Keys to verify tokens with, instead of AUTH_PUBLIC_KEY (the embedded mesh shares its own). */
  publicKeys?: KeyObject[];
  /** Services to forward beside the mesh's four, such as the benchmark's do-nothing backend. */
  extraUpstreams?: UpstreamService[];
}

export interface UpstreamService {
  name: string;
  address: string;
  service: DescService;
}

export interface GatewayApp {
  http2Port: number;
  httpPort: number;
  stop(): Promise<void>;
}

const MAX_REQUEST_ID_LENGTH = 128;

/**
 * The composition root of the public entry: upstream gRPC transports, the Connect router with
 * its interceptors (observe → authenticate → limit writes), and two listeners sharing one
 * handler: cleartext HTTP/2 for gRPC, gRPC-Web and Connect, and HTTP/1.1 for Connect, gRPC-Web,
 * the web client and /healthz.
 */
export async function startGateway(config: GatewayConfig, overrides: GatewayOverrides = {}): Promise<GatewayApp> {
  const log = overrides.log ?? createLogger(config.serviceName, config.logLevel);
  const keys = overrides.publicKeys ?? config.auth.publicKeysPem.map(parseVerificationKey);
  if (keys.length === 0) throw new Error("no key to verify access tokens with: set AUTH_PUBLIC_KEY");
  const verifier = new TokenVerifier(keys, { issuer: config.auth.issuer, audience: config.auth.audience });

  // PINGs while calls are open, so a live stream's connection is kept by anything in between and
  // a dead one is noticed (and the stream ended) within KEEPALIVE_MS and the PING timeout.
  const transport = (address: string) =>
    createGrpcTransport({ baseUrl: `http://${address}`, pingIntervalMs: config.keepaliveMs, pingTimeoutMs: config.keepaliveMs });
  const services: UpstreamService[] = [
    { name: "users", address: config.upstreams.users, service: UsersService },
    { name: "tweets", address: config.upstreams.tweets, service: TweetsService },
    { name: "graph", address: config.upstreams.graph, service: GraphService },
    { name: "timeline", address: config.upstreams.timeline, service: TimelineService },
    ...(overrides.extraUpstreams ?? []),
  ];
  const upstreams = services.map((u) => ({ ...u, transport: transport(u.address) }));

  const limiter = new RateLimiter(config.writesPerMinute, config.writeBurst);
  const sweeper = setInterval(() => limiter.sweep(), 60_000);
  sweeper.unref();

  const shutdown = new AbortController();
  // Every in-flight request listens for shutdown: hundreds at once are normal, not a leak.
  setMaxListeners(0, shutdown.signal);
  // No binaryOptions here: binary answers are the upstream's fields carried as unknown fields
  // (see forwardingRoutes), so writeUnknownFields must stay on, as it is by default.
  const rpc = connectNodeAdapter({
    routes: forwardingRoutes(upstreams, config.defaultTimeoutMs, {
      maxLifetimeMs: config.streamMaxLifetimeMs,
      heartbeatMs: config.keepaliveMs,
      maxPerCaller: config.maxStreamsPerCaller,
    }),
    interceptors: [observe(log), authenticate(verifier), limitWrites(limiter)],
    readMaxBytes: config.maxBodyBytes,
    acceptCompression: RESPONSE_COMPRESSIONS,
    compressMinBytes: config.compressMinBytes,
    shutdownSignal: shutdown.signal,
    contextValues: (req) => {
      const values = createContextValues();
      const supplied = req.headers[REQUEST_ID_KEY];
      values.set(requestIdKey, typeof supplied === "string" && supplied !== "" && supplied.length <= MAX_REQUEST_ID_LENGTH ? supplied : randomUUID());
      values.set(clientAddressKey, req.socket?.remoteAddress ?? "unknown");
      return values;
    },
  });

  const checkUpstreams = async () =>
    Object.fromEntries(
      await Promise.all(upstreams.map(async (u) => [u.name, await checkHealth(u.address, u.service.typeName)] as const)),
    );
  const webRoot = config.webRoot ?? join(__dirname, "web");
  const handler: Handler = withCors(config.corsOrigins, healthz(checkUpstreams, staticFiles(webRoot, rpc as Handler)));

  const sessions = new Set<ServerHttp2Session>();
  const http2 = createHttp2Server({}, handler);
  http2.on("session", (session) => {
    sessions.add(session);
    keepAlive(session, config.keepaliveMs);
    session.once("close", () => sessions.delete(session));
  });
  const http1 = createHttp1Server(handler);
  const http2Port = await listen(http2, config.host, config.http2Port);
  const httpPort = await listen(http1, config.host, config.httpPort);
  log.info({ http2Port, httpPort, upstreams: config.upstreams }, "gateway listening");

  return {
    http2Port,
    httpPort,
    stop: async () => {
      clearInterval(sweeper);
      const closed = Promise.all([close(http2), close(http1)]);
      // Running handlers see their signal abort: streams end, unary calls finish what they can.
      shutdown.abort();
      for (const session of sessions) session.close();
      http1.closeIdleConnections();
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
      http1.closeAllConnections();
      for (const session of sessions) session.destroy();
    },
  };
}

function listen(server: Http1Server | Http2Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

const close = (server: Http1Server | Http2Server) => new Promise<void>((resolve) => server.close(() => resolve()));
