import { createLogger } from "@chirp/kit";
import { EVENT_SUBJECTS } from "@chirp/kit/events";
import { SpanKind, useSpanExporter } from "@chirp/kit/telemetry";
import { describeWith, eventually, InMemorySpanExporter, seriesValue as series, uniqueName, type ReadableSpan } from "@chirp/kit/testing";
import { startMesh, type Mesh } from "../src/mesh.js";
import { publicApi } from "./public-api.js";

const serviceOf = (span: ReadableSpan) => span.resource.attributes["service.name"];

/**
 * Tracing and metrics of the whole mesh on MongoDB + JetStream, as an operator sees them: one post
 * through the gateway is one trace, from the gateway's call to the fan-out's write, linked across
 * gRPC, the outbox and JetStream; and the process's /metrics moves with the work.
 */
describeWith(["MONGODB_URI", "NATS_URL"], "observability of the mesh on MongoDB and JetStream", ({ MONGODB_URI, NATS_URL }) => {
  const spans = new InMemorySpanExporter();
  let mesh: Mesh;
  let api: string;

  beforeAll(async () => {
    useSpanExporter(spans);
    mesh = await startMesh({
      env: { MONGODB_URI, NATS_URL, PASSWORD_HASH_COST: "4", OUTBOX_POLL_MS: "200", CELEBRITY_FOLLOWERS: "1", TRACE_SAMPLE_PERCENT: "100" },
      log: createLogger("mesh", "silent"),
      loopback: true,
      metrics: true,
      run: uniqueName("observed"),
    });
    api = `http://127.0.0.1:${mesh.gateway.httpPort}`;
  }, 90_000);

  afterAll(async () => {
    await mesh?.stop();
    useSpanExporter(undefined);
  });

  const call = (method: string, body: object, token?: string, headers: Record<string, string> = {}) => publicApi(api).ok(method, body, token, headers);
  const account = (name: string) => publicApi(api).account(name);
  const follow = (follower: { token: string }, followee: { id: string }) => publicApi(api).follow(follower, followee);

  const scrape = async () => (await fetch(`http://127.0.0.1:${mesh.metricsPort}/metrics`)).text();

  it("serves /metrics apart from the gateway's public ports", async () => {
    expect(mesh.metricsPort).toBeDefined();
    expect([mesh.gateway.httpPort, mesh.gateway.http2Port]).not.toContain(mesh.metricsPort);
    expect((await fetch(`${api}/metrics`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${mesh.metricsPort}/other`)).status).toBe(404);
  });

  it("follows a post from the gateway through tweets, the outbox relay and JetStream to the timeline's fan-out, in one trace", async () => {
    const author = await account("author");
    const reader = await account("reader");
    await follow(reader, author);

    // The caller's trace id is continued at the edge (its sampling flag is not obeyed there).
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const posted = await call("chirp.tweets.v1.TweetsService/CreateTweet", { text: "traced all the way" }, author.token, {
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    });
    await eventually(async () => {
      const home = await call("chirp.timeline.v1.TimelineService/GetHomeTimeline", { pageSize: 5 }, reader.token);
      expect(JSON.stringify(home)).toContain(posted.tweet.id);
    }, 15_000);

    const subject = EVENT_SUBJECTS.tweetCreated;
    const trace = await eventually(() => {
      const found = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      // Spans are exported as they end: the handling's own ends after its fan-out.
      expect(found.some((s) => s.name === `process ${subject}` && serviceOf(s) === "timeline")).toBe(true);
      return found;
    }, 10_000);
    const byId = new Map(trace.map((s) => [s.spanContext().spanId, s]));
    const parentOf = (span: ReadableSpan) => byId.get(span.parentSpanContext?.spanId ?? "");
    const one = (service: string, name: string, kind: SpanKind) => {
      const matching = trace.filter((s) => serviceOf(s) === service && s.name === name && s.kind === kind);
      expect(matching.map((s) => `${service} ${s.name}`)).toEqual([`${service} ${name}`]);
      return matching[0]!;
    };

    const edge = one("gateway", "chirp.tweets.v1.TweetsService/CreateTweet", SpanKind.SERVER);
    expect(edge.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    const forwarded = one("gateway", "chirp.tweets.v1.TweetsService/CreateTweet", SpanKind.CLIENT);
    expect(parentOf(forwarded)).toBe(edge);
    const served = one("tweets", "/chirp.tweets.v1.TweetsService/CreateTweet", SpanKind.SERVER);
    expect(parentOf(served)).toBe(forwarded);
    // The tweet and its event are written in one MongoDB command, inside the call.
    expect(trace.some((s) => serviceOf(s) === "tweets" && s.attributes["db.system.name"] === "mongodb" && parentOf(s) === served)).toBe(true);

    const published = one("tweets", `publish ${subject}`, SpanKind.PRODUCER);
    expect(parentOf(published)).toBe(served);
    const handled = one("timeline", `process ${subject}`, SpanKind.CONSUMER);
    expect(parentOf(handled)).toBe(published);
    const batches = trace.filter((s) => s.name === "fan-out batch");
    expect(batches.length).toBeGreaterThanOrEqual(2); // the author's own timeline, then the reader's batch
    for (const batch of batches) {
      let up = parentOf(batch);
      while (up && up !== handled) up = parentOf(up);
      expect(up).toBe(handled);
      // The timeline entries themselves: a MongoDB write under the batch.
      expect(trace.some((s) => parentOf(s) === batch && s.attributes["db.operation.name"] === "update")).toBe(true);
    }
    // The follower list comes from graph, a gRPC call in the same trace.
    const listed = one("graph", "/chirp.graph.v1.GraphService/ListFollowerIds", SpanKind.SERVER);
    expect([serviceOf(parentOf(listed)!), parentOf(listed)!.kind]).toEqual(["timeline", SpanKind.CLIENT]);
  }, 60_000);

  it("moves the metrics series with the work done", async () => {
    const before = await scrape();
    const author = await account("star");
    const readers = [await account("fan"), await account("fan")];
    for (const reader of readers) await follow(reader, author);
    const plain = await account("plain");
    await follow(readers[0]!, plain);
    await call("chirp.tweets.v1.TweetsService/CreateTweet", { text: "fanned out" }, plain.token);
    // Two followers are above CELEBRITY_FOLLOWERS: this post is merged in at read time.
    await call("chirp.tweets.v1.TweetsService/CreateTweet", { text: "merged at read time" }, author.token);
    await eventually(async () => {
      const home = await call("chirp.timeline.v1.TimelineService/GetHomeTimeline", { pageSize: 5 }, readers[0]!.token);
      expect(JSON.stringify(home)).toContain("fanned out");
      expect(JSON.stringify(home)).toContain("merged at read time");
    }, 15_000);
    const after = await scrape();

    const moved = (name: string, labels: Record<string, string> = {}) => series(after, name, labels) - series(before, name, labels);
    const created = { method: "/chirp.tweets.v1.TweetsService/CreateTweet", code: "OK" };
    expect(moved("chirp_rpc_duration_seconds_count", { service: "gateway", method: "chirp.tweets.v1.TweetsService/CreateTweet", code: "OK" })).toBe(2);
    expect(moved("chirp_rpc_duration_seconds_count", { service: "tweets", ...created })).toBe(2);
    expect(moved("chirp_rpc_duration_seconds_count", { service: "graph", method: "/chirp.graph.v1.GraphService/Follow", code: "OK" })).toBeGreaterThanOrEqual(3);
    expect(moved("chirp_consumer_handling_seconds_count", { service: "timeline", event: "tweets.tweet_created", outcome: "ok" })).toBeGreaterThanOrEqual(2);
    expect(moved("chirp_consumer_handling_seconds_count", { service: "graph", outcome: "ok" })).toBeGreaterThanOrEqual(4);
    expect(moved("chirp_fanout_lag_seconds_count", { service: "timeline" })).toBeGreaterThanOrEqual(1);
    expect(moved("chirp_fanout_batch_entries_count", { service: "timeline" })).toBeGreaterThanOrEqual(2);
    expect(moved("chirp_celebrity_merges_total", { service: "timeline" })).toBeGreaterThanOrEqual(1);
    expect(moved("nodejs_heap_size_used_bytes")).not.toBe(0);

    // States, read at the scrape.
    for (const service of ["users", "tweets", "graph"]) {
      expect(after).toContain(`chirp_outbox_pending{service="${service}"}`);
      expect(after).toContain(`chirp_outbox_oldest_age_seconds{service="${service}"}`);
    }
    for (const service of ["users", "tweets", "graph", "timeline"]) {
      expect(series(after, "chirp_nats_connected", { service })).toBe(1);
      expect(series(after, "chirp_mongodb_pool_connections", { service, state: "open" })).toBeGreaterThan(0);
    }
    expect(after).toMatch(/chirp_consumer_pending\{service="timeline",consumer="[^"]+"\} \d+/);
    expect(after).toContain('chirp_live_streams_open{service="timeline"} 0');
    expect(after).toContain("nodejs_eventloop_lag_p99_seconds");
  }, 60_000);
});
