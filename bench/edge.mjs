#!/usr/bin/env node
// `npm run bench:edge`: what the public edge costs, side by side in one run. Every server runs
// pinned to one core (`--server-cpu`, default 1) and every load generator to the other
// (`--load-cpu`, default 0; the npm script pins this process there too), one measurement at a
// time, each at a fixed concurrency for a fixed time (closed loop: the rate a core sustains).
// Every figure is printed with its ratio to the grpc-js no-op of the same run, since absolute
// rates on a shared machine mean little.
//
// Embedded topology (the whole mesh in one process, in memory; bench/edge/server.mjs):
//   - Go grpc-go no-op (grpc.health.v1.Health/Check; bench/edge/grpc-go-noop, built when Go is
//     present, skipped with a note otherwise), with ghz;
//   - the grpc-js no-op: the kit's GrpcServer serving LoadTestService/Noop in plaintext with no
//     checks, with ghz: the reference every ratio is taken to;
//   - the same no-op as a mesh service (mutual TLS, the caller's token verified, the gateway its
//     only peer), called with ghz as the gateway: what one hop between services costs;
//   - the mesh no-op through the gateway: gRPC (ghz), Connect JSON and Connect binary over
//     HTTP/1.1 (wrk);
//   - a 20-item home timeline: straight to the timeline service (ghz, over mutual TLS with the
//     gateway's certificate and the reader's token, as the gateway calls it), and through the gateway in
//     gRPC (ghz), Connect binary and Connect JSON over HTTP/1.1 (wrk).
// Multi-process topology (`--topology processes`, needs MONGODB_URI and NATS_URL: each service
// and the gateway its own process, as on Kubernetes; mesh/src/processes.ts): the grpc-js no-op
// and the mesh no-op, each a process of its own (bench/edge/noop-server.mjs); the gateway no-op
// in each protocol, the gateway (bench/edge/gateway-process.mjs: main.js plus the no-op upstream)
// alone on the server core and the mesh no-op moved beside the load generators, so that the
// gateway's own process sets the rate, as a gateway pod on its own core would; and the home read
// straight and through the gateway. Beside them, Node's floor: a bare HTTP/2 forwarder to the same
// mesh no-op (bench/edge/bare-forwarder.mjs), nothing checked or logged. Last, `--pairs` more
// measurements of the grpc-js no-op and the gateway no-op (gRPC) one after the other: the
// machine's load drifts over the half-minute between the table's two rows, so each pair's ratio
// by CPU is printed, and their median is the run's reading of the gateway no-op's goal.
//
// Mutual TLS between the gateway and the services, tokens verified at both, access rules, rate
// limits (budgets raised so that one reader is never refused) and logging (LOG_LEVEL info, one line per call, written to /dev/null or drained) stay on.
//
// Usage: npm run bench:edge [-- --seconds 8 --warm-up 2 --concurrency 32 --runs 1 --pairs 3 --topology embedded,processes --only REGEX]
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { progress, sleep } from "./common.mjs";

const require = createRequire(import.meta.url);
const { createClient } = require("@connectrpc/connect");
const { createConnectTransport } = require("@connectrpc/connect-node");
const { LoadTestService } = require("@chirp/proto/es/chirp/loadtest/v1/loadtest_pb");
const { TimelineService } = require("@chirp/proto/es/chirp/timeline/v1/timeline_pb");
const { TweetsService } = require("@chirp/proto/es/chirp/tweets/v1/tweets_pb");
const { UsersService } = require("@chirp/proto/es/chirp/users/v1/users_pb");
const { GraphService } = require("@chirp/proto/es/chirp/graph/v1/graph_pb");

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..");
const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "8" },
    "warm-up": { type: "string", default: "2" },
    concurrency: { type: "string", default: "32" },
    runs: { type: "string", default: "1" },
    pairs: { type: "string", default: "3" },
    topology: { type: "string" },
    "server-cpu": { type: "string", default: "1" },
    "load-cpu": { type: "string", default: "0" },
    "log-level": { type: "string", default: "info" },
    // Only the rows whose label matches (the grpc-js no-op, the reference, always runs).
    only: { type: "string" },
  },
});
const seconds = Number(args.seconds);
const warmUp = Number(args["warm-up"]);
const concurrency = Number(args.concurrency);
const runs = Number(args.runs);
const pairs = Number(args.pairs);
const serverCpu = args["server-cpu"];
const loadCpu = args["load-cpu"];
const haveServers = Boolean(process.env.MONGODB_URI && process.env.NATS_URL);
const topologies = (args.topology ?? (haveServers ? "embedded,processes" : "embedded")).split(",");
const say = progress();
const out = (line = "") => process.stdout.write(`${line}\n`);
const PAGE = 20;
const LIMITS = { WRITES_PER_MINUTE: "1000000", WRITE_BURST: "1000000", READS_PER_MINUTE: "1000000", READ_BURST: "1000000" };

