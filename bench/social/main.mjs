#!/usr/bin/env node
// `npm run bench`: a social-network workload against the whole mesh, through the public gateway.
//
//   1. starts the mesh in a child process (bench/social/server.mjs): embedded (memory and an
//      in-process bus) by default, or on MongoDB and JetStream with `--backend external`;
//   2. loads a synthetic social graph through the gateway (see social-graph.mjs);
//   3. measures fan-out lag: post created → visible in the home timeline of the follower written
//      last, for authors with 100, 1,000 and 10,000 followers and for the celebrity path;
//   4. sweeps the offered rate (open loop, see load.mjs) for the ceiling (a do-nothing backend
//      behind the same gateway), for home-timeline reads alone and for the mixed workload
//      (55% home timeline, 25% a user's tweets, 10% the caller's notifications, 10% compose), each to the highest rate that keeps
//      p99 under 100 ms; then runs the mix at that rate in binary protobuf and in JSON;
//   5. measures each hop of a home-timeline read on its own (through the gateway or straight to
//      the service), in server CPU per request;
//   6. with `--ghz`, cross-checks the generator against ghz on the timeline service's own gRPC port.
//
// Usage: npm run bench [-- --quick] [-- --users 10000 --step-seconds 10 --backend external --ghz]
//        npm run bench -- --backend cluster [--configs 1x1,2x1,1x2,2x2 --replicas 1]  (cluster.mjs)
import { spawn, execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { progress, sleep } from "../common.mjs";
import { openLoop, random, sweep } from "./load.mjs";
import { loadSocialGraph } from "./social-graph.mjs";

const require = createRequire(import.meta.url);
const { createClient } = require("@connectrpc/connect");
const { createConnectTransport, createGrpcTransport } = require("@connectrpc/connect-node");
const { meshTlsConnection } = require("@chirp/kit/grpc");
const { LoadTestService } = require("@chirp/proto/es/chirp/loadtest/v1/loadtest_pb");
const { TimelineService } = require("@chirp/proto/es/chirp/timeline/v1/timeline_pb");
const { NotificationsService } = require("@chirp/proto/es/chirp/notifications/v1/notifications_pb");
const { TweetsService } = require("@chirp/proto/es/chirp/tweets/v1/tweets_pb");
const { UsersService } = require("@chirp/proto/es/chirp/users/v1/users_pb");
const { GraphService } = require("@chirp/proto/es/chirp/graph/v1/graph_pb");

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    users: { type: "string" },
    "posts-per-user": { type: "string" },
    "step-seconds": { type: "string" },
    "mix-seconds": { type: "string" },
    refinements: { type: "string" },
    retries: { type: "string" },
    "lag-posts": { type: "string" },
    "start-rate": { type: "string" },
    "max-rate": { type: "string" },
    backend: { type: "string", default: "embedded" },
    configs: { type: "string" },
    replicas: { type: "string" },
    ghz: { type: "boolean" },
    keep: { type: "boolean", default: false },
    profile: { type: "string" },
    seed: { type: "string", default: "42" },
  },
});
const quick = args.quick;
const option = (name, full, fast) => Number(args[name] ?? (quick ? fast : full));
const settings = {
  users: option("users", 10_000, 1_000),
  postsPerUser: option("posts-per-user", 2, 1),
  stepSeconds: option("step-seconds", 10, 3),
  mixSeconds: option("mix-seconds", 20, 4),
  refinements: option("refinements", 3, 2),
  retries: option("retries", 1, 1),
  lagPosts: option("lag-posts", 3, 1),
  startRate: option("start-rate", 100, 200),
  maxRate: option("max-rate", 20_000, 20_000),
  ghz: args.ghz ?? !quick,
  seed: Number(args.seed),
};
if (!["embedded", "external", "cluster"].includes(args.backend)) fail(`--backend must be "embedded", "external" or "cluster", got "${args.backend}"`);
const external = args.backend === "external";
if (external && (!process.env.MONGODB_URI || !process.env.NATS_URL)) fail("--backend external needs MONGODB_URI and NATS_URL");
// At most this many followers are fanned out; the celebrity has more (10,000 is the service default).
const celebrityThreshold = Math.min(10_000, settings.users);

const say = progress();
function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

// --backend cluster: the multi-process topology, one run per configuration (bench/social/cluster.mjs).
if (args.backend === "cluster") {
  const { clusterBench } = await import("./cluster.mjs");
  await clusterBench({ args, settings, say });
  process.exit(0);
}

