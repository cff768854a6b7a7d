#!/usr/bin/env node
// Timeline benchmark: fan-out lag and home-timeline reads against real servers. Starts the whole
// mesh in-process from its built dist (@chirp/mesh, as `npm start` does), on MongoDB (MONGODB_URI,
// one fresh database per service) and JetStream (NATS_URL, durable consumers of this run only,
// starting at the streams' end), and talks to the services directly. Then:
//   1. an author posts a backlog of tweets, then N followers register and follow them (each follow
//      backfills the backlog, so every reader has a full first page);
//   2. fan-out lag: the author posts; the time until the post shows in the home timeline of the
//      follower the fan-out writes last (the graph lists followers newest first, so the oldest
//      follower), and of the one it writes first, read through GetHomeTimeline;
//   3. reads: GetHomeTimeline at page size 20 for random followers, concurrently: latency
//      percentiles and throughput (each read renders its page through BatchGetTweets and
//      BatchGetUsers, so the tweets and users services are part of every figure);
//   4. reads one at a time, each followed by the same two rendering calls made directly, to show
//      how much of a read is the timeline's own work.
// The events a run publishes stay in the shared streams for their retention (7 days): point
// NATS_URL at a scratch server when other people's suites replay those streams.
//
// Usage: npm run build && node bench/timeline.mjs [--followers 10000] [--posts 3] [--backlog 20]
//        [--reads 2000] [--read-concurrency 8] [--concurrency 16] [--keep]
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { inParallel, progress, sleep } from "./common.mjs";

const require = createRequire(import.meta.url);
const { createPrivateKey } = require("node:crypto");
const { Metadata } = require("@grpc/grpc-js");
const { createLogger, generateSigningKeyPair, TokenSigner } = require("@chirp/kit");
const { STREAMS } = require("@chirp/kit/events");
const { AUTHORIZATION_KEY, channelCredentials, meshChannelOptions, unary } = require("@chirp/kit/grpc");
const { connectMongo } = require("@chirp/kit/mongo");
const { JetStreamBus } = require("@chirp/kit/nats");
const { startMesh } = require("@chirp/mesh");
const { GraphServiceClient } = require("@chirp/proto/grpc/chirp/graph/v1/graph");
const { TimelineServiceClient } = require("@chirp/proto/grpc/chirp/timeline/v1/timeline");
const { TweetsServiceClient } = require("@chirp/proto/grpc/chirp/tweets/v1/tweets");
const { UsersServiceClient } = require("@chirp/proto/grpc/chirp/users/v1/users");

const { values: options } = parseArgs({
  options: {
    followers: { type: "string", default: "10000" },
    posts: { type: "string", default: "3" },
    backlog: { type: "string", default: "20" },
    reads: { type: "string", default: "2000" },
    "read-concurrency": { type: "string", default: "8" },
    concurrency: { type: "string", default: "16" },
    keep: { type: "boolean", default: false },
  },
});
const FOLLOWERS = Number(options.followers);
const POSTS = Number(options.posts);
const BACKLOG = Number(options.backlog);
const READS = Number(options.reads);
const READ_CONCURRENCY = Number(options["read-concurrency"]);
const CONCURRENCY = Number(options.concurrency);
const PAGE_SIZE = 20;

const { MONGODB_URI, NATS_URL } = process.env;
if (!MONGODB_URI || !NATS_URL) {
  console.error("MONGODB_URI and NATS_URL must name the MongoDB and NATS (JetStream) servers to measure against");
  process.exit(2);
}

const log = createLogger("bench", "silent");
const run = `bench_${Date.now().toString(36)}`;
const say = progress();
// The services verify the caller's access token themselves: the mesh signs with this key, and this
// script makes each caller's token as the users service would.
const keys = generateSigningKeyPair();
const signer = new TokenSigner(createPrivateKey(keys.privateKeyPem), { issuer: "chirp", audience: "chirp", ttlSeconds: 3_600 });
const tokens = new Map();
const asCaller = (id) => {
  const metadata = new Metadata();
  if (!tokens.has(id)) tokens.set(id, signer.sign(id).token);
  metadata.set(AUTHORIZATION_KEY, `Bearer ${tokens.get(id)}`);
  return metadata;
};

