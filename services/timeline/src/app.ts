import { createLogger, Lifecycle, type EventBus, type LiveSubscriber, type Logger } from "@chirp/kit";
import { InProcessEventBus, STREAMS } from "@chirp/kit/events";
import { bindService, GrpcServer } from "@chirp/kit/grpc";
import { connectMongo } from "@chirp/kit/mongo";
import { JetStreamBus } from "@chirp/kit/nats";
import { warnAboutFallbacks, type TimelineConfig } from "./config.js";
import { FanOut } from "./domain/fan-out.js";
import { HomeTimelines } from "./domain/home.js";
import { Hydration } from "./domain/hydration.js";
import { LiveTimelines } from "./domain/live.js";
import type { TimelineStores } from "./domain/ports.js";
import { Profiles } from "./domain/profiles.js";
import { TweetCards } from "./domain/tweet-cards.js";
import { consumeTimelineEvents, pushNewPosts } from "./events.js";
import { TimelineService, timelineHandlers } from "./grpc/handlers.js";
import { memoryStores } from "./storage/memory.js";
import { openMongoStores } from "./storage/mongo.js";
import { UpstreamClients } from "./upstream.js";

/** What the embedded mesh or a test may supply instead of the configured parts. */
export interface TimelineOverrides {
  log?: Logger;
  /** A bus shared with other services in the same process. */
  bus?: EventBus & LiveSubscriber;
}

export interface TimelineApp {
  port: number;
  bus: EventBus & LiveSubscriber;
  stop(): Promise<void>;
}

/**
 * Tombstones and fan-out progress are kept a day longer than JetStream keeps tweet events: after
 * that no event they guard against can be delivered any more.
 */
const TOMBSTONE_RETENTION_MS = STREAMS.tweets.maxAgeMs + 24 * 3_600_000;
const FORGET_EVERY_MS = 3_600_000;

/**
 * The composition root: connects storage and the event bus, starts the fan-out consumer and the
 * live subscription, and serves timelines over gRPC. The server listens first (health
 * NOT_SERVING) and serves once everything is up.
 */
export async function startTimeline(config: TimelineConfig, overrides: TimelineOverrides = {}): Promise<TimelineApp> {
  const log = overrides.log ?? createLogger(config.serviceName, config.logLevel);
  warnAboutFallbacks(config, log);
  const lifecycle = new Lifecycle(log);
  const server = await GrpcServer.start({ host: config.host, port: config.port, services: [TimelineService], log });
  try {
    let stores: TimelineStores;
    if (config.mongo) {
      const mongo = await connectMongo(config.mongo.uri, config.mongo.database, log);
      lifecycle.onStop("MongoDB", () => mongo.close());
      stores = await openMongoStores(mongo.db, config.timelineLength);
    } else {
      stores = memoryStores(config.timelineLength);
    }

    let bus: EventBus & LiveSubscriber;
    if (overrides.bus) {
      bus = overrides.bus;
    } else if (config.natsUrl) {
      const jetstream = await JetStreamBus.connect(config.natsUrl, `chirp-${config.serviceName}`, log);
      lifecycle.onStop("NATS", () => jetstream.close());
      await jetstream.ensureStreams([STREAMS.users, STREAMS.tweets, STREAMS.graph, STREAMS.deadLetters]);
      bus = jetstream;
    } else {
      bus = new InProcessEventBus(log);
    }

    const upstream = new UpstreamClients(config.upstreams, { profileCacheMs: config.profileCacheMs });
    lifecycle.onStop("upstream clients", () => upstream.close());

    const fanOut = new FanOut(stores, { celebrityFollowers: config.celebrityFollowers, timelineLength: config.timelineLength });
    const cards = new TweetCards(stores);
    const profiles = new Profiles(stores);
    const home = new HomeTimelines(stores, new Hydration(cards, profiles));
    const live = new LiveTimelines(stores, home, log);

    const consumer = await consumeTimelineEvents(bus, config.consumerName, fanOut, cards, profiles, (eventId) => upstream.forEvent(eventId));
    lifecycle.onStop("event consumer", () => consumer.stop());
    const newPosts = await pushNewPosts(bus, live, (eventId) => upstream.forEvent(eventId));
    lifecycle.onStop("live subscription", () => newPosts.stop());

    const forget = setInterval(() => {
      fanOut.forgetBefore(new Date(Date.now() - TOMBSTONE_RETENTION_MS)).catch((error: unknown) => log.warn({ err: error }, "could not prune tombstones"));
    }, FORGET_EVERY_MS);
    forget.unref();
    lifecycle.onStop("tombstone pruning", () => clearInterval(forget));

    // Registered last so it stops first: calls drain while storage and the bus are still there.
    lifecycle.onStop("gRPC server", () => server.shutdown());
    // Registered after the server so it stops before it: open streams end at once instead of
    // holding the drain until its deadline.
    lifecycle.onStop("live streams", () => live.close());
    server.activate(TimelineService, bindService(TimelineService, timelineHandlers(home, live, upstream), log));
    log.info({ port: server.port, consumer: config.consumerName }, "timeline service ready");

    return { port: server.port, bus, stop: () => lifecycle.stop() };
  } catch (error) {
    await server.shutdown();
    await lifecycle.stop();
    throw error;
  }
}
