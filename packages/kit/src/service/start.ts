import type { KeyObject } from "node:crypto";
import type { Db } from "mongodb";
import type { EventBus, LiveSubscriber } from "../bus.js";
import { InProcessEventBus, STREAMS, type StreamSpec } from "../events/index.js";
import { bindService, GrpcServer, UserAccounts, type MeshTls, type PeerRules, type ServiceHandlers } from "../grpc/index.js";
import { publicKeysIn } from "../service-settings.js";
import { parseVerificationKey, TokenVerifier } from "../tokens.js";
import { Lifecycle } from "../lifecycle.js";
import { createLogger, type LevelWithSilent, type Logger } from "../logger.js";
import { connectMongo } from "../mongo/index.js";
import { DEFAULT_STREAM_SETTINGS, inboxPrefix, JetStreamBus, NATS_PROCESSES, ownedStreams, type NatsProcess } from "../nats/index.js";
import { OutboxRelay, type OutboxStore } from "../outbox.js";
import { kitMetrics, ObservedBus, serveMetrics, Tracing, type TracingSettings } from "../telemetry/index.js";

/** A generated gRPC service definition, as `bindService` takes it. */
type Definition = Parameters<typeof bindService>[0];

/** Every bus the kit makes carries durable consumers and live subscriptions alike. */
export type ServiceBus = EventBus & LiveSubscriber;

/** What the embedded mesh or a test may supply instead of the configured parts. */
export interface ServiceOverrides {
  log?: Logger;
  /** A bus shared with other services in the same process. */
  bus?: ServiceBus;
}

/** The settings `startService` reads: the kit's `serviceSettings`, and the relay's poll when there is an outbox. */
export interface ServiceConfig {
  serviceName: string;
  host: string;
  port: number;
  /** A plaintext port answering health checks only (`serviceSettings` has it); absent or 0: none. */
  healthPort?: number;
  logLevel: LevelWithSilent;
  /** With `username` and `password`, the service's own MongoDB user (`serviceSettings` has them). */
  mongo: { uri: string; database: string; username?: string; password?: string } | undefined;
  natsUrl: string | undefined;
  /** The process's own NATS user (`serviceSettings` has it); absent: none. */
  natsNkeySeed?: string;
  /** JetStream replication of the streams it declares (`serviceSettings` has it); absent: 1. */
  streamReplicas?: number;
  outboxPollMs?: number;
  /** host:port of the users service, for services that ask it whether the caller's account is live. */
  upstreams?: { users?: string };
  /** Tracing and the metrics port (`serviceSettings` has them); absent: neither. */
  telemetry?: TracingSettings & { metricsPort: number };
  /** The keys, issuer and audience of the end users' access tokens (`serviceSettings` has them); absent: no token verifies. */
  tokens?: { publicKeysPem: string | undefined; issuer: string; audience: string };
  /** The process's mesh certificate files (`serviceSettings` has them); absent: plaintext (development only). */
  tls?: MeshTls;
}

/**
 * A service's storage: whatever its domain needs. When it has an `outbox` (an OutboxStore), the
 * relay publishes what its writes record there.
 */
export type ServiceStorage = object;

/** How a service's storage is made: in MongoDB when configured, in memory otherwise. */
export interface StorageFactories<S> {
  memory(): S;
  mongo(db: Db): Promise<S>;
}

/** The usual storage: one repository that records the events of its writes in its outbox. */
export interface RepositoryStorage<R> {
  repository: R;
  outbox: OutboxStore;
}

/** A repository whose in-memory adapter is its own outbox and whose MongoDB adapter holds one. */
export function repositoryWithOutbox<R>(
  memory: () => R & OutboxStore,
  mongo: (db: Db) => Promise<R & { outbox: OutboxStore }>,
): StorageFactories<RepositoryStorage<R>> {
  return {
    memory: () => {
      const repository = memory();
      return { repository, outbox: repository };
    },
    mongo: async (db) => {
      const repository = await mongo(db);
      return { repository, outbox: repository.outbox };
    },
  };
}

