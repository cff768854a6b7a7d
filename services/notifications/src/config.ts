import { address, defineConfig, serviceSettings, setting, type ConfigOf } from "@chirp/kit";

/**
 * The notifications service's settings. In production (NODE_ENV=production) MongoDB and NATS must
 * be configured.
 */
export const schema = defineConfig({
  ...serviceSettings("notifications", 50055),
  /** host:port of the services it asks what events do not say. */
  upstreams: {
    users: address("USERS_ADDRESS", 50051, "the users service, asked for the ids of mentioned usernames and for the actors' profiles a page shows"),
    tweets: address("TWEETS_ADDRESS", 50052, "the tweets service, asked who wrote a liked, retweeted or replied-to post"),
  },
  /** Every replica shares the durable consumer, so each event is recorded once. */
  consumerName: setting.text("CONSUMER_NAME", {
    default: "notifications",
    pattern: { test: /^[A-Za-z0-9_-]{1,64}$/, says: '1 to 64 letters, digits, "_" or "-"' },
    doc: "the durable consumer the replicas share",
  }),
  profileCacheMs: setting.int("PROFILE_CACHE_MS", {
    default: 10_000,
    min: 0,
    max: 3_600_000,
    doc: "how long the actors' public profiles asked of the users service are reused (a renamed actor shows the old name at most this long); `0` asks every time",
  }),
});

export type NotificationsConfig = ConfigOf<typeof schema>;

export const loadConfig = schema.load;
