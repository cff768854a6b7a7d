import { execFile } from "node:child_process";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { promisify } from "node:util";
import { Collection } from "mongodb";
import { createLogger, OutboxRelay, type Delivery } from "@chirp/kit";
import { eventMessage, InProcessEventBus } from "@chirp/kit/events";
import { connectMongo, MongoOutboxStore, storedMessages, type MongoConnection, type WithOutbox } from "@chirp/kit/mongo";
import { inSpan, ObservedBus, SpanKind, Tracing, useSpanExporter } from "@chirp/kit/telemetry";
import { describeWith, eventually, InMemorySpanExporter, testLogger, uniqueName, type ReadableSpan } from "@chirp/kit/testing";

const run = promisify(execFile);
const settings = (samplePercent = 100) => ({ otlpEndpoint: undefined, samplePercent });
const deleted = () => eventMessage({ $case: "userDeleted", value: { userId: "u1" } });
const remote = (sampled: boolean) => ({ traceparent: `00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0${sampled ? 1 : 0}` });

describe("tracing without an exporter", () => {
  it("starts no tracer, runs the work as it is and records no trace context with events", async () => {
    const tracing = Tracing.start("quiet", settings());
    expect(tracing).toBe(Tracing.off);
    await expect(tracing.entry("call", SpanKind.SERVER, undefined, {}, async (span) => span)).resolves.toBeUndefined();
    expect(deleted().headers).toBeUndefined();
  });
});

describe("tracing with an exporter", () => {
  const spans = new InMemorySpanExporter();
  beforeAll(() => useSpanExporter(spans));
  afterAll(() => useSpanExporter(undefined));
  beforeEach(() => spans.reset());

  it("makes children of the active span with the active service's tracer, and records its context with the events it makes", async () => {
    const tracing = Tracing.start("one", settings());
    const message = await tracing.entry("call", SpanKind.SERVER, undefined, {}, () => inSpan("inner", {}, async () => deleted()));
    const [inner, call] = spans.getFinishedSpans();
    expect([inner!.name, call!.name]).toEqual(["inner", "call"]);
    expect(inner!.parentSpanContext?.spanId).toBe(call!.spanContext().spanId);
    expect(inner!.resource.attributes["service.name"]).toBe("one");
    expect(message.headers?.traceparent).toBe(`00-${inner!.spanContext().traceId}-${inner!.spanContext().spanId}-01`);
  });

  it("samples new traces at the configured share, and obeys a caller's decision except at the public edge", async () => {
    const none = Tracing.start("none", settings(0));
    await none.entry("root", SpanKind.SERVER, undefined, {}, () => inSpan("inner", {}, async () => undefined));
    await none.entry("sampled by the caller", SpanKind.SERVER, { source: remote(true), getter: { keys: Object.keys, get: (c: any, k) => c[k] } }, {}, async () => undefined);
    const edge = Tracing.start("edge", settings(0), false);
    await edge.entry("at the edge", SpanKind.SERVER, { source: remote(true), getter: { keys: Object.keys, get: (c: any, k) => c[k] } }, {}, async () => undefined);
    const all = Tracing.start("all", settings(100));
    await all.entry("not sampled by the caller", SpanKind.SERVER, { source: remote(false), getter: { keys: Object.keys, get: (c: any, k) => c[k] } }, {}, async () => undefined);
    expect(spans.getFinishedSpans().map((s) => s.name)).toEqual(["sampled by the caller"]);
    expect(spans.getFinishedSpans()[0]!.spanContext().traceId).toBe("0af7651916cd43dd8448eb211c80319c");
  });

  it("writes trace_id and span_id on the log lines written inside a recorded span, and on no others", async () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger("logged", "info", { write: (line: string) => lines.push(JSON.parse(line)) });
    const tracing = Tracing.start("logged", settings());
    log.info({ n: 1 }, "before");
    log.info({ n: 2 }, "before, again"); // fields of their own, on lines outside any span
    await tracing.entry("call", SpanKind.SERVER, undefined, {}, async () => log.child({ requestId: "r1" }).info("inside"));
    const [call] = spans.getFinishedSpans();
    expect(lines.map((l) => [l.msg, l.trace_id, l.span_id])).toEqual([
      ["before", undefined, undefined],
      ["before, again", undefined, undefined],
      ["inside", call!.spanContext().traceId, call!.spanContext().spanId],
    ]);
  });

  it("ends a failed entry's span as an error", async () => {
    const tracing = Tracing.start("failing", settings());
    await expect(tracing.entry("call", SpanKind.SERVER, undefined, {}, async () => Promise.reject(new Error("broken")))).rejects.toThrow("broken");
    expect(spans.getFinishedSpans()[0]!.status).toMatchObject({ code: 2, message: "broken" });
  });
});

