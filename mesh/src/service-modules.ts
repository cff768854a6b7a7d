import type { ConfigSchema, EventBus, LiveSubscriber, Logger, OutboxRelay, SchemaTree } from "@chirp/kit";

type Env = Record<string, string | undefined>;

/** What the mesh hands every service's start beside its configuration (see ServiceOverrides). */
export interface MeshOverrides {
  log: Logger;
  bus: (EventBus & LiveSubscriber) | undefined;
  /** The durable consumer's name, for a service whose configuration has no setting for it. */
  consumerName: string | undefined;
}

/** What the mesh uses of any service's app; each also has handles of its own. */
export interface StartedService {
  port: number;
  stop(): Promise<void>;
  relay?: OutboxRelay;
  [handle: string]: unknown;
}

/** A service's package as the catalogue's conventions (packages/kit/src/services.ts) lay it out. */
export interface ServiceModule {
  start(config: unknown, overrides: MeshOverrides): Promise<StartedService>;
  schema: ConfigSchema<SchemaTree>;
  loadConfig(env: Env): unknown;
}

/** "user-search" → "UserSearch": the name of its start function after `start`. */
const pascal = (name: string) => name.replace(/(^|-)([a-z0-9])/g, (_, __, letter: string) => letter.toUpperCase());

/**
 * The package of the catalogued service `name`, loaded by name: `@chirp/<name>` for its start,
 * `@chirp/<name>/config` for its configuration. npm links every workspace into the root
 * node_modules, so a new service needs no line in the mesh; `npm run build` compiles it first.
 */
export function serviceModule(name: string): ServiceModule {
  const app = require(`@chirp/${name}`) as Record<string, unknown>;
  const start = app[`start${pascal(name)}`];
  if (typeof start !== "function") throw new Error(`services/${name}/src/app.ts must export start${pascal(name)}(config, overrides), as every catalogued service does`);
  return { start: start as ServiceModule["start"], ...serviceConfig(name) };
}

/** The configuration of the catalogued service `name` alone (`@chirp/<name>/config`), without loading the service. */
export function serviceConfig(name: string): Pick<ServiceModule, "schema" | "loadConfig"> {
  const config = require(`@chirp/${name}/config`) as Partial<ServiceModule>;
  if (!config.schema || typeof config.loadConfig !== "function") throw new Error(`services/${name}/src/config.ts must export its schema and loadConfig`);
  return { schema: config.schema, loadConfig: config.loadConfig };
}
