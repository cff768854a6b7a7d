import { loadConfig, schema } from "../src/config.js";

// The settings every service reads are tested once, in the kit (config-schema.test.ts).
describe("timeline configuration", () => {
  it("runs on development defaults with nothing set", () => {
    expect(loadConfig({})).toMatchObject({
      serviceName: "timeline",
      port: 50054,
      upstreams: { users: "127.0.0.1:50051", tweets: "127.0.0.1:50052", graph: "127.0.0.1:50053" },
      consumerName: "timeline",
      celebrityFollowers: 10_000,
      timelineLength: 800,
      profileCacheMs: 10_000,
    });
  });

  it("reads its own settings from the environment", () => {
    const config = loadConfig({
      GRPC_PORT: "6004",
      MONGODB_URI: "mongodb://db:27017",
      USERS_ADDRESS: "users:50051",
      TWEETS_ADDRESS: "tweets:50052",
      GRAPH_ADDRESS: "graph:50053",
      CONSUMER_NAME: "timeline_blue",
      CELEBRITY_FOLLOWERS: "2",
      TIMELINE_LENGTH: "50",
      PROFILE_CACHE_MS: "0",
    });
    expect(config).toMatchObject({
      port: 6004,
      mongo: { uri: "mongodb://db:27017", database: "chirp_timeline" },
      upstreams: { users: "users:50051", tweets: "tweets:50052", graph: "graph:50053" },
      consumerName: "timeline_blue",
      celebrityFollowers: 2,
      timelineLength: 50,
      profileCacheMs: 0,
    });
  });

  it("refuses development fallbacks in production and bad values, listing every problem", () => {
    const problems = schema.problems({ NODE_ENV: "production", GRPC_PORT: "99999", CELEBRITY_FOLLOWERS: "0", TIMELINE_LENGTH: "5", CONSUMER_NAME: "a.b", PROFILE_CACHE_MS: "-1" }).join("\n");
    for (const name of ["MONGODB_URI", "NATS_URL", "GRPC_PORT", "CELEBRITY_FOLLOWERS", "TIMELINE_LENGTH", "CONSUMER_NAME", "PROFILE_CACHE_MS"]) expect(problems).toContain(name);
  });
});
