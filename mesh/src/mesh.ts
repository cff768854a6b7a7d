import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  addressVariable,
  createLogger,
  generateSigningKeyPair,
  SERVICES,
  type ConsumingServiceName,
  type EventBus,
  type LevelWithSilent,
  type Logger,
  type OutboxRelay,
  type PublishingServiceName,
  type ServiceName,
} from "@chirp/kit";
import { EVENT_SUBJECTS, InProcessEventBus, STREAMS } from "@chirp/kit/events";
import { MeshCertificateSet } from "@chirp/kit/grpc";
import { connectMongo } from "@chirp/kit/mongo";
import { durableFromNow, JetStreamBus } from "@chirp/kit/nats";
import { serveMetrics } from "@chirp/kit/telemetry";
import { startGateway, type GatewayApp, type UpstreamService } from "@chirp/gateway";
import { loadConfig as gatewayConfig } from "@chirp/gateway/config";
import { serviceModule, type StartedService } from "./service-modules.js";

type Env = Record<string, string | undefined>;

/** A service's app as the mesh gives it back: the relay of its outbox where it has one. */
export type MeshApp<N extends ServiceName = ServiceName> = StartedService & (N extends PublishingServiceName ? { relay: OutboxRelay } : unknown);

/** What the demo data uses of the users service's operator handle for roles. */
export interface RoleGrants {
  grant(userId: string, role: string): Promise<unknown>;
}

/**
 * The subjects each consuming service's durable consumer reads, as the catalogue lists its events.
 * A run's consumers are made from them before the services start, and must sit on the same
 * streams as the service's own: on a stream where it finds none, a service makes one that replays
 * the stream from its beginning. (The service then sets the subjects itself.)
 */
export const CONSUMED_SUBJECTS = new Map<ConsumingServiceName, string[]>(
  SERVICES.flatMap((s) => ("consumer" in s ? [[s.name, s.consumer.events.map((event) => EVENT_SUBJECTS[event])] as const] : [])),
);

export interface MeshOptions {
  /**
   * The settings of every service and of the gateway, read as each reads its own environment
   * (default: this process's). MONGODB_URI and NATS_URL choose MongoDB, a database per service,
   * and JetStream; without them data stays in memory and events go through one in-process bus.
   * Test and benchmark knobs are settings too: PASSWORD_HASH_COST, OUTBOX_POLL_MS,
   * CELEBRITY_FOLLOWERS, …
   */
  env?: Env;
  /**
   * Settings of one process over `env`: what differs per process, such as its own NATS user
   * (NATS_NKEY_SEED; `env`'s own is then the run's admin user, which makes the run's consumers).
   */
  processEnv?: Partial<Record<ServiceName | "gateway", Env>>;
  log?: Logger;
  /**
   * The gateway listens on 127.0.0.1 at ports the system picks, whatever HTTP_HOST, HTTP_PORT and
   * HTTP2_PORT say (the services always do): for tests and benchmarks, which run beside each other
   * and beside `npm start`.
   */
  loopback?: boolean;
  /**
   * A run of its own on servers shared with other runs (tests, benchmarks): its databases are
   * `<run>_<service>`, and its durable consumers `<run>_<service>` are made before the services
   * start, at the streams' end, so that earlier runs' events are not replayed. `stop` removes
   * both, unless `keep`.
   */
  run?: string;
  keep?: boolean;
  /** More services for the gateway to forward (the benchmark's do-nothing backend). */
  extraUpstreams?: UpstreamService[];
  /**
   * Serve the process's /metrics (every service's and the gateway's series, told apart by their
   * `service` label) on 127.0.0.1 at a port the system picks, whatever METRICS_PORT says. Without
   * it, METRICS_PORT (if not 0) is the port, on GRPC_HOST.
   */
  metrics?: boolean;
  /**
   * The CA and certificates every service and the gateway speak mutual TLS with, each as its own
   * workload. Absent: a throwaway set made at start and removed at stop (TLS_* settings in `env`
   * are not used: one process cannot be several workloads with one certificate).
   */
  certificates?: MeshCertificateSet;
}

