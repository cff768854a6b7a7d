import { defineConfig, OUTBOX_POLL_MS, serviceSettings, USERS_ADDRESS, type ConfigOf } from "@chirp/kit";

/**
 * The tweets service's settings: the ones every service reads, the relay's and the users service's
 * address. In production (NODE_ENV=production) MongoDB and NATS must be configured.
 */
export const schema = defineConfig({
  ...serviceSettings("tweets", 50052),
  upstreams: { users: USERS_ADDRESS },
  outboxPollMs: OUTBOX_POLL_MS,
});

export type TweetsConfig = ConfigOf<typeof schema>;

export const loadConfig = schema.load;
