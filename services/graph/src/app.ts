import { STREAMS } from "@chirp/kit/events";
import { repositoryWithOutbox, startService, type RepositoryStorage, type ServiceApp, type ServiceOverrides } from "@chirp/kit/service";
import { schema, type GraphConfig } from "./config.js";
import { Graph } from "./domain/graph.js";
import type { GraphRepository } from "./domain/ports.js";
import { consumeUserEvents, graphEvents } from "./events.js";
import { GraphService, graphHandlers } from "./grpc/handlers.js";
import { graphPeers } from "./grpc/peers.js";
import { InMemoryGraphRepository } from "./storage/memory.js";
import { MongoGraphRepository } from "./storage/mongo.js";

export type GraphOverrides = ServiceOverrides;

export type GraphApp = ServiceApp<RepositoryStorage<GraphRepository>>;

/**
 * The composition root: follow edges on their repository, announced through its outbox, checking
 * with the users service before every write, and following the users service's events.
 */
export function startGraph(config: GraphConfig, overrides: GraphOverrides = {}): Promise<GraphApp> {
  return startService({
    config,
    schema,
    overrides,
    service: GraphService,
    peers: graphPeers,
    streams: [STREAMS.users, STREAMS.graph],
    storage: repositoryWithOutbox<GraphRepository>(() => new InMemoryGraphRepository(), (db) => MongoGraphRepository.open(db)),
    async parts({ storage: { repository }, bus, eventsRecorded, accounts, own }) {
      // One users client answers both questions: is the caller live, and who are the people listed.
      const graph = new Graph({ repository, events: graphEvents, accounts: accounts(), profiles: accounts(), onEventsRecorded: eventsRecorded });
      own("user events consumer", await consumeUserEvents(bus, config.userEventsConsumer, graph));
      return { handlers: graphHandlers(graph) };
    },
  });
}
