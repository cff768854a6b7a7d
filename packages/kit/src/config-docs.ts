import { NODE_ENV, type Setting, type SettingSpec } from "./config-schema.js";

/**
 * The README's configuration tables, rendered from the schemas, so a setting's default, bounds and
 * meaning are written once, where the code reads it.
 */

const HEADER = ["| variable | default | accepted | meaning |", "|---|---|---|---|"];

const code = (value: string | number) => `\`${value}\``;
const cell = (text: string) => text.replace(/\|/g, "\\|");

function variable(spec: SettingSpec): string {
  return spec.kind === "secret" ? `${code(spec.env)} or ${code(`${spec.env}_FILE`)}` : code(spec.env);
}

function defaultOf(spec: SettingSpec): string {
  if (spec.default !== undefined) return code(spec.default);
  if (spec.kind === "list") return "empty";
  if (spec.required) return "required";
  return spec.unset ? `unset: ${spec.unset}` : "unset";
}

/** 16777216 as 16,777,216, whatever the machine's locale. */
const grouped = (n: number) => String(n).replace(/\B(?=(\d{3})+$)/g, ",");

function bounds(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `${grouped(min)} to ${grouped(max)}`;
  if (min !== undefined) return `at least ${grouped(min)}`;
  if (max !== undefined) return `at most ${grouped(max)}`;
  return "an integer";
}

function accepted(spec: SettingSpec): string {
  const parts: string[] = [];
  if (spec.kind === "int" || spec.kind === "port") parts.push(bounds(spec.min, spec.max));
  if (spec.kind === "choice") parts.push((spec.choices ?? []).map(code).join(", "));
  if (spec.pattern) parts.push(spec.pattern.says);
  if (spec.kind === "list") parts.push(spec.maxItems === undefined ? "comma-separated" : `comma-separated, at most ${grouped(spec.maxItems)}`);
  if (spec.production?.min !== undefined) parts.push(`at least ${grouped(spec.production.min)} in production`);
  if (spec.production?.required) parts.push("required in production");
  return parts.join("; ");
}

const row = (columns: string[]) => `| ${columns.map(cell).join(" | ")} |`;

/** One process's settings as a markdown table. */
export function configTable(settings: readonly Setting<unknown>[]): string {
  return [...HEADER, ...settings.map(({ spec }) => row([variable(spec), defaultOf(spec), accepted(spec), spec.doc]))].join("\n");
}

/**
 * The settings several processes share (`common`), one row each: the processes that read it when
 * not all do, and each one's default where they differ.
 */
export function commonConfigTable(processes: ReadonlyArray<{ name: string; settings: readonly Setting<unknown>[] }>): string {
  const readers = new Map<string, Array<{ name: string; spec: SettingSpec }>>();
  for (const { name, settings } of processes) {
    for (const { spec } of settings) {
      if (spec.common) readers.set(spec.env, [...(readers.get(spec.env) ?? []), { name, spec }]);
    }
  }
  // NODE_ENV closes each process's list, so it closes this one too.
  const ordered = [...readers.values()].sort((a, b) => Number(a[0]!.spec.env === NODE_ENV.spec.env) - Number(b[0]!.spec.env === NODE_ENV.spec.env));
  const rows = ordered.map((read) => {
    const { spec } = read[0]!;
    const who = read.length === processes.length ? "" : ` (${read.map((r) => r.name).join(", ")})`;
    const defaults = read.map((r) => defaultOf(r.spec));
    const fallback = defaults.every((d) => d === defaults[0]) ? defaults[0]! : read.map((r, i) => `${r.name} ${defaults[i]}`).join(", ");
    return row([variable(spec) + who, fallback, accepted(spec), spec.doc]);
  });
  return [...HEADER, ...rows].join("\n");
}

/** `<!-- config:NAME -->` or `<!-- config:NAME own -->`, then anything, then `<!-- /config:NAME -->`. */
const MARKED = /<!-- config:([a-z][a-z0-9-]*)( own)? -->\n[\s\S]*?<!-- \/config:\1 -->/g;

/**
 * The markdown with every marked table rendered afresh by `table(name, own)`; `own` asks for the
 * process's own settings, without those documented once for every service. Markers make the
 * tables movable: a table goes wherever its markers go, in any README.
 */
export function withConfigTables(markdown: string, table: (name: string, own: boolean) => string): string {
  return markdown.replace(MARKED, (_, name: string, own: string | undefined) => {
    const open = `<!-- config:${name}${own ?? ""} -->`;
    return `${open}\n\n${table(name, own !== undefined)}\n\n<!-- /config:${name} -->`;
  });
}