/** What a service's parts are built with. */
export interface ServiceContext<C, S> {
  config: C;
  log: Logger;
  storage: S;
  bus: ServiceBus;
  /** Tells the outbox relay events were recorded, so it publishes them now instead of at its next poll. */
  eventsRecorded(): void;
  /** Stopped once the gRPC server has drained, newest first: consumers, clients, timers. */
  onStop(name: string, stop: () => Promise<void> | void): void;
  /** Stopped before the gRPC server drains: whatever would hold the drain open (live streams). */
  beforeDrain(name: string, stop: () => Promise<void> | void): void;
  /**
   * The users service's answer to whether an account is live, asked before every write: one
   * client, at `upstreams.users`, connected on first use (the users service need not be up for
   * this one to start and serve reads), closed after the drain.
   */
  accounts(): UserAccounts;
  /** Registers a consumer's `stop` or a client's `close` with `onStop`, and gives it back. */
  own<R extends Stoppable>(name: string, resource: R): R;
  /** The process's mesh certificate files, for the clients of other services it makes (`channelCredentials`). */
  tls: MeshTls | undefined;
}

/** A consumer, subscription or client: something that ends with `stop()` or `close()`. */
export type Stoppable = { stop(): Promise<void> | void } | { close(): Promise<void> | void };

/** What a service's parts give back: its handlers, and what its app hands to whoever started it. */
export interface ServiceParts<D, E> {
  handlers: ServiceHandlers<D>;
  app?: E;
  /** More fields for the "service ready" log line. */
  ready?: Record<string, unknown>;
}

export interface ServiceDeclaration<C extends ServiceConfig, D extends Definition, S extends ServiceStorage, E> {
  config: C;
  /** The schema the configuration came from: the development fallbacks it uses are logged. */
  schema: { fallbacks(config: C): string[] };
  overrides?: ServiceOverrides;
  /** The gRPC service it serves. */
  service: D;
  /** Which workloads may call each of its RPCs (its src/grpc/peers.ts), enforced with mutual TLS. */
  peers: PeerRules<D>;
  /** Keys its access tokens are verified with besides AUTH_PUBLIC_KEY's (the users service's own signing key). */
  callerKeys?: KeyObject[];
  /** The JetStream streams it publishes to or consumes from; the dead-letter stream is always declared. */
  streams: StreamSpec[];
  storage: StorageFactories<S>;
  /** Builds the domain on storage and bus, starts what reacts to events, and returns the handlers. */
  parts(context: ServiceContext<C, S>): Promise<ServiceParts<D, E>>;
}

/** The relay publishes a storage's outbox; a storage without one has none. */
type RelayOf<S> = S extends { outbox: OutboxStore } ? { relay: OutboxRelay } : Record<never, never>;

export type ServiceApp<S, E = Record<never, never>> = {
  port: number;
  /** Where its /metrics is served, when METRICS_PORT is set. */
  metricsPort?: number;
  bus: ServiceBus;
  stop(): Promise<void>;
} & RelayOf<S> &
  E;

/**
 * Every service's start, once: the server listens first (health NOT_SERVING, calls UNAVAILABLE),
 * storage and the bus connect, the outbox relay starts, the service's own parts are built on
 * them, and only then is it served. Shutdown runs in reverse: whatever holds streams open, the
 * server's drain, the service's consumers and clients, the relay, NATS, MongoDB.
 */
