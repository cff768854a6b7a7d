import { ConfigError, EnvReader } from "./config.js";

type Env = Record<string, string | undefined>;

/** When a variable's value matters on its own: where it shows in the docs and on the manifests. */
export type SettingKind = "text" | "int" | "port" | "choice" | "secret" | "list";

/**
 * One environment variable, declared once: how it is read, its default, its bounds, what it means
 * and what production asks of it. A process's configuration, its README table and the checks of
 * its Kubernetes manifests are all derived from these declarations.
 */
export interface SettingSpec {
  env: string;
  kind: SettingKind;
  /** What it means, as the README's table says it. */
  doc: string;
  /** The value when unset. Absent: the setting is optional (undefined when unset) or required. */
  default?: string | number;
  /** Refused when unset (`true`), or refused with this reason. */
  required?: true | string;
  /** What happens when an optional setting is unset, for the docs ("in memory"). */
  unset?: string;
  /** A development fallback, logged as a warning whenever the process starts with the variable unset. */
  fallback?: string;
  /** Production (NODE_ENV=production) refuses the fallback, or raises the lower bound. */
  production?: { required?: true; min?: number };
  min?: number;
  max?: number;
  choices?: readonly string[];
  /** A text's shape, and how the docs and the refusal describe it. */
  pattern?: { test: RegExp; says: string };
  /** A list's longest accepted length, and what to do instead. */
  maxItems?: number;
  overMax?: string;
  /**
   * One of the settings every service reads, declared by the kit: the README documents them once
   * for all services, and a service's own table leaves them out.
   */
  common?: true;
}

interface ReadContext {
  reader: EnvReader;
  production: boolean;
}

/** A declared setting; `T` is the type the configuration holds. */
export class Setting<T> {
  constructor(
    readonly spec: SettingSpec,
    private readonly reads: (context: ReadContext, spec: SettingSpec) => T,
  ) {}

  read(context: ReadContext): T {
    return this.reads(context, this.spec);
  }

  /** The same setting with some declarations changed: another default, doc or reason. */
  with(changes: Partial<SettingSpec>): Setting<T> {
    return new Setting({ ...this.spec, ...changes }, this.reads);
  }
}

/** A value the configuration holds that no variable sets (the service's name). */
export class Constant<T> {
  constructor(readonly value: T) {}
}

/**
 * A group that exists only when its key setting is set: MongoDB settings without MONGODB_URI are
 * none. A `whole` group's other settings must all be set too (or have a default) when its key is
 * (the mesh certificate's three files).
 */
export class WhenSet<T extends SchemaTree, K extends keyof T, W extends boolean = boolean> {
  constructor(
    readonly key: K,
    readonly tree: T,
    readonly whole: W,
  ) {}
}

export type SchemaNode = Setting<any> | Constant<any> | WhenSet<any, any, boolean> | SchemaTree;
export interface SchemaTree {
  [key: string]: SchemaNode;
}

/** The configuration a schema reads: the tree's shape with every setting replaced by its value. */
export type ConfigOf<T> =
  T extends ConfigSchema<infer U>
    ? ConfigOf<U>
    : T extends Setting<infer V>
      ? V
      : T extends Constant<infer V>
        ? V
        : T extends WhenSet<infer G, infer K, infer W>
          ? // A whole group is all there or absent (readTree refuses one with its key and not all its settings).
            (W extends true ? { [P in keyof G]: NonNullable<ConfigOf<G[P]>> } : { [P in keyof G]: P extends K ? NonNullable<ConfigOf<G[P]>> : ConfigOf<G[P]> }) | undefined
          : T extends SchemaTree
            ? { [P in keyof T]: ConfigOf<T[P]> }
            : never;

const productionProblem = (spec: SettingSpec) =>
  spec.kind === "secret" ? `${spec.env} (or ${spec.env}_FILE) is required when NODE_ENV=production` : `${spec.env} is required when NODE_ENV=production`;

function checkProduction<T>(value: T | undefined, { reader, production }: ReadContext, spec: SettingSpec): T | undefined {
  if (production && spec.production?.required && value === undefined) reader.problem(productionProblem(spec));
  return value;
}

type TextOptions = Pick<SettingSpec, "doc" | "pattern" | "common">;
type OptionalOptions = Pick<SettingSpec, "doc" | "unset" | "fallback" | "production" | "common">;
type IntOptions = Pick<SettingSpec, "doc" | "min" | "max" | "production" | "common"> & { default: number };

