import { setting } from "./config-schema.js";
import { LOG_LEVELS } from "./logger.js";
import { DEFAULT_TOKEN_SETTINGS } from "./tokens.js";

/**
 * The settings every service reads, declared once. A service's schema starts with
 * `serviceSettings(name, port)` and adds its own; the README documents these once for all
 * services (`common`), each service's table only what it adds.
 */

/**
 * Loopback unless a deployment says otherwise: a service answers only the callers that may reach
 * it, so a process started on its own is not reachable from the network. The manifests set
 * 0.0.0.0 (the pod's own address), which their NetworkPolicies guard.
 */
export const GRPC_HOST = setting.text("GRPC_HOST", {
  default: "127.0.0.1",
  doc: "the address the gRPC server and `/metrics` listen on; the Kubernetes manifests set `0.0.0.0`, guarded by their NetworkPolicies",
  common: true,
});

export const grpcPort = (port: number) => setting.port("GRPC_PORT", { default: port, doc: "the port the gRPC server listens on", common: true });

export const MONGODB_URI = setting.optionalText("MONGODB_URI", {
  doc: "MongoDB connection string",
  unset: "in memory",
  fallback: "data is kept in memory and lost on exit",
  production: { required: true },
  common: true,
});

/**
 * The service's own MongoDB user, limited to its database (k8s/scripts/create-mongodb-users.js
 * makes it): authenticated against that database unless MONGODB_URI names an `authSource`. The
 * password is never logged; MONGODB_URI itself need not hold a credential.
 */
export const MONGODB_USERNAME = setting.optionalText("MONGODB_USERNAME", {
  doc: "the service's own MongoDB user (with `MONGODB_PASSWORD`), authenticated against its database unless `MONGODB_URI` names an `authSource`",
  unset: "no user, or the one `MONGODB_URI` names",
  common: true,
});
export const MONGODB_PASSWORD = setting.optionalSecret("MONGODB_PASSWORD", {
  doc: "`MONGODB_USERNAME`'s password",
  unset: "none",
  common: true,
});

export const mongoDatabase = (name: string) => setting.text("MONGODB_DATABASE", { default: name, doc: "the service's own database", common: true });

export const NATS_URL = setting.optionalText("NATS_URL", {
  doc: "NATS server with JetStream",
  unset: "an in-process bus",
  fallback: "events go to an in-process bus that no other process sees",
  production: { required: true },
  common: true,
});

/**
 * The process's own NATS user: an nkey seed, whose public key the server's authorization lists
 * with this process's permissions (nats/authorization.ts). The seed signs the server's challenge
 * and never travels.
 */
export const NATS_NKEY_SEED = setting.optionalSecret("NATS_NKEY_SEED", {
  doc: "the process's own NATS user: its nkey seed (`SU…`), whose public key the NATS server's authorization lists with this process's permissions",
  unset: "no user (a NATS server without authorization)",
  pattern: { test: /^SU[A-Z2-7]{56}$/, says: "an nkey user seed: SU and 56 base32 characters" },
  common: true,
});

/** How many NATS servers keep each stream: JetStream replication, for a NATS cluster. */
export const STREAM_REPLICAS = setting.int("STREAM_REPLICAS", {
  default: 1,
  min: 1,
  max: 5,
  doc: "NATS servers that keep a copy of each stream (JetStream replication): `3` on a 3-node cluster; every process must say the same, as each declares the streams it uses",
  common: true,
});

export const LOG_LEVEL = setting.choice("LOG_LEVEL", LOG_LEVELS, { default: "info", doc: "pino level", common: true });

export const SHUTDOWN_DEADLINE_MS = setting.int("SHUTDOWN_DEADLINE_MS", {
  default: 15_000,
  min: 1_000,
  max: 120_000,
  doc: "forced exit after this long on SIGTERM",
  common: true,
});

/** For services that announce events through an outbox. */
export const OUTBOX_POLL_MS = setting.int("OUTBOX_POLL_MS", {
  default: 1_000,
  min: 50,
  max: 60_000,
  doc: "how often the outbox relay looks for events left behind",
  common: true,
});

/** Where traces go; OpenTelemetry's own variable, so collectors' usual setup works unchanged. */
export const OTLP_ENDPOINT = setting.optionalText("OTEL_EXPORTER_OTLP_ENDPOINT", {
  doc: "OTLP/HTTP endpoint traces are sent to (e.g. `http://localhost:4318`)",
  unset: "no traces are recorded (tracing costs next to nothing)",
  common: true,
});

export const TRACE_SAMPLE_PERCENT = setting.int("TRACE_SAMPLE_PERCENT", {
  default: 100,
  min: 0,
  max: 100,
  doc: "share of new traces recorded (parent-based: a call that arrives traced keeps its caller's decision, except at the gateway)",
  common: true,
});

export const METRICS_PORT = setting.port("METRICS_PORT", {
  default: 0,
  doc: "port of the Prometheus `/metrics` endpoint, apart from the public ones; `0`: none",
  common: true,
});

