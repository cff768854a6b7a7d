import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import { openLoop } from "./load.mjs";
import { readFileSync } from "node:fs";
const cpu = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; };
const require = createRequire(import.meta.url);
const { createClient } = require("@connectrpc/connect");
const { createConnectTransport } = require("@connectrpc/connect-node");
const { LoadTestService } = require("@chirp/proto/es/chirp/loadtest/v1/loadtest_pb");
const { UsersService } = require("@chirp/proto/es/chirp/users/v1/users_pb");
const env = { ...process.env, CELEBRITY_FOLLOWERS: "300", LOG_LEVEL: "error", HTTP_HOST: "127.0.0.1", HTTP2_PORT: "0", HTTP_PORT: "0", PASSWORD_HASH_COST: "4", WRITES_PER_MINUTE: "1000000", WRITE_BURST: "1000000" };
delete env.MONGODB_URI; delete env.NATS_URL;
const prof = [];
if (process.env.PROF) env.BENCH_PROFILE_DIR = process.env.PROF;
const server = spawn(process.execPath, [...prof, new URL("./server.mjs", import.meta.url).pathname], { env, stdio: ["ignore", "pipe", "inherit"] });
const ports = await new Promise((r) => createInterface({ input: server.stdout }).on("line", (l) => { const m = JSON.parse(l); if (m.ready) r(m); }));
const t = createConnectTransport({ baseUrl: `http://127.0.0.1:${ports.http2Port}`, httpVersion: "2", useBinaryFormat: true });
const users = createClient(UsersService, t), lt = createClient(LoadTestService, t);
await users.createUser({ username: "probe1", email: "p@x.example", password: "bench password 1", displayName: "p" });
const { accessToken } = await users.login({ usernameOrEmail: "probe1", password: "bench password 1" });
const h = { headers: { authorization: `Bearer ${accessToken}` } };
if (process.env.HOME_READS) {
  const { loadSocialGraph } = await import("./social-graph.mjs");
  const { random } = await import("./load.mjs");
  const clients = { users, tweets: createClient(require("@chirp/proto/es/chirp/tweets/v1/tweets_pb").TweetsService, t), graph: createClient(require("@chirp/proto/es/chirp/graph/v1/graph_pb").GraphService, t), timeline: createClient(require("@chirp/proto/es/chirp/timeline/v1/timeline_pb").TimelineService, t) };
  const rng = random(1);
  const g = await loadSocialGraph(clients, { users: 300, postsPerUser: 3, celebrityThreshold: 300, tag: "pr", rng, say: () => {} });
  if (process.env.DECOMPOSE) {
    const { createGrpcTransport } = require("@connectrpc/connect-node");
    const grpc = (port) => createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    const tl = createClient(require("@chirp/proto/es/chirp/timeline/v1/timeline_pb").TimelineService, grpc(ports.timeline));
    const tw = createClient(require("@chirp/proto/es/chirp/tweets/v1/tweets_pb").TweetsService, grpc(ports.tweets));
    const us = createClient(require("@chirp/proto/es/chirp/users/v1/users_pb").UsersService, grpc(ports.users));
    const lt2 = createClient(LoadTestService, grpc(ports.loadtest));
    const reader = g.people[0];
    const page = await tl.getHomeTimeline({ pageSize: 20 }, { headers: { "x-chirp-caller-id": reader.id } });
    const ids = page.items.map((i) => i.id);
    const people = [...new Set(page.items.map((i) => i.author.id))];
    console.log("page items", ids.length, "people", people.length, "bytes", require("@bufbuild/protobuf").toBinary(require("@chirp/proto/es/chirp/timeline/v1/timeline_pb").GetHomeTimelineResponseSchema, page).length);
    const h = { headers: { "x-chirp-caller-id": reader.id } };
    for (const [name, fn] of [["noop direct", () => lt2.noop({ payload: "x" }, h)], ["timeline direct", () => tl.getHomeTimeline({ pageSize: 20 }, h)], ["batchGetTweets direct", () => tw.batchGetTweets({ ids }, h)], ["batchGetUsers direct", () => us.batchGetUsers({ ids: people }, h)]]) {
      const c0 = cpu(server.pid);
      const r = await openLoop({ rate: 50, seconds: 6, pick: () => ({ name, call: fn }) });
      console.log(name, r.all.throughput.toFixed(0), "p50", r.all.p50.toFixed(1), "cpu ms/req", ((cpu(server.pid) - c0) / r.all.ok).toFixed(2));
    }
  }
  for (const rate of process.env.HOME_READS.split(",").map(Number)) {
    const c0 = cpu(server.pid);
    server.kill("SIGUSR2");
    const r = await openLoop({ rate, seconds: Number(process.env.SECS ?? 5), pick: () => { const p = g.people[Math.floor(rng() * g.people.length)]; return { name: "home", call: () => clients.timeline.getHomeTimeline({ pageSize: 20 }, { headers: { authorization: `Bearer ${p.token}` } }) }; } });
    server.kill("SIGUSR2");
    console.log("home", rate, r.all.throughput.toFixed(0), r.all.p50.toFixed(1), r.all.p99.toFixed(1), r.all.errors, "cpu ms/req", ((cpu(server.pid) - c0) / r.all.ok).toFixed(2));
  }
}
for (const rate of (process.env.RATES ?? "300").split(",").map(Number)) {
  const c0 = cpu(server.pid);
  server.kill("SIGUSR2");
  const r = await openLoop({ rate, seconds: Number(process.env.SECS ?? 5), pick: () => ({ name: "noop", call: () => lt.noop({ payload: "x" }, h) }) });
  server.kill("SIGUSR2");
  console.log("noop", rate, r.all.throughput.toFixed(0), r.all.p50.toFixed(1), r.all.p99.toFixed(1), r.all.errors, "cpu ms/req", ((cpu(server.pid) - c0) / r.all.ok).toFixed(2));
}
server.kill("SIGTERM");