export async function startService<C extends ServiceConfig, D extends Definition, S extends ServiceStorage, E = Record<never, never>>(
  declaration: ServiceDeclaration<C, D, S, E>,
): Promise<ServiceApp<S, E>> {
  const { config, overrides = {} } = declaration;
  const log = overrides.log ?? createLogger(config.serviceName, config.logLevel);
  for (const warning of declaration.schema.fallbacks(config)) log.warn(warning);
  const lifecycle = new Lifecycle(log);
  const own = <R extends Stoppable>(name: string, resource: R): R => {
    lifecycle.onStop(name, () => ("stop" in resource ? resource.stop() : resource.close()));
    return resource;
  };
  const service = config.serviceName;
  const server = await GrpcServer.start({ host: config.host, port: config.port, services: [declaration.service], log, tls: config.tls, identity: service, healthPort: config.healthPort });
  const callerKeys = [...publicKeysIn(config.tokens?.publicKeysPem ?? "").map(parseVerificationKey), ...(declaration.callerKeys ?? [])];
  const tokens = config.tokens && callerKeys.length > 0 ? new TokenVerifier(callerKeys, config.tokens) : undefined;
  try {
    // Stopped last: the spans of the shutdown itself are still sent.
    const tracing = Tracing.start(service, config.telemetry ?? { otlpEndpoint: undefined, samplePercent: 100 });
    lifecycle.onStop("tracing", async () => {
      const failure = await tracing.shutdown();
      if (failure) log.warn({ err: failure }, "spans not sent at shutdown");
    });
    const metrics = config.telemetry?.metricsPort ? await serveMetrics(config.host, config.telemetry.metricsPort, log) : undefined;
    if (metrics) lifecycle.onStop("metrics", () => metrics.close());

    let storage: S;
    if (config.mongo) {
      const mongo = await connectMongo(config.mongo.uri, config.mongo.database, log, config.mongo.database, { service, traced: tracing.enabled }, config.mongo);
      lifecycle.onStop("MongoDB", () => mongo.close());
      storage = await declaration.storage.mongo(mongo.db);
    } else {
      storage = declaration.storage.memory();
    }

    let transport: ServiceBus;
    if (overrides.bus) {
      transport = overrides.bus;
    } else if (config.natsUrl) {
      const catalogued = NATS_PROCESSES.includes(service as NatsProcess);
      const jetstream = await JetStreamBus.connect(config.natsUrl, `chirp-${config.serviceName}`, log, {
        nkeySeed: config.natsNkeySeed,
        inboxPrefix: inboxPrefix(service),
        // A service outside the catalogue (a test's) has no permissions declared: it updates what it declares.
        ...(catalogued ? { ownedStreams: ownedStreams(service as NatsProcess) } : {}),
      });
      lifecycle.onStop("NATS", () => jetstream.close());
      lifecycle.onStop("NATS metrics", kitMetrics().natsConnected.source({ service }, () => (jetstream.connected ? 1 : 0)));
      await jetstream.ensureStreams([...declaration.streams, STREAMS.deadLetters], { ...DEFAULT_STREAM_SETTINGS, replicas: config.streamReplicas ?? 1 });
      transport = jetstream;
    } else {
      transport = new InProcessEventBus(log);
    }
    const bus: ServiceBus = new ObservedBus(transport, tracing, service);

    let relay: OutboxRelay | undefined;
    const { outbox } = storage as { outbox?: OutboxStore };
    if (outbox) {
      const started = new OutboxRelay(outbox, bus, log, { pollIntervalMs: config.outboxPollMs, service });
      started.start();
      lifecycle.onStop("outbox relay", () => started.stop());
      relay = started;
    }

    const drainFirst: Array<[string, () => Promise<void> | void]> = [];
    let accounts: UserAccounts | undefined;
    const parts = await declaration.parts({
      config,
      log,
      storage,
      bus,
      eventsRecorded: () => relay?.notify(),
      onStop: (name, stop) => lifecycle.onStop(name, stop),
      own,
      accounts: () => {
        if (accounts) return accounts;
        if (!config.upstreams?.users) throw new Error(`${config.serviceName} has no users service address (upstreams.users)`);
        return (accounts = own("users client", new UserAccounts(config.upstreams.users, { tls: config.tls })));
      },
      tls: config.tls,
      beforeDrain: (name, stop) => drainFirst.push([name, stop]),
    });
    // Registered last so it stops first: calls drain while storage and the bus are still there.
    lifecycle.onStop("gRPC server", () => server.shutdown());
    for (const [name, stop] of drainFirst) lifecycle.onStop(name, stop);
    server.activate(declaration.service, bindService(declaration.service, parts.handlers, log, { service, tracing }, { peers: declaration.peers, tokens, tls: server.tls }));
    log.info({ port: server.port, ...parts.ready }, `${config.serviceName} service ready`);

    const app = { ...parts.app, port: server.port, metricsPort: metrics?.port, bus: transport, stop: () => lifecycle.stop() } as Record<string, unknown>;
    if (relay) app.relay = relay;
    return app as ServiceApp<S, E>;
  } catch (error) {
    await server.shutdown();
    await lifecycle.stop();
    throw error;
  }
}
