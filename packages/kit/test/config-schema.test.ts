import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, defineConfig, OUTBOX_POLL_MS, serviceSettings, setting, USERS_ADDRESS } from "@chirp/kit";

/** The problems a load lists, or [] when it loads. */
function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

const example = defineConfig({
  name: setting.constant<string>("example"),
  host: setting.text("HOST", { default: "0.0.0.0", doc: "where to listen" }),
  port: setting.port("PORT", { default: 8080, doc: "the port" }),
  level: setting.choice("LEVEL", ["info", "debug"] as const, { default: "info", doc: "how much to say" }),
  consumer: setting.text("CONSUMER", { default: "example", pattern: { test: /^[a-z_]{1,8}$/, says: "1 to 8 lowercase letters or _" }, doc: "a name" }),
  store: setting.whenSet("uri", {
    uri: setting.optionalText("STORE_URI", { doc: "the store", unset: "in memory", fallback: "kept in memory", production: { required: true } }),
    name: setting.text("STORE_NAME", { default: "example_db", doc: "the database" }),
  }),
  key: setting.optionalSecret("KEY", { doc: "a key", unset: "a throwaway key", fallback: "signed with a throwaway key", production: { required: true } }),
  cost: setting.int("COST", { default: 15, min: 4, max: 20, production: { min: 14 }, doc: "the cost" }),
  origins: setting.list("ORIGINS", { doc: "origins", maxItems: 3, overMax: "use fewer", check: (item) => (item.startsWith("https://") ? undefined : `"${item}" is not https`) }),
  optional: setting.optionalText("OPTIONAL", { doc: "anything" }),
});

