import { createLogger, Lifecycle, OutboxRelay, type EventBus, type Logger, type OutboxStore } from "@chirp/kit";
import { InProcessEventBus, STREAMS } from "@chirp/kit/events";
import { bindService, GrpcServer, UserAccounts } from "@chirp/kit/grpc";
import { connectMongo } from "@chirp/kit/mongo";
import { JetStreamBus } from "@chirp/kit/nats";
import { warnAboutFallbacks, type GraphConfig } from "./config.js";
import { Graph } from "./domain/graph.js";
import type { GraphRepository } from "./domain/ports.js";
import { consumeUserEvents, graphEvents } from "./events.js";
import { GraphService, graphHandlers } from "./grpc/handlers.js";
import { InMemoryGraphRepository } from "./storage/memory.js";
import { MongoGraphRepository } from "./storage/mongo.js";

/** What the embedded mesh or a test may supply instead of the configured parts. */
export interface GraphOverrides {
  log?: Logger;
  /** A bus shared with other services in the same process. */
  bus?: EventBus;
}

export interface GraphApp {
  port: number;
  relay: OutboxRelay;
  bus: EventBus;
  stop(): Promise<void>;
}

/**
 * The composition root: connects storage and the event bus, wires the domain to them, starts
 * following the users service's events and serves the domain over gRPC. The server listens first
 * (health NOT_SERVING) and serves once everything is up.
 */
export async function startGraph(config: GraphConfig, overrides: GraphOverrides = {}): Promise<GraphApp> {
  const log = overrides.log ?? createLogger(config.serviceName, config.logLevel);
  warnAboutFallbacks(config, log);
  const lifecycle = new Lifecycle(log);
  const server = await GrpcServer.start({ host: config.host, port: config.port, services: [GraphService], log });
  try {
    let repository: GraphRepository;
    let outbox: OutboxStore;
    if (config.mongo) {
      const mongo = await connectMongo(config.mongo.uri, config.mongo.database, log);
      lifecycle.onStop("MongoDB", () => mongo.close());
      const store = await MongoGraphRepository.open(mongo.db);
      repository = store;
      outbox = store.outbox;
    } else {
      const store = new InMemoryGraphRepository();
      repository = store;
      outbox = store;
    }

    let bus: EventBus;
    if (overrides.bus) {
      bus = overrides.bus;
    } else if (config.natsUrl) {
      const jetstream = await JetStreamBus.connect(config.natsUrl, `chirp-${config.serviceName}`, log);
      lifecycle.onStop("NATS", () => jetstream.close());
      await jetstream.ensureStreams([STREAMS.users, STREAMS.graph, STREAMS.deadLetters]);
      bus = jetstream;
    } else {
      bus = new InProcessEventBus(log);
    }

    const relay = new OutboxRelay(outbox, bus, log, { pollIntervalMs: config.outboxPollMs });
    relay.start();
    lifecycle.onStop("outbox relay", () => relay.stop());

    // Connects on first use: the users service need not be up for this one to start and serve reads.
    const accounts = new UserAccounts(config.upstreams.users);
    lifecycle.onStop("users client", () => accounts.close());
    const graph = new Graph({ repository, events: graphEvents, accounts, onEventsRecorded: () => relay.notify() });
    const userEvents = await consumeUserEvents(bus, config.userEventsConsumer, graph);
    lifecycle.onStop("user events consumer", () => userEvents.stop());

    // Registered last so it stops first: calls drain while storage and the bus are still there.
    lifecycle.onStop("gRPC server", () => server.shutdown());
    server.activate(GraphService, bindService(GraphService, graphHandlers(graph), log));
    log.info({ port: server.port }, "graph service ready");

    return { port: server.port, relay, bus, stop: () => lifecycle.stop() };
  } catch (error) {
    await server.shutdown();
    await lifecycle.stop();
    throw error;
  }
}
