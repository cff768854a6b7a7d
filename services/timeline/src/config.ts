import { address, defineConfig, serviceSettings, setting, type ConfigOf } from "@chirp/kit";

/**
 * The timeline service's settings. In production (NODE_ENV=production) MongoDB and NATS must be
 * configured.
 */
export const schema = defineConfig({
  ...serviceSettings("timeline", 50054),
  /** host:port of the services the timeline reads from. */
  upstreams: {
    users: address("USERS_ADDRESS", 50051, "the users service, asked for the profiles the profiles projection does not know"),
    tweets: address("TWEETS_ADDRESS", 50052, "the tweets service, asked for the tweets the tweets projection cannot render"),
    graph: address("GRAPH_ADDRESS", 50053, "the graph service, whose followers a post is fanned out to"),
  },
  /** Every replica shares the durable consumer, so each event is handled once. */
  consumerName: setting.text("CONSUMER_NAME", {
    default: "timeline",
    pattern: { test: /^[A-Za-z0-9_-]+$/, says: 'letters, digits, "_" and "-" only' },
    doc: "the durable consumer the replicas share",
  }),
  celebrityFollowers: setting.int("CELEBRITY_FOLLOWERS", { default: 10_000, min: 1, doc: "above this, posts are merged at read time instead of fanned out" }),
  timelineLength: setting.int("TIMELINE_LENGTH", { default: 800, min: 20, max: 10_000, doc: "entries kept per home timeline" }),
  profileCacheMs: setting.int("PROFILE_CACHE_MS", {
    default: 10_000,
    min: 0,
    max: 3_600_000,
    doc: "how long public profiles asked of the users service (people the profiles projection does not know) are reused (such a renamed author shows the old name at most this long); `0` asks the users service every time",
  }),
});

export type TimelineConfig = ConfigOf<typeof schema>;

export const loadConfig = schema.load;
