#!/usr/bin/env node
// Bundles the web client into dist/web beside the gateway that serves it, and lays out the API
// reference page (dist/web/reference): Swagger UI's prebuilt bundle from swagger-ui-dist, served by
// the gateway itself so that the page loads nothing from elsewhere.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { analyzeMetafile, build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist/web");
mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: [join(root, "web/app.ts")],
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: true,
  outfile: join(out, "app.js"),
  logLevel: "warning",
  // The generated TypeScript sources (ES modules) bundle smaller than the compiled CommonJS.
  // The kit's text rules (@chirp/kit/text) likewise, from source: they need nothing of Node.
  alias: { "@chirp/proto": join(root, "../packages/proto/src"), "@chirp/kit": join(root, "../packages/kit/src") },
  metafile: true,
});
// What each input adds to the bundle, for `npm run build:web -- --analyze`.
if (process.argv.includes("--analyze")) console.log(await analyzeMetafile(result.metafile));
for (const file of ["index.html", "style.css"]) copyFileSync(join(root, "web", file), join(out, file));

const reference = join(out, "reference");
mkdirSync(reference, { recursive: true });
const swaggerUi = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
for (const file of ["swagger-ui-bundle.js", "swagger-ui.css"]) copyFileSync(join(swaggerUi, file), join(reference, file));
for (const file of ["index.html", "init.js"]) copyFileSync(join(root, "web/reference", file), join(reference, file));
