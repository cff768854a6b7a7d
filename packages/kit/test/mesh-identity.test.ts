import { createPrivateKey, X509Certificate } from "node:crypto";
import { generateSigningKeyPair, TokenSigner } from "@chirp/kit";
import { readFileSync, writeFileSync } from "node:fs";
import { credentials, Metadata, Server, status, type sendUnaryData, type ServerUnaryCall, type ServiceError, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { createMeshCa, writeWorkloadFiles } from "@chirp/kit/grpc";
import {
  AUTHORIZATION_KEY,
  bindService,
  channelCredentials,
  checkHealth,
  GrpcServer,
  meshChannelOptions,
  meshTlsConnection,
  MeshCertificateSet,
  serverCredentials,
  unary,
  type CallContext,
  type MeshTls,
} from "@chirp/kit/grpc";
import { accessToken, asCaller, grpcFailure, testCallGuard, testChannel, testLogger, testTls, testTlsDir } from "@chirp/kit/testing";
import { LoadTestServiceClient, LoadTestServiceService, type NoopRequest, type NoopResponse } from "@chirp/proto/grpc/chirp/loadtest/v1/loadtest";
import { TimelineServiceClient, TimelineServiceService, StreamHomeTimelineResponse } from "@chirp/proto/grpc/chirp/timeline/v1/timeline";
import { connect } from "node:http2";
import { createServer } from "node:net";
import { TLSSocket } from "node:tls";

const log = testLogger();

/** What a handler saw of its caller, as the payload: "<callerId>|<roles>|<peer>". */
const whoIsCalling = async (_request: NoopRequest, ctx: CallContext): Promise<NoopResponse> => ({
  payload: `${ctx.callerId ?? "-"}|${ctx.callerRoles.join(",")}|${ctx.peer ?? "-"}`,
});

describe("a service's callers: the end user's verified token and the workload's certificate", () => {
  let server: GrpcServer;
  const clients: LoadTestServiceClient[] = [];
  const client = (workload = "gateway") => {
    const made = new LoadTestServiceClient(`127.0.0.1:${server.port}`, testChannel(workload, "example"), meshChannelOptions("example"));
    clients.push(made);
    return made;
  };
  const noop = (c: LoadTestServiceClient, metadata = new Metadata()) => unary(c, c.noop, { payload: "" }, metadata, { deadline: Date.now() + 5_000 });

  beforeAll(async () => {
    server = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log, tls: testTls("example"), identity: "example" });
    // Only the timeline may call it: a protected RPC, as GraphService/ListFollowerIds is.
    server.activate(LoadTestServiceService, bindService(LoadTestServiceService, { noop: whoIsCalling }, log, undefined, testCallGuard(LoadTestServiceService, { noop: ["timeline"] })));
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await server.shutdown();
  });

  it("believes no header naming a caller: a forged one without a valid token is nobody, and requireCaller is UNAUTHENTICATED", async () => {
    const forged = new Metadata();
    forged.set("x-chirp-caller-id", "01M83VMQVV99P26KZM1TRZB034");
    forged.set("x-chirp-caller-roles", "admin");
    expect((await noop(client("timeline"), forged)).payload).toBe("-||timeline");

    const requiring = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log, tls: testTls("example") });
    requiring.activate(
      LoadTestServiceService,
      bindService(LoadTestServiceService, { noop: async (_request, ctx) => ({ payload: ctx.requireCaller() }) }, log, undefined, testCallGuard(LoadTestServiceService)),
    );
    const direct = new LoadTestServiceClient(`127.0.0.1:${requiring.port}`, testChannel());
    try {
      const refused = await grpcFailure(unary(direct, direct.noop, { payload: "" }, forged), status.UNAUTHENTICATED);
      expect(refused.details).toBe("this call needs an authenticated caller");
      expect((await unary(direct, direct.noop, { payload: "" }, asCaller("01M83VMQVV99P26KZM1TRZB034"))).payload).toBe("01M83VMQVV99P26KZM1TRZB034");
    } finally {
      direct.close();
      await requiring.shutdown();
    }
  });

  it("refuses a token that does not verify before the handler runs: another key's, forged, expired, malformed", async () => {
    const { privateKeyPem } = generateSigningKeyPair();
    const elsewhere = new TokenSigner(createPrivateKey(privateKeyPem), { issuer: "chirp", audience: "chirp", ttlSeconds: 900 });
    const cases: Array<[string, string]> = [
      ["Bearer " + elsewhere.sign("u1", ["admin"]).token, "access token was signed by an unknown key"],
      ["Bearer " + accessToken("u1").replace(/\.[^.]+$/, ".AAAA"), "access token signature is invalid"],
      ["Bearer " + accessToken("u1", { now: Date.now() - 3_600_000 * 2 }), "access token has expired"],
      ["Bearer not-a-token", "access token is malformed"],
      ["Basic dXNlcjpwYXNz", 'authorization: expected one "Bearer <access token>"'],
    ];
    for (const [value, details] of cases) {
      const metadata = new Metadata();
      metadata.set(AUTHORIZATION_KEY, value);
      const refused = await grpcFailure(noop(client("timeline"), metadata), status.UNAUTHENTICATED);
      expect(refused.details).toBe(details);
    }
  });

  it("gives the handler the caller and roles of a valid token, and its peer's workload", async () => {
    expect((await noop(client("timeline"), asCaller("01M83VMQVV99P26KZM1TRZB034", { roles: ["admin"] }))).payload).toBe("01M83VMQVV99P26KZM1TRZB034|admin|timeline");
  });

  it("refuses a valid certificate of the wrong workload for a protected RPC, PERMISSION_DENIED naming it", async () => {
    const refused = await grpcFailure(noop(client("gateway"), asCaller("01M83VMQVV99P26KZM1TRZB034")), status.PERMISSION_DENIED);
    expect(refused.details).toBe('"gateway" may not call /chirp.loadtest.v1.LoadTestService/Noop: only "timeline" may');
  });

  it("reads each connection's certificate once, and keeps each connection's own peer however their calls interleave", async () => {
    const timeline = client("timeline");
    const gateway = client("gateway");
    await noop(timeline);
    await grpcFailure(noop(gateway), status.PERMISSION_DENIED);
    const reads = jest.spyOn(TLSSocket.prototype, "getPeerCertificate");
    try {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? noop(timeline).then((a) => a.payload) : grpcFailure(noop(gateway), status.PERMISSION_DENIED).then((e) => e.details))),
      );
      expect(answers.filter((a) => a === "-||timeline")).toHaveLength(10);
      expect(answers.filter((a) => a === '"gateway" may not call /chirp.loadtest.v1.LoadTestService/Noop: only "timeline" may')).toHaveLength(10);
      // Both connections were made before: no call read a certificate again.
      expect(reads).not.toHaveBeenCalled();
    } finally {
      reads.mockRestore();
    }
  });

  it("takes no call without a client certificate of the mesh CA: plaintext, TLS without one, another CA's", async () => {
    const address = `127.0.0.1:${server.port}`;
    const stranger = createMeshCa();
    const strangerFiles = writeWorkloadFiles(testTlsDir("stranger"), stranger, stranger.issue("timeline"));
    const attempts = [
      new LoadTestServiceClient(address, credentials.createInsecure()),
      new LoadTestServiceClient(address, credentials.createSsl(Buffer.from(testCaPem())), meshChannelOptions("example")),
      new LoadTestServiceClient(address, channelCredentials(strangerFiles, "example"), meshChannelOptions("example")),
    ];
    for (const attempt of attempts) {
      clients.push(attempt);
      const error = await noop(attempt).then(
        () => undefined,
        (e: ServiceError) => e,
      );
      expect(error?.code).toBe(status.UNAVAILABLE);
    }
  });

  it("calls a server only when its certificate names the service meant", async () => {
    const wrong = new LoadTestServiceClient(`127.0.0.1:${server.port}`, channelCredentials(testTls("timeline"), "users"), meshChannelOptions("users"));
    clients.push(wrong);
    const error = await noop(wrong).then(
      () => undefined,
      (e: ServiceError) => e,
    );
    expect(error?.code).toBe(status.UNAVAILABLE);
    expect(error?.details).toContain('is "example", not "users"');
  });

  it("passes the caller on to the services a handler calls for them, whose own check it passes", async () => {
    const front = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log, tls: testTls("timeline") });
    const onward = new LoadTestServiceClient(`127.0.0.1:${server.port}`, channelCredentials(testTls("timeline"), "example"), meshChannelOptions("example"));
    front.activate(
      LoadTestServiceService,
      bindService(
        LoadTestServiceService,
        {
          noop: async (_request, ctx) => {
            const { metadata, options } = ctx.forward();
            return unary(onward, onward.noop, { payload: "" }, metadata, options);
          },
        },
        log,
        undefined,
        testCallGuard(LoadTestServiceService),
      ),
    );
    const caller = new LoadTestServiceClient(`127.0.0.1:${front.port}`, testChannel());
    try {
      // The end user verified again at the second hop, the first hop as its peer.
      expect((await unary(caller, caller.noop, { payload: "" }, asCaller("01M83VMQVV99P26KZM1TRZB034", { roles: ["admin"] }))).payload).toBe(
        "01M83VMQVV99P26KZM1TRZB034|admin|timeline",
      );
      // Anonymous stays anonymous: nothing names a caller downstream.
      expect((await unary(caller, caller.noop, { payload: "" })).payload).toBe("-||timeline");
    } finally {
      caller.close();
      onward.close();
      await front.shutdown();
    }
  });
});

