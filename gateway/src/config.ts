import { EnvReader, LOG_LEVELS } from "@chirp/kit";
import { MAX_TRUSTED_PROXIES, trustedProxyProblem } from "./client-address.js";

export interface GatewayConfig {
  serviceName: string;
  host: string;
  /** Cleartext HTTP/2 (h2c): gRPC, gRPC-Web and Connect. */
  http2Port: number;
  /** HTTP/1.1: Connect (JSON or binary), gRPC-Web, the web client and /healthz. */
  httpPort: number;
  logLevel: (typeof LOG_LEVELS)[number];
  upstreams: { users: string; tweets: string; graph: string; timeline: string };
  auth: {
    /** SPKI PEM Ed25519 public keys, one or more (during a key rotation). */
    publicKeysPem: string[];
    issuer: string;
    audience: string;
  };
  /** Origins allowed to call from a browser; never a wildcard. */
  corsOrigins: string[];
  maxBodyBytes: number;
  /** Responses at least this large are compressed when the client accepts it. */
  compressMinBytes: number;
  /** Per caller (or per client address for register and login): sustained writes per minute, and the burst allowed. */
  writesPerMinute: number;
  writeBurst: number;
  /** Per caller (per client address before login): sustained reads (NO_SIDE_EFFECTS methods) per minute, and the burst allowed. */
  readsPerMinute: number;
  readBurst: number;
  /** IP addresses or CIDR ranges of proxies whose X-Forwarded-For names the client; empty trusts none. */
  trustedProxies: string[];
  /** Applied to unary upstream calls when the client sets no deadline; never to streams. */
  defaultTimeoutMs: number;
  /** A server stream is ended cleanly (OK) after this long; the client reconnects and catches up. */
  streamMaxLifetimeMs: number;
  /** An idle stream gets an empty message, and every HTTP/2 connection a PING, this often. */
  keepaliveMs: number;
  /** Server streams one caller may hold open at once (per gateway process). */
  maxStreamsPerCaller: number;
  shutdownDeadlineMs: number;
  /** The built web client; unset means the one built beside this gateway. */
  webRoot: string | undefined;
}

const PEM_BLOCK = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g;

export function loadConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const read = new EnvReader(env);
  const keys = read.secret("AUTH_PUBLIC_KEY");
  const publicKeysPem = keys.match(PEM_BLOCK) ?? [];
  if (keys !== "" && publicKeysPem.length === 0) read.problem("AUTH_PUBLIC_KEY must hold one or more PEM public keys");
  const corsOrigins = (read.optionalString("CORS_ORIGINS") ?? "").split(",").map((o) => o.trim()).filter(Boolean);
  for (const origin of corsOrigins) {
    if (origin === "*" || !/^https?:\/\/[^/]+$/.test(origin)) read.problem(`CORS_ORIGINS: "${origin}" is not an origin like https://chirp.example`);
  }
  const trustedProxies = (read.optionalString("TRUSTED_PROXIES") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  if (trustedProxies.length > MAX_TRUSTED_PROXIES) read.problem(`TRUSTED_PROXIES: at most ${MAX_TRUSTED_PROXIES} entries; use CIDR ranges`);
  for (const entry of trustedProxies.slice(0, MAX_TRUSTED_PROXIES)) {
    const problem = trustedProxyProblem(entry);
    if (problem) read.problem(`TRUSTED_PROXIES: ${problem}`);
  }
  const config: GatewayConfig = {
    serviceName: "gateway",
    host: read.string("HTTP_HOST", "0.0.0.0"),
    http2Port: read.port("HTTP2_PORT", 8080),
    httpPort: read.port("HTTP_PORT", 8081),
    logLevel: read.oneOf("LOG_LEVEL", LOG_LEVELS, "info"),
    upstreams: {
      users: read.string("USERS_ADDRESS", "127.0.0.1:50051"),
      tweets: read.string("TWEETS_ADDRESS", "127.0.0.1:50052"),
      graph: read.string("GRAPH_ADDRESS", "127.0.0.1:50053"),
      timeline: read.string("TIMELINE_ADDRESS", "127.0.0.1:50054"),
    },
    auth: {
      publicKeysPem,
      issuer: read.string("AUTH_ISSUER", "chirp"),
      audience: read.string("AUTH_AUDIENCE", "chirp"),
    },
    corsOrigins,
    maxBodyBytes: read.int("MAX_BODY_BYTES", 64 * 1024, { min: 1024, max: 16 * 1024 * 1024 }),
    compressMinBytes: read.int("COMPRESS_MIN_BYTES", 1024, { min: 0, max: 1024 * 1024 * 1024 }),
    writesPerMinute: read.int("WRITES_PER_MINUTE", 120, { min: 1, max: 1_000_000 }),
    writeBurst: read.int("WRITE_BURST", 30, { min: 1, max: 1_000_000 }),
    readsPerMinute: read.int("READS_PER_MINUTE", 600, { min: 1, max: 1_000_000 }),
    readBurst: read.int("READ_BURST", 120, { min: 1, max: 1_000_000 }),
    trustedProxies,
    defaultTimeoutMs: read.int("UPSTREAM_TIMEOUT_MS", 10_000, { min: 100, max: 120_000 }),
    streamMaxLifetimeMs: read.int("STREAM_MAX_LIFETIME_MS", 30 * 60_000, { min: 1_000, max: 24 * 3_600_000 }),
    keepaliveMs: read.int("KEEPALIVE_MS", 15_000, { min: 1_000, max: 300_000 }),
    maxStreamsPerCaller: read.int("MAX_STREAMS_PER_CALLER", 5, { min: 1, max: 1_000 }),
    shutdownDeadlineMs: read.int("SHUTDOWN_DEADLINE_MS", 15_000, { min: 1_000, max: 120_000 }),
    webRoot: read.optionalString("WEB_ROOT"),
  };
  read.done();
  return config;
}
