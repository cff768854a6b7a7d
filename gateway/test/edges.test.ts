import { createPrivateKey } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as http1Request } from "node:http";
import { connect as http2Connect, type IncomingHttpHeaders } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { generateSigningKeyPair, parseVerificationKey, TokenSigner } from "@chirp/kit";
import { bindService, GrpcServer, type ServiceHandlers } from "@chirp/kit/grpc";
import { TimelineServiceService } from "@chirp/proto/grpc/chirp/timeline/v1/timeline";
import { startGateway, type GatewayApp } from "../src/app.js";
import { TrustedProxies } from "../src/client-address.js";
import { loadConfig, type GatewayConfig } from "../src/config.js";
import { gatewayConfig, upstreamGuard } from "./fixtures.js";

const ALICE = "01M83VMQVV99P26KZM1TRZB034";
const BOB = "01M83VMQVV99P26KZM1TRZB035";
const TIMELINE = "/chirp.timeline.v1.TimelineService";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** GetHomeTimelineRequest bytes: page_token (field 2) says 5 bytes follow, 1 does. */
const TRUNCATED = Buffer.from([0x12, 0x05, 0x61]);
/** GetHomeTimelineRequest bytes: page_token (field 2) holds "h", 0xff, "(": not UTF-8. */
const NOT_UTF8 = Buffer.from([0x12, 0x03, 0x68, 0xff, 0x28]);
/** StreamHomeTimelineRequest (empty) bytes: an unknown field 1 says 5 bytes follow, 1 does. */
const TRUNCATED_STREAM_REQUEST = Buffer.from([0x0a, 0x05, 0x61]);

const envelope = (data: Uint8Array, flags = 0) => {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(data.byteLength, 1);
  return Buffer.concat([head, data]);
};