/** The test CA's certificate, as a client that has no certificate of its own would trust it. */
const testCaPem = () => readFileSync(testTls("gateway").caFile, "utf8");

describe("certificate rotation", () => {
  /** Certificates of their own, rotated here without touching other tests'. */
  const set = new MeshCertificateSet();
  const reloading = (workload: string): MeshTls => ({ ...set.filesOf(workload), reloadMs: 100 });
  const fingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;
  afterAll(() => set.remove());

  it("serves new connections with new certificates within the reload time, and calls in flight carry on", async () => {
    const serverFiles = reloading("example");
    const clientFiles = reloading("gateway");
    // A raw server with the kit's credentials: its handler answers the client certificate it saw.
    const raw = new Server();
    raw.addService(LoadTestServiceService, {
      noop: (call: ServerUnaryCall<NoopRequest, NoopResponse>, callback: sendUnaryData<NoopResponse>) =>
        callback(null, { payload: call.getAuthContext()?.sslPeerCertificate?.fingerprint256 ?? "" }),
    } as unknown as UntypedServiceImplementation);
    const rawPort = await new Promise<number>((resolve, reject) => raw.bindAsync("127.0.0.1:0", serverCredentials(serverFiles, log), (e, p) => (e ? reject(e) : resolve(p))));
    // A kit server holding a stream open across the rotation.
    const streaming = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [TimelineServiceService], log, tls: serverFiles });
    const notUsed = async (): Promise<never> => {
      throw new Error("not used");
    };
    streaming.activate(
      TimelineServiceService,
      bindService(
        TimelineServiceService,
        {
          getHomeTimeline: notUsed,
          getHomeTimelineUpdates: notUsed,
          async streamHomeTimeline(_request, ctx, send) {
            for (let i = 0; i < 30 && !ctx.signal.aborted; i++) {
              await send(StreamHomeTimelineResponse.fromPartial({}));
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          },
        },
        log,
        undefined,
        testCallGuard(TimelineServiceService),
      ),
    );
    const channel = () => channelCredentials(clientFiles, "example", log);
    const seenBy = async () => {
      const c = new LoadTestServiceClient(`127.0.0.1:${rawPort}`, channel(), { ...meshChannelOptions("example"), "grpc.use_local_subchannel_pool": 1 });
      try {
        return (await unary(c, c.noop, { payload: "" }, undefined, { deadline: Date.now() + 5_000 })).payload;
      } finally {
        c.close();
      }
    };
    /** The certificate the server presents to a new connection. */
    const presented = () =>
      new Promise<string>((resolve, reject) => {
        const session = connect(`https://127.0.0.1:${rawPort}`, { createConnection: meshTlsConnection(clientFiles, "example") });
        session.once("connect", (s, socket) => {
          resolve((socket as TLSSocket).getPeerCertificate().fingerprint256);
          session.close();
        });
        session.once("error", reject);
      });

    const streamClient = new TimelineServiceClient(`127.0.0.1:${streaming.port}`, channel(), meshChannelOptions("example"));
    try {
      const before = { client: fingerprint(clientFiles.certFile), server: fingerprint(serverFiles.certFile) };
      expect(await seenBy()).toBe(before.client);
      expect(await presented()).toBe(before.server);

      const stream = streamClient.streamHomeTimeline({}, asCaller("01M83VMQVV99P26KZM1TRZB034"));
      let received = 0;
      stream.on("data", () => (received += 1));
      const ended = new Promise<number>((resolve) => stream.on("status", (s: { code: number }) => resolve(s.code)));
      await waitUntil(() => received > 0);

      // Both ends rotate, as cert-manager renews a Secret: new files in place.
      set.rotate("gateway");
      set.rotate("example");
      const after = { client: fingerprint(clientFiles.certFile), server: fingerprint(serverFiles.certFile) };
      expect(after.client).not.toBe(before.client);
      const countAtRotation = received;

      await waitUntil(async () => (await presented()) === after.server, 5_000);
      await waitUntil(async () => (await seenBy()) === after.client, 5_000);
      // The stream opened before the rotation kept going on its connection, and ended cleanly.
      expect(await ended).toBe(status.OK);
      expect(received).toBe(30);
      expect(received).toBeGreaterThan(countAtRotation);
    } finally {
      streamClient.close();
      await streaming.shutdown();
      await new Promise<void>((resolve) => raw.tryShutdown(() => resolve()));
    }
  }, 30_000);

  it("keeps the certificate in use when the new files do not belong together or name another workload", async () => {
    const files = reloading("keeper");
    const server = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log, tls: files });
    server.activate(LoadTestServiceService, bindService(LoadTestServiceService, { noop: whoIsCalling }, log, undefined, testCallGuard(LoadTestServiceService)));
    const inUse = fingerprint(files.certFile);
    try {
      // Another workload's certificate and key in this one's files: refused, the old one kept.
      const impostor = set.ca.issue("gateway");
      writeFileSync(files.certFile, impostor.certificatePem);
      writeFileSync(files.keyFile, impostor.privateKeyPem);
      await new Promise((resolve) => setTimeout(resolve, 500));
      // A certificate without its key (a rotation caught half-written): kept too.
      writeFileSync(files.certFile, set.ca.issue("keeper").certificatePem);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const session = await new Promise<string>((resolve, reject) => {
        const h2 = connect(`https://127.0.0.1:${server.port}`, { createConnection: meshTlsConnection(reloading("gateway"), "keeper") });
        h2.once("connect", (_s, socket) => {
          resolve((socket as TLSSocket).getPeerCertificate().fingerprint256);
          h2.close();
        });
        h2.once("error", reject);
      });
      expect(session).toBe(inUse);
    } finally {
      await server.shutdown();
    }
  });
});

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the health-only port", () => {
  it("answers health checks in plaintext for probes, and serves nothing else", async () => {
    const server = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log, tls: testTls("example"), healthPort: await freePort() });
    server.activate(LoadTestServiceService, bindService(LoadTestServiceService, { noop: whoIsCalling }, log, undefined, testCallGuard(LoadTestServiceService)));
    const plain = new LoadTestServiceClient(`127.0.0.1:${server.healthPort}`, credentials.createInsecure());
    try {
      expect(await checkHealth(`127.0.0.1:${server.healthPort}`, "chirp.loadtest.v1.LoadTestService")).toBe("SERVING");
      // The gRPC port asks for a certificate: a probe without one gets no answer there.
      expect(await checkHealth(`127.0.0.1:${server.port}`)).toBe("UNREACHABLE");
      await grpcFailure(unary(plain, plain.noop, { payload: "" }), status.UNIMPLEMENTED);
    } finally {
      plain.close();
      await server.shutdown();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
