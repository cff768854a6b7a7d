import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLogger, SERVICES } from "@chirp/kit";
import { EVENT_SUBJECTS, eventMessage } from "@chirp/kit/events";
import { JetStreamBus } from "@chirp/kit/nats";
import { describeWith, eventually, labelValues, scrapeMetrics, seriesValue, uniqueName } from "@chirp/kit/testing";
import { TimelineService } from "@chirp/proto/es/chirp/timeline/v1/timeline_pb";
import { startMeshProcesses, type MeshProcess, type MeshProcesses } from "../src/processes.js";
import { publicApi } from "./public-api.js";

/**
 * Every process's own /metrics, as Prometheus scrapes them in the cluster: the four services and
 * the gateway each run as a process of their own (their built dist/, as their images run them),
 * each with its own METRICS_PORT, on MongoDB + JetStream. Real work through the gateway moves the
 * series of the process that did it: calls per method and code, consumers (with a real
 * redelivery and a real dead letter), fan-out, celebrity merges, live streams, the outboxes, the
 * MongoDB pool, the NATS connection, the event loop and the heap.
 */
describeWith(["MONGODB_URI", "NATS_URL"], "each process's /metrics, with the mesh run as separate processes", ({ MONGODB_URI, NATS_URL }) => {
  let mesh: MeshProcesses;
  let api: string;
  const byName = new Map<string, MeshProcess>();
  const scrape = (name: string) => scrapeMetrics(byName.get(name)!.metricsPort);
  const scrapeAll = async () => Object.fromEntries(await Promise.all([...byName.keys()].map(async (name) => [name, await scrape(name)] as const)));

  beforeAll(async () => {
    mesh = await startMeshProcesses({
      env: { MONGODB_URI, NATS_URL, PASSWORD_HASH_COST: "4", OUTBOX_POLL_MS: "200", CELEBRITY_FOLLOWERS: "1", LOG_LEVEL: "info" },
      run: uniqueName("metrics"),
      log: createLogger("mesh", "silent"),
    });
    for (const process of mesh.processes) byName.set(process.name, process);
    api = `http://127.0.0.1:${mesh.gateway.httpPort}`;
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
  }, 120_000);

  const call = (method: string, body: object, token?: string) => publicApi(api).call(method, body, token);
  const ok = (method: string, body: object, token?: string) => publicApi(api).ok(method, body, token);
  const account = (name: string) => publicApi(api).account(name);
  const follow = (follower: { token: string }, followee: { id: string }) => publicApi(api).follow(follower, followee);

  it("runs every service and the gateway as its own process, each serving only its own series on its own port", async () => {
    expect([...byName.keys()].sort()).toEqual([...SERVICES.map((s) => s.name), "gateway"].sort());
    expect(new Set(mesh.processes.map((p) => p.pid)).size).toBe(mesh.processes.length);
    expect(new Set(mesh.processes.map((p) => p.metricsPort)).size).toBe(mesh.processes.length);
    for (const [name, text] of Object.entries(await scrapeAll())) {
      // Each process labels its series with its own name, and no other's.
      expect([name, labelValues(text, "chirp_rpc_duration_seconds_count", "service").filter((s) => s !== name)]).toEqual([name, []]);
      expect([name, seriesValue(text, "nodejs_heap_size_used_bytes")]).toEqual([name, expect.any(Number)]);
      expect(seriesValue(text, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
      expect(seriesValue(text, "nodejs_eventloop_lag_p99_seconds")).toBeGreaterThan(0);
    }
    // Not on the gateway's public port.
    expect((await fetch(`${api}/metrics`)).status).toBe(404);
  });

  it("moves each process's series with the work it does", async () => {
    const before = await scrapeAll();

    const star = await account("star");
    const fans = [await account("fan"), await account("fan")];
    for (const fan of fans) await follow(fan, star);
    const plain = await account("plain");
    await follow(fans[0]!, plain);

    // A live stream open on the reader's home timeline while the posts arrive.
    const transport = createConnectTransport({ baseUrl: api, httpVersion: "1.1" });
    const timeline = createClient(TimelineService, transport);
    const stream = new AbortController();
    const live: string[] = [];
    const streaming = (async () => {
      try {
        for await (const message of timeline.streamHomeTimeline({}, { headers: { authorization: `Bearer ${fans[0]!.token}` }, signal: stream.signal })) {
          if (message.item?.tweet) live.push(message.item.tweet.id);
        }
      } catch (error) {
        if (!stream.signal.aborted) throw error;
      }
    })();
    await eventually(async () => expect(seriesValue(await scrape("timeline"), "chirp_live_streams_open", { service: "timeline" })).toBe(1), 10_000, 100);

    const fannedOut = await ok("chirp.tweets.v1.TweetsService/CreateTweet", { text: "fanned out" }, plain.token);
    // Two followers are above CELEBRITY_FOLLOWERS: this post is merged in at read time.
    await ok("chirp.tweets.v1.TweetsService/CreateTweet", { text: "merged at read time" }, star.token);
    // Refused by tweets: counted under its code at the gateway and at tweets.
    expect((await call("chirp.tweets.v1.TweetsService/CreateTweet", { text: "" }, plain.token)).status).toBe(400);
    await eventually(async () => {
      const home = JSON.stringify(await ok("chirp.timeline.v1.TimelineService/GetHomeTimeline", { pageSize: 5 }, fans[0]!.token));
      expect(home).toContain("fanned out");
      expect(home).toContain("merged at read time");
    }, 20_000, 100);
    await eventually(() => expect(live).toContain(fannedOut.tweet.id), 10_000, 100);
    stream.abort();
    await streaming;
    await eventually(async () => expect(seriesValue(await scrape("timeline"), "chirp_live_streams_open", { service: "timeline" })).toBe(0), 10_000, 100);

    // An event the timeline cannot handle (a follow naming no one), published on the stream it
    // reads: its handler fails, JetStream redelivers it until the last attempt, and then it is
    // dead-lettered. (Every consumer of chirp.graph.user_followed sees it; each dead-letters it.)
    const poison = eventMessage({ $case: "userFollowed", value: { followerId: "", followeeId: "" } as never });
    const publisher = await JetStreamBus.connect(NATS_URL, "chirp-metrics-test", createLogger("test", "silent"));
    try {
      await publisher.publish(poison);
    } finally {
      await publisher.close();
    }
    const failing = { service: "timeline", consumer: mesh.consumers.timeline, event: EVENT_SUBJECTS.userFollowed.replace(/^chirp\./, "") };
    await eventually(async () => expect(seriesValue(await scrape("timeline"), "chirp_consumer_dead_letters_total", failing)).toBe(1), 30_000, 200);

    const after = await scrapeAll();
    const moved = (process: string, name: string, labels: Record<string, string> = {}) => seriesValue(after[process]!, name, labels) - seriesValue(before[process]!, name, labels);

    // Calls, per method and code, in the process that answered them: rate from _count, latency from _bucket.
    const createTweet = "chirp.tweets.v1.TweetsService/CreateTweet";
    expect(moved("gateway", "chirp_rpc_duration_seconds_count", { service: "gateway", method: createTweet, code: "OK" })).toBe(2);
    expect(moved("gateway", "chirp_rpc_duration_seconds_count", { service: "gateway", method: createTweet, code: "INVALID_ARGUMENT" })).toBe(1);
    expect(moved("gateway", "chirp_rpc_duration_seconds_bucket", { service: "gateway", method: createTweet, code: "OK", le: "+Inf" })).toBe(2);
    expect(moved("tweets", "chirp_rpc_duration_seconds_count", { service: "tweets", method: `/${createTweet}`, code: "OK" })).toBe(2);
    expect(moved("tweets", "chirp_rpc_duration_seconds_count", { service: "tweets", method: `/${createTweet}`, code: "INVALID_ARGUMENT" })).toBe(1);
    expect(moved("tweets", "chirp_rpc_duration_seconds_sum", { service: "tweets", method: `/${createTweet}`, code: "OK" })).toBeGreaterThan(0);
    expect(moved("graph", "chirp_rpc_duration_seconds_count", { service: "graph", method: "/chirp.graph.v1.GraphService/Follow", code: "OK" })).toBe(3);
    expect(moved("users", "chirp_rpc_duration_seconds_count", { service: "users", method: "/chirp.users.v1.UsersService/CreateUser", code: "OK" })).toBe(4);
    expect(moved("timeline", "chirp_rpc_duration_seconds_count", { service: "timeline", method: "/chirp.timeline.v1.TimelineService/GetHomeTimeline", code: "OK" })).toBeGreaterThanOrEqual(1);

    // Consumers: handled events, the poison's redeliveries and its dead letter.
    expect(moved("timeline", "chirp_consumer_handling_seconds_count", { service: "timeline", event: "tweets.tweet_created", outcome: "ok" })).toBeGreaterThanOrEqual(2);
    expect(moved("graph", "chirp_consumer_handling_seconds_count", { service: "graph", event: "users.user_created", outcome: "ok" })).toBeGreaterThanOrEqual(4);
    expect(moved("timeline", "chirp_consumer_handling_seconds_count", { ...failing, outcome: "failed" })).toBe(5);
    expect(moved("timeline", "chirp_consumer_redeliveries_total", failing)).toBe(4);
    expect(moved("timeline", "chirp_consumer_dead_letters_total", failing)).toBe(1);
    expect(labelValues(after.timeline!, "chirp_consumer_pending", "consumer")).toEqual([mesh.consumers.timeline]);
    expect(labelValues(after.graph!, "chirp_consumer_pending", "consumer")).toEqual([mesh.consumers.graph]);
    expect(seriesValue(after.timeline!, "chirp_consumer_pending", { service: "timeline" })).toBeGreaterThanOrEqual(0);

    // Fan-out: the lag histogram, batch sizes, and the celebrity's post merged at read time.
    expect(moved("timeline", "chirp_fanout_lag_seconds_count", { service: "timeline" })).toBeGreaterThanOrEqual(1);
    expect(moved("timeline", "chirp_fanout_lag_seconds_sum", { service: "timeline" })).toBeGreaterThan(0);
    expect(moved("timeline", "chirp_fanout_batch_entries_count", { service: "timeline" })).toBeGreaterThanOrEqual(2);
    expect(moved("timeline", "chirp_fanout_batch_entries_sum", { service: "timeline" })).toBeGreaterThanOrEqual(2);
    expect(moved("timeline", "chirp_celebrity_merges_total", { service: "timeline" })).toBeGreaterThanOrEqual(1);

    // States read at the scrape: each publishing service's outbox (drained by now), MongoDB, NATS.
    for (const service of SERVICES) {
      const { name } = service;
      const text = after[name]!;
      if ("publishes" in service) {
        expect(text).toContain(`chirp_outbox_pending{service="${name}"}`);
        expect(text).toContain(`chirp_outbox_oldest_age_seconds{service="${name}"}`);
        expect([name, seriesValue(text, "chirp_outbox_oldest_age_seconds", { service: name })]).toEqual([name, expect.any(Number)]);
        expect(seriesValue(text, "chirp_outbox_oldest_age_seconds", { service: name })).toBeLessThan(60);
      }
      expect([name, seriesValue(text, "chirp_nats_connected", { service: name })]).toEqual([name, 1]);
      expect(seriesValue(text, "chirp_mongodb_pool_connections", { service: name, state: "open" })).toBeGreaterThan(0);
      expect(text).toContain(`chirp_mongodb_pool_connections{service="${name}",state="in_use"}`);
    }
    // Node's own, per process: the heap changed with the work, the event loop is measured.
    for (const name of byName.keys()) {
      expect([name, moved(name, "nodejs_heap_size_used_bytes") !== 0]).toEqual([name, true]);
      expect(seriesValue(after[name]!, "nodejs_eventloop_lag_p99_seconds")).toBeGreaterThan(0);
    }
  }, 120_000);
});
