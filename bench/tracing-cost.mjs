#!/usr/bin/env node
// The CPU cost of tracing: the embedded mesh (in memory, in-process bus) serves the same work with
// tracing off (no exporter) and with an OTLP exporter at 0 %, 10 % and 100 % sampling, and the
// server's CPU time per operation is printed for each, as a ratio to tracing off, in one run.
//
// The server and the load generator do not share a core: each setting's mesh runs in a child
// process pinned to one CPU (`taskset`), and this process (the load generator, and the OTLP/HTTP
// sink that reads and drops the spans, so the server pays for encoding and sending them as in
// production) is pinned to another. Only the server's CPU is counted (process.cpuUsage in the
// child: all its threads), from after the warm-up to the last answer. The settings run in turn,
// `rounds` times over, and each setting's median is reported, so a slow moment of a shared
// machine falls on one round of each rather than on one setting.
//
// One operation: a post through the gateway (fanned out to one follower) and a home timeline read,
// four callers at once.
//
//   npm run bench:tracing [-- --operations 400 --rounds 3]
import { fork, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const require = createRequire(import.meta.url);
const here = fileURLToPath(import.meta.url);

if (process.env.BENCH_TRACING_SETTING === undefined) await loadGenerator();
else await server(process.env.BENCH_TRACING_SETTING);

async function loadGenerator() {
  const { values } = parseArgs({ options: { operations: { type: "string", default: "400" }, rounds: { type: "string", default: "3" } } });
  const operations = Number(values.operations);
  const rounds = Number(values.rounds);

  // Two CPUs: the server on CPU 0, this process (all its threads) on CPU 1.
  const pinned = availableParallelism() >= 2 && spawnSync("taskset", ["-a", "-cp", "1", String(process.pid)], { stdio: "ignore" }).status === 0;
  const placement = pinned ? "server pinned to CPU 0, load generator and OTLP sink to CPU 1 (taskset)" : "NOT pinned (taskset or a second CPU missing): server and load generator share the CPUs";

  let received = 0;
  const sink = createServer((req, res) => {
    req.on("data", (chunk) => (received += chunk.length));
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
  });
  await new Promise((resolve) => sink.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${sink.address().port}`;

  const settings = ["off", "0", "10", "100"];
  const samples = Object.fromEntries(settings.map((s) => [s, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const setting of settings) {
      const before = received;
      const result = await measure(setting, operations, endpoint, pinned);
      samples[setting].push({ ...result, otlpBytes: received - before });
      process.stderr.write(`round ${round}/${rounds}, ${label(setting)}: ${result.cpuMsPerOp.toFixed(3)} CPU ms/op\n`);
    }
  }
  sink.close();

  const median = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  };
  const summary = Object.fromEntries(
    settings.map((s) => [
      s,
      {
        cpu: median(samples[s].map((r) => r.cpuMsPerOp)),
        wall: median(samples[s].map((r) => r.wallMsPerOp)),
        bytes: median(samples[s].map((r) => r.otlpBytes / operations)),
        rounds: samples[s].map((r) => r.cpuMsPerOp.toFixed(3)).join(" "),
      },
    ]),
  );
  const base = summary.off.cpu;
  console.log(`tracing cost: embedded mesh in memory, ${operations} operations per setting and round (post + home read, 4 callers), median of ${rounds} rounds`);
  console.log(`Node ${process.version}; ${placement}`);
  console.log("");
  console.log("setting         server CPU ms/op   ratio to off   wall ms/op   OTLP bytes/op   CPU ms/op in each round");
  for (const s of settings) {
    const r = summary[s];
    console.log(
      `${label(s).padEnd(15)} ${r.cpu.toFixed(3).padStart(16)}   ${(r.cpu / base).toFixed(3).padStart(12)}   ${r.wall.toFixed(3).padStart(10)}   ${r.bytes.toFixed(0).padStart(13)}   ${r.rounds}`,
    );
  }
}

function label(setting) {
  return setting === "off" ? "tracing off" : `${setting} % sampled`;
}

/** One setting's server in a child process: started, warmed up, measured, stopped. */
async function measure(setting, operations, endpoint, pinned) {
  const child = fork(here, [], {
    ...(pinned && { execPath: "taskset", execArgv: ["-c", "0", process.execPath] }),
    env: { ...process.env, BENCH_TRACING_SETTING: setting, BENCH_OTLP_ENDPOINT: endpoint, MONGODB_URI: "", NATS_URL: "" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise((resolve, reject) => child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`setting ${setting}: the server exited with ${code}`)))));
  const next = () =>
    new Promise((resolve, reject) => {
      child.once("message", resolve);
      exited.catch(reject);
    });
  const { port } = await next();
  const api = `http://127.0.0.1:${port}`;
  const call = async (method, body, token) => {
    const response = await fetch(`${api}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    });
    if (response.status !== 200) throw new Error(`${method}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  const account = async (username) => {
    const created = await call("chirp.users.v1.UsersService/CreateUser", { username, email: `${username}@example.org`, password: "correct horse" });
    const login = await call("chirp.users.v1.UsersService/Login", { usernameOrEmail: username, password: "correct horse" });
    return { id: created.user.id, token: login.accessToken };
  };
  const author = await account("bench_author");
  const reader = await account("bench_reader");
  for (let i = 0; ; i++) {
    try {
      await call("chirp.graph.v1.GraphService/Follow", { followeeId: author.id }, reader.token);
      break;
    } catch (error) {
      if (i > 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  const operation = async (i) => {
    await call("chirp.tweets.v1.TweetsService/CreateTweet", { text: `post ${i}` }, author.token);
    await call("chirp.timeline.v1.TimelineService/GetHomeTimeline", { pageSize: 20 }, reader.token);
  };
  const run = async (count) => {
    let started = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (started < count) await operation(started++);
      }),
    );
  };
  await run(Math.min(100, operations));
  child.send("start");
  await next();
  const t0 = performance.now();
  await run(operations);
  const wall = performance.now() - t0;
  child.send("stop");
  const { cpuMs } = await next();
  await exited;
  return { cpuMsPerOp: cpuMs / operations, wallMsPerOp: wall / operations };
}

/** A child: the mesh with this setting; its CPU is counted between "start" and "stop". */
async function server(setting) {
  const { createLogger } = require("@chirp/kit");
  const { startMesh } = require("@chirp/mesh");
  const env = {
    PASSWORD_HASH_COST: "4",
    WRITES_PER_MINUTE: "1000000",
    WRITE_BURST: "1000000",
    READS_PER_MINUTE: "1000000",
    READ_BURST: "1000000",
    ...(setting === "off" ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT: process.env.BENCH_OTLP_ENDPOINT, TRACE_SAMPLE_PERCENT: setting }),
  };
  const mesh = await startMesh({ env, log: createLogger("bench", "silent"), loopback: true });
  let cpu;
  process.on("message", async (message) => {
    if (message === "start") {
      cpu = process.cpuUsage();
      process.send({ started: true });
    } else if (message === "stop") {
      const used = process.cpuUsage(cpu);
      // Spans still buffered are sent by the stop (outside the measured time, as in a long run
      // they would be sent within it: a small undercount at 100 %, one batch).
      await mesh.stop();
      process.send({ cpuMs: (used.user + used.system) / 1000 }, () => process.exit(0));
    }
  });
  process.send({ port: mesh.gateway.httpPort });
}
