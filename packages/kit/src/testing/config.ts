import { Constant, type ConfigOf, type ConfigSchema, type SchemaTree } from "../config-schema.js";
import { testIdentityEnv } from "./identity.js";

/**
 * A service's configuration for in-process tests, read through its own schema (so a test config
 * cannot drift from what the service accepts): loopback, an ephemeral port (0, which the schema
 * refuses from the environment), silent logs, a short shutdown deadline and outbox poll, memory
 * and an in-process bus, and every upstream at an address where nothing listens (a test that
 * needs one starts a stand-in and says where), the test token key (AUTH_PUBLIC_KEY) and mutual TLS
 * with a certificate of the test CA naming the service. `env` adds or overrides variables.
 */
export function testConfigFrom<T extends SchemaTree>(schema: ConfigSchema<T>, env: Record<string, string> = {}): ConfigOf<T> {
  const upstreams = schema.settings.filter((s) => s.spec.env.endsWith("_ADDRESS")).map((s) => [s.spec.env, "127.0.0.1:1"]);
  const name = schema.tree.serviceName;
  const names = new Set(schema.settings.map((s) => s.spec.env));
  const identity = name instanceof Constant && typeof name.value === "string" ? testIdentityEnv(name.value) : {};
  const config = schema.load({
    ...Object.fromEntries(Object.entries(identity).filter(([key]) => names.has(key))),
    GRPC_HOST: "127.0.0.1",
    LOG_LEVEL: "silent",
    SHUTDOWN_DEADLINE_MS: "5000",
    OUTBOX_POLL_MS: "100",
    ...Object.fromEntries(upstreams),
    ...env,
  });
  return { ...config, port: 0 };
}