/** Builders for every kind of setting. */
export const setting = {
  /** A text with a default; `pattern` bounds what it may hold. */
  text(env: string, options: TextOptions & { default: string }): Setting<string> {
    return new Setting({ env, kind: "text", ...options }, ({ reader }, spec) => {
      const value = reader.string(spec.env, spec.default as string);
      if (spec.pattern && !spec.pattern.test.test(value)) reader.problem(`${spec.env} must be ${spec.pattern.says}, got "${value}"`);
      return value;
    });
  },

  /** A text without a default: refused when unset, with the reason `required` gives. */
  requiredText(env: string, options: Pick<SettingSpec, "doc"> & { required: true | string }): Setting<string> {
    return new Setting({ env, kind: "text", ...options }, ({ reader }, spec) => {
      const value = reader.optionalString(spec.env);
      if (value === undefined) reader.problem(spec.required === true ? `${spec.env} is required` : `${spec.env} is required: ${spec.required}`);
      return value ?? "";
    });
  },

  /** A text that may be unset; `production.required` refuses that in production. */
  optionalText(env: string, options: OptionalOptions): Setting<string | undefined> {
    return new Setting({ env, kind: "text", ...options }, (context, spec) => checkProduction(context.reader.optionalString(spec.env), context, spec));
  },

  /** An integer with bounds; `production.min` raises the lower bound in production. */
  int(env: string, options: IntOptions): Setting<number> {
    return new Setting({ env, kind: "int", ...options }, ({ reader, production }, spec) => {
      const min = production && spec.production?.min !== undefined ? spec.production.min : spec.min;
      return reader.int(spec.env, spec.default as number, { min, max: spec.max });
    });
  },

  /** A TCP port to listen on, 0 to 65535 (0 picks a free one). */
  port(env: string, options: Pick<SettingSpec, "doc" | "common"> & { default: number }): Setting<number> {
    return new Setting({ env, kind: "port", min: 0, max: 65535, ...options }, ({ reader }, spec) => reader.port(spec.env, spec.default as number));
  },

  /** One of a fixed list of words. */
  choice<C extends string>(env: string, choices: readonly C[], options: Pick<SettingSpec, "doc" | "common"> & { default: C }): Setting<C> {
    return new Setting({ env, kind: "choice", choices, ...options }, ({ reader }, spec) => reader.oneOf(spec.env, spec.choices as readonly C[], spec.default as C));
  },

  /** A required secret, inline or from the file NAME_FILE names; `parse` turns it into what the process uses. */
  secret<V = string>(env: string, options: Pick<SettingSpec, "doc"> & { parse?: (raw: string) => V; check?: (value: V) => string | undefined }): Setting<V> {
    const { parse = (raw: string) => raw as unknown as V, check, ...rest } = options;
    return new Setting({ env, kind: "secret", required: true, ...rest }, ({ reader }, spec) => {
      const raw = reader.secret(spec.env);
      const value = parse(raw);
      const problem = raw === "" ? undefined : check?.(value);
      if (problem) reader.problem(`${spec.env} ${problem}`);
      return value;
    });
  },

  /** A secret that may be unset, inline or from the file NAME_FILE names; `pattern` bounds its shape (never echoed in a refusal). */
  optionalSecret(env: string, options: OptionalOptions & Pick<SettingSpec, "pattern">): Setting<string | undefined> {
    return new Setting({ env, kind: "secret", ...options }, (context, spec) => {
      const value = checkProduction(context.reader.optionalSecret(spec.env), context, spec);
      if (value !== undefined && spec.pattern && !spec.pattern.test.test(value)) context.reader.problem(`${spec.env} must be ${spec.pattern.says}`);
      return value;
    });
  },

  /** Comma-separated entries, at most `maxItems`, each checked by `check` (a problem, or undefined). */
  list(env: string, options: Pick<SettingSpec, "doc" | "maxItems" | "overMax"> & { check?: (item: string) => string | undefined }): Setting<string[]> {
    const { check, ...rest } = options;
    return new Setting({ env, kind: "list", ...rest }, ({ reader }, spec) => {
      const items = (reader.optionalString(spec.env) ?? "").split(",").map((item) => item.trim()).filter(Boolean);
      const max = spec.maxItems ?? items.length;
      if (items.length > max) reader.problem(`${spec.env}: at most ${max} entries${spec.overMax ? `; ${spec.overMax}` : ""}`);
      // Only the entries that may stay are checked: the count is already refused, and each check costs.
      for (const item of items.slice(0, max)) {
        const problem = check?.(item);
        if (problem) reader.problem(`${spec.env}: ${problem}`);
      }
      return items;
    });
  },

  constant<T>(value: T): Constant<T> {
    return new Constant(value);
  },

  /** The group, or undefined when its `key` setting is unset. */
  whenSet<T extends SchemaTree, K extends keyof T & string>(key: K, tree: T): WhenSet<T, K, false> {
    return new WhenSet(key, tree, false);
  },

  /** The group, all of it, when its `key` setting is set (each other setting then required); undefined when unset. */
  wholeWhenSet<T extends SchemaTree, K extends keyof T & string>(key: K, tree: T): WhenSet<T, K, true> {
    return new WhenSet(key, tree, true);
  },
};

