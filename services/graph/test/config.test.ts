import { loadConfig, schema } from "../src/config.js";

// The settings every service reads are tested once, in the kit (config-schema.test.ts).
describe("graph configuration", () => {
  it("runs on development defaults with nothing set", () => {
    expect(loadConfig({})).toMatchObject({
      serviceName: "graph",
      port: 50053,
      userEventsConsumer: "graph_user_events",
      upstreams: { users: "127.0.0.1:50051" },
      outboxPollMs: 1_000,
    });
  });

  it("reads its own settings from the environment", () => {
    const config = loadConfig({ GRPC_PORT: "6003", MONGODB_URI: "mongodb://db:27017", USER_EVENTS_CONSUMER: "graph-blue", USERS_ADDRESS: "users:50051" });
    expect(config).toMatchObject({ port: 6003, mongo: { uri: "mongodb://db:27017", database: "chirp_graph" }, userEventsConsumer: "graph-blue", upstreams: { users: "users:50051" } });
    expect(loadConfig({ USER_EVENTS_CONSUMER: "a".repeat(64) }).userEventsConsumer).toHaveLength(64);
  });

  it("refuses development fallbacks in production and bad values, listing every problem", () => {
    const problems = schema.problems({ NODE_ENV: "production", GRPC_PORT: "99999", USER_EVENTS_CONSUMER: "graph.users", OUTBOX_POLL_MS: "1" }).join("\n");
    for (const name of ["MONGODB_URI", "NATS_URL", "GRPC_PORT", "USER_EVENTS_CONSUMER", "OUTBOX_POLL_MS"]) expect(problems).toContain(name);
    expect(schema.problems({ USER_EVENTS_CONSUMER: "a".repeat(65) })).toEqual([`USER_EVENTS_CONSUMER must be 1 to 64 letters, digits, "_" or "-", got "${"a".repeat(65)}"`]);
  });
});
