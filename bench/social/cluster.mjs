// `npm run bench -- --backend cluster`: the social workload against the multi-process topology
// (mesh/src/cluster.ts: a 3-node NATS cluster, each service as its own processes, the gateways),
// once per configuration of `--configs`, each `<timeline replicas>x<gateway replicas>` (default
// 1x1,2x1,1x2,2x2); the other services run `--replicas` each (default 1). For each: the graph is
// loaded through the gateways, then home-timeline reads alone and the 60/30/10 mix are swept for
// the highest rate that keeps p99 under 100 ms. The client spreads its calls over the gateways
// itself, as a load balancer in front of them would. Every process of the cluster is stopped by
// PID and its databases dropped after each configuration.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "../common.mjs";
import { openLoop, random, sweep } from "./load.mjs";
import { loadSocialGraph } from "./social-graph.mjs";

const require = createRequire(import.meta.url);
const { createClient } = require("@connectrpc/connect");
const { createConnectTransport } = require("@connectrpc/connect-node");
const { MongoClient } = require("mongodb");
const { TimelineService } = require("@chirp/proto/es/chirp/timeline/v1/timeline_pb");
const { TweetsService } = require("@chirp/proto/es/chirp/tweets/v1/tweets_pb");
const { UsersService } = require("@chirp/proto/es/chirp/users/v1/users_pb");
const { GraphService } = require("@chirp/proto/es/chirp/graph/v1/graph_pb");

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const { startCluster } = require(join(ROOT, "mesh/dist/cluster.js"));

/** Every call to the next gateway in turn. */
function roundRobin(transports) {
  let i = 0;
  const next = () => transports[i++ % transports.length];
  return { unary: (...a) => next().unary(...a), stream: (...a) => next().stream(...a) };
}

/** CPU time (ms) the processes have used, from /proc. */
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

