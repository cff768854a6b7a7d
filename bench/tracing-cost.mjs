#!/usr/bin/env node
// The CPU cost of tracing: the embedded mesh (in memory, in-process bus) serves the same work with
// tracing off (no exporter) and with an OTLP exporter at 0 %, 10 % and 100 % sampling, and the CPU
// time per operation of each is printed as a ratio to tracing off. Each setting runs in a child
// process of its own (tracing state is per process); spans go over OTLP/HTTP to a sink in this
// process that reads and drops them, so the children pay for encoding and sending, as in
// production. One operation: a post through the gateway (fanned out to one follower) and a home
// timeline read. Usage: npm run bench:tracing [-- operations]   (default 400 per setting)
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const operations = Number(process.argv[2] ?? 400);
const setting = process.env.BENCH_TRACING_SETTING;

if (setting === undefined) {
  // The parent: a sink for the spans, then one child per setting, in one run.
  let received = 0;
  const sink = createServer((req, res) => {
    req.on("data", (chunk) => (received += chunk.length));
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
  });
  await new Promise((resolve) => sink.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${sink.address().port}`;
  const settings = ["off", "0", "10", "100"];
  const results = {};
  for (const name of settings) {
    const before = received;
    const output = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), String(operations)], {
        env: { ...process.env, BENCH_TRACING_SETTING: name, BENCH_OTLP_ENDPOINT: endpoint, MONGODB_URI: "", NATS_URL: "" },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let text = "";
      child.stdout.on("data", (chunk) => (text += chunk));
      child.on("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`setting ${name} exited with ${code}`))));
    });
    results[name] = { ...JSON.parse(output), otlpBytes: received - before };
  }
  sink.close();
  const base = results.off.cpuMsPerOp;
  console.log(`tracing cost, embedded mesh in memory, ${operations} operations per setting (post + home read), Node ${process.version}`);
  console.log("setting        CPU ms/op   ratio to off   wall ms/op   OTLP bytes sent");
  for (const name of settings) {
    const r = results[name];
    const label = name === "off" ? "tracing off" : `${name} % sampled`;
    console.log(
      `${label.padEnd(14)} ${r.cpuMsPerOp.toFixed(3).padStart(9)}   ${(r.cpuMsPerOp / base).toFixed(3).padStart(12)}   ${r.wallMsPerOp.toFixed(3).padStart(10)}   ${String(r.otlpBytes).padStart(15)}`,
    );
  }
} else {
  // A child: the mesh with this setting, a warm-up, then the measured operations.
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
  const api = `http://127.0.0.1:${mesh.gateway.httpPort}`;
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
    // Four callers at once, as a small load rather than one request at a time.
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < count) await operation(next++);
    }));
  };
  await run(Math.min(100, operations));
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run(operations);
  const used = process.cpuUsage(cpu);
  const wall = performance.now() - started;
  await mesh.stop();
  process.stdout.write(JSON.stringify({ cpuMsPerOp: (used.user + used.system) / 1000 / operations, wallMsPerOp: wall / operations }));
}
