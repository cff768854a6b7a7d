import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createPrivateKey } from "node:crypto";
import { generateSigningKeyPair, parseVerificationKey, TokenSigner } from "@chirp/kit";
import { bindService, GrpcServer, type ServiceHandlers } from "@chirp/kit/grpc";
import { LoadTestServiceService } from "@chirp/proto/grpc/chirp/loadtest/v1/loadtest";
import { UsersServiceService } from "@chirp/proto/grpc/chirp/users/v1/users";
import { LoadTestService } from "@chirp/proto/es/chirp/loadtest/v1/loadtest_pb";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";
import { testLogger } from "@chirp/kit/testing";
import { startGateway, type GatewayApp } from "../src/app.js";
import { gatewayConfig, upstreamGuard } from "./fixtures.js";

/** A stand-in users service that reports what reached it, to check what the gateway forwards. */
describe("what the gateway forwards upstream", () => {
  let upstream: GrpcServer;
  let gateway: GatewayApp;
  let client: Client<typeof UsersService>;
  let upstreamAborted: number | undefined;
  const keys = generateSigningKeyPair();
  const signer = new TokenSigner(createPrivateKey(keys.privateKeyPem), { issuer: "chirp", audience: "chirp", ttlSeconds: 900 });
  const as = (id: string, roles: string[] = []) => ({ authorization: `Bearer ${signer.sign(id, roles).token}` });
  const ALICE = "01M83VMQVV99P26KZM1TRZB034";
  const BOB = "01M83VMQVV99P26KZM1TRZB035";

  beforeAll(async () => {
    const log = testLogger();
    const notUsed = async () => {
      throw new Error("not used in this test");
    };
    const handlers: ServiceHandlers<typeof UsersServiceService> = {
      createUser: notUsed,
      login: notUsed,
      getUserByUsername: notUsed,
      updateUser: notUsed,
      deleteUser: notUsed,
      setUserRoles: notUsed,
      refreshSession: notUsed,
      listSessions: notUsed,
      revokeSession: notUsed,
      logout: notUsed,
      changePassword: notUsed,
      revokeUserSessions: notUsed,
      async getUser(req, ctx) {
        const seen = { callerId: ctx.callerId, roles: ctx.callerRoles, requestId: ctx.requestId };
        return { user: { id: req.id, username: "seen", displayName: "", bio: JSON.stringify(seen), avatarUrl: "", email: "", createdAt: undefined, updatedAt: undefined } };
      },
      async searchUsers(_req, ctx) {
        const started = Date.now();
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        upstreamAborted = Date.now() - started;
        throw new Error("gave up");
      },
      async batchGetUsers() {
        throw new Error("database password is hunter2");
      },
    };
    upstream = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [UsersServiceService], log });
    upstream.activate(UsersServiceService, bindService(UsersServiceService, handlers, log, undefined, upstreamGuard(UsersServiceService, keys.publicKeyPem)));
    gateway = await startGateway(gatewayConfig({ upstreams: { users: `127.0.0.1:${upstream.port}` } }), {
      log,
      publicKeys: [parseVerificationKey(keys.publicKeyPem)],
    });
    client = createClient(UsersService, createConnectTransport({ baseUrl: `http://127.0.0.1:${gateway.httpPort}`, httpVersion: "1.1" }));
  });

  afterAll(async () => {
    await gateway.stop();
    await upstream.shutdown();
  });

  it("passes the verified caller and the request id, and nothing the client claims", async () => {
    const headers = { ...as(ALICE, ["admin"]), "x-chirp-caller-id": BOB, "x-chirp-caller-roles": "root", "x-request-id": "req-42" };
    const { user } = await client.getUser({ id: ALICE }, { headers });
    expect(JSON.parse(user!.bio)).toEqual({ callerId: ALICE, roles: ["admin"], requestId: "req-42" });
  });

  it("propagates the client's deadline to the upstream call", async () => {
    const error = await client.searchUsers({ usernamePrefix: "a" }, { headers: as(ALICE), timeoutMs: 300 }).catch((e: ConnectError) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.DeadlineExceeded);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(upstreamAborted).toBeDefined();
    expect(upstreamAborted!).toBeLessThan(2_000);
  });

  it("returns an upstream failure as INTERNAL without its internals", async () => {
    const error = (await client.batchGetUsers({ ids: [ALICE] }, { headers: as(ALICE) }).catch((e: ConnectError) => e)) as ConnectError;
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toMatch(/^internal error \(request id [0-9a-f-]{36}\)$/);
    expect(error.rawMessage).not.toContain("hunter2");
  });
});

describe("extra upstreams", () => {
  it("forwards a service it is given beside the mesh's four, behind the same authentication", async () => {
    const log = testLogger();
    const keys = generateSigningKeyPair();
    const signer = new TokenSigner(createPrivateKey(keys.privateKeyPem), { issuer: "chirp", audience: "chirp", ttlSeconds: 900 });
    const backend = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log });
    backend.activate(LoadTestServiceService, bindService(LoadTestServiceService, { noop: async (req) => ({ payload: `echo ${req.payload}` }) }, log, undefined, upstreamGuard(LoadTestServiceService, keys.publicKeyPem)));
    const gateway = await startGateway(gatewayConfig({}), {
      log,
      publicKeys: [parseVerificationKey(keys.publicKeyPem)],
      extraUpstreams: [{ name: "loadtest", address: `127.0.0.1:${backend.port}`, service: LoadTestService }],
    });
    try {
      const client = createClient(LoadTestService, createConnectTransport({ baseUrl: `http://127.0.0.1:${gateway.http2Port}`, httpVersion: "2" }));
      const authorization = `Bearer ${signer.sign("01M83VMQVV99P26KZM1TRZB034").token}`;
      expect((await client.noop({ payload: "ping" }, { headers: { authorization } })).payload).toBe("echo ping");
      const refused = (await client.noop({ payload: "ping" }).catch((e: ConnectError) => e)) as ConnectError;
      expect(refused.code).toBe(Code.Unauthenticated);
    } finally {
      await gateway.stop();
      await backend.shutdown();
    }
  });
});
