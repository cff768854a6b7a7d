#!/usr/bin/env node
// One post's trace, end to end, in a real Jaeger: runs the mesh as separate processes (each service
// and the gateway from its build, on MongoDB + JetStream) sending spans over OTLP/HTTP, makes an
// author and two followers, posts through the gateway with a traceparent of its own, waits for the
// post to reach both followers' timelines, then reads the trace back from Jaeger's query API and
// prints it as a tree, with anything missing from the path (gateway, tweets and its MongoDB write,
// the relay's publish, the timeline consumer, the graph call, the fan-out writes) and where to see
// it in the UI. Exit code 1 when the trace is incomplete or Jaeger is not there.
//
//   ../shared/jaeger/start          # Jaeger on 127.0.0.1: OTLP/HTTP 4318, UI and query API 16686
//   MONGODB_URI=… NATS_URL=… npm run trace:jaeger
//
// JAEGER_QUERY_URL and OTEL_EXPORTER_OTLP_ENDPOINT name another Jaeger. The run's databases and
// consumers are removed afterwards; its trace stays in Jaeger.
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLogger } = require("@chirp/kit");
const { startMeshProcesses } = require("../mesh/dist/processes.js");
const { fetchTrace, formatTrace, postTraceProblems } = require("../mesh/dist/jaeger.js");

const queryUrl = process.env.JAEGER_QUERY_URL ?? "http://127.0.0.1:16686";
const otlpEndpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "http://127.0.0.1:4318";
const { MONGODB_URI, NATS_URL } = process.env;
const fail = (message) => {
  console.error(`trace:jaeger: ${message}`);
  process.exit(1);
};
if (!MONGODB_URI || !NATS_URL) fail("set MONGODB_URI and NATS_URL: the processes share nothing else");
const answers = await fetch(`${queryUrl}/api/services`, { signal: AbortSignal.timeout(3_000) }).then((r) => r.ok, () => false);
if (!answers) fail(`no Jaeger answers at ${queryUrl}; run ../shared/jaeger/start`);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function retry(what, attempt, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: ${error.message}`);
      await sleep(200);
    }
  }
}

const run = `trace_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
console.log(`starting the mesh as separate processes (run ${run}), spans to ${otlpEndpoint}`);
const mesh = await startMeshProcesses({
  env: { MONGODB_URI, NATS_URL, PASSWORD_HASH_COST: "4", OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint, TRACE_SAMPLE_PERCENT: "100" },
  run,
  log: createLogger("mesh", "silent"),
});
let complete = false;
try {
  const api = `http://127.0.0.1:${mesh.gateway.httpPort}`;
  const call = async (method, body, token, headers = {}) => {
    const response = await fetch(`${api}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }), ...headers },
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (response.status !== 200) throw new Error(`${method}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  };
  const account = async (name) => {
    const username = `${name}_${randomBytes(3).toString("hex")}`;
    const created = await call("chirp.users.v1.UsersService/CreateUser", { username, email: `${username}@example.org`, password: "correct horse" });
    const login = await call("chirp.users.v1.UsersService/Login", { usernameOrEmail: username, password: "correct horse" });
    return { id: created.user.id, token: login.accessToken };
  };
  const author = await account("author");
  const readers = [await account("reader"), await account("reader")];
  for (const reader of readers) await retry("follow", () => call("chirp.graph.v1.GraphService/Follow", { followeeId: author.id }, reader.token), 15_000);

  const traceId = randomBytes(16).toString("hex");
  const callerSpanId = randomBytes(8).toString("hex");
  const posted = await call("chirp.tweets.v1.TweetsService/CreateTweet", { text: "traced into Jaeger" }, author.token, { traceparent: `00-${traceId}-${callerSpanId}-01` });
  for (const reader of readers) {
    await retry("the post on a follower's timeline", async () => {
      const home = await call("chirp.timeline.v1.TimelineService/GetHomeTimeline", { pageSize: 5 }, reader.token);
      if (!JSON.stringify(home).includes(posted.tweet.id)) throw new Error("not there yet");
    }, 20_000);
  }
  console.log(`posted ${posted.tweet.id} with trace id ${traceId}; waiting for the processes' span batches (sent every 5 s)`);

  let spans = [];
  let problems = ["nothing read yet"];
  const deadline = Date.now() + 30_000;
  while (problems.length > 0 && Date.now() < deadline) {
    await sleep(1_000);
    spans = await fetchTrace(queryUrl, traceId);
    problems = postTraceProblems(spans, callerSpanId, mesh.consumers.timeline);
  }
  const services = [...new Set(spans.map((s) => s.service))].sort();
  console.log(`\ntrace ${traceId}: ${spans.length} spans from ${services.join(", ")}\n`);
  console.log(formatTrace(spans));
  console.log(`\nin the UI: ${queryUrl}/trace/${traceId}`);
  if (problems.length > 0) console.log(`\nINCOMPLETE:\n- ${problems.join("\n- ")}`);
  else console.log("\ncomplete: gateway → tweets (MongoDB write) → relay publish → timeline consumer → graph followers → fan-out batches (MongoDB writes), every parent link as expected");
  complete = problems.length === 0;
} finally {
  await mesh.stop();
}
process.exit(complete ? 0 : 1);