function which(tool) {
  for (const dir of (process.env.PATH ?? "").split(":")) if (dir && existsSync(join(dir, tool))) return join(dir, tool);
  try {
    const gopath = execFileSync("go", ["env", "GOPATH"], { encoding: "utf8" }).trim();
    if (existsSync(join(gopath, "bin", tool))) return join(gopath, "bin", tool);
  } catch {
    // no Go
  }
  return undefined;
}
const ghz = which("ghz");
const wrk = which("wrk");
if (!ghz) {
  process.stderr.write("bench:edge needs ghz: go install github.com/bojand/ghz/cmd/ghz@latest\n");
  process.exit(2);
}
if (!wrk) say("wrk not found (Debian: apt-get install -y wrk): the HTTP/1.1 rows are skipped");

const work = mkdtempSync(join(tmpdir(), "chirp-bench-edge-"));
const protoset = join(work, "chirp.binpb");
execFileSync(join(ROOT, "node_modules/.bin/buf"), ["build", "-o", protoset], { cwd: ROOT });

/** The Go reference, built here when Go is present; undefined (with the reason) otherwise. */
function buildGoNoop() {
  const binary = join(work, "grpc-go-noop");
  try {
    execFileSync("go", ["build", "-o", binary, "."], { cwd: join(HERE, "edge/grpc-go-noop"), stdio: ["ignore", "ignore", "pipe"] });
    return { binary };
  } catch (error) {
    const why = error.code === "ENOENT" ? "Go is not installed" : `go build failed (GOPROXY ${goProxy()}): ${String(error.stderr ?? error.message).trim().split("\n").pop()}`;
    return { skipped: why };
  }
}
function goProxy() {
  try {
    return execFileSync("go", ["env", "GOPROXY"], { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

/** CPU time (ms, every thread) of the processes, from /proc. */
function cpuMs(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      total += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    } catch {
      // exited
    }
  }
  return total;
}

/** Starts `command` pinned to the server core; resolves with the child and the JSON line it writes on fd 3 (or stdout). */
async function startPinned(command, commandArgs, { env = process.env, readyOn = 3 } = {}) {
  const devNull = openSync("/dev/null", "w");
  const stdio = readyOn === 3 ? ["ignore", devNull, "inherit", "pipe"] : ["ignore", "pipe", "inherit"];
  const child = spawn("taskset", ["-c", serverCpu, command, ...commandArgs], { env, stdio });
  const ready = await new Promise((resolveReady, reject) => {
    child.once("exit", (code) => reject(new Error(`${command} exited with ${code} before it served`)));
    createInterface({ input: child.stdio[readyOn] }).once("line", (line) => resolveReady(JSON.parse(line)));
  });
  return { child, ready, stop: () => stopChild(child) };
}
async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  await exited;
  clearTimeout(killer);
}

/** ghz at `concurrency` for `seconds`, pinned to the load core: requests/s and errors. */
function runGhz({ target, call, data, metadata, reflection = false, tls }, duration = seconds) {
  const ghzArgs = [
    // Mutual TLS as the workload whose files these are, to the service named, as mesh calls are.
    ...(tls ? ["--cacert", tls.files.caFile, "--cert", tls.files.certFile, "--key", tls.files.keyFile, "--cname", tls.server] : ["--insecure"]),
    ...(reflection ? [] : ["--protoset", protoset]),
    "--call", call,
    "-d", JSON.stringify(data),
    ...(metadata ? ["-m", JSON.stringify(metadata)] : []),
    "-c", String(concurrency),
    "-z", `${duration}s`,
    "-O", "json",
    target,
  ];
  const report = JSON.parse(execFileSync("taskset", ["-c", loadCpu, ghz, ...ghzArgs], { encoding: "utf8", maxBuffer: 1024 * 1024 * 1024 }));
  const ok = report.statusCodeDistribution?.OK ?? 0;
  const all = Object.values(report.statusCodeDistribution ?? {}).reduce((a, b) => a + b, 0);
  // ghz cuts the calls still in flight when its time is up ("transport is closing"): at most one
  // per concurrent worker, and not the server's failures.
  const cut = Object.entries(report.errorDistribution ?? {}).reduce((n, [message, count]) => n + (/transport is closing|context canceled/.test(message) ? count : 0), 0);
  const errors = all - ok - Math.min(cut, concurrency);
  const firstError = errors > 0 ? Object.keys(report.errorDistribution ?? {}).find((m) => !/transport is closing|context canceled/.test(m)) : undefined;
  return { rps: ok / (report.total / 1e9), count: all, errors, firstError };
}

/** wrk over HTTP/1.1 at `concurrency` connections for `seconds`, pinned to the load core. */
function runWrk({ url, contentType, body, headers }, duration = seconds) {
  const lua = join(work, `wrk-${Math.random().toString(36).slice(2)}.lua`);
  const bytes = [...Buffer.from(body)].map((b) => `\\${b}`).join("");
  const lines = [`wrk.method = "POST"`, `wrk.body = "${bytes}"`, `wrk.headers["Content-Type"] = "${contentType}"`];
  for (const [name, value] of Object.entries(headers)) lines.push(`wrk.headers["${name}"] = "${value}"`);
  require("node:fs").writeFileSync(lua, `${lines.join("\n")}\n`);
  const text = execFileSync("taskset", ["-c", loadCpu, wrk, "-t1", `-c${concurrency}`, `-d${duration}s`, "-s", lua, url], { encoding: "utf8" });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  const total = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0) + Number(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)?.slice(1).reduce((a, b) => a + Number(b), 0) ?? 0);
  return { rps: total > 0 ? (rps * (total - errors)) / total : 0, count: total, errors };
}

