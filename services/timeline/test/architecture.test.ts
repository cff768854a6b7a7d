import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Domain code may use the standard library, the neutral part of the kit and itself; nothing else. */
const ALLOWED = [/^node:/, /^@chirp\/kit$/, /^\.\.?\//];

describe("the timeline domain", () => {
  const dir = join(__dirname, "../src/domain");
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));

  it("has source files to check", () => {
    expect(files.length).toBeGreaterThan(3);
  });

  it.each(files)("%s imports no transport, database or bus code", (file) => {
    const source = readFileSync(join(dir, file), "utf8");
    const imports = [...source.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
    expect(imports.filter((spec) => !ALLOWED.some((pattern) => pattern.test(spec)))).toEqual([]);
  });
});