export interface Mesh {
  gateway: GatewayApp;
  /** Where each service's gRPC server listens, on 127.0.0.1. */
  ports: Record<ServiceName, number>;
  /** The same as "127.0.0.1:<port>", for clients. */
  addresses: Record<ServiceName, string>;
  /** Each service's composition root, for what a test or a benchmark looks at (an outbox relay to flush). */
  apps: { [N in ServiceName]: MeshApp<N> };
  /** Each service's MongoDB database (when MONGODB_URI is set). */
  databases: Record<ServiceName, string>;
  /** The run's durable consumers, when a run was named. */
  consumers: Record<ConsumingServiceName, string> | undefined;
  /** Where the process's /metrics is served, if it is. */
  metricsPort: number | undefined;
  /** The in-process bus, when NATS_URL is not set. */
  bus: EventBus | undefined;
  /** The users service's operator handle for roles: how the demo data makes its admin. */
  roles: RoleGrants;
  /** The mesh CA and the workloads' certificates (a test issues one to call a service directly). */
  certificates: MeshCertificateSet;
  /** The public key access tokens are verified with (AUTH_PUBLIC_KEY). */
  publicKeyPem: string;
  /** Stops the gateway, then the services in reverse order, then removes the run's consumers and databases. */
  stop(): Promise<void>;
}

/**
 * Every service and the gateway in one process, each through its own composition root and its own
 * gRPC server on a loopback port, exactly as in production: `npm start`, the end-to-end tests and
 * the benchmarks all start the mesh here. The services are the catalogue's (packages/kit/src/
 * services.ts), started in its order, each told where the ones before it listen. Services get
 * ephemeral ports; the gateway keeps its configured ones unless `loopback`.
 */
