import { createPrivateKey } from "node:crypto";
import { request as http1Request } from "node:http";
import { connect as http2Connect, constants as http2Constants, createServer as createRawHttp2Server, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { gunzipSync, gzipSync } from "node:zlib";
import { pino } from "pino";
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { generateSigningKeyPair, invalidArgument, parseVerificationKey, TokenSigner } from "@chirp/kit";
import { bindService, GrpcServer, MeshCertificateSet } from "@chirp/kit/grpc";
import { LoadTestService, NoopRequestSchema, NoopResponseSchema } from "@chirp/proto/es/chirp/loadtest/v1/loadtest_pb";
import { LoadTestServiceService } from "@chirp/proto/grpc/chirp/loadtest/v1/loadtest";
import { startGateway, type GatewayApp } from "../src/app.js";
import { grpcTimeout } from "../src/direct.js";
import type { GatewayConfig } from "../src/config.js";
import { eventually } from "@chirp/kit/testing";
import { gatewayConfig, upstreamGuard } from "./fixtures.js";

const ALICE = "01M83VMQVV99P26KZM1TRZB034";
const NOOP = "/chirp.loadtest.v1.LoadTestService/Noop";

const envelope = (data: Uint8Array, flags = 0) => {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(data.byteLength, 1);
  return Buffer.concat([head, data]);
};
/**
 * google.rpc.Status { code: 8, message: the same words, details: [Any { type_url: "type.test/x" }] }:
 * the status details a service may send beside grpc-status.
 */
const STATUS_MESSAGE = "quota: 100% spent, ça suffit";
const STATUS_WITH_DETAIL = (() => {
  const message = Buffer.from(STATUS_MESSAGE);
  const any = Buffer.concat([Buffer.from([0x0a, 11]), Buffer.from("type.test/x")]);
  return Buffer.concat([Buffer.from([0x08, 8, 0x12, message.byteLength]), message, Buffer.from([0x1a, any.byteLength]), any]);
})();
const noopBytes = (payload: string) => Buffer.from(toBinary(NoopRequestSchema, create(NoopRequestSchema, { payload })));

/**
 * The verified-then-forwarded path (src/direct.ts) that unary calls in binary protobuf take: the
 * same answers as the router's path for every protocol it serves, and every way a call can end.
 */
describe("the gateway's direct path for binary unary calls", () => {
  const logged: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
  const keys = generateSigningKeyPair();
  const signer = new TokenSigner(createPrivateKey(keys.privateKeyPem), { issuer: "chirp", audience: "chirp", ttlSeconds: 900 });
  const bearer = `Bearer ${signer.sign(ALICE).token}`;
  /** When the upstream saw each slow call end, by payload. */
  const aborted = new Map<string, number>();
  let upstream: GrpcServer;
  const gateways: GatewayApp[] = [];
  let gateway: GatewayApp;

  beforeAll(async () => {
    const quiet = pino({ level: "silent" });
    upstream = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log: quiet });
    upstream.activate(
      LoadTestServiceService,
      bindService(
        LoadTestServiceService,
        {
          noop: async (request, ctx) => {
            if (request.payload.startsWith("slow")) {
              const started = Date.now();
              await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
              aborted.set(request.payload, Date.now() - started);
              throw new Error("never answered");
            }
            if (request.payload === "fail") throw invalidArgument("payload", "is not welcome here");
            if (request.payload === "big") return { payload: "x".repeat(20_000) };
            return { payload: `${ctx.callerId ?? "nobody"}|${ctx.requestId}|${request.payload.length}` };
          },
        },
        quiet,
        undefined,
        upstreamGuard(LoadTestServiceService, keys.publicKeyPem),
      ),
    );
    gateway = await gatewayWith({});
  });

  afterAll(async () => {
    for (const g of gateways) await g.stop();
    await upstream.shutdown();
  });

  async function gatewayWith(settings: Partial<GatewayConfig>, address = `127.0.0.1:${upstream.port}`): Promise<GatewayApp> {
    const started = await startGateway(gatewayConfig({ readsPerMinute: 100_000, readBurst: 100_000, ...settings }), {
      log,
      publicKeys: [parseVerificationKey(keys.publicKeyPem)],
      extraUpstreams: [{ name: "loadtest", address, service: LoadTestService }],
    });
    gateways.push(started);
    return started;
  }

  const transports: Record<string, (g: GatewayApp) => Transport> = {
    "Connect binary over HTTP/1.1": (g) => createConnectTransport({ baseUrl: `http://127.0.0.1:${g.httpPort}`, httpVersion: "1.1", useBinaryFormat: true }),
    "Connect binary over HTTP/2": (g) => createConnectTransport({ baseUrl: `http://127.0.0.1:${g.http2Port}`, httpVersion: "2", useBinaryFormat: true }),
    "gRPC-Web over HTTP/1.1": (g) => createGrpcWebTransport({ baseUrl: `http://127.0.0.1:${g.httpPort}`, httpVersion: "1.1" }),
    "gRPC-Web over HTTP/2": (g) => createGrpcWebTransport({ baseUrl: `http://127.0.0.1:${g.http2Port}`, httpVersion: "2" }),
    gRPC: (g) => createGrpcTransport({ baseUrl: `http://127.0.0.1:${g.http2Port}` }),
  };
  const clientOf = (name: string, g = gateway): Client<typeof LoadTestService> => createClient(LoadTestService, transports[name]!(g));
  const failure = (call: Promise<unknown>) => call.then(() => undefined, (error: unknown) => error as ConnectError);

  describe.each(Object.keys(transports))("%s", (protocol) => {
    it("forwards the verified caller and the request id, and logs the call once as taken directly", async () => {
      const requestId = `direct-${protocol.replace(/\W+/g, "-")}`;
      const answer = await clientOf(protocol).noop({ payload: "hello" }, { headers: { authorization: bearer, "x-request-id": requestId, "x-chirp-caller-id": "01M83VMQVV99P26KZM1TRZB099" } });
      expect(answer.payload).toBe(`${ALICE}|${requestId}|5`);
      const lines = logged.filter((line) => line.requestId === requestId);
      expect(lines).toEqual([expect.objectContaining({ msg: "rpc finished", path: "direct", code: "OK", method: "chirp.loadtest.v1.LoadTestService/Noop" })]);
    });

    it("passes a service error through with its code and message", async () => {
      const error = await failure(clientOf(protocol).noop({ payload: "fail" }, { headers: { authorization: bearer } }));
      expect([error?.code, error?.rawMessage]).toEqual([Code.InvalidArgument, "payload: is not welcome here"]);
    });

    it("refuses a call without a token, or with a forged one, as UNAUTHENTICATED", async () => {
      const missing = await failure(clientOf(protocol).noop({ payload: "x" }));
      expect([missing?.code, missing?.rawMessage]).toEqual([Code.Unauthenticated, "authorization: a bearer access token is required"]);
      const forged = await failure(clientOf(protocol).noop({ payload: "x" }, { headers: { authorization: `${bearer.slice(0, -4)}AAAA` } }));
      expect(forged?.code).toBe(Code.Unauthenticated);
    });

    it("ends a call at the client's deadline as DEADLINE_EXCEEDED, and cancels it upstream", async () => {
      const payload = `slow deadline ${protocol}`;
      const error = await failure(clientOf(protocol).noop({ payload }, { headers: { authorization: bearer }, timeoutMs: 300 }));
      expect(error?.code).toBe(Code.DeadlineExceeded);
      await waitFor(() => aborted.has(payload));
      expect(aborted.get(payload)!).toBeLessThan(2_000);
    });

    it("cancels the upstream call when the client cancels", async () => {
      const payload = `slow cancel ${protocol}`;
      const controller = new AbortController();
      // A ConnectError as the reason: jest's realm cannot tell a DOMException AbortError for one.
      setTimeout(() => controller.abort(new ConnectError("the client went away", Code.Canceled)), 200);
      const error = await failure(clientOf(protocol).noop({ payload }, { headers: { authorization: bearer }, signal: controller.signal }));
      expect(error?.code).toBe(Code.Canceled);
      await waitFor(() => aborted.has(payload));
      expect(aborted.get(payload)!).toBeLessThan(2_000);
    });

    it("takes a gzip-compressed request and answers a large answer compressed, when the client accepts it", async () => {
      const transport = (() => {
        const base = { sendCompression: compressionGzip, acceptCompression: [compressionGzip], compressMinBytes: 1 };
        if (protocol === "gRPC") return createGrpcTransport({ baseUrl: `http://127.0.0.1:${gateway.http2Port}`, ...base });
        if (protocol.startsWith("gRPC-Web")) return createGrpcWebTransport({ baseUrl: `http://127.0.0.1:${protocol.endsWith("2") ? gateway.http2Port : gateway.httpPort}`, httpVersion: protocol.endsWith("2") ? "2" : "1.1", ...base });
        return createConnectTransport({ baseUrl: `http://127.0.0.1:${protocol.endsWith("2") ? gateway.http2Port : gateway.httpPort}`, httpVersion: protocol.endsWith("2") ? "2" : "1.1", useBinaryFormat: true, ...base });
      })();
      const client = createClient(LoadTestService, transport);
      const requestId = `gzip-${protocol.replace(/\W+/g, "-")}`;
      expect((await client.noop({ payload: "y".repeat(10_000) }, { headers: { authorization: bearer, "x-request-id": requestId } })).payload).toBe(`${ALICE}|${requestId}|10000`);
      expect((await client.noop({ payload: "big" }, { headers: { authorization: bearer } })).payload).toBe("x".repeat(20_000));
    });

    it("refuses a message over MAX_BODY_BYTES, also when it only grows that large decompressed", async () => {
      const tooBig = await failure(clientOf(protocol).noop({ payload: "z".repeat(70 * 1024) }, { headers: { authorization: bearer } }));
      expect(tooBig?.code).toBe(Code.ResourceExhausted);
    });
  });

  it("forwards a client's deadline given in microseconds whole, and answers in time", async () => {
    const { headers, trailers } = await rawGrpc(gateway, { "grpc-timeout": "19999963u" }, envelope(noopBytes("a")));
    expect(trailers["grpc-status"] ?? headers["grpc-status"]).toBe("0");
    expect([grpcTimeout(19_999.963), grpcTimeout(0.2), grpcTimeout(2 ** 32 - 1)]).toEqual(["20000m", "1m", "4294968S"]);
    const slow = await rawGrpc(gateway, { "grpc-timeout": "250000u" }, envelope(noopBytes("slow raw deadline")));
    expect(Number(slow.trailers["grpc-status"] ?? slow.headers["grpc-status"])).toBe(Code.DeadlineExceeded);
  });

  it("compresses gRPC answers with the encoding the client lists first, in a flagged envelope", async () => {
    const { headers, body, trailers } = await rawGrpc(gateway, { "grpc-accept-encoding": "br, gzip" }, envelope(noopBytes("big")));
    expect(headers["grpc-encoding"]).toBe("br");
    expect(trailers["grpc-status"]).toBe("0");
    expect(body[0]).toBe(1);
    const gz = await rawGrpc(gateway, { "grpc-accept-encoding": "gzip" }, envelope(noopBytes("big")));
    expect(gz.headers["grpc-encoding"]).toBe("gzip");
    expect(fromBinary(NoopResponseSchema, gunzipSync(gz.body.subarray(5))).payload).toBe("x".repeat(20_000));
    const plain = await rawGrpc(gateway, {}, envelope(noopBytes("big")));
    expect(plain.headers["grpc-encoding"]).toBeUndefined();
    expect(plain.body[0]).toBe(0);
  });

  it("refuses a gzip bomb (small on the wire, over the limit unpacked) with RESOURCE_EXHAUSTED", async () => {
    const bomb = gzipSync(noopBytes("a".repeat(200 * 1024)));
    expect(bomb.byteLength).toBeLessThan(64 * 1024);
    const { headers, trailers } = await rawGrpc(gateway, { "grpc-encoding": "gzip" }, envelope(bomb, 1));
    expect(Number(trailers["grpc-status"] ?? headers["grpc-status"])).toBe(Code.ResourceExhausted);
  });

  it("refuses bytes that are not the request message, a second message, and a malformed deadline, as INVALID_ARGUMENT", async () => {
    const truncated = await rawGrpc(gateway, {}, envelope(Buffer.from([0x0a, 0x05, 0x61])));
    expect(Number(truncated.headers["grpc-status"])).toBe(Code.InvalidArgument);
    expect(decodeURIComponent(String(truncated.headers["grpc-message"]))).toMatch(/^request: not a valid chirp\.loadtest\.v1\.NoopRequest: /);
    const two = await rawGrpc(gateway, {}, Buffer.concat([envelope(noopBytes("a")), envelope(noopBytes("b"))]));
    expect(Number(two.headers["grpc-status"])).toBe(Code.InvalidArgument);
    const badTimeout = await rawGrpc(gateway, { "grpc-timeout": "soon" }, envelope(noopBytes("a")));
    expect(Number(badTimeout.headers["grpc-status"])).toBe(Code.InvalidArgument);
    const connect = await rawConnect(gateway, { "connect-timeout-ms": "-5" }, noopBytes("a"));
    expect([connect.status, JSON.parse(connect.body.toString()).code]).toEqual([400, "invalid_argument"]);
  });

  it("answers gRPC-Web errors in a trailer frame, and Connect errors as JSON with the HTTP status of their code", async () => {
    const web = await rawGrpc(gateway, {}, envelope(noopBytes("fail")), "application/grpc-web+proto");
    expect(web.body[0]).toBe(0x80);
    const trailer = web.body.subarray(5).toString("latin1");
    expect(trailer).toContain("grpc-status: 3\r\n");
    expect(trailer).toContain(`grpc-message: ${encodeURIComponent("payload: is not welcome here")}\r\n`);
    const connect = await rawConnect(gateway, {}, noopBytes("fail"));
    expect(connect.status).toBe(400);
    expect(JSON.parse(connect.body.toString())).toEqual({ code: "invalid_argument", message: "payload: is not welcome here" });
    expect(connect.headers["x-request-id"]).toBeTruthy();
  });

  it("gives a listed origin its CORS headers on HTTP/2 streams it takes, and no other origin any", async () => {
    const listed = await rawGrpc(gateway, { origin: "https://app.chirp.test" }, envelope(noopBytes("a")), "application/grpc-web+proto");
    expect([listed.headers["access-control-allow-origin"], listed.headers.vary]).toEqual(["https://app.chirp.test", "Origin"]);
    expect(String(listed.headers["access-control-expose-headers"])).toMatch(/X-Request-Id/);
    const other = await rawGrpc(gateway, { origin: "https://evil.example" }, envelope(noopBytes("a")), "application/grpc-web+proto");
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("leaves a method that does not exist to the router, which refuses it", async () => {
    const { headers, trailers } = await rawGrpc(gateway, {}, envelope(noopBytes("a")), "application/grpc", "/chirp.loadtest.v1.LoadTestService/Nope");
    // The router's fallback: no such route, 404, logged as refused.
    expect([Number(headers[":status"]), trailers["grpc-status"]]).toEqual([404, undefined]);
  });

  it("answers Connect JSON directly, as the router writes it, and refuses JSON that does not fit the message", async () => {
    const requestId = "json-direct";
    const response = await fetch(`http://127.0.0.1:${gateway.httpPort}${NOOP}`, {
      method: "POST",
      headers: { authorization: bearer, "content-type": "application/json; charset=utf-8", "x-request-id": requestId },
      body: JSON.stringify({ payload: "hi" }),
    });
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.text()).toBe(JSON.stringify({ payload: `${ALICE}|${requestId}|2` }));
    expect(logged.filter((line) => line.requestId === requestId && line.msg === "rpc finished").map((line) => line.path)).toEqual(["direct"]);
    const post = (body: Buffer | string) =>
      fetch(`http://127.0.0.1:${gateway.httpPort}${NOOP}`, { method: "POST", headers: { authorization: bearer, "content-type": "application/json" }, body }).then(async (r) => [r.status, await r.json()]);
    expect(await post(JSON.stringify({ paylode: "typo" }))).toEqual([400, { code: "invalid_argument", message: expect.stringContaining("paylode") }]);
    expect(await post(Buffer.from([0x7b, 0x22, 0x70, 0x61, 0x79, 0x6c, 0x6f, 0x61, 0x64, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]))).toEqual([400, { code: "invalid_argument", message: "request: the body is not valid UTF-8" }]);
    expect(await post("{not json")).toEqual([400, { code: "invalid_argument", message: expect.any(String) }]);
    const big = await fetch(`http://127.0.0.1:${gateway.httpPort}${NOOP}`, { method: "POST", headers: { authorization: bearer, "content-type": "application/json", "accept-encoding": "gzip" }, body: JSON.stringify({ payload: "big" }) });
    expect(big.headers.get("content-encoding")).toBe("gzip");
    expect(((await big.json()) as { payload: string }).payload).toBe("x".repeat(20_000));
  });

  it("leaves a Connect GET to the router", async () => {
    const message = encodeURIComponent(JSON.stringify({ payload: "get" }));
    const requestId = "connect-get";
    const response = await fetch(`http://127.0.0.1:${gateway.httpPort}${NOOP}?connect=v1&encoding=json&message=${message}`, { headers: { authorization: bearer, "x-request-id": requestId } });
    expect(((await response.json()) as { payload: string }).payload).toBe(`${ALICE}|${requestId}|3`);
    expect(logged.filter((line) => line.requestId === requestId && line.msg === "rpc finished").map((line) => line.path)).toEqual([undefined]);
  });

  it("rate-limits per caller with a retry hint, on every protocol", async () => {
    const strict = await gatewayWith({ readBurst: 2, readsPerMinute: 1 });
    const client = clientOf("gRPC", strict);
    const headers = { authorization: bearer };
    await client.noop({ payload: "1" }, { headers });
    await client.noop({ payload: "2" }, { headers });
    for (const protocol of Object.keys(transports)) {
      const error = await failure(clientOf(protocol, strict).noop({ payload: "3" }, { headers }));
      expect([protocol, error?.code, error?.rawMessage]).toEqual([protocol, Code.ResourceExhausted, expect.stringMatching(/^too many reads: retry after \d+ s$/)]);
      expect(Number(error?.metadata.get("retry-after"))).toBeGreaterThan(0);
    }
  });

  it("answers UNAVAILABLE when the service cannot be reached", async () => {
    const down = await gatewayWith({}, "127.0.0.1:1");
    for (const protocol of Object.keys(transports)) {
      const error = await failure(clientOf(protocol, down).noop({ payload: "x" }, { headers: { authorization: bearer } }));
      expect([protocol, error?.code, error?.rawMessage]).toEqual([protocol, Code.Unavailable, "chirp.loadtest.v1.LoadTestService is unavailable; retry shortly"]);
    }
  });

  describe("over the mesh's mutual TLS", () => {
    const certificates = new MeshCertificateSet();
    const quiet = pino({ level: "silent" });
    const servers: GrpcServer[] = [];
    afterAll(async () => {
      for (const server of servers) await server.shutdown();
      certificates.remove();
    });

    /** The no-op as a mesh service whose one peer is `peer`, verifying the forwarded token. */
    async function meshNoop(peer: string): Promise<GrpcServer> {
      const server = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log: quiet, tls: certificates.filesOf("loadtest") });
      servers.push(server);
      const guard = { ...upstreamGuard(LoadTestServiceService, keys.publicKeyPem), peers: { noop: [peer] }, tls: true };
      server.activate(LoadTestServiceService, bindService(LoadTestServiceService, { noop: async (request, ctx) => ({ payload: `${ctx.callerId ?? "nobody"}|${ctx.peer ?? "no peer"}|${request.payload}` }) }, quiet, undefined, guard));
      return server;
    }

    it("connects as the gateway and forwards the caller's token, which the service verifies itself", async () => {
      const server = await meshNoop("gateway");
      const g = await gatewayWith({ tls: { ...certificates.filesOf("gateway"), reloadMs: 60_000 } }, `127.0.0.1:${server.port}`);
      for (const protocol of Object.keys(transports)) {
        const answer = await clientOf(protocol, g).noop({ payload: "tls" }, { headers: { authorization: bearer, "x-chirp-caller-id": "01M83VMQVV99P26KZM1TRZB099" } });
        expect(answer.payload).toBe(`${ALICE}|gateway|tls`);
      }
      expect(logged.filter((line) => line.path === "direct" && line.msg === "rpc finished" && line.code === "OK").length).toBeGreaterThan(0);
    });

    it("passes on the service's PERMISSION_DENIED when the gateway is not a peer it takes", async () => {
      const server = await meshNoop("timeline");
      const g = await gatewayWith({ tls: { ...certificates.filesOf("gateway"), reloadMs: 60_000 } }, `127.0.0.1:${server.port}`);
      for (const protocol of Object.keys(transports)) {
        const error = await failure(clientOf(protocol, g).noop({ payload: "tls" }, { headers: { authorization: bearer } }));
        expect([error?.code, error?.rawMessage]).toEqual([Code.PermissionDenied, expect.stringContaining("gateway")]);
      }
    });

    it("answers UNAVAILABLE, and reaches nothing, when the service's certificate names another workload", async () => {
      const impostor = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log: quiet, tls: certificates.filesOf("tweets") });
      servers.push(impostor);
      let reached = 0;
      impostor.activate(LoadTestServiceService, bindService(LoadTestServiceService, { noop: async () => (reached++, { payload: "impostor" }) }, quiet));
      const g = await gatewayWith({ tls: { ...certificates.filesOf("gateway"), reloadMs: 60_000 } }, `127.0.0.1:${impostor.port}`);
      const error = await failure(clientOf("gRPC", g).noop({ payload: "tls" }, { headers: { authorization: bearer } }));
      expect(error?.code).toBe(Code.Unavailable);
      expect(reached).toBe(0);
    });
  });

  describe("an upstream's own trailers", () => {
    let raw: Http2Server;
    let relay: GatewayApp;
    const rawSessions = new Set<ServerHttp2Session>();
    // Each answer past the limit: whether the gateway reset its stream (HTTP/2 CANCEL on the direct path) before all of it was sent.
    const hugeAnswers: { rstCode: number; whole: boolean }[] = [];
    beforeAll(async () => {
      // A service answering every call RESOURCE_EXHAUSTED with a message to escape, status details and a retry hint.
      raw = createRawHttp2Server();
      raw.on("session", (session) => rawSessions.add(session));
      raw.on("stream", (stream) => {
        const request: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => request.push(chunk));
        stream.on("end", () => {
          if (Buffer.concat(request).includes("huge")) {
            // An answer past MAX_ANSWER_BYTES, sent on until the gateway cancels it.
            const seen = { rstCode: -1, whole: false };
            hugeAnswers.push(seen);
            // A reset is an error of the stream: it is seen here as its code.
            stream.on("error", () => undefined);
            stream.on("close", () => (seen.rstCode = stream.rstCode));
            stream.respond({ ":status": 200, "content-type": "application/grpc" });
            const prefix = Buffer.alloc(5);
            prefix.writeUInt32BE(64 * 1024 * 1024, 1);
            stream.write(prefix);
            const block = Buffer.alloc(256 * 1024, 0x41);
            let sent = 0;
            const more = () => {
              while (!stream.destroyed && sent < 256) {
                sent++;
                if (!stream.write(block)) return void stream.once("drain", more);
              }
              seen.whole = !stream.destroyed;
            };
            more();
            return;
          }
          stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
          stream.once("wantTrailers", () =>
            stream.sendTrailers({ "grpc-status": "8", "grpc-message": encodeURIComponent(STATUS_MESSAGE), "grpc-status-details-bin": STATUS_WITH_DETAIL.toString("base64"), "retry-after": "7" }),
          );
          stream.end();
        });
      });
      await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
      relay = await gatewayWith({}, `127.0.0.1:${(raw.address() as AddressInfo).port}`);
    });
    afterAll(async () => {
      for (const session of rawSessions) session.destroy();
      await new Promise<void>((resolve) => raw.close(() => resolve()));
    });

    it("keep their code, message and retry hint on every protocol, and lose their details as on the router's path", async () => {
      const json = await failure(createClient(LoadTestService, createConnectTransport({ baseUrl: `http://127.0.0.1:${relay.httpPort}`, httpVersion: "1.1" })).noop({ payload: "x" }, { headers: { authorization: bearer } }));
      for (const protocol of Object.keys(transports)) {
        const error = await failure(clientOf(protocol, relay).noop({ payload: "x" }, { headers: { authorization: bearer } }));
        expect([protocol, error?.code, error?.rawMessage, error?.metadata.get("retry-after"), error?.details.length]).toEqual([
          protocol,
          Code.ResourceExhausted,
          "quota: 100% spent, ça suffit",
          "7",
          0,
        ]);
        expect([error?.code, error?.rawMessage, error?.details.length]).toEqual([json?.code, json?.rawMessage, json?.details.length]);
      }
    });

    it("cancels an answer that passes MAX_ANSWER_BYTES upstream and answers INTERNAL, holding none of it", async () => {
      const before = process.memoryUsage().arrayBuffers;
      const error = await failure(clientOf("gRPC", relay).noop({ payload: "huge" }, { headers: { authorization: bearer } }));
      expect(error?.code).toBe(Code.Internal);
      expect(error?.rawMessage).toMatch(/^internal error \(request id /);
      await eventually(() => expect(hugeAnswers).toEqual([{ rstCode: http2Constants.NGHTTP2_CANCEL, whole: false }]));
      // 64 MiB were promised: what the gateway read stopped at the limit, and was let go.
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 1024 * 1024);
    });

    it("holds the router's path (a Connect GET) to MAX_ANSWER_BYTES too", async () => {
      const before = process.memoryUsage().arrayBuffers;
      const message = encodeURIComponent(JSON.stringify({ payload: "huge" }));
      const response = await fetch(`http://127.0.0.1:${relay.httpPort}${NOOP}?connect=v1&encoding=json&message=${message}`, { headers: { authorization: bearer } });
      expect([response.status, await response.json()]).toEqual([500, { code: "internal", message: expect.stringMatching(/^internal error \(request id /) }]);
      // connect-node's client resets the stream as INTERNAL_ERROR, where the direct path cancels it.
      await eventually(() => expect(hugeAnswers[1]).toEqual({ rstCode: http2Constants.NGHTTP2_INTERNAL_ERROR, whole: false }));
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 1024 * 1024);
    });
  });

  async function rawGrpc(g: GatewayApp, extra: Record<string, string>, body: Buffer, contentType = "application/grpc", path = NOOP) {
    const session = http2Connect(`http://127.0.0.1:${g.http2Port}`);
    try {
      return await new Promise<{ headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        const stream = session.request({ ":method": "POST", ":path": path, "content-type": contentType, te: "trailers", authorization: bearer, ...extra });
        let headers: IncomingHttpHeaders = {};
        let trailers: IncomingHttpHeaders = {};
        const chunks: Buffer[] = [];
        stream.on("response", (h) => (headers = h));
        stream.on("trailers", (t) => (trailers = t));
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("error", reject);
        stream.on("close", () => resolve({ headers, trailers, body: Buffer.concat(chunks) }));
        stream.end(body);
      });
    } finally {
      session.close();
    }
  }

  function rawConnect(g: GatewayApp, extra: Record<string, string>, body: Buffer) {
    return new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const req = http1Request(`http://127.0.0.1:${g.httpPort}${NOOP}`, { method: "POST", headers: { authorization: bearer, "content-type": "application/proto", ...extra } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on("error", reject);
      req.end(body);
    });
  }
});

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
