import {
  address,
  addressVariable,
  AUTH_AUDIENCE,
  AUTH_ISSUER,
  defineConfig,
  GATEWAY_SERVICES,
  LOG_LEVEL,
  meshTlsSettings,
  NATS_NKEY_SEED,
  publicKeysIn,
  setting,
  SHUTDOWN_DEADLINE_MS,
  STREAM_REPLICAS,
  telemetrySettings,
  type ConfigOf,
  type GatewayServiceName,
  type Setting,
} from "@chirp/kit";
import { MAX_TRUSTED_PROXIES, trustedProxyProblem } from "./client-address.js";

/** A limit per caller (or per client address for register and login), from 1 to a million. */
const perCaller = (env: string, fallback: number, doc: string) => setting.int(env, { default: fallback, min: 1, max: 1_000_000, doc });

/** The gateway's settings: where it listens, the services behind it, the tokens it accepts and its limits. */
export const schema = defineConfig({
  serviceName: setting.constant<string>("gateway"),
  host: setting.text("HTTP_HOST", { default: "0.0.0.0", doc: "the address both ports listen on" }),
  /** Cleartext HTTP/2 (h2c): gRPC, gRPC-Web and Connect. */
  http2Port: setting.port("HTTP2_PORT", { default: 8080, doc: "cleartext HTTP/2 (h2c): gRPC, gRPC-Web and Connect" }),
  /** HTTP/1.1: Connect (JSON or binary), gRPC-Web, the web client and /healthz. */
  httpPort: setting.port("HTTP_PORT", { default: 8081, doc: "HTTP/1.1: Connect (JSON or binary), gRPC-Web, the web client and `/healthz`" }),
  logLevel: LOG_LEVEL,
  /** Mutual TLS to the services, as the workload `gateway`; plaintext when unset (development only). */
  tls: meshTlsSettings(),
  /** host:port of each service it forwards: USERS_ADDRESS, … (the service catalogue, packages/kit/src/services.ts). */
  upstreams: Object.fromEntries(
    GATEWAY_SERVICES.map(({ name, port }) => [name, address(addressVariable(name), port, `the ${name} service`)]),
  ) as Record<GatewayServiceName, Setting<string>>,
  auth: {
    /** SPKI PEM Ed25519 public keys, one or more (during a key rotation). */
    publicKeysPem: setting.secret("AUTH_PUBLIC_KEY", {
      doc: "SPKI PEM Ed25519 public key(s) the tokens are verified with; several during a rotation",
      parse: publicKeysIn,
      check: (keys) => (keys.length === 0 ? "must hold one or more PEM public keys" : undefined),
    }),
    issuer: AUTH_ISSUER,
    audience: AUTH_AUDIENCE,
  },
  /** Where revocations of sessions are heard of (users' SessionsRevoked and UserDeleted events). */
  natsUrl: setting.optionalText("NATS_URL", {
    doc: "NATS server with JetStream, where revoked sessions are heard of",
    unset: "revocations are not heard of, and revoked sessions' access tokens work until they expire",
    fallback: "revoked sessions' access tokens are accepted until they expire",
  }),
  natsNkeySeed: NATS_NKEY_SEED,
  streamReplicas: STREAM_REPLICAS,
  /** Origins allowed to call from a browser; never a wildcard. */
  corsOrigins: setting.list("CORS_ORIGINS", {
    doc: "origins allowed to call from a browser (never `*`)",
    check: (origin) => (origin === "*" || !/^https?:\/\/[^/]+$/.test(origin) ? `"${origin}" is not an origin like https://chirp.example` : undefined),
  }),
  maxBodyBytes: setting.int("MAX_BODY_BYTES", { default: 64 * 1024, min: 1024, max: 16 * 1024 * 1024, doc: "largest request message" }),
  compressMinBytes: setting.int("COMPRESS_MIN_BYTES", {
    default: 1024,
    min: 0,
    max: 1024 * 1024 * 1024,
    doc: "responses at least this large are gzip- or brotli-compressed when the client accepts it; raise it when a proxy in front compresses",
  }),
  writesPerMinute: perCaller("WRITES_PER_MINUTE", 120, "writes a minute per caller, sustained"),
  writeBurst: perCaller("WRITE_BURST", 30, "writes per caller in a burst"),
  readsPerMinute: perCaller("READS_PER_MINUTE", 600, "reads (`NO_SIDE_EFFECTS` methods) a minute per caller, sustained"),
  readBurst: perCaller("READ_BURST", 120, "reads per caller in a burst"),
  trustedProxies: setting.list("TRUSTED_PROXIES", {
    doc: "IP addresses or CIDR ranges of the proxies whose `X-Forwarded-For` is believed; empty believes none",
    maxItems: MAX_TRUSTED_PROXIES,
    overMax: "use CIDR ranges",
    check: trustedProxyProblem,
  }),
  defaultTimeoutMs: setting.int("UPSTREAM_TIMEOUT_MS", { default: 10_000, min: 100, max: 120_000, doc: "deadline for unary calls whose client set none (never for streams)" }),
  streamMaxLifetimeMs: setting.int("STREAM_MAX_LIFETIME_MS", {
    default: 30 * 60_000,
    min: 1_000,
    max: 24 * 3_600_000,
    doc: "a server stream is ended (OK) after this long; clients reconnect and catch up",
  }),
  keepaliveMs: setting.int("KEEPALIVE_MS", { default: 15_000, min: 1_000, max: 300_000, doc: "an idle stream gets an empty message, and each HTTP/2 connection a PING, this often" }),
  maxStreamsPerCaller: setting.int("MAX_STREAMS_PER_CALLER", { default: 5, min: 1, max: 1_000, doc: "open server streams per caller (per gateway process)" }),
  shutdownDeadlineMs: SHUTDOWN_DEADLINE_MS,
  /** Tracing (OTLP endpoint, sample share) and the metrics port, as every service has them. */
  telemetry: telemetrySettings(),
  /** The built web client; unset means the one built beside this gateway. */
  webRoot: setting.optionalText("WEB_ROOT", { doc: "the built web client", unset: "`dist/web` beside the gateway" }),
});

export type GatewayConfig = ConfigOf<typeof schema>;

export const loadConfig = schema.load;
