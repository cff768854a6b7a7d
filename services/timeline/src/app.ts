import { STREAMS } from "@chirp/kit/events";
import { kitMetrics } from "@chirp/kit/telemetry";
import { startService, type ServiceApp, type ServiceOverrides } from "@chirp/kit/service";
import { schema, type TimelineConfig } from "./config.js";
import { FanOut } from "./domain/fan-out.js";
import { HomeTimelines } from "./domain/home.js";
import { Hydration } from "./domain/hydration.js";
import { LiveTimelines } from "./domain/live.js";
import type { TimelineStores } from "./domain/ports.js";
import { Profiles } from "./domain/profiles.js";
import { TweetCards } from "./domain/tweet-cards.js";
import { consumeTimelineEvents, pushNewPosts } from "./events.js";
import { TimelineService, timelineHandlers } from "./grpc/handlers.js";
import { timelinePeers } from "./grpc/peers.js";
import { timelineObserver } from "./observe.js";
import { memoryStores } from "./storage/memory.js";
import { openMongoStores } from "./storage/mongo.js";
import { UpstreamClients } from "./upstream.js";

export type TimelineOverrides = ServiceOverrides;

export type TimelineApp = ServiceApp<TimelineStores>;

/**
 * Tombstones and fan-out progress are kept a day longer than JetStream keeps tweet events: after
 * that no event they guard against can be delivered any more.
 */
const TOMBSTONE_RETENTION_MS = STREAMS.tweets.maxAgeMs + 24 * 3_600_000;
const FORGET_EVERY_MS = 3_600_000;

/**
 * The composition root: the stores, the fan-out consumer, the live subscription and the reads,
 * rendered from the projections and, for what they lack, the upstream services.
 */
export function startTimeline(config: TimelineConfig, overrides: TimelineOverrides = {}): Promise<TimelineApp> {
  return startService({
    config,
    schema,
    overrides,
    service: TimelineService,
    peers: timelinePeers,
    streams: [STREAMS.users, STREAMS.tweets, STREAMS.graph],
    storage: { memory: () => memoryStores(config.timelineLength), mongo: (db) => openMongoStores(db, config.timelineLength) },
    async parts({ storage: stores, bus, log, own, onStop, beforeDrain, tls }) {
      const upstream = own("upstream clients", new UpstreamClients(config.upstreams, { profileCacheMs: config.profileCacheMs, tls }));
      const observer = timelineObserver(config.serviceName);
      const fanOut = new FanOut(stores, { celebrityFollowers: config.celebrityFollowers, timelineLength: config.timelineLength, observer });
      const cards = new TweetCards(stores);
      const profiles = new Profiles(stores);
      const home = new HomeTimelines(stores, new Hydration(cards, profiles), observer);
      const live = new LiveTimelines(stores, home, log);
      onStop("live stream metrics", kitMetrics().liveStreams.source({ service: config.serviceName }, () => live.streams));

      own("event consumer", await consumeTimelineEvents(bus, config.consumerName, fanOut, cards, profiles, (eventId) => upstream.forEvent(eventId)));
      own("live subscription", await pushNewPosts(bus, live, (eventId) => upstream.forEvent(eventId)));

      const forget = setInterval(() => {
        fanOut.forgetBefore(new Date(Date.now() - TOMBSTONE_RETENTION_MS)).catch((error: unknown) => log.warn({ err: error }, "could not prune tombstones"));
      }, FORGET_EVERY_MS);
      forget.unref();
      onStop("tombstone pruning", () => clearInterval(forget));
      // Open streams end at once instead of holding the server's drain until its deadline.
      beforeDrain("live streams", () => live.close());
      return { handlers: timelineHandlers(home, live, upstream), ready: { consumer: config.consumerName } };
    },
  });
}
