import { ConfigError } from "@chirp/kit";
import { loadConfig, loadDatabaseConfig } from "../src/config.js";

describe("users configuration", () => {
  it("runs on development defaults with nothing set", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 50051, host: "0.0.0.0", mongo: undefined, natsUrl: undefined, passwordHashCost: 15 });
    expect(config.auth).toMatchObject({ signingKeyPem: undefined, issuer: "chirp", audience: "chirp", tokenTtlSeconds: 900 });
  });

  it("reads every setting from the environment", () => {
    const config = loadConfig({
      GRPC_PORT: "6000",
      MONGODB_URI: "mongodb://db:27017",
      MONGODB_DATABASE: "users_db",
      NATS_URL: "nats://nats:4222",
      AUTH_SIGNING_KEY: "pem",
      AUTH_TOKEN_TTL_SECONDS: "120",
      LOG_LEVEL: "debug",
    });
    expect(config).toMatchObject({ port: 6000, mongo: { uri: "mongodb://db:27017", database: "users_db" }, natsUrl: "nats://nats:4222" });
    expect(config.auth).toMatchObject({ signingKeyPem: "pem", tokenTtlSeconds: 120 });
    expect(config.logLevel).toBe("debug");
  });

  it("gives the admin command the service's database, and nothing without MONGODB_URI", () => {
    expect(loadDatabaseConfig({ MONGODB_URI: "mongodb://db:27017" })).toEqual({ logLevel: "warn", mongo: { uri: "mongodb://db:27017", database: "chirp_users" } });
    expect(loadDatabaseConfig({ MONGODB_URI: "mongodb://db:27017", MONGODB_DATABASE: "users_db", NODE_ENV: "production" }).mongo.database).toBe("users_db");
    expect(() => loadDatabaseConfig({})).toThrow(/MONGODB_URI is required/);
  });

  it("refuses development fallbacks in production, listing every problem", () => {
    let error: unknown;
    try {
      loadConfig({ NODE_ENV: "production", GRPC_PORT: "99999", PASSWORD_HASH_COST: "10" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    for (const name of ["MONGODB_URI", "NATS_URL", "AUTH_SIGNING_KEY", "GRPC_PORT", "PASSWORD_HASH_COST"]) expect(problems).toContain(name);
  });
});