function envelopes(body: Buffer): { flags: number; data: Buffer }[] {
  const found: { flags: number; data: Buffer }[] = [];
  for (let at = 0; at + 5 <= body.byteLength; ) {
    const length = body.readUInt32BE(at + 1);
    found.push({ flags: body[at]!, data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return found;
}

interface Outcome {
  /** The gRPC status or Connect code, as a gRPC status number. */
  status: number;
  message: string;
  requestId: string | null;
  httpStatus: number;
}

const CONNECT_CODES: Record<string, number> = { invalid_argument: 3, internal: 13, resource_exhausted: 8, unauthenticated: 16 };
/** How the gateway's log lines name those codes. */
const CODE_NAMES: Record<number, string> = { 3: "InvalidArgument", 8: "ResourceExhausted", 13: "Internal", 16: "Unauthenticated" };

describe("the gateway's edges: hostile bytes, forged headers, budgets and paths", () => {
  const logged: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
  const keys = generateSigningKeyPair();
  const signer = new TokenSigner(createPrivateKey(keys.privateKeyPem), { issuer: "chirp", audience: "chirp", ttlSeconds: 900 });
  const bearer = (id: string) => `Bearer ${signer.sign(id).token}`;
  const upstreamSaw: { method: string; requestId: string; pageToken?: string }[] = [];
  let upstream: GrpcServer;
  const gateways: GatewayApp[] = [];
  let gateway: GatewayApp;
  /** The gateway the protocol helpers below call: `gateway`, unless a test says otherwise. */
  let serving: GatewayApp;
  let web: string;

  beforeAll(async () => {
    const handlers: ServiceHandlers<typeof TimelineServiceService> = {
      async getHomeTimeline(req, ctx) {
        upstreamSaw.push({ method: "GetHomeTimeline", requestId: ctx.requestId, pageToken: req.pageToken });
        return { items: [], nextPageToken: "", sinceToken: "" };
      },
      async getHomeTimelineUpdates(_req, ctx) {
        upstreamSaw.push({ method: "GetHomeTimelineUpdates", requestId: ctx.requestId });
        return { items: [], sinceToken: "", hasMore: false };
      },
      async streamHomeTimeline(_req, ctx) {
        upstreamSaw.push({ method: "StreamHomeTimeline", requestId: ctx.requestId });
      },
    };
    const quiet = pino({ level: "silent" });
    upstream = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [TimelineServiceService], log: quiet });
    upstream.activate(TimelineServiceService, bindService(TimelineServiceService, handlers, quiet, undefined, upstreamGuard(TimelineServiceService, keys.publicKeyPem)));
    web = mkdtempSync(join(tmpdir(), "chirp-edges-"));
    mkdirSync(join(web, "www"));
    mkdirSync(join(web, "www-secret"));
    writeFileSync(join(web, "www", "index.html"), "<p>the web client</p>");
    writeFileSync(join(web, "www-secret", "keys.html"), "<p>not for the web</p>");
    gateway = await gatewayWith({ webRoot: join(web, "www") });
    serving = gateway;
  });

  afterAll(async () => {
    for (const g of gateways) await g.stop();
    await upstream.shutdown();
    rmSync(web, { recursive: true, force: true });
  });

  async function gatewayWith(settings: Partial<GatewayConfig>): Promise<GatewayApp> {
    const started = await startGateway(gatewayConfig({ upstreams: { timeline: `127.0.0.1:${upstream.port}` }, ...settings }), {
      log,
      publicKeys: [parseVerificationKey(keys.publicKeyPem)],
    });
    gateways.push(started);
    return started;
  }

  /** The log lines of one request id. */
  const linesOf = (requestId: string | null) => logged.filter((line) => line.requestId === requestId);

  /** Connect unary over HTTP/1.1, bytes as given. */
  async function connectUnary(method: string, body: Uint8Array, contentType: string, headers: Record<string, string> = {}): Promise<Outcome> {
    const response = await fetch(`http://127.0.0.1:${serving.httpPort}${TIMELINE}/${method}`, {
      method: "POST",
      headers: { authorization: bearer(ALICE), "content-type": contentType, ...headers },
      body,
    });
    return connectOutcome(response);
  }

  async function connectOutcome(response: Response): Promise<Outcome> {
    const text = await response.text();
    const requestId = response.headers.get("x-request-id");
    if (response.status === 200) return { status: 0, message: "", requestId, httpStatus: 200 };
    const error = JSON.parse(text) as { code: string; message?: string };
    return { status: CONNECT_CODES[error.code] ?? -1, message: error.message ?? "", requestId, httpStatus: response.status };
  }

  /** Connect server streaming over HTTP/1.1: the end-of-stream message's error, if any. */
  async function connectStream(method: string, message: Uint8Array, contentType = "application/connect+proto"): Promise<Outcome> {
    const response = await fetch(`http://127.0.0.1:${serving.httpPort}${TIMELINE}/${method}`, {
      method: "POST",
      headers: { authorization: bearer(ALICE), "content-type": contentType },
      body: envelope(message),
    });
    const frames = envelopes(Buffer.from(await response.arrayBuffer()));
    const end = JSON.parse(frames.find((f) => f.flags & 2)!.data.toString()) as { error?: { code: string; message?: string }; metadata?: Record<string, string[]> };
    return {
      status: end.error ? (CONNECT_CODES[end.error.code] ?? -1) : 0,
      message: end.error?.message ?? "",
      // An error that ends a stream carries the id in the end-of-stream metadata (the headers are sent by then).
      requestId: response.headers.get("x-request-id") ?? end.metadata?.["x-request-id"]?.[0] ?? null,
      httpStatus: response.status,
    };
  }

  /** gRPC-Web over HTTP/1.1: the status in its trailer frame (or its headers). */
  async function grpcWeb(method: string, message: Uint8Array): Promise<Outcome> {
    const response = await fetch(`http://127.0.0.1:${serving.httpPort}${TIMELINE}/${method}`, {
      method: "POST",
      headers: { authorization: bearer(ALICE), "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      body: envelope(message),
    });
    const frames = envelopes(Buffer.from(await response.arrayBuffer()));
    const trailer = new Headers();
    for (const line of (frames.find((f) => f.flags & 0x80)?.data.toString() ?? "").split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) trailer.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const status = trailer.get("grpc-status") ?? response.headers.get("grpc-status");
    const text = trailer.get("grpc-message") ?? response.headers.get("grpc-message") ?? "";
    return { status: Number(status), message: decodeURIComponent(text), requestId: response.headers.get("x-request-id") ?? trailer.get("x-request-id"), httpStatus: response.status };
  }

  /** gRPC over cleartext HTTP/2, one message as given. */
  function grpc(method: string, message: Uint8Array): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      const session = http2Connect(`http://127.0.0.1:${serving.http2Port}`);
      session.on("error", reject);
      const stream = session.request({
        ":method": "POST",
        ":path": `${TIMELINE}/${method}`,
        "content-type": "application/grpc+proto",
        te: "trailers",
        authorization: bearer(ALICE),
      });
      let headers: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders = {};
      stream.on("response", (h) => (headers = h));
      stream.on("trailers", (t) => (trailers = t));
      stream.on("data", () => undefined);
      stream.on("error", reject);
      stream.on("close", () => {
        session.close();
        const status = trailers["grpc-status"] ?? headers["grpc-status"];
        const text = String(trailers["grpc-message"] ?? headers["grpc-message"] ?? "");
        resolve({ status: Number(status), message: decodeURIComponent(text), requestId: ((headers["x-request-id"] ?? trailers["x-request-id"]) as string | undefined) ?? null, httpStatus: Number(headers[":status"]) });
      });
      stream.end(envelope(message));
    });
  }

  /** A GET whose path reaches the server exactly as written (fetch would resolve the dots). */
  function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http1Request({ host: "127.0.0.1", port, path, method: "GET" }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on("error", reject);
      req.end();
    });
  }

  /** Checks a refusal: its code, that it names the request message, and that the gateway logged it under the id it answered with. */
  function expectRefused(outcome: Outcome, status: number, message: RegExp) {
    expect([outcome.status, outcome.message]).toEqual([status, expect.stringMatching(message)]);
    expect(outcome.requestId).toMatch(UUID);
    const lines = linesOf(outcome.requestId);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.some((line) => line.code === CODE_NAMES[status])).toBe(true);
  }

  describe("a request message that is not valid protobuf", () => {
    const invalid = /^request: not a valid chirp\.timeline\.v1\.GetHomeTimelineRequest: /;
    const invalidStream = /^request: not a valid chirp\.timeline\.v1\.StreamHomeTimelineRequest: /;

    it.each([
      ["truncated", TRUNCATED],
      ["with a string that is not UTF-8", NOT_UTF8],
    ])("is INVALID_ARGUMENT (HTTP 400) for Connect binary when %s, logged with the request id", async (_case, bytes) => {
      const before = upstreamSaw.length;
      const outcome = await connectUnary("GetHomeTimeline", bytes, "application/proto");
      expect(outcome.httpStatus).toBe(400);
      expectRefused(outcome, 3, invalid);
      expect(upstreamSaw.length).toBe(before);
    });

    it("is INVALID_ARGUMENT for a Connect GET with encoding=proto", async () => {
      const query = `connect=v1&encoding=proto&base64=1&message=${TRUNCATED.toString("base64url")}`;
      const response = await fetch(`http://127.0.0.1:${gateway.httpPort}${TIMELINE}/GetHomeTimeline?${query}`, { headers: { authorization: bearer(ALICE) } });
      const outcome = await connectOutcome(response);
      expect(outcome.httpStatus).toBe(400);
      expectRefused(outcome, 3, invalid);
    });

    it.each([
      ["truncated", TRUNCATED],
      ["with a string that is not UTF-8", NOT_UTF8],
    ])("is INVALID_ARGUMENT for gRPC-Web when %s", async (_case, bytes) => {
      expectRefused(await grpcWeb("GetHomeTimeline", bytes), 3, invalid);
    });

    it.each([
      ["truncated", TRUNCATED],
      ["with a string that is not UTF-8", NOT_UTF8],
    ])("is INVALID_ARGUMENT for gRPC when %s", async (_case, bytes) => {
      expectRefused(await grpc("GetHomeTimeline", bytes), 3, invalid);
    });

    it("is INVALID_ARGUMENT when it opens a server stream, for every protocol", async () => {
      const before = upstreamSaw.length;
      expectRefused(await connectStream("StreamHomeTimeline", TRUNCATED_STREAM_REQUEST), 3, invalidStream);
      expectRefused(await grpcWeb("StreamHomeTimeline", TRUNCATED_STREAM_REQUEST), 3, invalidStream);
      expectRefused(await grpc("StreamHomeTimeline", TRUNCATED_STREAM_REQUEST), 3, invalidStream);
      expect(upstreamSaw.length).toBe(before);
    });

    it("still lets a valid message through on every protocol", async () => {
      const valid = Buffer.from([0x08, 0x05, 0x12, 0x02, 0x6f, 0x6b]); // page_size 5, page_token "ok"
      expect((await connectUnary("GetHomeTimeline", valid, "application/proto")).status).toBe(0);
      expect((await grpcWeb("GetHomeTimeline", valid)).status).toBe(0);
      expect((await grpc("GetHomeTimeline", valid)).status).toBe(0);
      expect(upstreamSaw.slice(-3).map((seen) => seen.pageToken)).toEqual(["ok", "ok", "ok"]);
    });
  });

  describe("bytes the gateway passes on without reading, that the service cannot read", () => {
    /**
     * A newer timeline service, whose GetHomeTimelineRequest has a string field 3 this gateway's
     * schema lacks: the gateway keeps the field as unknown bytes and forwards them as they came.
     */
    const NEWER_FIELD = 3;
    let newer: GrpcServer;
    let front: GatewayApp;
    const reached: string[] = [];

    beforeAll(async () => {
      const base = TimelineServiceService.getHomeTimeline;
      const definition = {
        ...TimelineServiceService,
        getHomeTimeline: {
          ...base,
          requestDeserialize: (bytes: Buffer) => {
            const request = base.requestDeserialize(bytes);
            for (const reader = new BinaryReader(bytes); reader.pos < reader.len; ) {
              const [no, wireType] = reader.tag();
              if (no === NEWER_FIELD && wireType === WireType.LengthDelimited) reader.string();
              else reader.skip(wireType);
            }
            return request;
          },
        },
      };
      const quiet = pino({ level: "silent" });
      newer = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [definition], log: quiet });
      const notUsed = async (): Promise<never> => {
        throw new Error("not used in this test");
      };
      newer.activate(
        definition,
        bindService(definition, {
          async getHomeTimeline() {
            reached.push("GetHomeTimeline");
            return { items: [], nextPageToken: "", sinceToken: "" };
          },
          getHomeTimelineUpdates: notUsed,
          streamHomeTimeline: notUsed,
        }, quiet, undefined, upstreamGuard(definition, keys.publicKeyPem)),
      );
      front = await startGateway(gatewayConfig({ upstreams: { timeline: `127.0.0.1:${newer.port}` } }), { log, publicKeys: [parseVerificationKey(keys.publicKeyPem)] });
      gateways.push(front);
    });

    beforeEach(() => (serving = front));
    afterEach(() => (serving = gateway));

    afterAll(async () => {
      await newer.shutdown();
    });

    it("comes back INVALID_ARGUMENT from the service, on every protocol", async () => {
      // Field 3, 2 bytes: "h", 0xff: not UTF-8, which only the newer service can tell.
      const bytes = Buffer.from([0x1a, 0x02, 0x68, 0xff]);
      const invalid = /^request: not a valid request message for \/chirp\.timeline\.v1\.TimelineService\/GetHomeTimeline: /;
      for (const outcome of [await connectUnary("GetHomeTimeline", bytes, "application/proto"), await grpcWeb("GetHomeTimeline", bytes), await grpc("GetHomeTimeline", bytes)]) {
        expect([outcome.status, outcome.message]).toEqual([3, expect.stringMatching(invalid)]);
        expect(linesOf(outcome.requestId)).toEqual([expect.objectContaining({ code: "InvalidArgument" })]);
      }
      expect(reached).toEqual([]);
      expect((await connectUnary("GetHomeTimeline", Buffer.from([0x1a, 0x02, 0x68, 0x69]), "application/proto")).status).toBe(0);
      expect(reached).toEqual(["GetHomeTimeline"]);
    });
  });

  describe("Connect JSON that is not UTF-8", () => {
    const notUtf8 = /^request: .*not valid UTF-8/;
    const body = Buffer.concat([Buffer.from('{"pageToken":"hello '), Buffer.from([0xff]), Buffer.from('( world"}')]);

    it("is refused with INVALID_ARGUMENT, not read with U+FFFD in its place", async () => {
      const before = upstreamSaw.length;
      const outcome = await connectUnary("GetHomeTimeline", body, "application/json");
      expect(outcome.httpStatus).toBe(400);
      expectRefused(outcome, 3, notUtf8);
      expect(upstreamSaw.length).toBe(before);
    });

    it("is refused in a Connect GET's percent-encoded message", async () => {
      const before = upstreamSaw.length;
      const query = "connect=v1&encoding=json&message=%7B%22pageToken%22%3A%22hello%20%FF(%20world%22%7D";
      const response = await fetch(`http://127.0.0.1:${gateway.httpPort}${TIMELINE}/GetHomeTimeline?${query}`, { headers: { authorization: bearer(ALICE) } });
      const outcome = await connectOutcome(response);
      expect(outcome.httpStatus).toBe(400);
      expectRefused(outcome, 3, notUtf8);
      expect(upstreamSaw.length).toBe(before);
    });

    it("is refused when it opens a stream", async () => {
      const stream = await connectStream("StreamHomeTimeline", Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), "application/connect+json");
      expectRefused(stream, 3, notUtf8);
    });

    it("keeps valid text outside ASCII as it is", async () => {
      const outcome = await connectUnary("GetHomeTimeline", Buffer.from(JSON.stringify({ pageToken: "naïve café 東京 🐦" })), "application/json");
      expect(outcome.status).toBe(0);
      expect(upstreamSaw.at(-1)?.pageToken).toBe("naïve café 東京 🐦");
    });
  });

  describe("x-request-id", () => {
    it.each([
      ['{"forged":"admin did it"}'],
      ["x".repeat(65)],
      ["line\u0085break"],
      ["has space"],
    ])("is replaced by a new id when it is not a short plain token: %j", async (forged) => {
      const before = upstreamSaw.length;
      const response = await fetch(`http://127.0.0.1:${gateway.httpPort}${TIMELINE}/GetHomeTimeline`, {
        method: "POST",
        headers: { authorization: bearer(ALICE), "content-type": "application/json", "x-request-id": Buffer.from(forged).toString("latin1") },
        body: "{}",
      });
      expect(response.status).toBe(200);
      const id = response.headers.get("x-request-id");
      expect(id).toMatch(UUID);
      expect(upstreamSaw.slice(before).map((seen) => seen.requestId)).toEqual([id]);
      expect(JSON.stringify(logged)).not.toContain("admin did it");
    });

    it("is kept when it is one, and reaches the service", async () => {
      const before = upstreamSaw.length;
      const id = "trace:01HZX-abc_1.2";
      const response = await fetch(`http://127.0.0.1:${gateway.httpPort}${TIMELINE}/GetHomeTimeline`, {
        method: "POST",
        headers: { authorization: bearer(ALICE), "content-type": "application/json", "x-request-id": id },
        body: "{}",
      });
      expect(response.headers.get("x-request-id")).toBe(id);
      expect(upstreamSaw.slice(before).map((seen) => seen.requestId)).toEqual([id]);
    });
  });

  describe("refusals before any handler runs", () => {
    it("are logged with their status and request id", async () => {
      const response = await fetch(`http://127.0.0.1:${gateway.httpPort}${TIMELINE}/GetHomeTimeline`, {
        method: "POST",
        headers: { authorization: bearer(ALICE), "content-type": "application/json" },
        body: "{not json",
      });
      const outcome = await connectOutcome(response);
      expect([outcome.httpStatus, outcome.status]).toEqual([400, 3]);
      expect(outcome.requestId).toMatch(UUID);
      expect(linesOf(outcome.requestId)).toEqual([
        expect.objectContaining({ method: "chirp.timeline.v1.TimelineService/GetHomeTimeline", code: "InvalidArgument", httpStatus: 400 }),
      ]);
    });

    it("are logged for a method that does not exist", async () => {
      const response = await fetch(`http://127.0.0.1:${gateway.httpPort}${TIMELINE}/DeleteEverything`, {
        method: "POST",
        headers: { authorization: bearer(ALICE), "content-type": "application/json" },
        body: "{}",
      });
      expect(response.status).toBe(404);
      const requestId = response.headers.get("x-request-id");
      expect(requestId).toMatch(UUID);
      expect(linesOf(requestId)).toEqual([expect.objectContaining({ path: `${TIMELINE}/DeleteEverything`, httpStatus: 404 })]);
    });

    it("are logged for a content type no protocol serves", async () => {
      const response = await fetch(`http://127.0.0.1:${gateway.httpPort}${TIMELINE}/GetHomeTimeline`, {
        method: "POST",
        headers: { authorization: bearer(ALICE), "content-type": "text/plain" },
        body: "hello",
      });
      expect(response.status).toBe(415);
      const requestId = response.headers.get("x-request-id");
      expect(requestId).toMatch(UUID);
      expect(linesOf(requestId)).toEqual([expect.objectContaining({ method: "chirp.timeline.v1.TimelineService/GetHomeTimeline", httpStatus: 415 })]);
    });
  });

  describe("client addresses behind a proxy", () => {
    const login = (port: number, forwardedFor?: string) =>
      fetch(`http://127.0.0.1:${port}/chirp.users.v1.UsersService/Login`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(forwardedFor ? { "x-forwarded-for": forwardedFor } : {}) },
        body: JSON.stringify({ usernameOrEmail: "alice", password: "correct horse" }),
      }).then(connectOutcome);
    // The users service is not running: a call the limiter lets through is UNAVAILABLE.
    const LIMITED = 8;

    it("rate-limits logins per X-Forwarded-For client when the peer is a trusted proxy", async () => {
      const behindProxy = await gatewayWith({ writeBurst: 1, writesPerMinute: 1, trustedProxies: ["127.0.0.0/8"] });
      expect((await login(behindProxy.httpPort, "203.0.113.7")).status).not.toBe(LIMITED);
      expect((await login(behindProxy.httpPort, "203.0.113.7")).status).toBe(LIMITED);
      // Another client behind the same proxy has a budget of its own; a forged hop to its left changes nothing.
      expect((await login(behindProxy.httpPort, "203.0.113.8")).status).not.toBe(LIMITED);
      expect((await login(behindProxy.httpPort, "198.51.100.1, 203.0.113.7")).status).toBe(LIMITED);
    });

    it("ignores X-Forwarded-For from a peer that is not a trusted proxy", async () => {
      const direct = await gatewayWith({ writeBurst: 1, writesPerMinute: 1, trustedProxies: ["10.0.0.0/8"] });
      expect((await login(direct.httpPort, "203.0.113.7")).status).not.toBe(LIMITED);
      expect((await login(direct.httpPort, "203.0.113.8")).status).toBe(LIMITED);
    });
  });

  describe("reads", () => {
    it("are rate-limited per caller with a retry hint, leaving other callers alone", async () => {
      const strict = await gatewayWith({ readBurst: 3, readsPerMinute: 6 });
      const read = (who: string) =>
        fetch(`http://127.0.0.1:${strict.httpPort}${TIMELINE}/GetHomeTimeline`, {
          method: "POST",
          headers: { authorization: bearer(who), "content-type": "application/json" },
          body: JSON.stringify({ pageSize: 100 }),
        });
      for (let i = 0; i < 3; i++) expect((await read(ALICE)).status).toBe(200);
      const limited = await read(ALICE);
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      const outcome = await connectOutcome(limited);
      expect([outcome.httpStatus, outcome.status]).toEqual([429, 8]);
      expect(outcome.message).toMatch(/^too many reads: retry after \d+ s$/);
      expect(linesOf(outcome.requestId)).toEqual([expect.objectContaining({ code: "ResourceExhausted" })]);
      expect((await read(BOB)).status).toBe(200);
    });
  });

  describe("static files", () => {
    it("serves the web client's own files", async () => {
      expect(await rawGet(gateway.httpPort, "/")).toEqual({ status: 200, body: "<p>the web client</p>" });
      expect(await rawGet(gateway.httpPort, "/index.html")).toEqual({ status: 200, body: "<p>the web client</p>" });
    });

    it("serves them with a Content Security Policy and framing protection", async () => {
      const response = await fetch(`http://127.0.0.1:${gateway.httpPort}/`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-security-policy")).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      );
      expect(response.headers.get("x-frame-options")).toBe("DENY");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    });

    it.each(["/../www-secret/keys.html", "/..%2fwww-secret/keys.html", "/../../www-secret/keys.html", "/./../www-secret/keys.html"])(
      "serves nothing from a sibling directory whose name starts like the root: %s",
      async (path) => {
        const { status, body } = await rawGet(gateway.httpPort, path);
        expect(status).toBe(404);
        expect(body).not.toContain("not for the web");
      },
    );
  });
});