/** Read only to know whether production rules apply. */
export const NODE_ENV = setting.optionalText("NODE_ENV", { doc: "`production` refuses the development fallbacks", common: true });

/** A setting and where the configuration holds it. */
export interface PlacedSetting {
  path: string[];
  setting: Setting<unknown>;
}

function place(tree: SchemaTree, path: string[] = []): PlacedSetting[] {
  return Object.entries(tree).flatMap(([key, node]): PlacedSetting[] => {
    if (node instanceof Setting) return [{ path: [...path, key], setting: node }];
    if (node instanceof Constant) return [];
    if (node instanceof WhenSet) return place(node.tree as SchemaTree, [...path, key]);
    return place(node, [...path, key]);
  });
}

function readTree(tree: SchemaTree, context: ReadContext): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const [key, node] of Object.entries(tree)) {
    if (node instanceof Setting) config[key] = node.read(context);
    else if (node instanceof Constant) config[key] = node.value;
    else if (node instanceof WhenSet) {
      const group = readTree(node.tree as SchemaTree, context);
      const keySetting = (node.tree as SchemaTree)[node.key as string];
      if (node.whole && group[node.key as string] !== undefined && keySetting instanceof Setting) {
        // A group is whole or absent: its other settings come with its key.
        for (const [member, value] of Object.entries(group)) {
          const memberSetting = (node.tree as SchemaTree)[member];
          if (value === undefined && memberSetting instanceof Setting) context.reader.problem(`${memberSetting.spec.env} is required when ${keySetting.spec.env} is set`);
        }
      }
      config[key] = group[node.key as string] === undefined ? undefined : group;
    } else config[key] = readTree(node, context);
  }
  return config;
}

/**
 * A process's configuration, declared: `load` reads it from the environment (every problem listed
 * at once), `settings` lists what it reads for the docs and the manifest checks, and `fallbacks`
 * says which development fallbacks a configuration uses.
 */
export class ConfigSchema<T extends SchemaTree> {
  /** Every variable read, in declaration order; NODE_ENV last when production changes anything. */
  readonly settings: readonly Setting<unknown>[];
  private readonly placed: PlacedSetting[];

  constructor(readonly tree: T) {
    this.placed = place(tree);
    const settings = this.placed.map((p) => p.setting);
    if (settings.some((s) => s.spec.production)) settings.push(NODE_ENV);
    const seen = new Set<string>();
    for (const { spec } of settings) {
      if (seen.has(spec.env)) throw new Error(`${spec.env} is declared twice`);
      seen.add(spec.env);
    }
    this.settings = settings;
  }

  /** The settings from the environment; a ConfigError lists every problem. Bound: a process exports it as its `loadConfig`. */
  readonly load = (env: Env = process.env): ConfigOf<T> => {
    const reader = new EnvReader(env);
    const config = readTree(this.tree, { reader, production: env.NODE_ENV === "production" });
    reader.done();
    return config as ConfigOf<T>;
  };

  /** What `load` would refuse, without throwing: [] when the environment is valid. */
  problems(env: Env): string[] {
    try {
      this.load(env);
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
  }

  /** The development fallbacks a configuration uses, as warnings to log ("MONGODB_URI is not set: …"). */
  fallbacks(config: ConfigOf<T>): string[] {
    return this.placed
      .filter(({ setting }) => setting.spec.fallback)
      .filter(({ path }) => path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], config) === undefined)
      .map(({ setting }) => `${setting.spec.env} is not set: ${setting.spec.fallback}`);
  }
}

export function defineConfig<T extends SchemaTree>(tree: T): ConfigSchema<T> {
  return new ConfigSchema(tree);
}