describe("a declared configuration", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "chirp-schema-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the defaults into the declared shape when nothing is set", () => {
    expect(example.load({})).toEqual({
      name: "example",
      host: "0.0.0.0",
      port: 8080,
      level: "info",
      consumer: "example",
      store: undefined,
      key: undefined,
      cost: 15,
      origins: [],
      optional: undefined,
    });
  });

  it("reads every variable, trimmed, a group only when its key is set, a secret from its file", () => {
    const keyFile = join(dir, "key.pem");
    writeFileSync(keyFile, "secret\n");
    const env = {
      HOST: " 127.0.0.1 ",
      PORT: "0",
      LEVEL: "debug",
      CONSUMER: "a_b",
      STORE_URI: "store://db",
      KEY_FILE: keyFile,
      COST: "4",
      ORIGINS: " https://a.test, ,https://b.test ",
      OPTIONAL: "x",
    };
    expect(example.load(env)).toEqual({
      name: "example",
      host: "127.0.0.1",
      port: 0,
      level: "debug",
      consumer: "a_b",
      store: { uri: "store://db", name: "example_db" },
      key: "secret",
      cost: 4,
      origins: ["https://a.test", "https://b.test"],
      optional: "x",
    });
    // The group's other settings alone make no group.
    expect(example.load({ STORE_NAME: "other" }).store).toBeUndefined();
  });

  it("lists every problem at once, each naming its variable and the value refused", () => {
    const problems = problemsOf(() =>
      example.load({ PORT: "65536", LEVEL: "loud", CONSUMER: "A.B", COST: "21", ORIGINS: "http://a.test,https://b.test" }),
    );
    expect(problems).toEqual([
      'PORT must be an integer from 0 to 65535, got "65536"',
      'LEVEL must be one of info, debug, got "loud"',
      'CONSUMER must be 1 to 8 lowercase letters or _, got "A.B"',
      'COST must be an integer from 4 to 20, got "21"',
      'ORIGINS: "http://a.test" is not https',
    ]);
    // The same list without a throw, for whoever only asks.
    expect(example.problems({ PORT: "65536", LEVEL: "loud", CONSUMER: "A.B", COST: "21", ORIGINS: "http://a.test,https://b.test" })).toEqual(problems);
    expect(example.problems({})).toEqual([]);
  });

  it("refuses the development fallbacks in production and raises production's lower bounds", () => {
    expect(problemsOf(() => example.load({ NODE_ENV: "production", COST: "13" }))).toEqual([
      "STORE_URI is required when NODE_ENV=production",
      "KEY (or KEY_FILE) is required when NODE_ENV=production",
      'COST must be an integer from 14 to 20, got "13"',
    ]);
    expect(example.load({ NODE_ENV: "production", STORE_URI: "store://db", KEY: "k", COST: "14" }).cost).toBe(14);
    // Only "production" is production.
    expect(example.load({ NODE_ENV: "staging", COST: "4" }).cost).toBe(4);
  });

  it("refuses more list entries than allowed, checking only those that may stay", () => {
    const checked: string[] = [];
    const schema = defineConfig({
      list: setting.list("LIST", { doc: "a list", maxItems: 2, overMax: "use ranges", check: (item) => {
        checked.push(item);
        return undefined;
      } }),
    });
    expect(problemsOf(() => schema.load({ LIST: "a,b,c,d" }))).toEqual(["LIST: at most 2 entries; use ranges"]);
    expect(checked).toEqual(["a", "b"]);
  });

  it("parses and checks a required secret, and says when it is missing", () => {
    const schema = defineConfig({
      words: setting.secret("WORDS", { doc: "words", parse: (raw) => raw.split(" "), check: (words) => (words.length < 2 ? "must hold two words or more" : undefined) }),
    });
    expect(schema.load({ WORDS: "a b" }).words).toEqual(["a", "b"]);
    expect(problemsOf(() => schema.load({ WORDS: "a" }))).toEqual(["WORDS must hold two words or more"]);
    // Missing is said once, not also as a failed check.
    expect(problemsOf(() => schema.load({}))).toEqual(["WORDS (or WORDS_FILE) is required"]);
  });

  it("gives the reason a required text is required", () => {
    const schema = defineConfig({ uri: setting.requiredText("URI", { doc: "the store", required: "the data lives there" }) });
    expect(problemsOf(() => schema.load({}))).toEqual(["URI is required: the data lives there"]);
    expect(schema.load({ URI: "x" })).toEqual({ uri: "x" });
  });

  it("says which development fallbacks a configuration uses, from the configuration itself", () => {
    expect(example.fallbacks(example.load({}))).toEqual(["STORE_URI is not set: kept in memory", "KEY is not set: signed with a throwaway key"]);
    expect(example.fallbacks(example.load({ STORE_URI: "store://db", KEY: "k" }))).toEqual([]);
  });

  it("lists what it reads in declaration order, NODE_ENV last when production changes anything", () => {
    expect(example.settings.map((s) => s.spec.env)).toEqual(["HOST", "PORT", "LEVEL", "CONSUMER", "STORE_URI", "STORE_NAME", "KEY", "COST", "ORIGINS", "OPTIONAL", "NODE_ENV"]);
    expect(defineConfig({ a: setting.text("A", { default: "a", doc: "a" }) }).settings.map((s) => s.spec.env)).toEqual(["A"]);
  });

  it("refuses a variable declared twice", () => {
    const a = setting.text("A", { default: "a", doc: "a" });
    expect(() => defineConfig({ first: a, group: { second: a.with({ default: "b" }) } })).toThrow("A is declared twice");
  });

  it("changes a declaration with `with`, leaving the original as it was", () => {
    const quiet = example.tree.level.with({ default: "debug" });
    expect(defineConfig({ level: quiet }).load({})).toEqual({ level: "debug" });
    expect(example.load({}).level).toBe("info");
  });
});