describe("TrustedProxies", () => {
  const proxies = new TrustedProxies(["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"]);

  it("takes the right-most address that is not a trusted proxy, when the peer is one", () => {
    expect(proxies.clientAddress("10.1.2.3", "198.51.100.1, 203.0.113.9, 10.0.0.5")).toBe("203.0.113.9");
    expect(proxies.clientAddress("192.168.1.7", "203.0.113.9")).toBe("203.0.113.9");
    expect(proxies.clientAddress("2001:db8::1", "2001:db8::2, 2001:db9::7")).toBe("2001:db9::7");
    // Node reports IPv4 peers of a dual-stack socket IPv4-mapped.
    expect(proxies.clientAddress("::ffff:10.1.2.3", "::ffff:203.0.113.9")).toBe("203.0.113.9");
    // Several header lines are one list.
    expect(proxies.clientAddress("10.1.2.3", ["198.51.100.1", "203.0.113.9, 10.0.0.5"])).toBe("203.0.113.9");
  });

  it("ignores the header from any other peer, and without a header keeps the peer", () => {
    expect(proxies.clientAddress("203.0.113.50", "198.51.100.1")).toBe("203.0.113.50");
    expect(proxies.clientAddress("10.1.2.3", undefined)).toBe("10.1.2.3");
    expect(new TrustedProxies([]).clientAddress("10.1.2.3", "198.51.100.1")).toBe("10.1.2.3");
  });

  it("stops at what is not an address, keeping the last real one", () => {
    expect(proxies.clientAddress("10.1.2.3", "<script>, 203.0.113.9")).toBe("203.0.113.9");
    expect(proxies.clientAddress("10.1.2.3", "203.0.113.9, unknown")).toBe("10.1.2.3");
    expect(proxies.clientAddress("10.1.2.3", "10.0.0.9")).toBe("10.0.0.9");
  });

  it("reads only the right end of a long header, and at most 16 hops", () => {
    // Only the last 1 KiB is read, so the hops in front, however many, cost nothing (their cost
    // is timed by no test: a quadratic walk over 50,000 of them would exceed the test's timeout).
    const long = `${"198.51.100.1, ".repeat(50_000)}203.0.113.9`;
    expect(proxies.clientAddress("10.1.2.3", long)).toBe("203.0.113.9");
    const deep = ["203.0.113.9", ...Array.from({ length: 20 }, (_, i) => `10.0.0.${i + 1}`)].join(", ");
    expect(proxies.clientAddress("10.1.2.3", deep)).toBe("10.0.0.5");
  });
});

