import { createPrivateKey } from "node:crypto";
import { create, createFileRegistry, fromBinary, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { file_google_protobuf_empty, FileDescriptorProtoSchema, FileDescriptorSetSchema, MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { generateSigningKeyPair, TokenSigner, verifierFor } from "@chirp/kit";
import { AUTHORIZATION_KEY } from "@chirp/kit/grpc";
import { testLogger } from "@chirp/kit/testing";
import { descriptorSet } from "@chirp/proto/descriptor-set";
import { ruleOf } from "../src/access.js";
import { clientAddressKey } from "../src/context.js";
import { gatewayInterceptors } from "../src/interceptors.js";
import { RateLimiter } from "../src/rate-limit.js";
import { forwardingRoutes } from "../src/routes.js";

const ALICE = "01M83VMQVV99P26KZM1TRZB034";
const BOB = "01M83VMQVV99P26KZM1TRZB035";

/**
 * What every RPC of the contracts gets at the gateway, as it did before its rules were gathered
 * in one table: who may call it and which budget it spends. A new RPC fails here until it is
 * given a rule and a row.
 *
 * `adminFor` rows give a request that needs the admin role and one that does not.
 */
type Row =
  | { who: "public"; budget: "entry" }
  | { who: "signed-in"; budget: "read" | "write"; adminFor?: { asks: object; doesNotAsk: object; refusal: string } }
  | { who: "admin"; budget: "read" | "write"; refusal: string }
  | { who: "internal" };
const PUBLIC: Row = { who: "public", budget: "entry" };
const READ: Row = { who: "signed-in", budget: "read" };
const WRITE: Row = { who: "signed-in", budget: "write" };
const EXPECTED: Record<string, Row> = {
  "chirp.users.v1.UsersService/CreateUser": PUBLIC,
  "chirp.users.v1.UsersService/Login": PUBLIC,
  "chirp.users.v1.UsersService/GetUser": READ,
  "chirp.users.v1.UsersService/GetUserByUsername": READ,
  "chirp.users.v1.UsersService/BatchGetUsers": READ,
  "chirp.users.v1.UsersService/SearchUsers": READ,
  "chirp.users.v1.UsersService/UpdateUser": WRITE,
  "chirp.users.v1.UsersService/DeleteUser": WRITE,
  "chirp.users.v1.UsersService/SetUserRoles": { who: "admin", budget: "write", refusal: "user_id: changing a user's roles needs the admin role" },
  "chirp.users.v1.UsersService/RefreshSession": PUBLIC,
  "chirp.users.v1.UsersService/ListSessions": READ,
  "chirp.users.v1.UsersService/RevokeSession": WRITE,
  "chirp.users.v1.UsersService/Logout": WRITE,
  "chirp.users.v1.UsersService/ChangePassword": WRITE,
  "chirp.users.v1.UsersService/RevokeUserSessions": { who: "admin", budget: "write", refusal: "user_id: ending a user's sessions needs the admin role" },
  "chirp.tweets.v1.TweetsService/CreateTweet": WRITE,
  "chirp.tweets.v1.TweetsService/GetTweet": READ,
  "chirp.tweets.v1.TweetsService/BatchGetTweets": READ,
  "chirp.tweets.v1.TweetsService/DeleteTweet": WRITE,
  "chirp.tweets.v1.TweetsService/ListUserTweets": READ,
  "chirp.tweets.v1.TweetsService/ListReplies": READ,
  "chirp.tweets.v1.TweetsService/LikeTweet": WRITE,
  "chirp.tweets.v1.TweetsService/UnlikeTweet": WRITE,
  "chirp.tweets.v1.TweetsService/ListLikers": READ,
  "chirp.tweets.v1.TweetsService/Retweet": WRITE,
  "chirp.tweets.v1.TweetsService/Unretweet": WRITE,
  "chirp.tweets.v1.TweetsService/SearchTweets": READ,
  "chirp.tweets.v1.TweetsService/CountTweets": {
    who: "signed-in",
    budget: "read",
    adminFor: { asks: { tag: "x" }, doesNotAsk: { authorId: ALICE }, refusal: "author_id: counting every user's tweets needs the admin role" },
  },
  "chirp.graph.v1.GraphService/Follow": WRITE,
  "chirp.graph.v1.GraphService/Unfollow": WRITE,
  "chirp.graph.v1.GraphService/ListFollowers": READ,
  "chirp.graph.v1.GraphService/ListFollowing": READ,
  "chirp.graph.v1.GraphService/GetRelationship": READ,
  "chirp.graph.v1.GraphService/GetCounts": READ,
  "chirp.graph.v1.GraphService/ListFollowerIds": { who: "internal" },
  "chirp.timeline.v1.TimelineService/GetHomeTimeline": READ,
  "chirp.timeline.v1.TimelineService/GetHomeTimelineUpdates": READ,
  "chirp.timeline.v1.TimelineService/StreamHomeTimeline": WRITE,
  "chirp.notifications.v1.NotificationsService/ListNotifications": READ,
  "chirp.notifications.v1.NotificationsService/GetUnreadCount": READ,
  "chirp.notifications.v1.NotificationsService/MarkRead": WRITE,
  "chirp.notifications.v1.NotificationsService/StreamNotifications": WRITE,
  "chirp.loadtest.v1.LoadTestService/Noop": READ,
};

const nameOf = (method: DescMethod) => `${method.parent.typeName}/${method.name}`;
/** The services of every contract, as the descriptor set the services serve for reflection holds them. */
const SERVICES = [...createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet))].filter((d): d is DescService => d.kind === "service");
const METHODS = SERVICES.flatMap((service) => service.methods);