/**
 * Runs each measurement in turn, CPU of `pids()` counted around it, and of each group of
 * `groups()` (processes by name, in the multi-process topology) apart.
 */
async function measure(rows, pids, groups = () => ({})) {
  const results = [];
  const only = args.only ? new RegExp(args.only, "i") : undefined;
  for (const row of rows) {
    if (only && !only.test(row.label) && !row.label.startsWith("grpc-js no-op (kit GrpcServer")) continue;
    if (row.skipped) {
      results.push({ ...row });
      continue;
    }
    say(`${row.label}`);
    row.setup?.();
    // Unmeasured first: V8 optimises the path under load, and the measured seconds should not
    // pay for it (a process of the multi-process mesh serves only a few hundred calls a run).
    await row.run(warmUp);
    await sleep(500);
    const before = cpuMs(pids(row));
    const groupsBefore = Object.entries(groups()).map(([name, members]) => [name, members, cpuMs(members)]);
    const result = await row.run();
    const calls = Math.max(1, result.count);
    const cpu = (cpuMs(pids(row)) - before) / calls;
    const cpuBy = Object.fromEntries(groupsBefore.map(([name, members, start]) => [name, (cpuMs(members) - start) / calls]));
    results.push({ ...row, ...result, cpuMsPerCall: cpu, cpuBy });
    say(`  ${result.rps.toFixed(0)}/s, ${result.errors} errors${result.firstError ? ` (${result.firstError})` : ""}, ${cpu.toFixed(3)} ms CPU per call`);
  }
  return results;
}

