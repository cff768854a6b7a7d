import { createPrivateKey } from "node:crypto";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { GATEWAY_SERVICES, generateSigningKeyPair, TokenSigner } from "@chirp/kit";
import { TweetsService } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { GraphService } from "@chirp/proto/es/chirp/graph/v1/graph_pb";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";
import { startUsers, type UsersApp } from "@chirp/users";
import { testLogger } from "@chirp/kit/testing";
import { startGateway, type GatewayApp } from "../src/app.js";
import { gatewayConfig } from "./fixtures.js";

const PASSWORD = "correct horse battery";

describe("gateway in front of the users service", () => {
  let users: UsersApp;
  let gateway: GatewayApp;
  let connect: Client<typeof UsersService>;
  let grpc: Client<typeof UsersService>;
  let base: string;
  const { privateKeyPem } = generateSigningKeyPair();
  /** The users service's own key, used here only to make a token that expired an hour ago. */
  const pastSigner = new TokenSigner(createPrivateKey(privateKeyPem), { issuer: "chirp", audience: "chirp", ttlSeconds: 900 });

  beforeAll(async () => {
    users = await startUsers(
      {
        serviceName: "users", host: "127.0.0.1", port: 0, healthPort: 0, logLevel: "silent", mongo: undefined, natsUrl: undefined, natsNkeySeed: undefined, streamReplicas: 1,
        auth: { signingKeyPem: privateKeyPem, tokenTtlSeconds: 900, refreshTtlSeconds: 86_400 },
        tokens: { publicKeysPem: undefined, issuer: "chirp", audience: "chirp" },
        tls: undefined,
        passwordHashCost: 4, outboxPollMs: 1000, shutdownDeadlineMs: 5000,
        telemetry: { otlpEndpoint: undefined, samplePercent: 100, metricsPort: 0 },
      },
      { log: testLogger() },
    );
    gateway = await startGateway(gatewayConfig({ upstreams: { users: `127.0.0.1:${users.port}` }, writeBurst: 1000 }), {
      log: testLogger(),
      publicKeys: [users.publicKey],
    });
    base = `http://127.0.0.1:${gateway.httpPort}`;
    connect = createClient(UsersService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));
    grpc = createClient(UsersService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${gateway.http2Port}` }));
  });

  afterAll(async () => {
    await gateway.stop();
    await users.stop();
  });

  let serial = 0;
  async function account() {
    serial += 1;
    const username = `gw_${Date.now().toString(36).slice(-5)}${serial}`;
    const { user } = await connect.createUser({ username, email: `${username}@example.org`, password: PASSWORD });
    const { accessToken } = await connect.login({ usernameOrEmail: username, password: PASSWORD });
    return { user: user!, headers: { authorization: `Bearer ${accessToken}` } };
  }

  async function failure(promise: Promise<unknown>): Promise<ConnectError> {
    const error = await promise.then(
      () => {
        throw new Error("expected the call to fail");
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConnectError);
    return error as ConnectError;
  }

  it("lets anyone register and log in, over Connect and over gRPC", async () => {
    const { user, headers } = await account();
    expect((await connect.getUser({ id: user.id }, { headers })).user?.username).toBe(user.username);
    expect((await grpc.getUser({ id: user.id }, { headers })).user?.username).toBe(user.username);
  });

  it("requires a valid token for everything else", async () => {
    const { user } = await account();
    const missing = await failure(connect.getUser({ id: user.id }));
    expect([missing.code, missing.rawMessage]).toEqual([Code.Unauthenticated, "authorization: a bearer access token is required"]);

    const forger = new TokenSigner(createPrivateKey(generateSigningKeyPair().privateKeyPem), { issuer: "chirp", audience: "chirp", ttlSeconds: 900 });
    const forged = await failure(connect.getUser({ id: user.id }, { headers: { authorization: `Bearer ${forger.sign(user.id).token}` } }));
    expect(forged.code).toBe(Code.Unauthenticated);

    const garbage = await failure(connect.getUser({ id: user.id }, { headers: { authorization: "Bearer not.a.token" } }));
    expect(garbage.code).toBe(Code.Unauthenticated);
  });

  it("refuses an expired token", async () => {
    const { user, headers } = await account();
    expect((await connect.getUser({ id: user.id }, { headers })).user?.id).toBe(user.id);
    const expiredToken = pastSigner.sign(user.id, [], Date.now() - 3_600_000).token;
    const expired = await failure(connect.getUser({ id: user.id }, { headers: { authorization: `Bearer ${expiredToken}` } }));
    expect([expired.code, expired.rawMessage]).toEqual([Code.Unauthenticated, "authorization: access token has expired"]);
  });

  it("never lets a client choose who it acts as", async () => {
    const alice = await account();
    const bob = await account();
    const spoofed = { ...alice.headers, "x-chirp-caller-id": bob.user.id };
    const denied = await failure(connect.updateUser({ user: { id: bob.user.id, bio: "pwned" }, updateMask: { paths: ["bio"] } }, { headers: spoofed }));
    expect(denied.code).toBe(Code.PermissionDenied);
    expect((await connect.deleteUser({ id: bob.user.id }, { headers: spoofed }).catch((e: ConnectError) => e)) instanceof ConnectError).toBe(true);
    const own = await connect.updateUser({ user: { id: alice.user.id, bio: "mine" }, updateMask: { paths: ["bio"] } }, { headers: spoofed });
    expect(own.user?.bio).toBe("mine");
    expect((await connect.getUser({ id: bob.user.id }, { headers: alice.headers })).user?.bio).toBe("");
  });

  it("passes service errors through with the same code and message", async () => {
    const { user, headers } = await account();
    const invalid = await failure(connect.getUser({ id: "nope" }, { headers }));
    expect([invalid.code, invalid.rawMessage]).toEqual([Code.InvalidArgument, "id: is not a valid user id"]);
    const missing = await failure(connect.getUser({ id: "01M83VMQVV99P26KZM1TRZB034" }, { headers }));
    expect([missing.code, missing.rawMessage]).toEqual([Code.NotFound, 'id: no user has id "01M83VMQVV99P26KZM1TRZB034"']);
    const taken = await failure(connect.createUser({ username: user.username, email: "other@example.org", password: PASSWORD }));
    expect([taken.code, taken.rawMessage]).toEqual([Code.AlreadyExists, `username: "${user.username}" is already taken`]);
    const wrong = await failure(connect.login({ usernameOrEmail: user.username, password: "wrong password" }));
    expect(wrong.code).toBe(Code.Unauthenticated);
  });

  it("answers UNAVAILABLE when an upstream is down", async () => {
    const { headers } = await account();
    const tweets = createClient(TweetsService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));
    const down = await failure(tweets.getTweet({ id: "01M83VMQVV99P26KZM1TRZB034" }, { headers }));
    expect(down.code).toBe(Code.Unavailable);
  });

  it("refuses internal-only RPCs and admin-only counts", async () => {
    const { user, headers } = await account();
    const graph = createClient(GraphService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));
    const internal = await failure(
      (async () => {
        for await (const batch of graph.listFollowerIds({ userId: user.id }, { headers })) void batch;
      })(),
    );
    expect(internal.code).toBe(Code.PermissionDenied);

    const tweets = createClient(TweetsService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));
    const countAll = await failure(tweets.countTweets({ tag: "x" }, { headers }));
    expect([countAll.code, countAll.rawMessage]).toEqual([Code.PermissionDenied, "author_id: counting every user's tweets needs the admin role"]);
  });

  it("gives no role to whoever registers a name like ROOT: counting every user's tweets stays refused", async () => {
    await connect.createUser({ username: "ROOT", email: "root@example.org", password: PASSWORD });
    const { accessToken } = await connect.login({ usernameOrEmail: "ROOT", password: PASSWORD });
    const tweets = createClient(TweetsService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));
    const countAll = await failure(tweets.countTweets({}, { headers: { authorization: `Bearer ${accessToken}` } }));
    expect([countAll.code, countAll.rawMessage]).toEqual([Code.PermissionDenied, "author_id: counting every user's tweets needs the admin role"]);
  });

  it("serves SetUserRoles to admins only; the role shows from the next login", async () => {
    const boss = await account();
    const user = await account();
    const tweets = createClient(TweetsService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));
    const notAdmin = await failure(connect.setUserRoles({ userId: user.user.id, roles: ["admin"] }, { headers: user.headers }));
    expect([notAdmin.code, notAdmin.rawMessage]).toEqual([Code.PermissionDenied, "user_id: changing a user's roles needs the admin role"]);
    const anonymous = await failure(connect.setUserRoles({ userId: user.user.id, roles: ["admin"] }));
    expect(anonymous.code).toBe(Code.Unauthenticated);

    // The first admin is the operator's doing, by account id.
    await users.roles.grant(boss.user.id, "admin");
    const { accessToken } = await connect.login({ usernameOrEmail: boss.user.username, password: PASSWORD });
    expect((await connect.setUserRoles({ userId: user.user.id, roles: ["admin"] }, { headers: { authorization: `Bearer ${accessToken}` } })).roles).toEqual(["admin"]);

    // The token from before still carries no role; a new login's does, and the gateway lets its count through (to a tweets service that is down here).
    expect((await failure(tweets.countTweets({}, { headers: user.headers }))).code).toBe(Code.PermissionDenied);
    const relogin = await connect.login({ usernameOrEmail: user.user.username, password: PASSWORD });
    expect((await failure(tweets.countTweets({}, { headers: { authorization: `Bearer ${relogin.accessToken}` } }))).code).toBe(Code.Unavailable);
  });

  it("compresses large answers with the encoding the client lists first, gzip or brotli", async () => {
    const { headers } = await account();
    const prefix = `cz${Date.now().toString(36).slice(-6)}`;
    for (let i = 0; i < 12; i++) {
      await connect.createUser({ username: `${prefix}${i}`, email: `${prefix}${i}@example.org`, password: PASSWORD, displayName: `${"Ω".repeat(25)} ${i}` });
    }
    for (const encoding of ["br", "gzip"]) {
      const response = await fetch(`${base}/chirp.users.v1.UsersService/SearchUsers`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", "accept-encoding": `${encoding}, identity` },
        body: JSON.stringify({ usernamePrefix: prefix, pageSize: 20 }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-encoding")).toBe(encoding);
      const page = (await response.json()) as { users: { username: string; displayName: string }[] };
      expect(page.users.map((u) => u.username)).toEqual(Array.from({ length: 12 }, (_, i) => `${prefix}${i}`).sort());
      expect(page.users[0]!.displayName.startsWith("Ω")).toBe(true);
    }
  });

  it("rejects an oversized body", async () => {
    const { user, headers } = await account();
    const tooBig = await failure(connect.updateUser({ user: { id: user.id, bio: "x".repeat(70 * 1024) }, updateMask: { paths: ["bio"] } }, { headers }));
    expect(tooBig.code).toBe(Code.ResourceExhausted);
  });

  it("rate-limits writes per caller with a retry hint, leaving reads and other callers alone", async () => {
    const strict = await startGateway(gatewayConfig({ upstreams: { users: `127.0.0.1:${users.port}` }, writeBurst: 3, writesPerMinute: 6 }), {
      log: testLogger(),
      publicKeys: [users.publicKey],
    });
    try {
      const limitedClient = createClient(UsersService, createConnectTransport({ baseUrl: `http://127.0.0.1:${strict.httpPort}`, httpVersion: "1.1" }));
      const alice = await account();
      const bob = await account();
      const write = (who: typeof alice) =>
        limitedClient.updateUser({ user: { id: who.user.id, bio: "again" }, updateMask: { paths: ["bio"] } }, { headers: who.headers });
      for (let i = 0; i < 3; i++) await write(alice);
      const limited = await failure(write(alice));
      expect(limited.code).toBe(Code.ResourceExhausted);
      expect(limited.rawMessage).toMatch(/^too many writes: retry after \d+ s$/);
      expect(Number(limited.metadata.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect((await limitedClient.getUser({ id: alice.user.id }, { headers: alice.headers })).user?.id).toBe(alice.user.id);
      expect((await write(bob)).user?.bio).toBe("again");
    } finally {
      await strict.stop();
    }
  });

  it("echoes the request id", async () => {
    const { user, headers } = await account();
    const response = await fetch(`${base}/chirp.users.v1.UsersService/GetUser`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", "x-request-id": "trace-me-1" },
      body: JSON.stringify({ id: user.id }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBe("trace-me-1");
  });

  it("reports upstream health on /healthz", async () => {
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      status: "degraded",
      // Only users runs here; every other catalogued upstream points at a closed port.
      upstreams: Object.fromEntries(GATEWAY_SERVICES.map(({ name }) => [name, name === "users" ? "SERVING" : "UNREACHABLE"])),
    });
  });

  it("allows only listed origins, and never with a wildcard", async () => {
    const preflight = (origin: string) =>
      fetch(`${base}/chirp.users.v1.UsersService/Login`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
      });
    const allowed = await preflight("https://app.chirp.test");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.chirp.test");
    expect(allowed.headers.get("access-control-allow-credentials")).toBeNull();
    const refused = await preflight("https://evil.test");
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });
});