describe("the access rule of every RPC", () => {
  it("covers exactly the RPCs of the contracts", () => {
    expect(METHODS.map(nameOf).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(METHODS.map((method) => [nameOf(method), method] as const))("%s", (name, method) => {
    const rule = ruleOf(method);
    const row = EXPECTED[name]!;
    expect(rule && { ...rule, adminFor: undefined }).toEqual({ ...row, adminFor: undefined });
    if (row.who === "signed-in" && row.adminFor) {
      expect(rule?.who === "signed-in" && rule.adminFor?.refusal).toBe(row.adminFor.refusal);
    }
  });

  it("spends the read budget exactly on what the contracts mark NO_SIDE_EFFECTS", () => {
    for (const method of METHODS) {
      const rule = ruleOf(method)!;
      if (rule.who === "internal") continue;
      const read = method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
      expect([nameOf(method), rule.budget]).toEqual([nameOf(method), rule.who === "public" ? "entry" : read ? "read" : "write"]);
    }
  });
});

/** What reached a stand-in service: the method, and the caller the gateway vouched for. */
interface Seen {
  method: string;
  callerId: string | null;
  roles: string | null;
}

/** A stand-in for a service: every RPC answers an empty message (a stream, none) and records the call. */
function standIn(service: DescService, seen: Seen[]) {
  return createRouterTransport((router) => {
    // The caller travels as the access token only; the services verify it (what it names is read here).
    const record = (method: DescMethod, header: Headers) => {
      const token = header.get(AUTHORIZATION_KEY)?.replace(/^Bearer /, "");
      const claims = token ? (JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { sub: string; roles: string[] }) : undefined;
      seen.push({ method: nameOf(method), callerId: claims?.sub ?? null, roles: claims && claims.roles.length > 0 ? claims.roles.join(",") : null });
    };
    const handlers = Object.fromEntries(
      service.methods.map((method) => [
        method.localName,
        method.methodKind === "unary"
          ? (_request: unknown, ctx: { requestHeader: Headers }) => {
              record(method, ctx.requestHeader);
              return create(method.output);
            }
          : // eslint-disable-next-line require-yield
            async function* (_request: unknown, ctx: { requestHeader: Headers }) {
              record(method, ctx.requestHeader);
            },
      ]),
    );
    router.service(service, handlers as never);
  });
}

/** The client's address, as connect-node's adapter would record it, from a header only this test sends. */
const fromAddress: Interceptor = (next) => (req) => {
  req.contextValues.set(clientAddressKey, req.header.get("x-test-address") ?? "192.0.2.1");
  return next(req);
};

const keys = generateSigningKeyPair();
const signer = new TokenSigner(createPrivateKey(keys.privateKeyPem), { issuer: "chirp", audience: "chirp", ttlSeconds: 900 });
const verifier = verifierFor(keys.publicKeyPem);

/**
 * The gateway's forwarding routes behind its real interceptors, in memory: no sockets, stand-ins
 * for the services. Budgets of one call each, so a second call shows which budget the first spent.
 */
function gateway(services: DescService[], seen: Seen[]) {
  const limiters = { writes: new RateLimiter(1, 1), reads: new RateLimiter(1, 1) };
  const upstreams = services.map((service) => ({ service, transport: standIn(service, seen) }));
  const routes = forwardingRoutes(upstreams, 5_000, { maxLifetimeMs: 60_000, heartbeatMs: 60_000, maxPerCaller: 5 });
  const interceptors = [fromAddress, ...gatewayInterceptors(testLogger(), verifier, limiters)];
  const transport = createRouterTransport(routes, { router: { interceptors } });
  const as = (id: string, roles: string[] = []) => ({ authorization: `Bearer ${signer.sign(id, roles).token}` });
  return { transport, as };
}

/** Calls `method` once, reading a stream to its end: the error code it ended with, or "OK". */
async function call(transport: ReturnType<typeof gateway>["transport"], method: DescMethod, request: object, headers: Record<string, string>) {
  const client = createClient(method.parent, transport) as unknown as Record<string, (request: object, options: object) => unknown>;
  try {
    const answer = client[method.localName]!(request, { headers });
    if (method.methodKind === "server_streaming") for await (const message of answer as AsyncIterable<unknown>) void message;
    else await answer;
    return "OK";
  } catch (error) {
    const connectError = ConnectError.from(error);
    return `${Code[connectError.code]}: ${connectError.rawMessage}`;
  }
}

describe("the rules, through the gateway's interceptors and routes", () => {
  describe.each(METHODS.map((method) => [nameOf(method), method] as const))("%s", (name, method) => {
    const row = EXPECTED[name]!;
    const plain = row.who === "signed-in" && row.adminFor ? row.adminFor.doesNotAsk : {};
    let seen: Seen[];
    let gw: ReturnType<typeof gateway>;
    beforeEach(() => {
      seen = [];
      gw = gateway(SERVICES, seen);
    });

    it("admits the callers its rule names, and passes on only the caller it verified", async () => {
      const outcomes = [await call(gw.transport, method, plain, {}), await call(gw.transport, method, plain, { ...gw.as(BOB), "x-test-address": "192.0.2.2" })];
      switch (row.who) {
        case "public":
          // No token is read, so none is vouched for, even when one is sent.
          expect(outcomes).toEqual(["OK", "OK"]);
          expect(seen).toEqual([
            { method: name, callerId: null, roles: null },
            { method: name, callerId: null, roles: null },
          ]);
          break;
        case "signed-in":
          expect(outcomes).toEqual(["Unauthenticated: authorization: a bearer access token is required", "OK"]);
          expect(seen).toEqual([{ method: name, callerId: BOB, roles: null }]);
          break;
        case "admin":
          expect(outcomes).toEqual(["Unauthenticated: authorization: a bearer access token is required", `PermissionDenied: ${row.refusal}`]);
          expect(seen).toEqual([]);
          break;
        case "internal":
          expect(outcomes).toEqual(Array(2).fill(`PermissionDenied: ${name} is internal to the mesh and not served here`));
          expect(seen).toEqual([]);
      }
    });

    if (row.who === "admin" || (row.who === "signed-in" && row.adminFor)) {
      it("asks the admin role where its rule says", async () => {
        const request = row.who === "admin" ? {} : row.adminFor!.asks;
        const refusal = row.who === "admin" ? row.refusal : row.adminFor!.refusal;
        expect(await call(gw.transport, method, request, gw.as(BOB, ["moderator"]))).toBe(`PermissionDenied: ${refusal}`);
        expect(await call(gw.transport, method, request, gw.as(ALICE, ["admin"]))).toBe("OK");
        expect(seen).toEqual([{ method: name, callerId: ALICE, roles: "admin" }]);
      });
    }

    if (row.who !== "internal") {
      it(`spends the ${row.budget} budget`, async () => {
        const headers = (address: string, who = ALICE) => ({ ...gw.as(who, ["admin"]), "x-test-address": address });
        const exhausted = new RegExp(`^ResourceExhausted: too many ${row.budget === "read" ? "reads" : "writes"}: retry after \\d+ s$`);
        expect(await call(gw.transport, method, plain, headers("192.0.2.3"))).toBe("OK");
        expect(await call(gw.transport, method, plain, headers("192.0.2.3"))).toMatch(exhausted);
        if (row.budget === "entry") {
          // Counted per client address, whoever the token names; another address has its own.
          expect(await call(gw.transport, method, plain, headers("192.0.2.3", BOB))).toMatch(exhausted);
          expect(await call(gw.transport, method, plain, headers("192.0.2.4"))).toBe("OK");
        } else {
          // Counted per caller, wherever it calls from; another caller has its own.
          expect(await call(gw.transport, method, plain, headers("192.0.2.4"))).toMatch(exhausted);
          expect(await call(gw.transport, method, plain, headers("192.0.2.3", BOB))).toBe("OK");
        }
        // The other budget is untouched.
        const otherBudget = row.budget === "read" ? "write" : "read";
        const other = METHODS.find((m) => {
          const rule = ruleOf(m);
          return rule?.who === "signed-in" && rule.budget === otherBudget;
        })!;
        expect(await call(gw.transport, other, {}, headers("192.0.2.3"))).toBe("OK");
      });
    }
  });
});

describe("an RPC without a rule", () => {
  /** A contract the rules have never heard of: a new service, and a new RPC of a service they know. */
  const unlisted = createFileRegistry(
    create(FileDescriptorProtoSchema, {
      name: "chirp/unlisted/v1/unlisted.proto",
      package: "chirp.users.v1",
      dependency: ["google/protobuf/empty.proto"],
      syntax: "proto3",
      service: [
        { name: "UsersService", method: [{ name: "Impersonate", inputType: ".google.protobuf.Empty", outputType: ".google.protobuf.Empty" }] },
        { name: "AuditService", method: [{ name: "Watch", inputType: ".google.protobuf.Empty", outputType: ".google.protobuf.Empty", serverStreaming: true }] },
      ],
    }),
    (file) => (file === "google/protobuf/empty.proto" ? file_google_protobuf_empty : undefined),
  );
  const services = [...unlisted].filter((d): d is DescService => d.kind === "service");

  it.each(services.flatMap((service) => service.methods).map((method) => [nameOf(method), method] as const))(
    "is refused to everyone and never reaches the service: %s",
    async (name, method) => {
      expect(ruleOf(method)).toBeUndefined();
      const seen: Seen[] = [];
      const gw = gateway(services, seen);
      const refused = `PermissionDenied: ${name} has no access rule and is not served here`;
      expect(await call(gw.transport, method, {}, {})).toBe(refused);
      expect(await call(gw.transport, method, {}, gw.as(ALICE, ["admin"]))).toBe(refused);
      expect(seen).toEqual([]);
    },
  );
});
