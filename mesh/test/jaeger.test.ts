/**
 * One post's whole trace, read back from a real Jaeger: the mesh runs as separate processes on
 * MongoDB + JetStream, each exporting its spans over OTLP/HTTP under its own service name, and the
 * trace is fetched from Jaeger's query API and checked span by span, parent by parent.
 *
 * Needs a Jaeger: ../shared/jaeger/start runs one on 127.0.0.1 (OTLP/HTTP 4318, query API 16686;
 * JAEGER_QUERY_URL and OTEL_EXPORTER_OTLP_ENDPOINT name others). Without one, jest.config.js leaves
 * this suite out of the run and says so: CI does not build Jaeger (about five minutes on two cores,
 * which its time budget has no room for); the same trace is checked there with an in-memory
 * exporter (observability.test.ts). `npm run trace:jaeger` prints such a trace.
 */
import { spawnSync } from "node:child_process";
import { createLogger } from "@chirp/kit";
import { describeWith, eventually, uniqueName } from "@chirp/kit/testing";
import { fetchTrace, formatTrace, postTraceProblems, type TraceSpan } from "../src/jaeger.js";
import { startMeshProcesses, type MeshProcesses } from "../src/processes.js";
import { publicApi } from "./public-api.js";

const QUERY_URL = process.env.JAEGER_QUERY_URL ?? "http://127.0.0.1:16686";
const OTLP_ENDPOINT = process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "http://127.0.0.1:4318";

/** Whether Jaeger's query API answers (asked from a child process: a describe cannot wait). */
function jaegerAnswers(): boolean {
  const probe = `fetch(${JSON.stringify(`${QUERY_URL}/api/services`)}, { signal: AbortSignal.timeout(3000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
  return spawnSync(process.execPath, ["-e", probe], { timeout: 10_000 }).status === 0;
}

const title = "one post's trace in Jaeger, from the gateway to the fan-out";
// jest.config.js leaves this suite out where no Jaeger answers; run by name without one, it fails.
if (!jaegerAnswers()) {
  describe(title, () => {
    it("needs a Jaeger", () => {
      throw new Error(`no Jaeger answers at ${QUERY_URL}; run ../shared/jaeger/start`);
    });
  });
} else {
  describeWith(["MONGODB_URI", "NATS_URL"], title, ({ MONGODB_URI, NATS_URL }) => {
    let mesh: MeshProcesses;
    let api: string;

    beforeAll(async () => {
      mesh = await startMeshProcesses({
        env: { MONGODB_URI, NATS_URL, PASSWORD_HASH_COST: "4", OUTBOX_POLL_MS: "200", OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_ENDPOINT, TRACE_SAMPLE_PERCENT: "100" },
        run: uniqueName("jaeger"),
        log: createLogger("mesh", "silent"),
      });
      api = `http://127.0.0.1:${mesh.gateway.httpPort}`;
    }, 120_000);

    afterAll(async () => {
      await mesh?.stop();
    }, 120_000);

    const call = (method: string, body: object, token?: string, headers: Record<string, string> = {}) => publicApi(api).ok(method, body, token, headers);
    const account = (name: string) => publicApi(api).account(name);

    it("finds the gateway, tweets and its MongoDB write, the relay's publish, the timeline consumer, the graph call and the fan-out writes, correctly linked", async () => {
      const author = await account("author");
      const readers = [await account("reader"), await account("reader")];
      for (const reader of readers) await publicApi(api).follow(reader, author);

      // The caller's own trace id and span, as a browser with tracing would send them.
      const traceId = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
      const callerSpanId = "00f067aa0ba902b7";
      const posted = await call("chirp.tweets.v1.TweetsService/CreateTweet", { text: "traced into Jaeger" }, author.token, { traceparent: `00-${traceId}-${callerSpanId}-01` });
      for (const reader of readers) {
        await eventually(async () => {
          expect(JSON.stringify(await call("chirp.timeline.v1.TimelineService/GetHomeTimeline", { pageSize: 5 }, reader.token))).toContain(posted.tweet.id);
        }, 20_000, 100);
      }

      // Each process sends its spans in batches (every 5 s): wait until the whole path is there.
      let spans: TraceSpan[] = [];
      await eventually(async () => {
        spans = await fetchTrace(QUERY_URL, traceId);
        expect(postTraceProblems(spans, callerSpanId, mesh.consumers.timeline)).toEqual([]);
      }, 30_000, 1_000);
      expect(new Set(spans.map((s) => s.service))).toEqual(new Set(["gateway", "users", "tweets", "graph", "timeline"]));
      process.stdout.write(`trace ${traceId} in Jaeger (${spans.length} spans):\n${formatTrace(spans)}\n`);
    }, 90_000);
  });
}