function table(title, results, baseLabel) {
  const baseRow = results.find((r) => r.label === baseLabel);
  const byProcess = results.some((r) => r.cpuBy && Object.keys(r.cpuBy).length > 0);
  out(title);
  out();
  out(`| call | tool | req/s on one core | ratio to the grpc-js no-op | server CPU ms/call | ratio by CPU (grpc-js no-op's CPU / this one's) | errors (not counting calls cut at the end) |${byProcess ? " CPU ms/call by process |" : ""}`);
  out(`|---|---|---|---|---|---|---|${byProcess ? "---|" : ""}`);
  for (const r of results) {
    if (r.skipped) out(`| ${r.label} | ${r.tool} | skipped: ${r.skipped} | | | | |${byProcess ? " |" : ""}`);
    else {
      const processes = byProcess ? ` ${Object.entries(r.cpuBy ?? {}).map(([name, ms]) => `${name} ${ms.toFixed(3)}`).join(", ")} |` : "";
      out(`| ${r.label} | ${r.tool} | ${r.rps.toFixed(0)} | ${baseRow ? (r.rps / baseRow.rps).toFixed(2) : "–"} | ${r.cpuMsPerCall.toFixed(3)} | ${baseRow ? (baseRow.cpuMsPerCall / r.cpuMsPerCall).toFixed(2) : "–"} | ${r.errors} |${processes}`);
    }
  }
  out();
  const row = (label) => results.find((r) => r.label === label && !r.skipped);
  // Two readings of each goal: rates side by side, and CPU per call side by side (the steadier on a
  // shared machine, where the load generator's core is often the one that runs out).
  const ratio = (a, b) => (row(a) && row(b) ? `${(row(a).rps / row(b).rps).toFixed(2)} by rate, ${(row(b).cpuMsPerCall / row(a).cpuMsPerCall).toFixed(2)} by CPU` : "–");
  return { rate: (label) => row(label)?.rps, ratio };
}

/** A reader following four authors who posted six times each: a full 20-item page. */
async function loadData(baseUrl, tag, waitForFanOut) {
  const transport = createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true });
  const users = createClient(UsersService, transport);
  const tweets = createClient(TweetsService, transport);
  const graph = createClient(GraphService, transport);
  const timeline = createClient(TimelineService, transport);
  const register = async (name) => {
    const username = `${tag}_${name}`;
    const password = "bench password 1";
    const { user } = await users.createUser({ username, email: `${username}@bench.example`, password, displayName: `${name} the ${tag}` });
    const { accessToken } = await users.login({ usernameOrEmail: username, password });
    return { id: user.id, token: accessToken, as: { headers: { authorization: `Bearer ${accessToken}` } } };
  };
  const eventually = async (call) => {
    for (let i = 0; ; i++) {
      try {
        return await call();
      } catch (error) {
        if (i > 600) throw error;
        await sleep(100);
      }
    }
  };
  const reader = await register("reader");
  const authors = [];
  for (let i = 0; i < 4; i++) authors.push(await register(`author${i}`));
  for (const author of authors) await eventually(() => graph.follow({ followeeId: author.id }, reader.as));
  for (let i = 0; i < 6; i++) {
    for (const [a, author] of authors.entries()) {
      await tweets.createTweet({ text: `post ${i} by author ${a}: a line of text about #bench and @${tag}_reader, long enough to look like a real post` }, author.as);
    }
  }
  const deadline = Date.now() + (waitForFanOut ? 120_000 : 10_000);
  for (;;) {
    const page = await timeline.getHomeTimeline({ pageSize: PAGE }, reader.as);
    if (page.items.length === PAGE) return { reader };
    if (Date.now() > deadline) throw new Error(`the home timeline has ${page.items.length} items, not ${PAGE}`);
    await sleep(200);
  }
}