// --- servers: the whole mesh as a run of its own, whose consumers start at the streams' end, so
// earlier runs' events are not replayed
const mesh = await startMesh({
  env: {
    MONGODB_URI,
    NATS_URL,
    PASSWORD_HASH_COST: "4",
    OUTBOX_POLL_MS: "200",
    AUTH_SIGNING_KEY: keys.privateKeyPem,
    // The author must be fanned out, not merged in at read time.
    CELEBRITY_FOLLOWERS: String(Math.max(10_000, FOLLOWERS)),
  },
  log,
  loopback: true,
  run,
  keep: options.keep,
});
const monitor = await JetStreamBus.connect(NATS_URL, "timeline-bench", log);

/** Waits until the timeline's consumer has handled everything published so far. */
async function timelineCaughtUp() {
  for (;;) {
    let outstanding = 0;
    for (const stream of [STREAMS.users, STREAMS.tweets, STREAMS.graph]) {
      const info = await monitor.manager.consumers.info(stream.name, mesh.consumers.timeline);
      outstanding += info.num_pending + info.num_ack_pending;
    }
    if (outstanding === 0) return;
    await sleep(100);
  }
}

/** Mutual TLS as the workload that calls it in the mesh (the gateway; the timeline for what it reads). */
const as = (service, workload = "gateway") => [channelCredentials(mesh.certificates.filesOf(workload), service), meshChannelOptions(service)];
const client = {
  users: new UsersServiceClient(mesh.addresses.users, ...as("users")),
  tweets: new TweetsServiceClient(mesh.addresses.tweets, ...as("tweets")),
  graph: new GraphServiceClient(mesh.addresses.graph, ...as("graph")),
  timeline: new TimelineServiceClient(mesh.addresses.timeline, ...as("timeline")),
  // Every follower of a poster is the timeline's alone to list (graph's peer rules).
  followerIds: new GraphServiceClient(mesh.addresses.graph, ...as("graph", "timeline")),
};
say(`services up (run ${run}); ${FOLLOWERS} followers, ${BACKLOG} backlog posts, ${POSTS} measured posts`);

const register = async (name) =>
  (await unary(client.users, client.users.createUser, { username: name, email: `${name}@bench.example`, password: "correct horse battery", displayName: name })).user;
const post = async (author, text) => (await unary(client.tweets, client.tweets.createTweet, { text, replyToId: "", tags: [], idempotencyKey: "" }, asCaller(author.id))).tweet;
const firstPage = (reader, pageSize = PAGE_SIZE) => unary(client.timeline, client.timeline.getHomeTimeline, { pageSize, pageToken: "" }, asCaller(reader));

// --- 1. the author, the backlog, the followers and their follows
const tag = run.slice(-6);
const author = await register(`a_${tag}`);
for (let i = 0; i < BACKLOG; i++) await post(author, `backlog post ${i}`);
let phase = performance.now();
const followers = new Array(FOLLOWERS);
await inParallel([...followers.keys()], CONCURRENCY, async (i) => {
  followers[i] = (await register(`f${i}_${tag}`)).id;
});
const registerSeconds = (performance.now() - phase) / 1000;
say(`${FOLLOWERS} followers registered in ${registerSeconds.toFixed(1)} s`);

phase = performance.now();
await inParallel(followers, CONCURRENCY, async (follower) => {
  for (let attempt = 0; ; attempt++) {
    try {
      await unary(client.graph, client.graph.follow, { followeeId: author.id }, asCaller(follower));
      return;
    } catch (error) {
      // The graph learns of the author from UserCreated; until then the author is NOT_FOUND.
      if (error.code !== 5 || attempt > 100) throw error;
      await sleep(100);
    }
  }
});
const followSeconds = (performance.now() - phase) / 1000;
say(`${FOLLOWERS} follows recorded by the graph in ${followSeconds.toFixed(1)} s`);
await timelineCaughtUp();
const backfillSeconds = (performance.now() - phase) / 1000;
say(`timeline caught up with every follow and backfill after ${backfillSeconds.toFixed(1)} s`);

// The graph streams followers newest relationship first: the last batch holds the oldest.
const listed = [];
await new Promise((resolve, reject) => {
  const call = client.followerIds.listFollowerIds({ userId: author.id, batchSize: 0, resumeToken: "" });
  call.on("data", (batch) => listed.push(...batch.followerIds));
  call.on("end", resolve);
  call.on("error", reject);
});
const writtenFirst = listed[0];
const writtenLast = listed.at(-1);