export async function clusterBench({ args, settings, say }) {
  const mongodbUri = process.env.MONGODB_URI;
  if (!mongodbUri) throw new Error("--backend cluster needs MONGODB_URI");
  const configs = (args.configs ?? "1x1,2x1,1x2,2x2").split(",").map((c) => {
    const [timeline, gateways] = c.split("x").map(Number);
    if (!(timeline >= 1 && timeline <= 4 && gateways >= 1 && gateways <= 4)) throw new Error(`--configs: "${c}" is not <timeline>x<gateways>, each 1 to 4`);
    return { timeline, gateways };
  });
  const replicas = Number(args.replicas ?? 1);
  const natsServer = execFileSync(resolve(ROOT, "../shared/nats/bin"), { encoding: "utf8" }).trim().split("\n").pop();
  const results = [];
  for (const config of configs) {
    const run = `bc${Date.now().toString(36).slice(-5)}`;
    const dir = mkdtempSync(join(tmpdir(), "chirp-bench-cluster-"));
    say(`cluster: timeline ×${config.timeline}, gateway ×${config.gateways}, other services ×${replicas}`);
    const cluster = await startCluster({
      mongodbUri,
      databasePrefix: run,
      dir,
      natsServer,
      replicas,
      replicasOf: { timeline: config.timeline },
      gateways: config.gateways,
      env: { LOG_LEVEL: "error", PASSWORD_HASH_COST: "4", AUTH_TOKEN_TTL_SECONDS: "86400", CELEBRITY_FOLLOWERS: String(Math.min(10_000, settings.users)) },
      envOf: { gateway: { WRITES_PER_MINUTE: "1000000", WRITE_BURST: "1000000", READS_PER_MINUTE: "1000000", READ_BURST: "1000000", UPSTREAM_TIMEOUT_MS: "60000" } },
    });
    try {
      const transport = roundRobin(cluster.gatewayHttp2.map((a) => createConnectTransport({ baseUrl: `http://${a}`, httpVersion: "2", useBinaryFormat: true })));
      const clients = { users: createClient(UsersService, transport), tweets: createClient(TweetsService, transport), graph: createClient(GraphService, transport), timeline: createClient(TimelineService, transport) };
      const rng = random(settings.seed);
      const graph = await loadSocialGraph(clients, { ...settings, celebrityThreshold: Math.min(10_000, settings.users), tag: run, rng, say });
      const people = graph.people;
      const anyone = () => people[Math.floor(rng() * people.length)];
      const asUser = (p) => ({ headers: { authorization: `Bearer ${p.token}` } });
      const ops = {
        home: (p) => clients.timeline.getHomeTimeline({ pageSize: 20 }, asUser(p)),
        userTweets: (p) => clients.tweets.listUserTweets({ userId: anyone().id, pageSize: 20 }, asUser(p)),
        compose: (p) => clients.tweets.createTweet({ text: `bench post ${Math.floor(rng() * 1e9)} #bench` }, asUser(p)),
      };
      const pids = () => [...cluster.services, ...cluster.gateways, ...cluster.nats].map((m) => m.pid()).filter(Boolean);
      const runAt = (pick) => async (rate) => {
        const before = cpuMs(pids());
        const result = await openLoop({ rate, seconds: settings.stepSeconds, pick });
        result.serverCpuMsPerRequest = (cpuMs(pids()) - before) / Math.max(1, result.all.ok + result.all.errors);
        await sleep(result.operations.compose ? 1_000 : 250);
        return result;
      };
      const onStep = (label) => (step) => say(`${label} at ${step.rate}/s: p99 ${step.result.all.p99.toFixed(1)} ms, ${step.result.all.throughput.toFixed(0)}/s, ${step.result.all.errors} errors → ${step.held ? "holds" : "does not hold"}`);
      const sweepOf = (label, pick) => sweep({ startRate: settings.startRate, maxRate: settings.maxRate, refinements: settings.refinements, retries: settings.retries, run: runAt(pick), onStep: onStep(label) });
      const home = await sweepOf("home timeline", () => {
        const p = anyone();
        return { name: "home", call: () => ops.home(p) };
      });
      const mix = await sweepOf("mix", () => {
        const p = anyone();
        const draw = rng();
        const name = draw < 0.6 ? "home" : draw < 0.9 ? "userTweets" : "compose";
        return { name, call: () => ops[name](p) };
      });
      results.push({ ...config, users: people.length, follows: graph.follows, home, mix });
    } finally {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
      const mongo = await MongoClient.connect(mongodbUri);
      try {
        const { databases } = await mongo.db().admin().listDatabases();
        for (const { name } of databases.filter((d) => d.name.startsWith(`${run}_`))) await mongo.db(name).dropDatabase();
      } finally {
        await mongo.close();
      }
    }
  }

  const out = (line = "") => process.stdout.write(`${line}\n`);
  const best = (s) => (s.best ? `${s.best.all.throughput.toFixed(0)}/s (p99 ${s.best.all.p99.toFixed(0)} ms, CPU ${s.best.serverCpuMsPerRequest.toFixed(1)} ms/req)` : `none held (lowest tried ${Math.min(...s.steps.map((x) => x.rate))}/s)`);
  out();
  out(`Chirp benchmark on the multi-process cluster ${new Date().toISOString()}`);
  out(`machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; MongoDB at ${mongodbUri}`);
  out(`graph: ${results[0]?.users} users, ${results[0]?.follows} follows; sweep steps ${settings.stepSeconds} s; other services ×${replicas}, NATS 3 nodes (R3)`);
  out();
  // Where nothing holds (a slow database), the most any step achieved still compares configurations.
  const most = (s) => {
    const top = s.steps.reduce((a, b) => (b.result.all.throughput > a.result.all.throughput ? b : a));
    return `${top.result.all.throughput.toFixed(1)}/s at ${top.rate}/s offered (p99 ${top.result.all.p99.toFixed(0)} ms)`;
  };
  out("| timeline replicas | gateway replicas | home reads: highest rate with p99 < 100 ms | home reads: most achieved | mix 60/30/10: highest rate with p99 < 100 ms | mix: most achieved |");
  out("|---|---|---|---|---|---|");
  for (const r of results) out(`| ${r.timeline} | ${r.gateways} | ${best(r.home)} | ${most(r.home)} | ${best(r.mix)} | ${most(r.mix)} |`);
  out();
}
