#!/usr/bin/env node
// Bundles the web client into dist/web beside the gateway that serves it.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist/web");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, "web/app.ts")],
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: true,
  outfile: join(out, "app.js"),
  logLevel: "warning",
  // The generated TypeScript sources (ES modules) bundle smaller than the compiled CommonJS.
  alias: { "@chirp/proto": join(root, "../packages/proto/src") },
});
for (const file of ["index.html", "style.css"]) copyFileSync(join(root, "web", file), join(out, file));
