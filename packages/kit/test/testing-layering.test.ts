import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { importedModules } from "@chirp/kit/testing";

const ROOT = join(__dirname, "../../..");
/** What runs outside jest: every workspace's sources, the web client and the benchmark scripts. */
const OUTSIDE_JEST = ["packages/kit/src", "packages/proto/src", "services", "gateway/src", "gateway/web", "mesh/src", "bench"];
const TESTING = join(ROOT, "packages/kit/src/testing");

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .map((file) => join(ROOT, dir, file))
    .filter((path) => /\.(ts|mjs|js)$/.test(path) && !path.endsWith(".d.ts"))
    .filter((path) => !path.split(sep).some((part) => ["test", "dist", "node_modules"].includes(part)))
    .filter((path) => !path.startsWith(TESTING + sep));
}

/**
 * @chirp/kit/testing imports @jest/globals, which throws outside a jest run: production code and
 * the benchmarks must never reach it, directly or through a relative path into the kit.
 */
describe("the kit's test plumbing", () => {
  const files = OUTSIDE_JEST.flatMap(sources);

  it("has code outside jest to check", () => {
    expect(files.length).toBeGreaterThan(100);
  });

  it("is imported by no code that runs outside jest", () => {
    const offenders = files.flatMap((file) =>
      importedModules(readFileSync(file, "utf8"))
        .filter((spec) => spec === "@chirp/kit/testing" || spec.startsWith("@jest/") || spec === "jest" || /(^|\/)testing(\/index)?(\.js)?$/.test(spec))
        .map((spec) => `${relative(ROOT, file)}: ${spec}`),
    );
    expect(offenders).toEqual([]);
  });
});
