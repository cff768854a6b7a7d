import { loadConfig, loadDatabaseConfig, schema } from "../src/config.js";

// The settings every service reads are tested once, in the kit (config-schema.test.ts).
describe("users configuration", () => {
  it("runs on development defaults with nothing set, saying it signs with a throwaway key", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ serviceName: "users", port: 50051, passwordHashCost: 15, outboxPollMs: 1_000 });
    expect(config.auth).toEqual({ signingKeyPem: undefined, tokenTtlSeconds: 900, refreshTtlSeconds: 30 * 86_400 });
    expect(config.tokens).toEqual({ publicKeysPem: undefined, issuer: "chirp", audience: "chirp" });
    expect(schema.fallbacks(config)).toContain("AUTH_SIGNING_KEY is not set: tokens are signed with a throwaway key");
  });

  it("reads every setting from the environment", () => {
    const config = loadConfig({
      GRPC_PORT: "6000",
      MONGODB_URI: "mongodb://db:27017",
      MONGODB_DATABASE: "users_db",
      NATS_URL: "nats://nats:4222",
      AUTH_SIGNING_KEY: "pem",
      AUTH_ISSUER: "issuer",
      AUTH_AUDIENCE: "audience",
      AUTH_TOKEN_TTL_SECONDS: "120",
      PASSWORD_HASH_COST: "4",
      LOG_LEVEL: "debug",
    });
    expect(config).toMatchObject({ port: 6000, mongo: { uri: "mongodb://db:27017", database: "users_db" }, natsUrl: "nats://nats:4222", passwordHashCost: 4 });
    expect(config.auth).toEqual({ signingKeyPem: "pem", tokenTtlSeconds: 120, refreshTtlSeconds: 30 * 86_400 });
    expect(config.tokens).toEqual({ publicKeysPem: undefined, issuer: "issuer", audience: "audience" });
    expect(config.logLevel).toBe("debug");
    expect(loadConfig({ MONGODB_URI: "mongodb://db" }).mongo?.database).toBe("chirp_users");
  });

  it("gives the admin command the service's database, and nothing without MONGODB_URI", () => {
    expect(loadDatabaseConfig({ MONGODB_URI: "mongodb://db:27017" })).toEqual({ logLevel: "warn", mongo: { uri: "mongodb://db:27017", database: "chirp_users" } });
    expect(loadDatabaseConfig({ MONGODB_URI: "mongodb://db:27017", MONGODB_DATABASE: "users_db", NODE_ENV: "production" }).mongo.database).toBe("users_db");
    expect(() => loadDatabaseConfig({})).toThrow(/MONGODB_URI is required/);
  });

  it("refuses development fallbacks in production, listing every problem", () => {
    const problems = schema.problems({ NODE_ENV: "production", GRPC_PORT: "99999", PASSWORD_HASH_COST: "10", AUTH_TOKEN_TTL_SECONDS: "59" }).join("\n");
    for (const name of ["MONGODB_URI", "NATS_URL", "AUTH_SIGNING_KEY", "GRPC_PORT", "PASSWORD_HASH_COST", "AUTH_TOKEN_TTL_SECONDS"]) expect(problems).toContain(name);
    // Outside production a cost of 10 is allowed: tests and development hash faster.
    expect(loadConfig({ PASSWORD_HASH_COST: "10" }).passwordHashCost).toBe(10);
  });
});
