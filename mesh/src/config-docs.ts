import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { commonConfigTable, configTable, SERVICES as CATALOGUE, withConfigTables, type ConfigSchema, type SchemaTree } from "@chirp/kit";
import { schema as gateway } from "@chirp/gateway/config";
import { serviceConfig } from "./service-modules.js";

/**
 * The README's configuration tables, rendered from every process's declared configuration
 * (`npm run docs:config`), and checked to be current by mesh/test/config-docs.test.ts. A table
 * stands between `<!-- config:NAME -->` and `<!-- /config:NAME -->` in any README: NAME is a
 * process (all it reads; `<!-- config:NAME own -->` leaves out the settings every service reads),
 * `services` (the settings every service reads, once) or `catalogue` (the services themselves).
 */

/** Every service's configuration schema, in the service catalogue's order (packages/kit/src/services.ts). */
const SERVICES: Record<string, ConfigSchema<SchemaTree>> = Object.fromEntries(CATALOGUE.map(({ name }) => [name, serviceConfig(name).schema]));
/** Every process's configuration schema: the services' and the gateway's. */
export const PROCESSES: Record<string, ConfigSchema<SchemaTree>> = { ...SERVICES, gateway };

const ROOT = resolve(__dirname, "../..");

/**
 * The services page's list of services (`<!-- config:catalogue -->` in services/README.md, whose
 * folder its links are relative to): each catalogued service, what it serves and owns, its port.
 */
function catalogueTable(): string {
  const rows = CATALOGUE.map((s) => `| [${s.name}](${s.name}/README.md) | \`${s.grpcService}\` | ${s.summary} | ${s.port} |`);
  return ["| service | serves | owns | gRPC port |", "|---|---|---|---|", ...rows].join("\n");
}

export function configTableFor(name: string, own: boolean): string {
  if (name === "catalogue") return catalogueTable();
  if (name === "services") return commonConfigTable(Object.entries(SERVICES).map(([service, schema]) => ({ name: service, settings: schema.settings })));
  const schema = PROCESSES[name];
  if (!schema) throw new Error(`a README marks a table "config:${name}", but no process is named ${name} (${Object.keys(PROCESSES).join(", ")}, or services)`);
  return configTable(own ? schema.settings.filter((setting) => !setting.spec.common) : schema.settings);
}

/**
 * The README files that may hold tables, relative to the root: the repository's, each workspace's,
 * and that of each folder of workspaces (services/README.md holds what every service reads).
 */
export function readmeFiles(): string[] {
  const patterns: string[] = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).workspaces;
  const folders = patterns.flatMap((pattern) => {
    if (!pattern.endsWith("/*")) return [pattern];
    const parent = pattern.slice(0, -2);
    const workspaces = readdirSync(join(ROOT, parent), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => `${parent}/${entry.name}`);
    return [parent, ...workspaces];
  });
  return ["README.md", ...folders.map((folder) => `${folder}/README.md`)].filter((file) => existsSync(join(ROOT, file)));
}

/** Each README as it is and as its tables should be. */
export function configDocs(): Array<{ file: string; current: string; rendered: string }> {
  return readmeFiles().map((file) => {
    const current = readFileSync(join(ROOT, file), "utf8");
    return { file, current, rendered: withConfigTables(current, configTableFor) };
  });
}

if (require.main === module) {
  for (const { file, current, rendered } of configDocs()) {
    if (rendered === current) continue;
    writeFileSync(join(ROOT, file), rendered);
    process.stdout.write(`config-docs: rewrote the configuration tables in ${file}\n`);
  }
}
