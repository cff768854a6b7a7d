import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { status, type ServiceError } from "@grpc/grpc-js";
import { newId } from "@chirp/kit";
import { decodeEvent, InProcessEventBus } from "@chirp/kit/events";
import { unary } from "@chirp/kit/grpc";
import { GraphServiceClient, PeopleView, type ListFollowerIdsRequest, type ListFollowerIdsResponse } from "@chirp/proto/grpc/chirp/graph/v1/graph";
import { asCaller, asGatewayForBuf, eventually, grpcFailure, serviceUnderTest, testChannel, testLogger } from "@chirp/kit/testing";
import { pino } from "pino";
import { startGraph } from "../src/app.js";
import { expectAlternating, newUserIds, testConfig, userCreated, userDeleted } from "./fixtures.js";

describe("GraphService over gRPC (in-process, in-memory storage)", () => {
  const service = serviceUnderTest({
    client: GraphServiceClient,
    fakeUsers: true,
    start: ({ bus, log, users }) => startGraph(testConfig({ upstreams: { users: users.address } }), { log, bus }),
  });
  /** A caller the service never heard of, used to see when it has heard of someone else. */
  const probe = newId();
  /** The timeline's identity: the only workload that may list every follower (graph's peers.ts). */
  let asTimeline: GraphServiceClient | undefined;
  const timelineClient = () => (asTimeline ??= new GraphServiceClient(`127.0.0.1:${service.app.port}`, testChannel("timeline")));
  afterAll(() => asTimeline?.close());

  const call = {
    follow: (caller: string, followeeId: string) => unary(service.client, service.client.follow, { followeeId }, asCaller(caller)),
    unfollow: (caller: string, followeeId: string) => unary(service.client, service.client.unfollow, { followeeId }, asCaller(caller)),
    listFollowers: (userId: string, pageSize = 0, pageToken = "") => unary(service.client, service.client.listFollowers, { userId, pageSize, pageToken, view: 0 }),
    listFollowing: (userId: string, pageSize = 0, pageToken = "") => unary(service.client, service.client.listFollowing, { userId, pageSize, pageToken, view: 0 }),
    getRelationship: (userId: string, otherId: string) => unary(service.client, service.client.getRelationship, { userId, otherId }),
    getCounts: (userId: string) => unary(service.client, service.client.getCounts, { userId }),
    listFollowerIds: (request: Partial<ListFollowerIdsRequest>) =>
      new Promise<ListFollowerIdsResponse[]>((resolve, reject) => {
        const batches: ListFollowerIdsResponse[] = [];
        timelineClient()
          .listFollowerIds({ userId: "", batchSize: 0, resumeToken: "", ...request })
          .on("data", (batch: ListFollowerIdsResponse) => batches.push(batch))
          .on("error", reject)
          .on("end", () => resolve(batches));
      }),
  };

  /** New users announced as the users service would; resolves once the graph service has heard of all of them. */
  async function known(count: number): Promise<string[]> {
    const ids = newUserIds(count);
    for (const id of ids) await service.bus.publish(userCreated(id));
    // Events are handled in order, so once the last is followable all are.
    await eventually(() => call.follow(probe, ids.at(-1)!));
    await call.unfollow(probe, ids.at(-1)!);
    return ids;
  }

  async function allFollowers(userId: string, pageSize: number): Promise<string[]> {
    const ids: string[] = [];
    let pageToken = "";
    do {
      const page = await call.listFollowers(userId, pageSize, pageToken);
      ids.push(...page.followers.map((f) => f.userId));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(new Set(ids).size).toBe(ids.length);
    return ids;
  }

  const recorded = (followerId: string, followeeId: string) =>
    service.bus.messages("chirp.graph.>").flatMap((m) => {
      const payload = decodeEvent(m.data).payload;
      if (payload?.$case !== "userFollowed" && payload?.$case !== "userUnfollowed") return [];
      return payload.value.followerId === followerId && payload.value.followeeId === followeeId ? [payload.$case === "userFollowed" ? "followed" : "unfollowed"] : [];
    });

  it("follows and unfollows on the caller's behalf, idempotently", async () => {
    const [a, b] = (await known(2)) as [string, string];
    await call.follow(a, b);
    await call.follow(a, b);
    expect(await call.getRelationship(a, b)).toEqual({ following: true, followedBy: false });
    expect(await call.getRelationship(b, a)).toEqual({ following: false, followedBy: true });
    expect(await call.getCounts(b)).toEqual({ followersCount: "1", followingCount: "0" });
    expect(await call.getCounts(a)).toEqual({ followersCount: "0", followingCount: "1" });

    await call.unfollow(a, b);
    await call.unfollow(a, b);
    expect(await call.getRelationship(a, b)).toEqual({ following: false, followedBy: false });
    expect(await call.getCounts(b)).toEqual({ followersCount: "0", followingCount: "0" });
  });

  it("needs a caller to follow or unfollow", async () => {
    const [a] = (await known(1)) as [string];
    await grpcFailure(unary(service.client, service.client.follow, { followeeId: a }), status.UNAUTHENTICATED);
    await grpcFailure(unary(service.client, service.client.unfollow, { followeeId: a }), status.UNAUTHENTICATED);
  });

  it("answers NOT_FOUND for a user it has not heard of, until their UserCreated arrives", async () => {
    const [a] = (await known(1)) as [string];
    const newcomer = newId();
    const notYet = await grpcFailure(call.follow(a, newcomer), status.NOT_FOUND, "followee_id");
    expect(notYet.details).toBe(`followee_id: no user has id "${newcomer}"`);
    await service.bus.publish(userCreated(newcomer));
    await eventually(() => call.follow(a, newcomer));
    expect((await call.getCounts(newcomer)).followersCount).toBe("1");
  });

  it("refuses bad input to every call with INVALID_ARGUMENT naming the field", async () => {
    const [a] = (await known(1)) as [string];
    const bad = await grpcFailure(call.follow(a, "not-an-id"), status.INVALID_ARGUMENT, "followee_id");
    expect(bad.details).toBe("followee_id: is not a valid user id");
    await grpcFailure(call.follow(a, ""), status.INVALID_ARGUMENT, "followee_id");
    await grpcFailure(call.follow(a, a), status.INVALID_ARGUMENT, "followee_id");
    await grpcFailure(call.unfollow(a, "nope"), status.INVALID_ARGUMENT, "followee_id");
    await grpcFailure(call.listFollowers("nope"), status.INVALID_ARGUMENT, "user_id");
    await grpcFailure(call.listFollowers(a, -1), status.INVALID_ARGUMENT, "page_size");
    await grpcFailure(call.listFollowers(a, 10, "garbage"), status.INVALID_ARGUMENT, "page_token");
    await grpcFailure(call.listFollowing(""), status.INVALID_ARGUMENT, "user_id");
    await grpcFailure(call.listFollowing(a, -5), status.INVALID_ARGUMENT, "page_size");
    await grpcFailure(call.getRelationship("nope", a), status.INVALID_ARGUMENT, "user_id");
    await grpcFailure(call.getRelationship(a, "nope"), status.INVALID_ARGUMENT, "other_id");
    await grpcFailure(call.getCounts("nope"), status.INVALID_ARGUMENT, "user_id");
    await grpcFailure(call.listFollowerIds({ userId: "nope" }), status.INVALID_ARGUMENT, "user_id");
    await grpcFailure(call.listFollowerIds({ userId: a, batchSize: -1 }), status.INVALID_ARGUMENT, "batch_size");
    await grpcFailure(call.listFollowerIds({ userId: a, resumeToken: "garbage" }), status.INVALID_ARGUMENT, "resume_token");
  });

  it("lets only the timeline list every follower: the gateway and tweets are PERMISSION_DENIED, named", async () => {
    const [a] = (await known(1)) as [string];
    for (const workload of ["gateway", "tweets"]) {
      const other = new GraphServiceClient(`127.0.0.1:${service.app.port}`, testChannel(workload));
      try {
        const refused = await grpcFailure(
          new Promise((resolve, reject) => other.listFollowerIds({ userId: a, batchSize: 0, resumeToken: "" }).on("error", reject).on("end", resolve).on("data", () => undefined)),
          status.PERMISSION_DENIED,
        );
        expect(refused.details).toBe(`"${workload}" may not call /chirp.graph.v1.GraphService/ListFollowerIds: only "timeline" may`);
      } finally {
        other.close();
      }
    }
    expect(await call.listFollowerIds({ userId: a })).toEqual([]);
    // A read users make through the gateway is the timeline's to call too, and no other service's.
    const counts = new GraphServiceClient(`127.0.0.1:${service.app.port}`, testChannel("notifications"));
    try {
      await grpcFailure(unary(counts, counts.getCounts, { userId: a }), status.PERMISSION_DENIED);
    } finally {
      counts.close();
    }
  });

  it("pages followers and following, newest relationship first", async () => {
    const [star, ...fans] = (await known(5)) as [string, ...string[]];
    for (const fan of fans) await call.follow(fan, star);
    const first = await call.listFollowers(star, 3);
    expect(first.followers.map((f) => f.userId)).toEqual([fans[3], fans[2], fans[1]]);
    expect(first.followers[0]!.followedAt).toBeInstanceOf(Date);
    const second = await call.listFollowers(star, 3, first.nextPageToken);
    expect(second).toEqual({ followers: [{ userId: fans[0], followedAt: expect.any(Date) }], nextPageToken: "" });
    await grpcFailure(call.listFollowing(star, 3, first.nextPageToken), status.INVALID_ARGUMENT, "page_token");

    await call.follow(fans[0]!, fans[1]!);
    const following = await call.listFollowing(fans[0]!);
    expect(following.following.map((f) => f.userId)).toEqual([fans[1], star]);
    expect(following.nextPageToken).toBe("");
  });

  it("lists the people themselves with PEOPLE_VIEW_PROFILES, one users call a page, and only ids otherwise", async () => {
    const [star, ...fans] = (await known(3)) as [string, ...string[]];
    for (const fan of fans) await call.follow(fan, star);
    const users = service.users;
    users.deleted.add(fans[0]!);
    const before = users.batchCalls;
    const list = (userId: string, view: PeopleView) => unary(service.client, service.client.listFollowers, { userId, pageSize: 0, pageToken: "", view });
    const { followers } = await list(star, PeopleView.PEOPLE_VIEW_PROFILES);
    expect(users.batchCalls - before).toBe(1);
    expect(followers.map((f) => [f.userId, f.user?.username, f.user?.email])).toEqual([
      [fans[1], `u_${fans[1]!.slice(-8).toLowerCase()}`, ""],
      // Deleted since it followed: listed, without a profile.
      [fans[0], undefined, undefined],
    ]);
    const { following } = await unary(service.client, service.client.listFollowing, { userId: fans[1]!, pageSize: 0, pageToken: "", view: PeopleView.PEOPLE_VIEW_PROFILES });
    expect(following[0]!.user).toMatchObject({ id: star, displayName: `User ${star.slice(-4)}` });
    for (const view of [PeopleView.PEOPLE_VIEW_UNSPECIFIED, PeopleView.PEOPLE_VIEW_IDS]) {
      expect((await list(star, view)).followers.every((f) => f.user === undefined)).toBe(true);
    }
    expect(users.batchCalls - before).toBe(2);
    await grpcFailure(list(star, 7 as PeopleView), status.INVALID_ARGUMENT, "view");
  });

  it("streams follower ids in batches, resumable after any batch", async () => {
    const [star] = (await known(1)) as [string];
    const fans = newUserIds(25);
    for (const fan of fans) await call.follow(fan, star);
    const batches = await call.listFollowerIds({ userId: star, batchSize: 10 });
    expect(batches.map((b) => b.followerIds.length)).toEqual([10, 10, 5]);
    expect(batches.flatMap((b) => b.followerIds)).toEqual([...fans].reverse());

    const resumed = await call.listFollowerIds({ userId: star, batchSize: 20, resumeToken: batches[0]!.resumeToken });
    expect(resumed.flatMap((b) => b.followerIds)).toEqual(batches.slice(1).flatMap((b) => b.followerIds));
    expect((await call.listFollowerIds({ userId: star })).map((b) => b.followerIds.length)).toEqual([25]);
    expect(await call.listFollowerIds({ userId: fans[0]! })).toEqual([]);
  });

  it("ends a follower-id stream whose client goes away while the server waits to send", async () => {
    const logged: Array<{ msg: string; method?: string; code?: string }> = [];
    const log = pino({ level: "info" }, { write: (line: string) => logged.push(JSON.parse(line)) });
    const ownBus = new InProcessEventBus(testLogger());
    const own = await startGraph(testConfig({ userEventsConsumer: "graph_cancel_test", upstreams: { users: service.users.address } }), { log, bus: ownBus });
    // A tiny HTTP/2 window: a paused reader soon leaves the server waiting for it.
    const slowReader = new GraphServiceClient(`127.0.0.1:${own.port}`, testChannel("timeline"), { "grpc-node.flow_control_window": 1_024 });
    const follower = new GraphServiceClient(`127.0.0.1:${own.port}`, testChannel());
    try {
      const [star] = newUserIds(1) as [string];
      await ownBus.publish(userCreated(star));
      // More batches than any HTTP/2 window and socket buffer hold (Node 24 buffers more than 20).
      const fans = newUserIds(3_000);
      const follow = (fan: string) => unary(follower, follower.follow, { followeeId: star }, asCaller(fan));
      await eventually(() => follow(fans[0]!));
      for (let i = 1; i < fans.length; i += 250) await Promise.all(fans.slice(i, i + 250).map(follow));

      const stream = slowReader.listFollowerIds({ userId: star, batchSize: 1, resumeToken: "" });
      const failed = new Promise<ServiceError>((resolve) => stream.on("error", resolve));
      await new Promise((resolve) => stream.once("data", resolve));
      stream.pause();
      await new Promise((resolve) => setTimeout(resolve, 200));
      stream.cancel();
      expect((await failed).code).toBe(status.CANCELLED);

      const ended = await eventually(() => {
        const end = logged.find((l) => l.method === "/chirp.graph.v1.GraphService/ListFollowerIds" && /^rpc /.test(l.msg));
        expect(end).toBeDefined();
        return end!;
      });
      expect([ended.msg, ended.code]).toEqual(["rpc finished", "CANCELLED"]);
    } finally {
      slowReader.close();
      follower.close();
      await own.stop();
    }
    // 3,000 follows to set up, each asking the users service first.
  }, 90_000);

  it("keeps counts and lists exact under 50 parallel follow, unfollow, follow sequences on one pair", async () => {
    const [a, b] = (await known(2)) as [string, string];
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        await call.follow(a, b);
        await call.unfollow(a, b);
        await call.follow(a, b);
      }),
    );
    const { following } = await call.getRelationship(a, b);
    const expected = following ? "1" : "0";
    expect(await call.getCounts(b)).toEqual({ followersCount: expected, followingCount: "0" });
    expect(await call.getCounts(a)).toEqual({ followersCount: "0", followingCount: expected });
    expect(await allFollowers(b, 10)).toEqual(following ? [a] : []);
    await eventually(() => expectAlternating(recorded(a, b), following));

    await call.follow(a, b);
    expect(await call.getCounts(b)).toEqual({ followersCount: "1", followingCount: "0" });
  });

  it("keeps counts and lists exact when 100 users follow one at once and a third of them leave", async () => {
    const [star, ...fans] = (await known(101)) as [string, ...string[]];
    const leaving = new Set(fans.filter((_, i) => i % 3 === 0));
    await Promise.all(
      fans.map(async (fan) => {
        await call.follow(fan, star);
        if (leaving.has(fan)) await call.unfollow(fan, star);
      }),
    );
    const staying = fans.filter((fan) => !leaving.has(fan));
    expect(await call.getCounts(star)).toEqual({ followersCount: String(staying.length), followingCount: "0" });
    const listed = await allFollowers(star, 9);
    expect([...listed].sort()).toEqual([...staying].sort());
    const streamed = (await call.listFollowerIds({ userId: star, batchSize: 16 })).flatMap((b) => b.followerIds);
    expect(streamed).toEqual(listed);
  });

  it("announces follows and unfollows on the service.bus, in order, with the event id as message id", async () => {
    const [a, b] = (await known(2)) as [string, string];
    await call.follow(a, b);
    await call.unfollow(a, b);
    const messages = await eventually(() => {
      const mine = service.bus.messages("chirp.graph.>").filter((m) => {
        const value = decodeEvent(m.data).payload?.value as { followerId?: string; followeeId?: string };
        return value.followerId === a && value.followeeId === b;
      });
      expect(mine).toHaveLength(2);
      return mine;
    });
    expect(messages.map((m) => m.subject)).toEqual(["chirp.graph.user_followed", "chirp.graph.user_unfollowed"]);
    const [followed, unfollowed] = messages.map((m) => decodeEvent(m.data));
    expect(followed!.payload).toEqual({ $case: "userFollowed", value: { followerId: a, followeeId: b, followedAt: expect.any(Date) } });
    expect(unfollowed!.payload).toEqual({ $case: "userUnfollowed", value: { followerId: a, followeeId: b, unfollowedAt: expect.any(Date) } });
    expect(messages.map((m) => m.id)).toEqual([followed!.id, unfollowed!.id]);
  });

  it("removes a deleted user's follows both ways once their UserDeleted arrives", async () => {
    const [gone, a, b] = (await known(3)) as [string, string, string];
    await call.follow(gone, a);
    await call.follow(b, gone);
    await call.follow(a, b);
    await service.bus.publish(userDeleted(gone));
    await eventually(async () => expect(await call.getCounts(a)).toEqual({ followersCount: "0", followingCount: "1" }));
    expect(await call.getCounts(b)).toEqual({ followersCount: "1", followingCount: "0" });
    expect(await call.getCounts(gone)).toEqual({ followersCount: "0", followingCount: "0" });
    expect((await call.listFollowing(b)).following).toEqual([]);
    await grpcFailure(call.follow(a, gone), status.NOT_FOUND, "followee_id");
    await grpcFailure(call.follow(gone, a), status.PERMISSION_DENIED);
  });

  it("refuses follows and unfollows by a deleted account from the moment the users service says so, before any event", async () => {
    const [gone, a, b] = (await known(3)) as [string, string, string];
    await call.follow(gone, a);
    service.users.deleted.add(gone);
    for (const write of [call.follow(gone, b), call.unfollow(gone, a)]) {
      const error = await grpcFailure(write, status.PERMISSION_DENIED);
      expect(error.details).toBe("your account has been deleted");
    }
    expect(await call.getRelationship(gone, a)).toMatchObject({ following: true });
    expect(await call.getRelationship(gone, b)).toMatchObject({ following: false });
  });

  it("follows no one for a caller while the users service cannot say whether they are live, and serves reads meanwhile", async () => {
    const ownBus = new InProcessEventBus(testLogger());
    const own = await startGraph(testConfig({ userEventsConsumer: "graph_no_users_test" }), { log: testLogger(), bus: ownBus });
    const ownClient = new GraphServiceClient(`127.0.0.1:${own.port}`, testChannel());
    try {
      const [a, b] = newUserIds(2) as [string, string];
      await ownBus.publish(userCreated(b));
      await eventually(() => unary(ownClient, ownClient.getCounts, { userId: b }));
      const error = await grpcFailure(unary(ownClient, ownClient.follow, { followeeId: b }, asCaller(a)), status.UNAVAILABLE);
      expect(error.details).toMatch(/users service/);
      expect(await unary(ownClient, ownClient.getRelationship, { userId: a, otherId: b })).toMatchObject({ following: false });
    } finally {
      ownClient.close();
      await own.stop();
    }
  });

  it("describes itself through server reflection to a standard client", async () => {
    // Asynchronously: the server answering runs in this very process.
    const buf = join(__dirname, "../../../node_modules/.bin/buf");
    const { stdout } = await promisify(execFile)(buf, ["curl", "--protocol", "grpc", ...asGatewayForBuf("graph"), "--list-methods", `https://127.0.0.1:${service.app.port}`]);
    expect(stdout.trim().split("\n")).toEqual(expect.arrayContaining(["chirp.graph.v1.GraphService/Follow", "chirp.graph.v1.GraphService/ListFollowerIds"]));
  });
});