/** The settings every service reads, tested once here for all of them. */
describe("the settings every service reads", () => {
  const service = defineConfig({ ...serviceSettings("example", 50059), upstreams: { users: USERS_ADDRESS }, outboxPollMs: OUTBOX_POLL_MS });

  it("runs on development defaults with nothing set", () => {
    expect(service.load({})).toEqual({
      serviceName: "example",
      host: "127.0.0.1",
      port: 50059,
      healthPort: 0,
      mongo: undefined,
      natsUrl: undefined,
      streamReplicas: 1,
      logLevel: "info",
      shutdownDeadlineMs: 15_000,
      telemetry: { otlpEndpoint: undefined, samplePercent: 100, metricsPort: 0 },
      tokens: { publicKeysPem: undefined, issuer: "chirp", audience: "chirp" },
      tls: undefined,
      upstreams: { users: "127.0.0.1:50051" },
      outboxPollMs: 1_000,
    });
    expect(service.fallbacks(service.load({}))).toEqual([
      "MONGODB_URI is not set: data is kept in memory and lost on exit",
      "NATS_URL is not set: events go to an in-process bus that no other process sees",
      "AUTH_PUBLIC_KEY is not set: no access token can be verified here: calls on a user's behalf are refused (UNAUTHENTICATED)",
      "TLS_CERT_FILE is not set: gRPC is plaintext: callers are not authenticated and the peer rules are not enforced",
    ]);
  });

  it("reads every setting from the environment, the database named after the service unless set", () => {
    const env = {
      GRPC_HOST: "0.0.0.0",
      GRPC_PORT: "6000",
      HEALTH_PORT: "8086",
      MONGODB_URI: "mongodb://db:27017",
      NATS_URL: "nats://nats:4222",
      LOG_LEVEL: "debug",
      SHUTDOWN_DEADLINE_MS: "5000",
      USERS_ADDRESS: "users:50051",
      OUTBOX_POLL_MS: "250",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318",
      TRACE_SAMPLE_PERCENT: "10",
      METRICS_PORT: "9464",
      STREAM_REPLICAS: "3",
      AUTH_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\nkey\n-----END PUBLIC KEY-----",
      AUTH_ISSUER: "issuer",
      AUTH_AUDIENCE: "audience",
      TLS_CERT_FILE: "/tls/tls.crt",
      TLS_KEY_FILE: "/tls/tls.key",
      TLS_CA_FILE: "/tls/ca.crt",
      TLS_RELOAD_MS: "5000",
    };
    expect(service.load(env)).toEqual({
      serviceName: "example",
      host: "0.0.0.0",
      port: 6000,
      healthPort: 8086,
      mongo: { uri: "mongodb://db:27017", database: "chirp_example" },
      natsUrl: "nats://nats:4222",
      streamReplicas: 3,
      logLevel: "debug",
      shutdownDeadlineMs: 5_000,
      telemetry: { otlpEndpoint: "http://jaeger:4318", samplePercent: 10, metricsPort: 9464 },
      tokens: { publicKeysPem: "-----BEGIN PUBLIC KEY-----\nkey\n-----END PUBLIC KEY-----", issuer: "issuer", audience: "audience" },
      tls: { certFile: "/tls/tls.crt", keyFile: "/tls/tls.key", caFile: "/tls/ca.crt", reloadMs: 5_000 },
      upstreams: { users: "users:50051" },
      outboxPollMs: 250,
    });
    expect(service.load({ ...env, MONGODB_DATABASE: "own_db" }).mongo?.database).toBe("own_db");
    expect(service.fallbacks(service.load(env))).toEqual([]);
  });

  it("refuses development fallbacks in production and bad values, listing every problem", () => {
    const problems = problemsOf(() =>
      service.load({ NODE_ENV: "production", GRPC_PORT: "99999", LOG_LEVEL: "loud", SHUTDOWN_DEADLINE_MS: "10", OUTBOX_POLL_MS: "1" }),
    );
    expect(problems).toEqual([
      'GRPC_PORT must be an integer from 0 to 65535, got "99999"',
      "MONGODB_URI is required when NODE_ENV=production",
      "NATS_URL is required when NODE_ENV=production",
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'SHUTDOWN_DEADLINE_MS must be an integer from 1000 to 120000, got "10"',
      "AUTH_PUBLIC_KEY (or AUTH_PUBLIC_KEY_FILE) is required when NODE_ENV=production",
      "TLS_CERT_FILE is required when NODE_ENV=production",
      'OUTBOX_POLL_MS must be an integer from 50 to 60000, got "1"',
    ]);
  });

  it("takes the mesh certificate's files all together or not at all", () => {
    expect(problemsOf(() => service.load({ TLS_CERT_FILE: "/tls/tls.crt" }))).toEqual([
      "TLS_KEY_FILE is required when TLS_CERT_FILE is set",
      "TLS_CA_FILE is required when TLS_CERT_FILE is set",
    ]);
    // Without the certificate, the key and CA alone mean nothing: plaintext, the logged fallback.
    expect(service.load({ TLS_KEY_FILE: "/tls/tls.key" }).tls).toBeUndefined();
  });

  it("reads the process's NATS nkey seed inline or from its file, and refuses a malformed one without echoing it", () => {
    const seed = `SU${"A".repeat(56)}`;
    const dir = mkdtempSync(join(tmpdir(), "chirp-seed-"));
    try {
      writeFileSync(join(dir, "nats.nk"), `${seed}\n`);
      expect(service.load({ NATS_NKEY_SEED: seed }).natsNkeySeed).toBe(seed);
      expect(service.load({ NATS_NKEY_SEED_FILE: join(dir, "nats.nk") }).natsNkeySeed).toBe(seed);
      expect(service.load({}).natsNkeySeed).toBeUndefined();
      const problems = problemsOf(() => service.load({ NATS_NKEY_SEED: "SUnot-a-seed-but-a-secret" }));
      expect(problems).toEqual(["NATS_NKEY_SEED must be an nkey user seed: SU and 56 base32 characters"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("documents them once for every service", () => {
    expect(service.settings.filter((s) => !s.spec.common)).toEqual([]);
  });
});