/** The rows every topology shares: the home read straight and through the gateway, in each protocol. */
function homeRows({ timelinePort, http2Port, httpPort, reader, tls }) {
  const bearer = `Bearer ${reader.token}`;
  const rows = [
    // As the gateway calls it: mutual TLS with the gateway's certificate, the reader's token forwarded.
    { label: "home timeline, straight to the timeline service", tool: "ghz", run: (d) => runGhz({ target: `127.0.0.1:${timelinePort}`, call: "chirp.timeline.v1.TimelineService/GetHomeTimeline", data: { page_size: PAGE }, metadata: { authorization: bearer }, tls: { files: tls, server: "timeline" } }, d) },
    { label: "home timeline through the gateway, gRPC", tool: "ghz", run: (d) => runGhz({ target: `127.0.0.1:${http2Port}`, call: "chirp.timeline.v1.TimelineService/GetHomeTimeline", data: { page_size: PAGE }, metadata: { authorization: bearer } }, d) },
  ];
  const url = `http://127.0.0.1:${httpPort}/chirp.timeline.v1.TimelineService/GetHomeTimeline`;
  const h1 = [
    { label: "home timeline through the gateway, Connect binary, HTTP/1.1", tool: "wrk", run: (d) => runWrk({ url, contentType: "application/proto", body: Buffer.from([0x08, PAGE]), headers: { Authorization: bearer } }, d) },
    { label: "home timeline through the gateway, Connect JSON, HTTP/1.1", tool: "wrk", run: (d) => runWrk({ url, contentType: "application/json", body: JSON.stringify({ pageSize: PAGE }), headers: { Authorization: bearer } }, d) },
  ];
  return [...rows, ...h1.map((r) => (wrk ? r : { ...r, skipped: "wrk is not installed" }))];
}

function summary({ rate, ratio }, gatewayNoop = "gateway no-op, gRPC") {
  const home = "home timeline through the gateway, gRPC";
  out("| goal | measured |");
  out("|---|---|");
  if (rate(gatewayNoop)) out(`| gateway no-op ≥ 0.50 of the grpc-js no-op | ${ratio(gatewayNoop, "grpc-js no-op (kit GrpcServer, LoadTestService/Noop)")} |`);
  out(`| home read through the gateway (gRPC) ≥ 0.70 of straight | ${ratio(home, "home timeline, straight to the timeline service")} |`);
  out(`| Connect JSON ≥ 0.50 of binary, same page (JSON / gRPC; JSON / Connect binary over HTTP/1.1) | ${ratio("home timeline through the gateway, Connect JSON, HTTP/1.1", home)}; ${ratio("home timeline through the gateway, Connect JSON, HTTP/1.1", "home timeline through the gateway, Connect binary, HTTP/1.1")} |`);
  out();
}