/**
 * A plaintext port serving only the standard health service, for probes that cannot present a
 * client certificate (Kubernetes' gRPC probes): with mutual TLS, the gRPC port answers nobody else.
 */
export const HEALTH_PORT = setting.port("HEALTH_PORT", {
  default: 0,
  doc: "plaintext port serving only `grpc.health.v1` (for Kubernetes' gRPC probes, which present no certificate); `0`: none",
  common: true,
});

/** Tracing and metrics: what `startService` and the gateway observe themselves with. */
export const telemetrySettings = () => ({ otlpEndpoint: OTLP_ENDPOINT, samplePercent: TRACE_SAMPLE_PERCENT, metricsPort: METRICS_PORT });

/** host:port of another process; the default is where the embedded and local runs put it. */
export const address = (env: string, port: number, doc: string) => setting.text(env, { default: `127.0.0.1:${port}`, doc });

/** For services that ask the users service, before every write, whether the caller's account is live. */
export const USERS_ADDRESS = address(
  "USERS_ADDRESS",
  50051,
  "the users service, asked before every write whether the caller's account is live (connected on first use: it need not be up first)",
).with({ common: true });

/** What the tokens say they come from and are for: users signs with them, the gateway and every service expect them. */
export const AUTH_ISSUER = setting.text("AUTH_ISSUER", { default: DEFAULT_TOKEN_SETTINGS.issuer, doc: "the tokens' issuer (`iss`)", common: true });
export const AUTH_AUDIENCE = setting.text("AUTH_AUDIENCE", { default: DEFAULT_TOKEN_SETTINGS.audience, doc: "the tokens' audience (`aud`)", common: true });

/** The PEM public keys in a text: one or more (several during a key rotation). */
export const publicKeysIn = (pem: string): string[] => pem.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];

/**
 * The keys every service verifies the end user's access token with, itself: the gateway forwards
 * the token a call came with, and no header naming a caller is believed (packages/kit/README.md).
 */
export const AUTH_PUBLIC_KEY = setting.optionalSecret("AUTH_PUBLIC_KEY", {
  doc: "SPKI PEM Ed25519 public key(s) the access tokens calls carry are verified with; several during a rotation",
  unset: "no token verifies",
  fallback: "no access token can be verified here: calls on a user's behalf are refused (UNAUTHENTICATED)",
  production: { required: true },
  common: true,
});

/** The end user's tokens, as every service verifies them. */
export const callerTokenSettings = () => ({ publicKeysPem: AUTH_PUBLIC_KEY, issuer: AUTH_ISSUER, audience: AUTH_AUDIENCE });

const PLAINTEXT = "gRPC is plaintext: callers are not authenticated and the peer rules are not enforced";

/**
 * The process's mesh certificate (mutual TLS between every process of the mesh): its workload
 * certificate, naming it `spiffe://chirp/<name>`, its key and the mesh CA, in PEM files that are
 * watched and reloaded when they change. All three or none; none is plaintext, development only.
 */
export const meshTlsSettings = () =>
  setting.wholeWhenSet("certFile", {
    certFile: setting.optionalText("TLS_CERT_FILE", {
      doc: "the process's mesh certificate (PEM), issued by the mesh CA, naming it `spiffe://chirp/<name>`; reloaded when it changes",
      unset: "plaintext",
      fallback: PLAINTEXT,
      production: { required: true },
      common: true,
    }),
    keyFile: setting.optionalText("TLS_KEY_FILE", { doc: "the key of `TLS_CERT_FILE` (PEM); needed with it", common: true }),
    caFile: setting.optionalText("TLS_CA_FILE", { doc: "the mesh CA's certificate (PEM), the only issuer trusted for peers; needed with `TLS_CERT_FILE`", common: true }),
    reloadMs: setting.int("TLS_RELOAD_MS", { default: 1_000, min: 100, max: 600_000, doc: "how often the certificate files are looked at for a new certificate", common: true }),
  });

/** The settings every service's configuration starts with; its database is `chirp_<name>`. */
export function serviceSettings(name: string, port: number) {
  return {
    serviceName: setting.constant<string>(name),
    host: GRPC_HOST,
    port: grpcPort(port),
    healthPort: HEALTH_PORT,
    /** MongoDB when MONGODB_URI is set; in-memory storage otherwise (development only). */
    mongo: setting.whenSet("uri", { uri: MONGODB_URI, database: mongoDatabase(`chirp_${name}`), username: MONGODB_USERNAME, password: MONGODB_PASSWORD }),
    /** JetStream when set; an in-process bus otherwise (development only). */
    natsUrl: NATS_URL,
    natsNkeySeed: NATS_NKEY_SEED,
    streamReplicas: STREAM_REPLICAS,
    logLevel: LOG_LEVEL,
    shutdownDeadlineMs: SHUTDOWN_DEADLINE_MS,
    telemetry: telemetrySettings(),
    /** The end user's access tokens, verified here. */
    tokens: callerTokenSettings(),
    /** Mutual TLS with the mesh's certificates; plaintext when unset (development only). */
    tls: meshTlsSettings(),
  };
}
