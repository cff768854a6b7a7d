import { readFileSync } from "node:fs";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

/**
 * Reads typed settings from environment variables, collecting every problem so that one start-up
 * failure lists all of them. Call `done()` after the last read.
 */
export class EnvReader {
  private readonly problems: string[] = [];

  constructor(private readonly env: Env = process.env) {}

  private raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  }

  string(name: string, fallback?: string): string {
    const value = this.raw(name) ?? fallback;
    if (value === undefined) {
      this.problems.push(`${name} is required`);
      return "";
    }
    return value;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  int(name: string, fallback: number, { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
      return fallback;
    }
    return parsed;
  }

  port(name: string, fallback: number): number {
    return this.int(name, fallback, { min: 0, max: 65535 });
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (["1", "true", "yes", "on"].includes(value)) return true;
    if (["0", "false", "no", "off"].includes(value)) return false;
    this.problems.push(`${name} must be true or false, got "${value}"`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      this.problems.push(`${name} must be one of ${allowed.join(", ")}, got "${value}"`);
      return fallback;
    }
    return value as T;
  }

  /** A secret from NAME, or from the file named by NAME_FILE (how Kubernetes mounts secrets). */
  optionalSecret(name: string): string | undefined {
    const inline = this.raw(name);
    const file = this.raw(`${name}_FILE`);
    if (inline !== undefined && file !== undefined) {
      this.problems.push(`set either ${name} or ${name}_FILE, not both`);
      return undefined;
    }
    if (file === undefined) return inline;
    try {
      const content = readFileSync(file, "utf8").trim();
      return content === "" ? undefined : content;
    } catch (error) {
      this.problems.push(`${name}_FILE: cannot read "${file}": ${(error as Error).message}`);
      return undefined;
    }
  }

  secret(name: string): string {
    const problemsBefore = this.problems.length;
    const value = this.optionalSecret(name);
    if (value === undefined && this.problems.length === problemsBefore) {
      this.problems.push(`${name} (or ${name}_FILE) is required`);
    }
    return value ?? "";
  }

  /** Records a problem found while deriving settings from others. */
  problem(message: string): void {
    this.problems.push(message);
  }

  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}
