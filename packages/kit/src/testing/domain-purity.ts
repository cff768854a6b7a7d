import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";

/** Domain code may use the standard library, the neutral part of the kit and itself; nothing else. */
const ALLOWED = [/^node:/, /^@chirp\/kit$/, /^\.\.?\//];

/**
 * Every module a source file names: static imports and re-exports (`from "x"`), imports for their
 * side effects (`import "x"`), and dynamic `import("x")` or `require("x")` with a literal name.
 */
export function importedModules(source: string): string[] {
  const patterns = [/\bfrom\s+["']([^"']+)["']/g, /\bimport\s+["']([^"']+)["']/g, /\b(?:import|require)\s*\(\s*["']([^"']+)["']\s*\)/g];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((m) => m[1]!));
}

/** The TypeScript files below a folder, subfolders included, as paths relative to it. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .sort();
}

export interface DomainPurity {
  /** The service's name, for the suite's title. */
  service: string;
  /** The service's folder (the one holding src/domain). */
  dir: string;
  /** At least this many files: a domain moved elsewhere must not leave the check passing over nothing. */
  minFiles: number;
}

/**
 * The rule every service keeps: its domain (src/domain, subfolders included) knows nothing of
 * gRPC, MongoDB or NATS. Each file is a test of its own, so a failure names the file and the
 * imports that break the rule.
 */
export function domainPuritySuite({ service, dir, minFiles }: DomainPurity): void {
  describe(`the ${service} domain`, () => {
    const domain = join(dir, "src/domain");
    const files = sourceFiles(domain);

    it("has source files to check", () => {
      expect(files.length).toBeGreaterThanOrEqual(minFiles);
    });

    it.each(files)("%s imports no transport, database or bus code", (file) => {
      const imports = importedModules(readFileSync(join(domain, file), "utf8"));
      expect(imports.filter((spec) => !ALLOWED.some((pattern) => pattern.test(spec)))).toEqual([]);
    });
  });
}
