import { testCallGuard, testChannel, testTls } from "@chirp/kit/testing";
import { makeGenericClientConstructor, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { pino } from "pino";
import { bindService, GrpcServer, MAX_REQUEST_BYTES, REQUEST_ID_KEY, type ServiceHandlers } from "@chirp/kit/grpc";
import { StreamHomeTimelineResponse, TimelineServiceService } from "@chirp/proto/grpc/chirp/timeline/v1/timeline";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A client that sends whatever bytes it is given to a timeline method, as a direct caller of the service could. */
const RawClient = makeGenericClientConstructor(
  {
    getHomeTimeline: {
      path: "/chirp.timeline.v1.TimelineService/GetHomeTimeline",
      requestStream: false,
      responseStream: false,
      requestSerialize: (bytes: Buffer) => bytes,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: (bytes: Buffer) => bytes,
      responseDeserialize: (bytes: Buffer) => bytes,
    },
    streamHomeTimeline: {
      path: "/chirp.timeline.v1.TimelineService/StreamHomeTimeline",
      requestStream: false,
      responseStream: true,
      requestSerialize: (bytes: Buffer) => bytes,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: (bytes: Buffer) => bytes,
      responseDeserialize: (bytes: Buffer) => bytes,
    },
  },
  "TimelineService",
);
interface RawClient {
  getHomeTimeline(request: Buffer, metadata: Metadata, callback: (error: ServiceError | null, response?: Buffer) => void): { on(event: "metadata", listener: (md: Metadata) => void): void };
  streamHomeTimeline(request: Buffer, metadata: Metadata): NodeJS.EventEmitter;
  close(): void;
}

interface Answer {
  error: ServiceError | null;
  response?: Buffer;
  requestId?: string;
}

describe("requests a service cannot read, and the ids callers send", () => {
  const logged: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
  const seen: { pageToken: string; requestId: string }[] = [];
  let server: GrpcServer;
  let client: RawClient;

  beforeAll(async () => {
    const handlers: ServiceHandlers<typeof TimelineServiceService> = {
      async getHomeTimeline(req, ctx) {
        seen.push({ pageToken: req.pageToken, requestId: ctx.requestId });
        return { items: [], nextPageToken: "", sinceToken: "" };
      },
      async getHomeTimelineUpdates() {
        return { items: [], sinceToken: "", hasMore: false };
      },
      async streamHomeTimeline(_req, ctx, send) {
        seen.push({ pageToken: "", requestId: ctx.requestId });
        await send(StreamHomeTimelineResponse.fromPartial({}));
      },
    };
    server = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [TimelineServiceService], log, tls: testTls("timeline") });
    server.activate(TimelineServiceService, bindService(TimelineServiceService, handlers, log, undefined, testCallGuard(TimelineServiceService)));
    client = new RawClient(`127.0.0.1:${server.port}`, testChannel()) as unknown as RawClient;
  });

  afterAll(async () => {
    client.close();
    await server.shutdown();
  });

  function unary(bytes: Buffer, requestId?: string): Promise<Answer> {
    const metadata = new Metadata();
    if (requestId !== undefined) metadata.set(REQUEST_ID_KEY, requestId);
    return new Promise((resolve) => {
      let echoed: string | undefined;
      const call = client.getHomeTimeline(bytes, metadata, (error, response) => resolve({ error, response, requestId: echoed }));
      call.on("metadata", (md) => (echoed = md.get(REQUEST_ID_KEY)[0] as string | undefined));
    });
  }

  function stream(bytes: Buffer): Promise<ServiceError | null> {
    return new Promise((resolve) => {
      const call = client.streamHomeTimeline(bytes, new Metadata());
      call.on("data", () => undefined);
      call.on("error", (error: ServiceError) => resolve(error));
      call.on("end", () => resolve(null));
    });
  }

  it.each([
    ["truncated", Buffer.from([0x12, 0x05, 0x61])],
    ["a field with a wire type that does not exist", Buffer.from([0x0f])],
    ["a string that is not UTF-8", Buffer.from([0x12, 0x03, 0x68, 0xff, 0x28])],
  ])("answers INVALID_ARGUMENT to a request that is %s, before the handler, and logs it", async (_case, bytes) => {
    const before = seen.length;
    const { error } = await unary(bytes, "bad-bytes-1");
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error?.details).toMatch(/^request: not a valid request message for \/chirp\.timeline\.v1\.TimelineService\/GetHomeTimeline: .+/);
    expect(seen.length).toBe(before);
    expect(logged.filter((line) => line.requestId === "bad-bytes-1").at(-1)).toEqual(
      expect.objectContaining({ method: "/chirp.timeline.v1.TimelineService/GetHomeTimeline", code: "INVALID_ARGUMENT" }),
    );
  });

  it("answers INVALID_ARGUMENT to a stream request it cannot read", async () => {
    const before = seen.length;
    const error = await stream(Buffer.from([0x0a, 0x05, 0x61]));
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(seen.length).toBe(before);
  });

  it("refuses a request over MAX_REQUEST_BYTES before reading it, as RESOURCE_EXHAUSTED", async () => {
    // A page_token field (2) of 1 MiB: well-formed, but more than any request of the mesh needs.
    const body = Buffer.alloc(MAX_REQUEST_BYTES, 0x61);
    const header = Buffer.from([0x12, 0x80 | (body.length & 0x7f), 0x80 | ((body.length >> 7) & 0x7f), body.length >> 14]);
    const before = seen.length;
    const { error } = await unary(Buffer.concat([header, body]));
    expect(error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(seen.length).toBe(before);
    const { error: fine } = await unary(Buffer.from([0x12, 0x01, 0x61]));
    expect(fine).toBeNull();
  });

  it("reads valid requests as before, text outside ASCII included", async () => {
    const token = Buffer.from("naïve 東京 🐦");
    const { error } = await unary(Buffer.concat([Buffer.from([0x12, token.length]), token]), "fine-1");
    expect(error).toBeNull();
    expect(seen.at(-1)).toEqual({ pageToken: "naïve 東京 🐦", requestId: "fine-1" });
    expect(await stream(Buffer.alloc(0))).toBeNull();
  });

  it.each([['{"forged":"admin did it"}'], ["x".repeat(65)], ["has space"], ["semi;colon"]])(
    "makes up a new request id instead of one that is not a short plain token: %j",
    async (forged) => {
      const metadata = new Metadata();
      metadata.set(REQUEST_ID_KEY, forged);
      const answer = await new Promise<Answer>((resolve) => {
        let echoed: string | undefined;
        const call = client.getHomeTimeline(Buffer.alloc(0), metadata, (error, response) => resolve({ error, response, requestId: echoed }));
        call.on("metadata", (md) => (echoed = md.get(REQUEST_ID_KEY)[0] as string | undefined));
      });
      expect(answer.error).toBeNull();
      expect(answer.requestId).toMatch(UUID);
      expect(seen.at(-1)?.requestId).toBe(answer.requestId);
      expect(JSON.stringify(logged)).not.toContain("admin did it");
    },
  );

  it("keeps a request id that is one", async () => {
    const { requestId } = await unary(Buffer.alloc(0), "gw:01HZX-abc_1.2");
    expect(requestId).toBe("gw:01HZX-abc_1.2");
    expect(seen.at(-1)?.requestId).toBe("gw:01HZX-abc_1.2");
  });
});