describe("gateway configuration of limits and proxies", () => {
  const env = { AUTH_PUBLIC_KEY: generateSigningKeyPair().publicKeyPem };

  it("reads TRUSTED_PROXIES as addresses and CIDR ranges, none by default", () => {
    expect(loadConfig(env).trustedProxies).toEqual([]);
    expect(loadConfig({ ...env, TRUSTED_PROXIES: " 10.0.0.0/8, 192.168.1.7 ,2001:db8::/32" }).trustedProxies).toEqual(["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"]);
  });

  it.each(["10.0.0.0/33", "ingress", "10.0.0.0/8/8", "10.0.0.0/x", "2001:db8::/129"])("refuses TRUSTED_PROXIES=%s", (entry) => {
    expect(() => loadConfig({ ...env, TRUSTED_PROXIES: entry })).toThrow(/TRUSTED_PROXIES/);
  });

  it("refuses more than 64 TRUSTED_PROXIES entries", () => {
    const many = Array.from({ length: 65 }, (_, i) => `10.0.${i}.1`).join(",");
    expect(() => loadConfig({ ...env, TRUSTED_PROXIES: many })).toThrow(/TRUSTED_PROXIES: at most 64/);
  });

  it("has a read budget apart from the write budget", () => {
    expect(loadConfig(env)).toEqual(expect.objectContaining({ readsPerMinute: 600, readBurst: 120, writesPerMinute: 120, writeBurst: 30 }));
    expect(loadConfig({ ...env, READS_PER_MINUTE: "60", READ_BURST: "10" })).toEqual(expect.objectContaining({ readsPerMinute: 60, readBurst: 10 }));
    expect(() => loadConfig({ ...env, READ_BURST: "0" })).toThrow(/READ_BURST/);
  });
});
