import { status, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";
import { pino } from "pino";
import { bindService, GrpcServer, meshChannelOptions, type CallContext } from "@chirp/kit/grpc";
import { asCaller, testCallGuard, testChannel, testTls } from "@chirp/kit/testing";
import { LoadTestServiceClient, LoadTestServiceService, type NoopRequest } from "@chirp/proto/grpc/chirp/loadtest/v1/loadtest";

/**
 * A call's logger and signal are made only when a handler reads them (context.ts): these tests
 * hold what handlers rely on whichever way they use them, and whenever they first read them.
 */
describe("a served call's context", () => {
  const logged: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
  /** What each handler saw of its signal, by request id. */
  const seen = new Map<string, { abortedAtFirstRead: boolean; reason?: string }>();
  let server: GrpcServer;
  let client: LoadTestServiceClient;

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const aborted = (signal: AbortSignal) => new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));

  /** The payload says what the handler does: "quiet", "log", "signal-later", "signal-now". */
  async function noop(request: NoopRequest, ctx: CallContext) {
    if (request.payload === "log") ctx.log.info({ step: "inside" }, "handler line");
    if (request.payload === "signal-now" || request.payload === "signal-later") {
      // "signal-later" first reads the signal after the client has given up.
      if (request.payload === "signal-later") await sleep(700);
      const signal = ctx.signal;
      seen.set(ctx.requestId, { abortedAtFirstRead: signal.aborted });
      await aborted(signal);
      seen.set(ctx.requestId, { ...seen.get(ctx.requestId)!, reason: String((signal.reason as Error).message) });
    }
    return { payload: request.payload };
  }

  const eventually = async (check: () => boolean) => {
    for (let i = 0; i < 250 && !check(); i++) await sleep(20);
  };
  const call = (payload: string, requestId: string, options: { deadlineMs?: number; cancelAfterMs?: number; cancelOnceRead?: boolean } = {}) => {
    const metadata = asCaller("01J00000000000000000000001", { requestId });
    return new Promise<ServiceError | null>((resolve) => {
      const made: ClientUnaryCall = client.noop({ payload }, metadata, { deadline: Date.now() + (options.deadlineMs ?? 5_000) }, (error) => resolve(error));
      if (options.cancelAfterMs !== undefined) setTimeout(() => made.cancel(), options.cancelAfterMs);
      // Once the handler has read its signal: cancelled while it waits on it.
      if (options.cancelOnceRead) void eventually(() => seen.has(requestId)).then(() => made.cancel());
    });
  };
  const lines = (requestId: string) => logged.filter((line) => line.requestId === requestId);

  beforeAll(async () => {
    server = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log, tls: testTls("loadtest") });
    server.activate(LoadTestServiceService, bindService(LoadTestServiceService, { noop }, log, undefined, testCallGuard(LoadTestServiceService)));
    client = new LoadTestServiceClient(`127.0.0.1:${server.port}`, testChannel("gateway", "loadtest"), meshChannelOptions("loadtest"));
  });

  afterAll(async () => {
    client.close();
    await server.shutdown();
  });

  it("logs the call's end with its request id, method, caller and peer, whether or not the handler logged", async () => {
    expect(await call("quiet", "quiet-1")).toBeNull();
    expect(await call("log", "loud-1")).toBeNull();
    const fields = { method: "/chirp.loadtest.v1.LoadTestService/Noop", callerId: "01J00000000000000000000001", peer: "gateway" };
    expect(lines("quiet-1")).toEqual([expect.objectContaining({ ...fields, requestId: "quiet-1", code: "OK", msg: "rpc finished" })]);
    expect(lines("loud-1")).toEqual([
      expect.objectContaining({ ...fields, requestId: "loud-1", step: "inside", msg: "handler line" }),
      expect.objectContaining({ ...fields, requestId: "loud-1", code: "OK", msg: "rpc finished" }),
    ]);
  });

  it("aborts the signal when the client cancels, also when the handler first reads it afterwards", async () => {
    expect((await call("signal-now", "cancel-now", { cancelOnceRead: true }))?.code).toBe(status.CANCELLED);
    expect((await call("signal-later", "cancel-later", { cancelAfterMs: 100 }))?.code).toBe(status.CANCELLED);
    await eventually(() => seen.get("cancel-now")?.reason !== undefined && seen.get("cancel-later")?.reason !== undefined);
    expect(seen.get("cancel-now")).toEqual({ abortedAtFirstRead: false, reason: "the call was cancelled" });
    expect(seen.get("cancel-later")).toEqual({ abortedAtFirstRead: true, reason: "the call was cancelled" });
  });

  it("aborts the signal when the deadline passes, also when the handler first reads it afterwards", async () => {
    expect((await call("signal-now", "deadline-now", { deadlineMs: 400 }))?.code).toBe(status.DEADLINE_EXCEEDED);
    expect((await call("signal-later", "deadline-later", { deadlineMs: 400 }))?.code).toBe(status.DEADLINE_EXCEEDED);
    await eventually(() => seen.get("deadline-now")?.reason !== undefined && seen.get("deadline-later")?.reason !== undefined);
    // Aborted by the deadline, or by the client's cancellation (grpc-js cancels a call whose
    // deadline passed), whichever the server hears of first.
    const byDeadline = /^the call('s deadline passed| was cancelled)$/;
    expect(seen.get("deadline-now")).toEqual({ abortedAtFirstRead: false, reason: expect.stringMatching(byDeadline) });
    // Read after the deadline, the signal is aborted already.
    expect(seen.get("deadline-later")).toEqual({ abortedAtFirstRead: true, reason: expect.stringMatching(byDeadline) });
  });
});