// --- 1. the system under test
const run = `b${Date.now().toString(36).slice(-5)}`;
const serverEnv = {
  ...process.env,
  LOG_LEVEL: "error",
  // --profile DIR: a V8 CPU profile of the mesh per measured phase (Chrome DevTools or speedscope).
  ...(args.profile ? { BENCH_PROFILE_DIR: args.profile } : {}),
  PASSWORD_HASH_COST: "4",
  AUTH_TOKEN_TTL_SECONDS: "86400",
  WRITES_PER_MINUTE: "1000000",
  WRITE_BURST: "1000000",
  READS_PER_MINUTE: "1000000",
  READ_BURST: "1000000",
  CELEBRITY_FOLLOWERS: String(celebrityThreshold),
  // The mesh's databases and durable consumers are this run's own, and removed when it stops.
  BENCH_RUN: run,
  BENCH_KEEP: String(args.keep),
};
if (!external) {
  delete serverEnv.MONGODB_URI;
  delete serverEnv.NATS_URL;
}
const server = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), "server.mjs")], { env: serverEnv, stdio: ["ignore", "pipe", "inherit"] });
const ports = await new Promise((resolve, reject) => {
  server.once("exit", (code) => reject(new Error(`the mesh exited with ${code} before it served`)));
  // The mesh logs (warnings and worse) on the same stdout: they go to our stderr.
  createInterface({ input: server.stdout }).on("line", (line) => {
    const message = JSON.parse(line);
    if (message.ready) resolve(message);
    else process.stderr.write(`${line}\n`);
  });
});
/**
 * CPU time the mesh process has used (every thread), from /proc: divided by the requests of a run,
 * what one request costs the server, however fast the machine answers. NaN where there is no /proc.
 */
