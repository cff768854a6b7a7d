import { readFileSync } from "node:fs";
import { join } from "node:path";
import { configDocs, PROCESSES, readmeFiles } from "../src/config-docs.js";

const ROOT = join(__dirname, "../..");

describe("the README's configuration tables", () => {
  it.each(configDocs().map(({ file, current, rendered }) => ({ file, current, rendered })))(
    "$file shows each table as the schemas declare it (npm run docs:config rewrites them)",
    ({ current, rendered }) => {
      expect(current).toBe(rendered);
    },
  );

  it("document every variable every process reads, somewhere", () => {
    const markers = readmeFiles().flatMap((file) => [...readFileSync(join(ROOT, file), "utf8").matchAll(/<!-- config:([a-z-]+)( own)? -->/g)]);
    const shown = (process: string, common: boolean | undefined) =>
      markers.some(([, name, own]) => name === process && !(own && common)) || (common === true && process !== "gateway" && markers.some(([, name]) => name === "services"));
    const missing = Object.entries(PROCESSES).flatMap(([process, schema]) =>
      schema.settings.filter((setting) => !shown(process, setting.spec.common)).map((setting) => `${process}: ${setting.spec.env}`),
    );
    expect(missing).toEqual([]);
  });
});