async function embedded(run, go) {
  const env = { ...process.env, LOG_LEVEL: args["log-level"], PASSWORD_HASH_COST: "4", AUTH_TOKEN_TTL_SECONDS: "86400", ...LIMITS };
  delete env.MONGODB_URI;
  delete env.NATS_URL;
  const server = await startPinned(process.execPath, [join(HERE, "edge/server.mjs")], { env });
  const goServer = go.binary ? await startPinned(go.binary, [], { readyOn: 1 }) : undefined;
  try {
    const ports = server.ready;
    say(`embedded mesh up (pid ${server.child.pid}, CPU ${serverCpu}); loading a ${PAGE}-item home timeline`);
    const { reader } = await loadData(`http://127.0.0.1:${ports.http2Port}`, `e${run}${Date.now().toString(36).slice(-4)}`, false);
    const bearer = `Bearer ${reader.token}`;
    const noopUrl = `http://127.0.0.1:${ports.httpPort}/chirp.loadtest.v1.LoadTestService/Noop`;
    const rows = [
      go.binary
        ? { label: "Go grpc-go no-op (grpc.health.v1.Health/Check)", tool: "ghz", pid: goServer.child.pid, run: (d) => runGhz({ target: `127.0.0.1:${goServer.ready.port}`, call: "grpc.health.v1.Health/Check", data: {}, reflection: true }, d) }
        : { label: "Go grpc-go no-op (grpc.health.v1.Health/Check)", tool: "ghz", skipped: go.skipped },
      { label: "grpc-js no-op (kit GrpcServer, LoadTestService/Noop)", tool: "ghz", run: (d) => runGhz({ target: `127.0.0.1:${ports.reference}`, call: "chirp.loadtest.v1.LoadTestService/Noop", data: { payload: "ping" } }, d) },
      // The same no-op as a mesh service: what one hop between services costs.
      { label: "grpc-js no-op, mutual TLS and the token verified (a mesh hop)", tool: "ghz", run: (d) => runGhz({ target: `127.0.0.1:${ports.loadtest}`, call: "chirp.loadtest.v1.LoadTestService/Noop", data: { payload: "ping" }, metadata: { authorization: bearer }, tls: { files: ports.tls, server: "loadtest" } }, d) },
      { label: "gateway no-op, gRPC", tool: "ghz", run: (d) => runGhz({ target: `127.0.0.1:${ports.http2Port}`, call: "chirp.loadtest.v1.LoadTestService/Noop", data: { payload: "ping" }, metadata: { authorization: bearer } }, d) },
      ...(wrk
        ? [
            { label: "gateway no-op, Connect binary, HTTP/1.1", tool: "wrk", run: (d) => runWrk({ url: noopUrl, contentType: "application/proto", body: Buffer.from([0x0a, 4, ...Buffer.from("ping")]), headers: { Authorization: bearer } }, d) },
            { label: "gateway no-op, Connect JSON, HTTP/1.1", tool: "wrk", run: (d) => runWrk({ url: noopUrl, contentType: "application/json", body: JSON.stringify({ payload: "ping" }), headers: { Authorization: bearer } }, d) },
          ]
        : []),
      ...homeRows({ timelinePort: ports.timeline, http2Port: ports.http2Port, httpPort: ports.httpPort, reader, tls: ports.tls }),
    ];
    const results = await measure(rows, (row) => [row.pid ?? server.child.pid]);
    const t = table(`embedded mesh (one process, memory), run ${run}: servers on CPU ${serverCpu}, ghz/wrk on CPU ${loadCpu}, concurrency ${concurrency}, ${seconds} s each`, results, "grpc-js no-op (kit GrpcServer, LoadTestService/Noop)");
    summary(t);
  } finally {
    await goServer?.stop();
    await server.stop();
  }
}