function serverCpuMs() {
  try {
    const fields = readFileSync(`/proc/${server.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
const CLOCK_TICKS = 100;
const stopServer = async () => {
  if (server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once("exit", resolve));
  server.kill("SIGTERM");
  await exited;
};
process.once("SIGINT", () => void stopServer().then(() => process.exit(130)));
const backend = external ? `MongoDB ${process.env.MONGODB_URI} + NATS JetStream ${process.env.NATS_URL}` : "embedded (memory, in-process bus)";
say(`mesh up: ${backend}; gateway h2c :${ports.http2Port}`);

const gatewayUrl = `http://127.0.0.1:${ports.http2Port}`;
const clientsOver = (transport) => ({
  users: createClient(UsersService, transport),
  tweets: createClient(TweetsService, transport),
  graph: createClient(GraphService, transport),
  timeline: createClient(TimelineService, transport),
  notifications: createClient(NotificationsService, transport),
  loadtest: createClient(LoadTestService, transport),
});
const binary = clientsOver(createConnectTransport({ baseUrl: gatewayUrl, httpVersion: "2", useBinaryFormat: true }));
const json = clientsOver(createConnectTransport({ baseUrl: gatewayUrl, httpVersion: "2", useBinaryFormat: false }));

try {
  // --- 2. the social graph
  const rng = random(settings.seed);
  const graph = await loadSocialGraph(binary, { ...settings, celebrityThreshold, tag: run, rng, say });
  const { people } = graph;
  const asUser = (person) => ({ headers: { authorization: `Bearer ${person.token}` } });
  const anyone = () => people[Math.floor(rng() * people.length)];

  // --- 3. fan-out lag
  const topOf = async (reader) => (await binary.timeline.getHomeTimeline({ pageSize: 1 }, asUser(reader))).items[0]?.id;
  const visible = async (reader, tweetId, timeoutMs = 600_000) => {
    const postedAt = performance.now();
    for (;;) {
      if ((await topOf(reader)) === tweetId) return performance.now() - postedAt;
      if (performance.now() - postedAt > timeoutMs) throw new Error(`post ${tweetId} not visible to ${reader.username} after ${timeoutMs} ms`);
      await sleep(5);
    }
  };
  const lags = [];
  for (const probe of graph.probes) {
    const measured = [];
    for (let i = 0; i < settings.lagPosts; i++) {
      const postedAt = performance.now();
      const { tweet } = await binary.tweets.createTweet({ text: `lag probe ${i}` }, asUser(probe.author));
      const created = performance.now() - postedAt;
      const lag = (await visible(probe.lastFollower, tweet.id)) + created;
      measured.push(lag);
      say(`fan-out lag, ${probe.label}: ${lag.toFixed(0)} ms`);
      await sleep(200);
    }
    lags.push({ label: probe.label, followers: probe.followers, lags: measured });
  }

  // --- 4. sweeps and the mix
  const operations = (clients) => ({
    noop: (person) => clients.loadtest.noop({ payload: "ping" }, asUser(person)),
    home: (person) => clients.timeline.getHomeTimeline({ pageSize: 20 }, asUser(person)),
    userTweets: (person) => clients.tweets.listUserTweets({ userId: anyone().id, pageSize: 20 }, asUser(person)),
    notifications: (person) => clients.notifications.listNotifications({ pageSize: 20 }, asUser(person)),
    compose: (person) => clients.tweets.createTweet({ text: `bench post ${Math.floor(rng() * 1e9)} #bench` }, asUser(person)),
  });
  const only = (clients, name) => () => {
    const person = anyone();
    const call = operations(clients)[name];
    return { name, call: () => call(person) };
  };
  const mix = (clients) => {
    const ops = operations(clients);
    return () => {
      const person = anyone();
      const draw = rng();
      const name = draw < 0.55 ? "home" : draw < 0.8 ? "userTweets" : draw < 0.9 ? "notifications" : "compose";
      return { name, call: () => ops[name](person) };
    };
  };
  // What the mesh burns doing nothing (relays and consumers polling), taken out of each run's cost.
  const idleStart = serverCpuMs();
  await sleep(3_000);
  const idleCpuMsPerSecond = (serverCpuMs() - idleStart) / 3;
  const runAt = (pick, seconds) => async (rate) => {
    if (args.profile) {
      server.kill("SIGUSR2");
      await sleep(500); // starting the profiler stalls the process briefly
    }
    const cpuBefore = serverCpuMs();
    const result = await openLoop({ rate, seconds, pick });
    result.serverCpuMsPerRequest = (serverCpuMs() - cpuBefore - idleCpuMsPerSecond * result.seconds) / Math.max(1, result.all.ok + result.all.errors);
    if (args.profile) server.kill("SIGUSR2");
    // Lets the fan-out of this step's posts finish before the next step; a step that posted
    // nothing only needs the garbage it left to settle.
    await sleep(result.operations.compose ? 1_000 : 250);
    return result;
  };
  const onStep = (label) => (step) =>
    say(`${label} at ${step.rate}/s${step.retry ? " (again)" : ""}: p99 ${step.result.all.p99.toFixed(1)} ms, ${step.result.all.throughput.toFixed(0)}/s, ${step.result.all.errors} errors → ${step.held ? "holds" : "does not hold"}`);
  const sweepOf = (label, pick) =>
    sweep({ startRate: settings.startRate, maxRate: settings.maxRate, refinements: settings.refinements, retries: settings.retries, run: runAt(pick, settings.stepSeconds), onStep: onStep(label) });

  const ceiling = await sweepOf("ceiling (no-op)", only(binary, "noop"));
  const homeSweep = await sweepOf("home timeline", only(binary, "home"));
  const mixSweep = await sweepOf("mix", mix(binary));
  const mixRate = mixSweep.best?.offered ?? Math.min(...mixSweep.steps.map((s) => s.rate));
  say(`mix at ${mixRate}/s for ${settings.mixSeconds} s, binary then JSON`);
  const mixBinary = await runAt(mix(binary), settings.mixSeconds)(mixRate);
  const mixJson = await runAt(mix(json), settings.mixSeconds)(mixRate);

  // --- 5. where a read's time goes: each hop of the home-timeline read on its own, at a rate every
  // one of them sustains, in server CPU per request (the gateway's share is the difference between
  // a call through it and the same call made straight to the service).
  // Over mutual TLS as the gateway (its certificate, from the server), with the reader's own token.
  const direct = (service, port, workload) =>
    createClient(service, createGrpcTransport({ baseUrl: `https://127.0.0.1:${port}`, nodeOptions: { createConnection: meshTlsConnection(ports.tls, workload) } }));
  const inside = {
    loadtest: direct(LoadTestService, ports.loadtest, "loadtest"),
    timeline: direct(TimelineService, ports.timeline, "timeline"),
    users: direct(UsersService, ports.users, "users"),
  };
  const reader = people[0];
  const asCaller = asUser(reader);
  const page = await inside.timeline.getHomeTimeline({ pageSize: 20 }, asCaller);
  const pagePeople = [...new Set(page.items.flatMap((item) => [item.author.id, ...(item.retweetedBy ? [item.retweetedBy.id] : [])]))];
  // Half the highest home-timeline rate that held (or of the lowest tried): every call keeps up.
  const homeHeld = homeSweep.best?.offered ?? Math.min(...homeSweep.steps.map((step) => step.rate)) / 2;
  const costRate = Math.max(1, Math.round(homeHeld / 2));
  const costs = [];
  for (const [label, call] of [
    ["no-op through the gateway", () => binary.loadtest.noop({ payload: "ping" }, asUser(reader))],
    ["no-op straight to its service", () => inside.loadtest.noop({ payload: "ping" }, asCaller)],
    ["home timeline through the gateway", () => binary.timeline.getHomeTimeline({ pageSize: 20 }, asUser(reader))],
    ["home timeline straight to the timeline service", () => inside.timeline.getHomeTimeline({ pageSize: 20 }, asCaller)],
    [`  its BatchGetUsers (${pagePeople.length} ids), alone; skipped while the profiles are cached`, () => inside.users.batchGetUsers({ ids: pagePeople }, asCaller)],
  ]) {
    const result = await runAt(() => ({ name: label, call }), quick ? 2 : Math.max(3, Math.round(settings.stepSeconds / 2)))(costRate);
    costs.push({ label, rate: costRate, cpu: result.serverCpuMsPerRequest, p50: result.all.p50, errors: result.all.errors });
  }

  // --- 6. the cross-check
  const crossCheck = settings.ghz ? await ghzCrossCheck(ports.timeline, people, costRate, ports.tls) : undefined;

  report({ graph, lags, ceiling, homeSweep, mixSweep, mixRate, mixBinary, mixJson, costs, crossCheck });
} finally {
  // An external run leaves nothing behind but its events, which stay in the streams for their retention.
  await stopServer();
}

/**
 * The same load from two tools against the timeline service's own gRPC port (no gateway): ghz,
 * then this generator over gRPC, one reader, the same rate; their percentiles should agree.
 */
async function ghzCrossCheck(timelinePort, people, rate, tls) {
  const ghz = findGhz();
  if (!ghz) {
    say("ghz not found: `go install github.com/bojand/ghz/cmd/ghz@v0.120.0` to run the cross-check");
    return { skipped: "ghz is not installed (go install github.com/bojand/ghz/cmd/ghz@v0.120.0)" };
  }
  const reader = people[0];
  const seconds = Math.max(5, settings.stepSeconds);
  say(`cross-check: ghz and this generator, GetHomeTimeline on :${timelinePort} at ${rate}/s for ${seconds} s each`);
  const output = execFileSync(
    ghz,
    [
      // Mutual TLS as the gateway, as every caller of a service presents a mesh certificate.
      "--cacert", tls.caFile,
      "--cert", tls.certFile,
      "--key", tls.keyFile,
      "--cname", "timeline",
      "--call", "chirp.timeline.v1.TimelineService/GetHomeTimeline",
      "-d", JSON.stringify({ page_size: 20 }),
      "-m", JSON.stringify({ authorization: `Bearer ${reader.token}` }),
      "--rps", String(rate),
      "-c", "50",
      "-z", `${seconds}s`,
      "--connections", "1",
      "-O", "json",
      `127.0.0.1:${timelinePort}`,
    ],
    { encoding: "utf8", maxBuffer: 512 * 1024 * 1024 },
  );
  const report = JSON.parse(output);
  const percentile = (p) => (report.latencyDistribution?.find((d) => d.percentage === p)?.latency ?? NaN) / 1e6;
  const errors = Object.values(report.statusCodeDistribution ?? {}).reduce((a, b) => a + b, 0) - (report.statusCodeDistribution?.OK ?? 0);
  const timeline = createClient(
    TimelineService,
    createGrpcTransport({ baseUrl: `https://127.0.0.1:${timelinePort}`, nodeOptions: { createConnection: meshTlsConnection(tls, "timeline") } }),
  );
  const ours = await openLoop({
    rate,
    seconds,
    pick: () => ({ name: "home", call: () => timeline.getHomeTimeline({ pageSize: 20 }, { headers: { authorization: `Bearer ${reader.token}` } }) }),
  });
  return {
    rate,
    seconds,
    ghz: { throughput: report.rps, p50: percentile(50), p90: percentile(90), p99: percentile(99), errors },
    ours: ours.operations.home,
  };
}

function findGhz() {
  for (const dir of (process.env.PATH ?? "").split(":")) if (dir && existsSync(join(dir, "ghz"))) return join(dir, "ghz");
  try {
    const gopath = execFileSync("go", ["env", "GOPATH"], { encoding: "utf8" }).trim();
    if (existsSync(join(gopath, "bin", "ghz"))) return join(gopath, "bin", "ghz");
  } catch {
    // no Go either
  }
  return undefined;
}

function report({ graph, lags, ceiling, homeSweep, mixSweep, mixRate, mixBinary, mixJson, costs, crossCheck }) {
  const ms = (v) => (Number.isFinite(v) ? v.toFixed(1) : "–");
  const pad = (cells, widths) => cells.map((c, i) => String(c).padEnd(widths[i])).join(" ");
  const out = (line = "") => process.stdout.write(`${line}\n`);
  const table = (header, rows) => {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
    out(pad(header, widths));
    out(widths.map((w) => "-".repeat(w)).join(" "));
    for (const row of rows) out(pad(row, widths));
    out();
  };
  const opRow = (label, s) => [label, s.throughput.toFixed(0), ms(s.p50), ms(s.p90), ms(s.p99), ms(s.p999), s.errors];
  const opHeader = ["operation", "ok/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "errors"];
  const bestRate = (s) =>
    s.best
      ? `${s.best.offered}/s (achieved ${s.best.all.throughput.toFixed(0)}/s, p99 ${ms(s.best.all.p99)} ms, server CPU ${ms(s.best.serverCpuMsPerRequest)} ms/req)`
      : `none: even ${Math.min(...s.steps.map((step) => step.rate))}/s missed`;

  out();
  out(`Chirp benchmark ${new Date().toISOString()}${quick ? " (--quick)" : ""}`);
  out(`machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}`);
  out(`backend: ${backend}`);
  out(`graph: ${graph.people.length} users, ${graph.follows} follows (followers per user: median ${graph.followerMedian}, max ${graph.followerMax}), ${graph.posts} posts; celebrity threshold ${celebrityThreshold}`);
  out(`loaded in ${graph.seconds.toFixed(1)} s through the gateway; sweep steps ${settings.stepSeconds} s, mix runs ${settings.mixSeconds} s`);
  out();
  table(
    ["fan-out lag (post → last follower's home timeline)", "followers", "lags ms"],
    lags.map((l) => [l.label, l.followers, l.lags.map((v) => v.toFixed(0)).join(", ")]),
  );
  const ceilingRate = ceiling.best?.all.throughput ?? NaN;
  const homeRate = homeSweep.best?.all.throughput ?? NaN;
  table(
    ["highest rate with p99 < 100 ms", "rate"],
    [
      ["ceiling: no-op through the gateway", bestRate(ceiling)],
      ["home timeline reads alone", bestRate(homeSweep)],
      ["mix 55/25/10/10", bestRate(mixSweep)],
      ["home timeline / ceiling", Number.isFinite(homeRate / ceilingRate) ? (homeRate / ceilingRate).toFixed(2) : "–"],
    ],
  );
  for (const [label, result] of [
    [`mix at ${mixRate}/s, Connect binary`, mixBinary],
    [`mix at ${mixRate}/s, Connect JSON`, mixJson],
  ]) {
    out(`${label}: server CPU ${ms(result.serverCpuMsPerRequest)} ms per request`);
    table(opHeader, [...Object.entries(result.operations).map(([name, s]) => opRow(name, s)), opRow("all", result.all)]);
  }
  out(`where a home-timeline read's time goes: each call alone at ${costs[0]?.rate}/s, one reader`);
  table(
    ["call", "server CPU ms/req", "p50 ms", "errors"],
    costs.map((c) => [c.label, ms(c.cpu), ms(c.p50), c.errors]),
  );
  if (crossCheck?.skipped) out(`cross-check: not run, ${crossCheck.skipped}\n`);
  else if (crossCheck) {
    out(`cross-check: GetHomeTimeline straight to the timeline service over gRPC, ${crossCheck.rate}/s for ${crossCheck.seconds} s, one reader`);
    table(
      ["tool", "ok/s", "p50 ms", "p90 ms", "p99 ms", "errors"],
      [
        ["ghz", crossCheck.ghz.throughput.toFixed(0), ms(crossCheck.ghz.p50), ms(crossCheck.ghz.p90), ms(crossCheck.ghz.p99), crossCheck.ghz.errors],
        ["this generator", crossCheck.ours.throughput.toFixed(0), ms(crossCheck.ours.p50), ms(crossCheck.ours.p90), ms(crossCheck.ours.p99), crossCheck.ours.errors],
      ],
    );
  }
  out("sweep steps");
  table(
    ["target", "offered/s", "achieved/s", "p50 ms", "p99 ms", "errors", "server CPU ms/req", "holds"],
    [
      ...[
        ["ceiling", ceiling],
        ["home", homeSweep],
        ["mix", mixSweep],
      ].flatMap(([target, { steps }]) =>
        steps.map((s) => [target, s.rate, s.result.all.throughput.toFixed(0), ms(s.result.all.p50), ms(s.result.all.p99), s.result.all.errors, ms(s.result.serverCpuMsPerRequest), `${s.held ? "yes" : "no"}${s.retry ? " (run again)" : ""}`]),
      ),
    ],
  );
  say("done");
}