// --- 2. fan-out lag, to a resolution of one read plus 10 ms
const shows = async (reader, tweetId) => (await firstPage(reader, 1)).items[0]?.id === tweetId;
const lags = [];
for (let i = 0; i < POSTS; i++) {
  const postedAt = performance.now();
  const tweet = await post(author, `measured post ${i}`);
  let first;
  let last;
  while (last === undefined) {
    const [firstShows, lastShows] = await Promise.all([first === undefined ? shows(writtenFirst, tweet.id) : true, shows(writtenLast, tweet.id)]);
    const at = performance.now() - postedAt;
    if (first === undefined && firstShows) first = at;
    if (lastShows) last = at;
    else await sleep(10);
  }
  lags.push({ first, last });
  say(`post ${i + 1}: first follower after ${first.toFixed(0)} ms, last after ${last.toFixed(0)} ms`);
  await timelineCaughtUp();
}

// --- 3. reads at page size 20
const pageSizes = [];
const latencies = [];
phase = performance.now();
await inParallel([...Array(READS).keys()], READ_CONCURRENCY, async () => {
  const reader = followers[Math.floor(Math.random() * followers.length)];
  const t0 = performance.now();
  const page = await firstPage(reader);
  latencies.push(performance.now() - t0);
  pageSizes.push(page.items.length);
});
const readSeconds = (performance.now() - phase) / 1000;

// --- 4. where an unloaded read's time goes: the same page's two rendering calls, made directly
const sequential = { read: [], rendering: [] };
for (let i = 0; i < Math.min(100, READS); i++) {
  const reader = followers[Math.floor(Math.random() * followers.length)];
  let t0 = performance.now();
  const page = await firstPage(reader);
  sequential.read.push(performance.now() - t0);
  const people = [...new Set(page.items.flatMap((item) => [item.author.id, ...(item.retweetedBy ? [item.retweetedBy.id] : [])]))];
  t0 = performance.now();
  const { tweets: rendered } = await unary(client.tweets, client.tweets.batchGetTweets, { ids: page.items.map((item) => item.id) }, asCaller(reader));
  await unary(client.users, client.users.batchGetUsers, { ids: people }, asCaller(reader));
  if (rendered.length !== page.items.length) throw new Error("the page and its rendering disagree");
  sequential.rendering.push(performance.now() - t0);
}

// --- report
const quantile = (values, q) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
const entries = await (async () => {
  const connection = await connectMongo(MONGODB_URI, mesh.databases.timeline, log);
  try {
    return await connection.db.collection("entries").estimatedDocumentCount();
  } finally {
    await connection.close();
  }
})();
const row = (label, value) => console.log(`${label.padEnd(44)} ${value}`);
console.log(`\ntimeline benchmark: ${FOLLOWERS} followers, MongoDB ${MONGODB_URI}, NATS ${NATS_URL}, Node ${process.version}`);
row("setup: followers registered", `${registerSeconds.toFixed(1)} s (${(FOLLOWERS / registerSeconds).toFixed(0)}/s)`);
row("setup: follows via gRPC", `${followSeconds.toFixed(1)} s (${(FOLLOWERS / followSeconds).toFixed(0)}/s)`);
row(`setup: follows + ${BACKLOG}-post backfills applied`, `${backfillSeconds.toFixed(1)} s`);
row("timeline entries stored", String(entries));
for (const [i, lag] of lags.entries()) row(`fan-out lag, post ${i + 1}: first / last follower`, `${lag.first.toFixed(0)} ms / ${lag.last.toFixed(0)} ms`);
row("fan-out lag to the last follower, median", `${quantile(lags.map((l) => l.last), 0.5).toFixed(0)} ms`);
row(`reads: GetHomeTimeline page size ${PAGE_SIZE}`, `${READS} reads, ${READ_CONCURRENCY} in flight, ${mean(pageSizes).toFixed(1)} items per page`);
row("read latency p50 / p90 / p99", `${quantile(latencies, 0.5).toFixed(1)} / ${quantile(latencies, 0.9).toFixed(1)} / ${quantile(latencies, 0.99).toFixed(1)} ms`);
row("read latency mean / max", `${mean(latencies).toFixed(1)} / ${Math.max(...latencies).toFixed(1)} ms`);
row("read throughput", `${(READS / readSeconds).toFixed(0)} reads/s`);
row("one read at a time: latency p50", `${quantile(sequential.read, 0.5).toFixed(1)} ms`);
row("  of which BatchGetTweets + BatchGetUsers, p50", `${quantile(sequential.rendering, 0.5).toFixed(1)} ms`);

// --- clean up: the mesh removes the run's consumers and databases, unless --keep
for (const c of Object.values(client)) c.close();
await monitor.close();
await mesh.stop();
say("done");
