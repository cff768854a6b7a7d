import { defineConfig, OUTBOX_POLL_MS, serviceSettings, setting, USERS_ADDRESS, type ConfigOf } from "@chirp/kit";

/**
 * The graph service's settings. In production (NODE_ENV=production) MongoDB and NATS must be
 * configured.
 */
export const schema = defineConfig({
  ...serviceSettings("graph", 50053),
  upstreams: { users: USERS_ADDRESS },
  /** Replicas share the durable consumer, so each UserCreated and UserDeleted reaches one of them. */
  userEventsConsumer: setting.text("USER_EVENTS_CONSUMER", {
    default: "graph_user_events",
    // What JetStream accepts as a durable consumer name, kept to characters safe everywhere.
    pattern: { test: /^[A-Za-z0-9_-]{1,64}$/, says: '1 to 64 letters, digits, "_" or "-"' },
    doc: "the durable consumer of UserCreated and UserDeleted the replicas share",
  }),
  outboxPollMs: OUTBOX_POLL_MS,
});

export type GraphConfig = ConfigOf<typeof schema>;

export const loadConfig = schema.load;
