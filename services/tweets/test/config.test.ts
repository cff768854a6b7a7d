import { loadConfig, schema } from "../src/config.js";

// The settings every service reads are tested once, in the kit (config-schema.test.ts).
describe("tweets configuration", () => {
  it("runs on development defaults with nothing set", () => {
    expect(loadConfig({})).toMatchObject({ serviceName: "tweets", port: 50052, outboxPollMs: 1_000, logLevel: "info" });
    expect(loadConfig({}).upstreams).toEqual({ users: "127.0.0.1:50051" });
  });

  it("reads every setting from the environment", () => {
    const config = loadConfig({ GRPC_PORT: "6002", MONGODB_URI: "mongodb://db:27017", USERS_ADDRESS: "users:50051", OUTBOX_POLL_MS: "250" });
    expect(config).toMatchObject({ port: 6002, mongo: { uri: "mongodb://db:27017", database: "chirp_tweets" }, upstreams: { users: "users:50051" }, outboxPollMs: 250 });
    expect(loadConfig({ MONGODB_URI: "mongodb://db", MONGODB_DATABASE: "tweets_db" }).mongo?.database).toBe("tweets_db");
  });

  it("refuses development fallbacks in production, listing every problem", () => {
    const problems = schema.problems({ NODE_ENV: "production", GRPC_PORT: "99999", OUTBOX_POLL_MS: "1" }).join("\n");
    for (const name of ["MONGODB_URI", "NATS_URL", "GRPC_PORT", "OUTBOX_POLL_MS"]) expect(problems).toContain(name);
  });
});
