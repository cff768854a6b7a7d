import { loadConfig, schema } from "../src/config.js";

describe("notifications configuration", () => {
  it("runs on development defaults with nothing set", () => {
    expect(loadConfig({})).toMatchObject({
      serviceName: "notifications",
      port: 50055,
      mongo: undefined,
      natsUrl: undefined,
      consumerName: "notifications",
      profileCacheMs: 10_000,
      upstreams: { users: "127.0.0.1:50051", tweets: "127.0.0.1:50052" },
    });
  });

  it("refuses a consumer name JetStream would not take, and a cache time out of range", () => {
    expect(schema.problems({ CONSUMER_NAME: "no.dots" })).toEqual(['CONSUMER_NAME must be 1 to 64 letters, digits, "_" or "-", got "no.dots"']);
    expect(schema.problems({ PROFILE_CACHE_MS: "-1" })).toHaveLength(1);
  });
});