describe("tracing to a backend that accepts connections and never answers", () => {
  let server: Server;
  let endpoint: string;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  // In a process of its own: the OTLP exporter loads its HTTP transport with a dynamic import,
  // which jest's module sandbox refuses.
  it("goes on with the work, and at shutdown gives the buffered spans up and says so rather than throwing", async () => {
    const script = `
      const { Tracing, SpanKind } = require("@chirp/kit/telemetry");
      (async () => {
        const tracing = Tracing.start("stuck", { otlpEndpoint: process.argv[1], samplePercent: 100 });
        const results = [];
        for (let i = 0; i < 5; i++) results.push(await tracing.entry("call", SpanKind.SERVER, undefined, {}, async () => i));
        const failure = await tracing.shutdown();
        process.stdout.write(JSON.stringify({ enabled: tracing.enabled, results, failure: failure && failure.message }));
      })();`;
    const { stdout } = await run(process.execPath, ["-e", script, endpoint], { cwd: __dirname, timeout: 30_000 });
    const outcome = JSON.parse(stdout) as { enabled: boolean; results: number[]; failure?: string };
    expect(outcome.enabled).toBe(true);
    expect(outcome.results).toEqual([0, 1, 2, 3, 4]);
    expect(outcome.failure).toMatch(/the last spans were not sent/);
    expect(sockets.size).toBeGreaterThan(0);
  });
});

describeWith(["MONGODB_URI"], "trace context kept in a MongoDB outbox", ({ MONGODB_URI }) => {
  const spans = new InMemorySpanExporter();
  let mongo: MongoConnection;
  let docs: Collection<WithOutbox>;

  beforeAll(async () => {
    useSpanExporter(spans);
    mongo = await connectMongo(MONGODB_URI, uniqueName("kit_trace"), testLogger());
    docs = mongo.db.collection<WithOutbox>("docs");
  });

  afterAll(async () => {
    useSpanExporter(undefined);
    await mongo?.db.dropDatabase();
    await mongo?.close();
  });

  it("lets a publish by a relay started after a crash join the trace that recorded the event, and its handling follow", async () => {
    const writer = Tracing.start("writer", settings());
    // The write, in its call's span; then the process dies before its relay publishes.
    const recorded = await writer.entry("write", SpanKind.SERVER, undefined, {}, async (span) => {
      await docs.insertOne({ _id: "d1", outbox: storedMessages([deleted()]) });
      return span!.spanContext();
    });

    // Another process: its relay finds the event in the document.
    const log = testLogger();
    const bus = new InProcessEventBus(log);
    const restarted = new ObservedBus(bus, Tracing.start("restarted", settings()), "restarted");
    const consumer = new ObservedBus(bus, Tracing.start("consumer", settings()), "consumer");
    const handled: Delivery[] = [];
    const running = await consumer.consume({ durable: uniqueName("traced"), subjects: ["chirp.>"] }, async (delivery) => {
      handled.push(delivery);
    });
    const relay = new OutboxRelay(new MongoOutboxStore(docs), restarted, log);
    await relay.flush();
    await eventually(() => expect(handled).toHaveLength(1));
    await running.stop();

    const named = (name: string): ReadableSpan => spans.getFinishedSpans().find((s) => s.name === name)!;
    const publish = named("publish chirp.users.user_deleted");
    const processed = named("process chirp.users.user_deleted");
    expect(publish.spanContext().traceId).toBe(recorded.traceId);
    expect(publish.parentSpanContext?.spanId).toBe(recorded.spanId);
    expect(publish.resource.attributes["service.name"]).toBe("restarted");
    expect(processed.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    expect(handled[0]!.headers?.traceparent).toBe(`00-${recorded.traceId}-${publish.spanContext().spanId}-01`);
    expect(await docs.countDocuments({ "outbox.id": { $exists: true } })).toBe(0);
  });
});