async function processes(run) {
  if (!haveServers) {
    out("multi-process topology: skipped, it needs MONGODB_URI and NATS_URL\n");
    return;
  }
  const { startMeshProcesses } = require(join(ROOT, "mesh/dist/processes.js"));
  const { createLogger } = require("@chirp/kit");
  const tag = `be${run}${Date.now().toString(36).slice(-4)}`;
  const env = { MONGODB_URI: process.env.MONGODB_URI, NATS_URL: process.env.NATS_URL, LOG_LEVEL: args["log-level"], PASSWORD_HASH_COST: "4", AUTH_TOKEN_TTL_SECONDS: "86400", ...LIMITS };
  const noopEnv = { PATH: process.env.PATH, LOG_LEVEL: args["log-level"] };
  const noop = await startPinned(process.execPath, [join(HERE, "edge/noop-server.mjs")], { env: noopEnv });
  // The same no-op as a mesh service, a process of its own that the gateway forwards to, as a
  // service is deployed: started once the mesh's CA and token key exist, before the gateway.
  let meshNoop;
  const mesh = await startMeshProcesses({
    env,
    run: tag,
    log: createLogger("bench-edge", "warn"),
    gatewayEntry: join(HERE, "edge/gateway-process.mjs"),
    beforeGateway: async ({ certificates, publicKeyPem }) => {
      meshNoop = await startPinned(process.execPath, [join(HERE, "edge/noop-server.mjs")], { env: { ...noopEnv, ...certificates.envOf("loadtest"), AUTH_PUBLIC_KEY: publicKeyPem } });
      return { LOADTEST_ADDRESS: `127.0.0.1:${meshNoop.ready.loadtest}` };
    },
  }).catch(async (error) => {
    await meshNoop?.stop();
    await noop.stop();
    throw error;
  });
  const pin = (cpu, pid) => execFileSync("taskset", ["-a", "-cp", cpu, String(pid)], { stdio: "ignore" });
  let forwarder;
  try {
    // Every process of the mesh, all its threads, onto the server core.
    for (const p of mesh.processes) pin(serverCpu, p.pid);
    const gateway = mesh.processes.find((p) => p.name === "gateway");
    const timeline = mesh.processes.find((p) => p.name === "timeline");
    say(`multi-process mesh up (${mesh.processes.length} processes on CPU ${serverCpu}, MongoDB ${process.env.MONGODB_URI}); loading a ${PAGE}-item home timeline`);
    const { reader } = await loadData(`http://127.0.0.1:${mesh.gateway.http2Port}`, tag, true);
    const bearer = `Bearer ${reader.token}`;
    const gatewayTls = mesh.certificates.filesOf("gateway");
    const noopUrl = `http://127.0.0.1:${mesh.gateway.httpPort}/chirp.loadtest.v1.LoadTestService/Noop`;
    // The gateway's own core: the mesh no-op it forwards to runs beside ghz and wrk on the load
    // core, so the gateway's process alone sets the rate, as a gateway pod on its own core would.
    const gatewayAlone = { pids: [gateway.pid], setup: () => pin(loadCpu, meshNoop.child.pid) };
    // Node's HTTP/2 on both sides and nothing else (bench/edge/bare-forwarder.mjs), to the same
    // mesh no-op over the same mutual TLS: the floor under the gateway's per-call cost.
    forwarder = await startPinned(process.execPath, [join(HERE, "edge/bare-forwarder.mjs")], {
      env: { PATH: process.env.PATH, UPSTREAM_ADDRESS: `127.0.0.1:${meshNoop.ready.loadtest}`, ...mesh.certificates.envOf("gateway") },
    });
    const noopRows = [
      { label: "grpc-js no-op (kit GrpcServer, LoadTestService/Noop)", tool: "ghz", pids: [noop.child.pid], run: (d) => runGhz({ target: `127.0.0.1:${noop.ready.loadtest}`, call: "chirp.loadtest.v1.LoadTestService/Noop", data: { payload: "ping" } }, d) },
      { label: "grpc-js no-op, mutual TLS and the token verified (a mesh hop)", tool: "ghz", pids: [meshNoop.child.pid], setup: () => pin(serverCpu, meshNoop.child.pid), run: (d) => runGhz({ target: `127.0.0.1:${meshNoop.ready.loadtest}`, call: "chirp.loadtest.v1.LoadTestService/Noop", data: { payload: "ping" }, metadata: { authorization: bearer }, tls: { files: gatewayTls, server: "loadtest" } }, d) },
      { label: "bare Node HTTP/2 forwarder, gRPC (no checks, no log: Node's floor; alone on its core)", tool: "ghz", pids: [forwarder.child.pid], setup: gatewayAlone.setup, run: (d) => runGhz({ target: `127.0.0.1:${forwarder.ready.port}`, call: "chirp.loadtest.v1.LoadTestService/Noop", data: { payload: "ping" }, metadata: { authorization: bearer } }, d) },
      { label: "gateway no-op, gRPC (the gateway process alone on its core)", tool: "ghz", ...gatewayAlone, run: (d) => runGhz({ target: `127.0.0.1:${mesh.gateway.http2Port}`, call: "chirp.loadtest.v1.LoadTestService/Noop", data: { payload: "ping" }, metadata: { authorization: bearer } }, d) },
      ...(wrk
        ? [
            { label: "gateway no-op, Connect binary, HTTP/1.1 (the gateway process alone on its core)", tool: "wrk", ...gatewayAlone, run: (d) => runWrk({ url: noopUrl, contentType: "application/proto", body: Buffer.from([0x0a, 4, ...Buffer.from("ping")]), headers: { Authorization: bearer } }, d) },
            { label: "gateway no-op, Connect JSON, HTTP/1.1 (the gateway process alone on its core)", tool: "wrk", ...gatewayAlone, run: (d) => runWrk({ url: noopUrl, contentType: "application/json", body: JSON.stringify({ payload: "ping" }), headers: { Authorization: bearer } }, d) },
          ]
        : []),
    ];
    const home = homeRows({ timelinePort: timeline.port, http2Port: mesh.gateway.http2Port, httpPort: mesh.gateway.httpPort, reader, tls: gatewayTls });
    // The home reads: every mesh process on the server core again.
    if (home[0]) home[0] = { ...home[0], setup: () => pin(serverCpu, meshNoop.child.pid) };
    const results = await measure(
      [...noopRows, ...home],
      (row) => row.pids ?? mesh.processes.map((p) => p.pid),
      () => ({
        ...Object.fromEntries(["gateway", "timeline", "tweets", "users"].map((name) => [name, mesh.processes.filter((p) => p.name === name).map((p) => p.pid)])),
        "mesh no-op": [meshNoop.child.pid],
      }),
    );
    const t = table(
      `multi-process mesh (each service and the gateway its own process, MongoDB-protocol server at MONGODB_URI, NATS JetStream), run ${run}: servers on CPU ${serverCpu}, ghz/wrk on CPU ${loadCpu}, concurrency ${concurrency}, ${seconds} s each; server CPU is every mesh process's, but for the gateway no-op rows, where it is the gateway's alone and the mesh no-op runs on CPU ${loadCpu}`,
      results,
      "grpc-js no-op (kit GrpcServer, LoadTestService/Noop)",
    );
    summary(t, "gateway no-op, gRPC (the gateway process alone on its core)");
    const floor = t.ratio("gateway no-op, gRPC (the gateway process alone on its core)", "bare Node HTTP/2 forwarder, gRPC (no checks, no log: Node's floor; alone on its core)");
    if (floor !== "–") out(`the gateway no-op (gRPC) against Node's bare forwarder: ${floor}\n`);
    // The reference and the gateway no-op again, one right after the other, `pairs` times.
    const [reference, , , gatewayGrpc] = noopRows;
    const only = args.only ? new RegExp(args.only, "i") : undefined;
    if (pairs > 0 && (!only || only.test(gatewayGrpc.label))) {
      const ratios = [];
      for (let i = 0; i < pairs; i++) {
        const [ref, gw] = await measure([reference, gatewayGrpc], (row) => row.pids ?? mesh.processes.map((p) => p.pid));
        ratios.push(ref.cpuMsPerCall / gw.cpuMsPerCall);
      }
      const sorted = [...ratios].sort((a, b) => a - b);
      const middle = Math.floor(sorted.length / 2);
      const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
      out(`the gateway no-op (gRPC) against the grpc-js no-op by CPU, in ${pairs} pairs measured one after the other: ${ratios.map((r) => r.toFixed(2)).join(", ")}; median ${median.toFixed(2)} (goal ≥ 0.50)\n`);
    }
  } finally {
    await forwarder?.stop();
    await mesh.stop();
    await meshNoop?.stop();
    await noop.stop();
  }
}

try {
  const go = buildGoNoop();
  if (go.skipped) say(`Go reference skipped: ${go.skipped}`);
  out(`bench:edge ${new Date().toISOString()}; ${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; commit ${gitCommit()}`);
  out(`load average at start: ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
  out();
  for (let run = 1; run <= runs; run++) {
    if (topologies.includes("embedded")) await embedded(run, go);
    if (topologies.includes("processes")) await processes(run);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

function gitCommit() {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}
