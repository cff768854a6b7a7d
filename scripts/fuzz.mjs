#!/usr/bin/env node
// Fuzzes the public API through its own OpenAPI document: starts the embedded mesh (startMesh, as
// `npm start` does, in memory), registers and logs in a user, and runs schemathesis against the
// gateway's /openapi.json with that user's token, on every operation the document lists. A run
// passes when schemathesis finds nothing (no 5xx, every answer's status, content type, headers and
// body as documented, nothing that needs a token served without one) and the mesh is still healthy
// afterwards: /healthz answers 200 and a fresh login works.
//
//   node scripts/fuzz.mjs [--max-examples N] [--max-time SECONDS] [--seed N]
//
// `npm run fuzz` runs the long version; .ci/run a bounded one. Needs a build (mesh/dist) and
// schemathesis: SCHEMATHESIS, or what scripts/install-fuzz-tools.sh installs into .tools/.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: args } = parseArgs({
  options: {
    "max-examples": { type: "string", default: "100" },
    "max-time": { type: "string" },
    seed: { type: "string" },
  },
});
const schemathesis = process.env.SCHEMATHESIS ?? join(root, ".tools/fuzz-venv/bin/schemathesis");
if (!existsSync(schemathesis)) {
  console.error(`fuzz: no schemathesis at ${schemathesis}: run 'bash scripts/install-fuzz-tools.sh' (or set SCHEMATHESIS)`);
  process.exit(2);
}

const { startMesh } = await import(join(root, "mesh/dist/mesh.js"));
const { createLogger } = await import(join(root, "packages/kit/dist/index.js"));

// In memory, whatever MONGODB_URI and NATS_URL say: a fuzz run makes thousands of accounts and
// posts that nobody needs to keep. The budgets are raised so that the fuzzer reaches the services
// instead of the rate limits (which answer 429, documented, but test nothing further).
const env = { ...process.env, MONGODB_URI: undefined, NATS_URL: undefined };
Object.assign(env, {
  PASSWORD_HASH_COST: "10",
  AUTH_TOKEN_TTL_SECONDS: "86400",
  WRITES_PER_MINUTE: "1000000",
  WRITE_BURST: "1000000",
  READS_PER_MINUTE: "1000000",
  READ_BURST: "1000000",
  UPSTREAM_TIMEOUT_MS: "5000",
});
const log = createLogger("fuzz", process.env.LOG_LEVEL ?? "silent");
const mesh = await startMesh({ env, log, loopback: true });
const base = `http://127.0.0.1:${mesh.gateway.httpPort}`;

async function call(path, body, headers = {}) {
  const response = await fetch(`${base}/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

/** The mesh still works: /healthz is 200, and a new user can register, log in and post. */
async function healthy() {
  const health = await fetch(`${base}/healthz`);
  if (health.status !== 200) throw new Error(`/healthz answered ${health.status}: ${await health.text()}`);
  const password = "correct horse battery";
  await call("chirp.users.v1.UsersService/CreateUser", { username: "fuzz_after", email: "after@example.org", password });
  const { accessToken } = await call("chirp.users.v1.UsersService/Login", { usernameOrEmail: "fuzz_after", password });
  await call("chirp.tweets.v1.TweetsService/CreateTweet", { text: "still here" }, { authorization: `Bearer ${accessToken}` });
}

let status = 1;
try {
  await call("chirp.users.v1.UsersService/CreateUser", { username: "fuzz_user", email: "fuzz@example.org", password: "correct horse battery" });
  const { accessToken, user } = await call("chirp.users.v1.UsersService/Login", { usernameOrEmail: "fuzz_user", password: "correct horse battery" });
  // Something to find: a post of the user's own, which the fuzzer may like, reply to or delete.
  await call("chirp.tweets.v1.TweetsService/CreateTweet", { text: "fuzzing #chirp" }, { authorization: `Bearer ${accessToken}` });
  console.log(`fuzz: mesh at ${base}, user ${user.id}`);

  const output = join(root, "test-output");
  mkdirSync(output, { recursive: true });
  const st = (...selection) => [
    "run",
    `${base}/openapi.json`,
    "--url",
    base,
    "--header",
    `Authorization: Bearer ${accessToken}`,
    "--checks",
    [
      "not_a_server_error",
      "status_code_conformance",
      "content_type_conformance",
      "response_headers_conformance",
      "response_schema_conformance",
      "ignored_auth",
      ...(process.env.FUZZ_EXTRA_CHECKS ? process.env.FUZZ_EXTRA_CHECKS.split(",") : []),
    ].join(","),
    "--max-examples",
    args["max-examples"],
    ...(args["max-time"] ? ["--max-time", args["max-time"]] : []),
    ...(args.seed ? ["--seed", args.seed] : []),
    "--phases",
    "examples,coverage,fuzzing",
    "--workers",
    "2",
    "--request-timeout",
    "10",
    "--output-truncate",
    "true",
    ...selection,
  ];
  const run = (name, selection) =>
    new Promise((resolve, reject) => {
      console.log(`fuzz: ${name}`);
      const report = ["--report", "junit", "--report-junit-path", join(output, `schemathesis-${name}.xml`)];
      // Run in test-output/, where schemathesis keeps its cache (.schemathesis/): the failures of
      // earlier runs, which it replays first.
      const child = spawn(schemathesis, [...st(...selection), ...report], { cwd: output, stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NO_COLOR: "1" } });
      // Schemathesis closes on pytest's banner ("=== 2 warnings in 0.75s ==="), which a reader of
      // the CI log takes for a test run that ran nothing: it is reworded, the rest passed as is.
      createInterface({ input: child.stdout, crlfDelay: Infinity }).on("line", (line) => {
        const banner = /^=+ (.+) in ([\d.]+)s =+$/.exec(line);
        console.log(banner ? `fuzz: ${name} finished after ${banner[2]} s (schemathesis: ${banner[1]})` : line);
      });
      child.once("error", reject);
      child.once("close", (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
  // Two passes: the operations that end the token's session or account last and alone. The
  // fuzzer learns the user's id from the answers (SearchUsers lists everyone) and may delete the
  // very account the token is for, log its session out or change its password, after which every
  // other call would only be refused and test nothing.
  const ENDING = ["DeleteUser", "Logout", "RevokeSession", "RevokeUserSessions", "ChangePassword"].map((m) => `chirp.users.v1.UsersService.${m}`);
  const codes = [
    await run("all-but-ending", ENDING.flatMap((id) => ["--exclude-operation-id", id])),
    await run("ending", ENDING.flatMap((id) => ["--include-operation-id", id])),
  ];
  const code = codes.every((c) => c === 0) ? 0 : 1;
  await healthy();
  console.log(`fuzz: schemathesis exited ${codes.join(" and ")}; the mesh is healthy afterwards (/healthz 200; a new user registers, logs in and posts)`);
  status = code === 0 ? 0 : 1;
} catch (error) {
  console.error("fuzz:", error);
} finally {
  await mesh.stop();
}
process.exit(status);
