import { ConfigError } from "@chirp/kit";
import { loadConfig } from "../src/config.js";

describe("tweets configuration", () => {
  it("runs on development defaults with nothing set", () => {
    expect(loadConfig({})).toMatchObject({ port: 50052, host: "0.0.0.0", mongo: undefined, natsUrl: undefined, outboxPollMs: 1_000, logLevel: "info" });
    expect(loadConfig({}).upstreams).toEqual({ users: "127.0.0.1:50051" });
  });

  it("reads every setting from the environment", () => {
    const config = loadConfig({
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: "6002",
      MONGODB_URI: "mongodb://db:27017",
      NATS_URL: "nats://nats:4222",
      USERS_ADDRESS: "users:50051",
      OUTBOX_POLL_MS: "250",
      SHUTDOWN_DEADLINE_MS: "5000",
      LOG_LEVEL: "debug",
    });
    expect(config).toMatchObject({
      host: "127.0.0.1",
      port: 6002,
      mongo: { uri: "mongodb://db:27017", database: "chirp_tweets" },
      natsUrl: "nats://nats:4222",
      upstreams: { users: "users:50051" },
      outboxPollMs: 250,
      shutdownDeadlineMs: 5_000,
      logLevel: "debug",
    });
    expect(loadConfig({ MONGODB_URI: "mongodb://db", MONGODB_DATABASE: "tweets_db" }).mongo?.database).toBe("tweets_db");
  });

  it("refuses development fallbacks in production, listing every problem", () => {
    let error: unknown;
    try {
      loadConfig({ NODE_ENV: "production", GRPC_PORT: "99999", OUTBOX_POLL_MS: "1" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    for (const name of ["MONGODB_URI", "NATS_URL", "GRPC_PORT", "OUTBOX_POLL_MS"]) expect(problems).toContain(name);
  });
});
