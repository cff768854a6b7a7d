#!/usr/bin/env node
// Builds the images skaffold.yaml declares (one per artifact, all from the one Dockerfile) with
// docker or podman, whichever is on PATH, and reports each image's build time and size.
//
//   npm run images                      build every image, tagged chirp-<name>:dev
//   npm run images -- --tag test        another tag
//   npm run images -- --only tweets     some of them (comma-separated names)
//   npm run images -- --rebuild         then time a rebuild after a one-file change in each
//                                       workspace (made in a copy of the sources, never here)
//
// NODE_IMAGE overrides the base image (node:24-slim). Where no registry is reachable, a local
// stand-in named localhost/node:24-slim is used when it exists, and nothing is pulled.
// CONTAINER_ENGINE=docker|podman picks the engine when both are installed.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, appendFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parse } from "yaml";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const LOCAL_BASE = "localhost/node:24-slim";

const { values: args } = parseArgs({
  options: {
    tag: { type: "string", default: "dev" },
    only: { type: "string" },
    rebuild: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
  },
});
if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(args.tag)) fail(`--tag: "${args.tag}" is not a valid image tag`);

function fail(message) {
  console.error(`images: ${message}`);
  process.exit(1);
}

/** True when the engine's CLI is installed and answers (a docker CLI without a daemon does not). */
const works = (engine) => spawnSync(engine, ["info"], { stdio: "ignore", timeout: 30_000 }).status === 0;

/** docker or podman: CONTAINER_ENGINE when set, else the first of them that works. */
function containerEngine() {
  const wanted = process.env.CONTAINER_ENGINE;
  if (wanted) {
    if (!["docker", "podman"].includes(wanted)) fail(`CONTAINER_ENGINE: "${wanted}" is neither docker nor podman`);
    if (!works(wanted)) fail(`CONTAINER_ENGINE=${wanted}, but \`${wanted} info\` fails`);
    return wanted;
  }
  return ["docker", "podman"].find(works);
}

/** The artifacts skaffold builds: image name and the workspace folder passed as SERVICE. */
function artifacts() {
  const skaffold = parse(readFileSync(join(ROOT, "skaffold.yaml"), "utf8"));
  return skaffold.build.artifacts.map((a) => ({ image: a.image, workspace: a.docker.buildArgs.SERVICE, dockerfile: a.docker.dockerfile ?? "Dockerfile" }));
}

function baseImage(engine) {
  if (process.env.NODE_IMAGE) return process.env.NODE_IMAGE;
  const local = spawnSync(engine, ["image", "inspect", LOCAL_BASE], { stdio: "ignore" }).status === 0;
  return local ? LOCAL_BASE : undefined;
}

function build(engine, base, artifact, context, tag = `${artifact.image}:${args.tag}`) {
  const command = [
    "build",
    ...(engine === "podman" ? ["--network", "host"] : []),
    // A local stand-in base is never pulled; a registry base is pulled only when missing.
    ...(base === LOCAL_BASE ? ["--pull=never"] : []),
    ...(base ? ["--build-arg", `NODE_IMAGE=${base}`] : []),
    "--build-arg",
    `SERVICE=${artifact.workspace}`,
    "-f",
    join(context, artifact.dockerfile),
    "-t",
    tag,
    context,
  ];
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(engine, command, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const keep = (chunk) => {
      output += chunk;
      if (!args.quiet) process.stderr.write(chunk);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) {
        if (args.quiet) process.stderr.write(output.slice(-4000));
        reject(new Error(`${engine} build of ${tag} failed (exit ${code})`));
        return;
      }
      resolvePromise({ tag, seconds: (performance.now() - started) / 1000 });
    });
  });
}

function sizeOf(engine, tag) {
  const result = spawnSync(engine, ["image", "inspect", "--format", "{{.Size}}", tag], { encoding: "utf8" });
  return Number(result.stdout.trim());
}

/** The files a build would see, copied: the tracked and the untracked-but-not-ignored ones. */
function copyOfSources() {
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
  if (listed.status !== 0) fail("git ls-files failed: the rebuild check copies the sources git knows");
  const copy = mkdtempSync(join(tmpdir(), "chirp-images-"));
  for (const file of listed.stdout.split("\0").filter(Boolean)) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    try {
      cpSync(join(ROOT, file), join(copy, file));
    } catch (error) {
      if (error.code !== "ENOENT") throw error; // deleted in the working tree, not yet in git
    }
  }
  return copy;
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(0)} MB`;
const s = (seconds) => `${seconds.toFixed(1)} s`;

const engine = containerEngine();
if (!engine) fail("neither docker nor podman works here (on a machine without a Docker engine: ../shared/images/setup installs podman)");
const base = baseImage(engine);
const only = args.only?.split(",").map((name) => name.trim());
const selected = artifacts().filter((a) => !only || only.includes(a.image.replace(/^chirp-/, "")));
if (selected.length === 0) fail(`--only: no image named ${args.only} (skaffold.yaml lists ${artifacts().map((a) => a.image).join(", ")})`);

console.log(`images: ${engine}, base ${base ?? "node:24-slim (the Dockerfile's default)"}, tag ${args.tag}`);
const rows = [];
const started = performance.now();
for (const artifact of selected) {
  const { tag, seconds } = await build(engine, base, artifact, ROOT);
  rows.push({ tag, seconds, size: sizeOf(engine, tag) });
  console.log(`images: built ${tag} in ${s(seconds)} (${mb(rows.at(-1).size)})`);
}
const total = (performance.now() - started) / 1000;

if (args.rebuild) {
  // One source file of each workspace changed, in a copy: only that workspace's layers rebuild.
  const copy = copyOfSources();
  try {
    for (const [i, artifact] of selected.entries()) {
      appendFileSync(join(copy, artifact.workspace, "src/main.ts"), `\n// rebuild check ${Date.now()}\n`);
      const { tag, seconds } = await build(engine, base, artifact, copy, `${artifact.image}:${args.tag}-rebuild-check`);
      rows[i].rebuild = seconds;
      spawnSync(engine, ["rmi", tag], { stdio: "ignore" });
    }
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

console.log(`\n| image | build | size |${args.rebuild ? " rebuild after a one-file change |" : ""}`);
console.log(`|---|---|---|${args.rebuild ? "---|" : ""}`);
for (const row of rows) console.log(`| ${row.tag} | ${s(row.seconds)} | ${mb(row.size)} |${args.rebuild ? ` ${s(row.rebuild)} |` : ""}`);
console.log(`\nimages: ${rows.length} built in ${s(total)}`);
