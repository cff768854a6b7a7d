import type { ConfigOf, ConfigSchema, SchemaTree } from "../config-schema.js";

/**
 * A service's configuration for in-process tests, read through its own schema (so a test config
 * cannot drift from what the service accepts): loopback, an ephemeral port (0, which the schema
 * refuses from the environment), silent logs, a short shutdown deadline and outbox poll, memory
 * and an in-process bus, and every upstream at an address where nothing listens (a test that
 * needs one starts a stand-in and says where). `env` adds or overrides variables.
 */
export function testConfigFrom<T extends SchemaTree>(schema: ConfigSchema<T>, env: Record<string, string> = {}): ConfigOf<T> {
  const upstreams = schema.settings.filter((s) => s.spec.env.endsWith("_ADDRESS")).map((s) => [s.spec.env, "127.0.0.1:1"]);
  const config = schema.load({
    GRPC_HOST: "127.0.0.1",
    LOG_LEVEL: "silent",
    SHUTDOWN_DEADLINE_MS: "5000",
    OUTBOX_POLL_MS: "100",
    ...Object.fromEntries(upstreams),
    ...env,
  });
  return { ...config, port: 0 };
}