export async function startMesh(options: MeshOptions = {}): Promise<Mesh> {
  const { env = process.env, log = createLogger("mesh", "info"), run } = options;
  const child = (name: string) => createLogger(name, log.level as LevelWithSilent);
  const bus = env.NATS_URL ? undefined : new InProcessEventBus(child("bus"));
  // One signing key for the whole mesh: the configured one, or a throwaway for development.
  const signingKey = env.AUTH_SIGNING_KEY_FILE ? readFileSync(env.AUTH_SIGNING_KEY_FILE, "utf8") : (env.AUTH_SIGNING_KEY ?? generateSigningKeyPair().privateKeyPem);
  const publicKey = createPublicKey(signingKey).export({ type: "spki", format: "pem" }).toString();
  const certificates = options.certificates ?? new MeshCertificateSet();
  // One process, one /metrics (served below): the services and the gateway serve none of their own.
  // Every service verifies the callers' tokens itself, with the same public key as the gateway.
  const internal: Env = {
    ...env,
    GRPC_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    METRICS_PORT: "0",
    AUTH_SIGNING_KEY: signingKey,
    AUTH_SIGNING_KEY_FILE: undefined,
    AUTH_PUBLIC_KEY: publicKey,
    AUTH_PUBLIC_KEY_FILE: undefined,
  };
  // Each service owns its database, as in production: <prefix>_users, <prefix>_tweets, …
  const prefix = run ?? env.MONGODB_DATABASE_PREFIX ?? "chirp";
  const databases = byService((name) => `${prefix}_${name}`);
  const consumers = run ? (Object.fromEntries([...CONSUMED_SUBJECTS.keys()].map((name) => [name, `${run}_${name}`])) as Record<ConsumingServiceName, string>) : undefined;

  const stops: Array<() => Promise<unknown>> = [];
  if (!options.certificates) stops.push(async () => certificates.remove());
  /** Every step runs even when one before it fails, so a failed start still removes what it made. */
  const stopAll = async () => {
    const failures: unknown[] = [];
    for (const stop of stops.splice(0).reverse()) await stop().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw failures[0];
  };
  try {
    if (run) await prepareRun(env, databases, consumers!, stops, options.keep ?? false, child("mesh"));
    const configuredMetricsPort = Number(env.METRICS_PORT ?? 0);
    if (!Number.isInteger(configuredMetricsPort) || configuredMetricsPort < 0 || configuredMetricsPort > 65_535) throw new Error("METRICS_PORT: must be a port number, or 0 for none");
    const metrics =
      options.metrics || configuredMetricsPort > 0
        ? await serveMetrics(options.metrics ? "127.0.0.1" : (env.GRPC_HOST ?? "127.0.0.1"), options.metrics ? 0 : configuredMetricsPort, child("mesh"))
        : undefined;
    if (metrics) stops.push(() => metrics.close());

    // Where the services started so far listen (USERS_ADDRESS, …): each is given the addresses of
    // those before it, the gateway all of them.
    const addresses: Env = {};
    const apps: Partial<Record<ServiceName, StartedService>> = {};
    for (const service of SERVICES) {
      const { name } = service;
      const module = serviceModule(name);
      const consumerName = consumers?.[name as ConsumingServiceName];
      // A consumer's name goes to its setting where the service has one, else to its overrides.
      const consumerSetting = "consumer" in service && "setting" in service.consumer && consumerName ? { [service.consumer.setting]: consumerName } : {};
      const config = module.loadConfig({ ...internal, ...options.processEnv?.[name], MONGODB_DATABASE: databases[name], ...addresses, ...consumerSetting, ...certificates.envOf(name) });
      const app = await module.start(config, { log: child(name), bus, consumerName });
      stops.push(app.stop);
      apps[name] = app;
      addresses[addressVariable(name)] = `127.0.0.1:${app.port}`;
    }
    const gateway = await startGateway(
      gatewayConfig({
        ...env,
        ...options.processEnv?.gateway,
        ...addresses,
        METRICS_PORT: "0",
        AUTH_PUBLIC_KEY: publicKey,
        AUTH_PUBLIC_KEY_FILE: undefined,
        ...certificates.envOf("gateway"),
        ...(options.loopback && { HTTP_HOST: "127.0.0.1", HTTP_PORT: "0", HTTP2_PORT: "0" }),
      }),
      { log: child("gateway"), extraUpstreams: options.extraUpstreams ?? [], bus, ...(run && { limitsNamespace: run }) },
    );
    stops.push(gateway.stop);

    const ports = byService((name) => apps[name]!.port);
    return {
      gateway,
      ports,
      addresses: byService((name) => `127.0.0.1:${ports[name]}`),
      apps: apps as Mesh["apps"],
      databases,
      consumers,
      metricsPort: metrics?.port,
      bus,
      roles: apps.users!.roles as RoleGrants,
      certificates,
      publicKeyPem: publicKey,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}

/** A value for each catalogued service. */
function byService<T>(value: (name: ServiceName) => T): Record<ServiceName, T> {
  return Object.fromEntries(SERVICES.map(({ name }) => [name, value(name)])) as Record<ServiceName, T>;
}

/**
 * Makes a run's durable consumers at the streams' end (with NATS_URL), and registers their
 * removal and that of the run's databases (with MONGODB_URI) to follow the services' stop.
 */
export async function prepareRun(
  env: Env,
  databases: Record<ServiceName, string>,
  consumers: Record<ConsumingServiceName, string>,
  stops: Array<() => Promise<unknown>>,
  keep: boolean,
  log: Logger,
): Promise<void> {
  const { MONGODB_URI: mongoUri, NATS_URL: natsUrl } = env;
  if (natsUrl) {
    // With NATS_NKEY_SEED, as that user: on a server with authorization, one allowed everything.
    const admin = await JetStreamBus.connect(natsUrl, "chirp-mesh-run", log, { nkeySeed: env.NATS_NKEY_SEED });
    stops.push(() => admin.close());
    await admin.ensureStreams(Object.values(STREAMS));
    for (const [service, subjects] of CONSUMED_SUBJECTS) {
      const remove = await durableFromNow(admin, consumers[service], subjects);
      if (!keep) stops.push(remove);
    }
  }
  if (mongoUri && !keep) {
    stops.push(async () => {
      const connection = await connectMongo(mongoUri, databases.users, log);
      try {
        for (const database of Object.values(databases)) await connection.client.db(database).dropDatabase();
      } finally {
        await connection.close();
      }
    });
  }
}
