/**
 * The workloads' rules (each service's src/grpc/peers.ts) against the gateway's (access.ts) and the
 * catalogue, and the mesh running with them: a direct call with a forged caller header, a valid
 * certificate of the wrong workload, and a signed-in caller without the admin role are refused by
 * the service that owns the data, whatever the gateway would have done.
 */
import { credentials, Metadata, status } from "@grpc/grpc-js";
import { createLogger, GATEWAY_SERVICES, newId, SERVICES, type ServiceName } from "@chirp/kit";
import { channelCredentials, meshChannelOptions, unary, type PeerRules } from "@chirp/kit/grpc";
import { asCaller, grpcFailure, testCertificates, TEST_SIGNING_KEY, uniqueName } from "@chirp/kit/testing";
import { startMesh, type Mesh } from "@chirp/mesh";
import { GraphServiceClient } from "@chirp/proto/grpc/chirp/graph/v1/graph";
import { TweetsServiceClient } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import { UsersServiceClient } from "@chirp/proto/grpc/chirp/users/v1/users";
import { isServed, ruledService, ruleOf } from "../../gateway/src/access";
import { graphPeers } from "../../services/graph/src/grpc/peers";
import { notificationsPeers } from "../../services/notifications/src/grpc/peers";
import { timelinePeers } from "../../services/timeline/src/grpc/peers";
import { tweetsPeers } from "../../services/tweets/src/grpc/peers";
import { usersPeers } from "../../services/users/src/grpc/peers";

const PEERS: Record<ServiceName, PeerRules<Record<string, unknown>>> = {
  users: usersPeers,
  tweets: tweetsPeers,
  graph: graphPeers,
  timeline: timelinePeers,
  notifications: notificationsPeers,
};

describe("the peer rules of every service", () => {
  it.each(GATEWAY_SERVICES.map((s) => [s.name, s.grpcService] as const))("let the gateway call exactly what access.ts serves of %s", (name, grpcService) => {
    const service = ruledService(grpcService)!;
    for (const method of service.methods) {
      const gatewayMay = (PEERS[name][method.localName] ?? []).includes("gateway");
      expect([method.name, gatewayMay]).toEqual([method.name, isServed(ruleOf(method))]);
    }
    expect(Object.keys(PEERS[name]).sort()).toEqual(service.methods.map((m) => m.localName).sort());
  });

  it("name only the gateway and the catalogue's services, never the service itself", () => {
    const known = new Set<string>(["gateway", ...SERVICES.map((s) => s.name)]);
    for (const [name, rules] of Object.entries(PEERS)) {
      for (const peers of Object.values(rules)) {
        for (const peer of peers) expect([name, peer, known.has(peer) && peer !== name]).toEqual([name, peer, true]);
      }
    }
  });
});

describe("a mesh whose services trust no header and no stranger", () => {
  let mesh: Mesh;
  const clients: Array<{ close(): void }> = [];
  /** A client of `service` with the certificate of `workload`, as any process holding it could make. */
  function as<C extends { close(): void }>(Client: new (address: string, creds: ReturnType<typeof channelCredentials>, options: object) => C, service: ServiceName, workload: string): C {
    const client = new Client(mesh.addresses[service], channelCredentials(mesh.certificates.filesOf(workload), service), meshChannelOptions(service));
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    mesh = await startMesh({
      // The test tokens (asCaller) are signed with the test key; the mesh's users service signs with it.
      env: { LOG_LEVEL: "silent", PASSWORD_HASH_COST: "4", AUTH_SIGNING_KEY: TEST_SIGNING_KEY },
      log: createLogger("mesh", "silent"),
      loopback: true,
      run: uniqueName("peers"),
      certificates: testCertificates(),
    });
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await mesh?.stop();
  });

  it("refuses a post made with a forged caller header and no token, UNAUTHENTICATED, even from a mesh workload", async () => {
    const tweets = as(TweetsServiceClient, "tweets", "gateway");
    const forged = new Metadata();
    forged.set("x-chirp-caller-id", newId());
    forged.set("x-chirp-caller-roles", "admin");
    await grpcFailure(unary(tweets, tweets.createTweet, { text: "not mine", replyToId: "", tags: [], idempotencyKey: "" }, forged), status.UNAUTHENTICATED);
    // Counting everyone's posts is the admin's, checked by tweets itself: a forged role does nothing.
    await grpcFailure(unary(tweets, tweets.countTweets, { tag: "", authorId: "", startTime: undefined, endTime: undefined }, forged), status.UNAUTHENTICATED);
    const notAdmin = await grpcFailure(unary(tweets, tweets.countTweets, { tag: "", authorId: "", startTime: undefined, endTime: undefined }, asCaller(newId())), status.PERMISSION_DENIED);
    expect(notAdmin.details).toBe("author_id: counting every user's tweets needs the admin role");
  });

  it("refuses a valid certificate of the wrong workload for a protected RPC, naming it; the right one is served", async () => {
    const request = { userId: newId(), batchSize: 0, resumeToken: "" };
    const drain = (client: GraphServiceClient) =>
      new Promise<void>((resolve, reject) => client.listFollowerIds(request).on("data", () => undefined).on("error", reject).on("end", resolve));
    for (const workload of ["gateway", "tweets", "notifications"]) {
      const refused = await grpcFailure(drain(as(GraphServiceClient, "graph", workload)), status.PERMISSION_DENIED);
      expect(refused.details).toBe(`"${workload}" may not call /chirp.graph.v1.GraphService/ListFollowerIds: only "timeline" may`);
    }
    // Graph answers for a user it has not heard of; what matters is that the call was let in.
    const served = await drain(as(GraphServiceClient, "graph", "timeline")).then(
      () => status.OK,
      (error: { code: status }) => error.code,
    );
    expect(served).not.toBe(status.PERMISSION_DENIED);
    // Login is the gateway's alone to forward: another workload of the mesh cannot sign in as anyone.
    const users = as(UsersServiceClient, "users", "timeline");
    await grpcFailure(unary(users, users.login, { usernameOrEmail: "ada", password: "x", deviceLabel: "" }), status.PERMISSION_DENIED);
  });

  it("does not serve a client without a certificate of the mesh CA", async () => {
    const plain = new TweetsServiceClient(mesh.addresses.tweets, credentials.createInsecure());
    clients.push(plain);
    await grpcFailure(unary(plain, plain.getTweet, { id: newId() }, new Metadata(), { deadline: Date.now() + 3_000 }), status.UNAVAILABLE);
  });
});
