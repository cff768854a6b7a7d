import { status, type ServiceError } from "@grpc/grpc-js";
import { eventMessage, InProcessEventBus } from "@chirp/kit/events";
import { unary } from "@chirp/kit/grpc";
import { TimelineServiceClient, type StreamHomeTimelineResponse } from "@chirp/proto/grpc/chirp/timeline/v1/timeline";
import type { Tweet } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import { asCaller, eventually, grpcFailure, testChannel, testLogger } from "@chirp/kit/testing";
import { startTimeline, type TimelineApp } from "../src/app.js";
import { testConfig } from "./fixtures.js";
import { FakeUpstreamServices } from "./upstream-fakes.js";

const followed = (followerId: string, followeeId: string) =>
  eventMessage({ $case: "userFollowed", value: { followerId, followeeId, followedAt: new Date() } });
const created = (tweet: Tweet) =>
  eventMessage({
    $case: "tweetCreated",
    value: { ...tweet, tweetId: tweet.id, replyToId: "", tags: [] },
  });

describe("TimelineService over gRPC (in-process bus, memory, fake upstream services)", () => {
  let fakes: FakeUpstreamServices;
  let bus: InProcessEventBus;
  let app: TimelineApp;
  let client: TimelineServiceClient;

  const page = (readerId: string, pageSize = 20, pageToken = "") =>
    unary(client, client.getHomeTimeline, { pageSize, pageToken }, asCaller(readerId));

  /** A reader following an author, as the graph would have announced it. */
  async function readerOf(author: { id: string }) {
    const reader = fakes.addUser(`reader_${fakes.users.size}`);
    fakes.followers.set(author.id, [...(fakes.followers.get(author.id) ?? []), reader.id]);
    await bus.publish(followed(reader.id, author.id));
    return reader;
  }

  async function post(authorId: string, text: string, retweetOfId = "") {
    const tweet = fakes.addTweet(authorId, text, retweetOfId);
    await bus.publish(created(tweet));
    return tweet;
  }

  beforeAll(async () => {
    fakes = await new FakeUpstreamServices().start();
    bus = new InProcessEventBus(testLogger());
    const upstreams = fakes.addresses;
    // Every page asks for its profiles, so each test sees the calls its own reads make.
    app = await startTimeline(testConfig({ upstreams, profileCacheMs: 0 }), { log: testLogger(), bus });
    client = new TimelineServiceClient(`127.0.0.1:${app.port}`, testChannel());
  });

  afterAll(async () => {
    client.close();
    await app.stop();
    await fakes.stop();
  });

  it("needs a caller", async () => {
    await grpcFailure(unary(client, client.getHomeTimeline, { pageSize: 0, pageToken: "" }), status.UNAUTHENTICATED);
    await grpcFailure(unary(client, client.getHomeTimelineUpdates, { sinceToken: "x", pageSize: 0 }), status.UNAUTHENTICATED);
    const stream = client.streamHomeTimeline({});
    const error = await new Promise<ServiceError>((resolve) => stream.on("error", resolve));
    expect(status[error.code]).toBe("UNAUTHENTICATED");
  });

  it("renders a page from its own tweets projection and one BatchGetUsers call, forwarding request id, caller and deadline", async () => {
    const [author, retweeter] = [fakes.addUser("author"), fakes.addUser("retweeter")];
    const reader = await readerOf(author);
    fakes.followers.set(retweeter.id, [reader.id]);
    await bus.publish(followed(reader.id, retweeter.id));
    const original = await post(author.id, "hello #world");
    const retweet = await post(retweeter.id, "", original.id);
    const own = await post(reader.id, "my own");
    await eventually(async () => expect((await page(reader.id)).items).toHaveLength(3));

    fakes.calls.length = 0;
    const response = await unary(client, client.getHomeTimeline, { pageSize: 10, pageToken: "" }, asCaller(reader.id, { requestId: "req-page-1" }), {
      deadline: Date.now() + 5_000,
    });
    expect(response.items.map((i) => i.id)).toEqual([own.id, retweet.id, original.id]);
    const [mine, shared, plain] = response.items;
    expect(mine).toMatchObject({ tweet: { id: own.id, text: "my own" }, author: { id: reader.id, username: reader.username } });
    // Public profiles only, even the caller's own.
    expect(mine!.author!.email).toBe("");
    expect(shared).toMatchObject({ tweet: { id: original.id, text: "hello #world" }, author: { id: author.id, email: "" }, retweetedBy: { id: retweeter.id } });
    expect(shared!.createdAt).toEqual(retweet.createdAt);
    expect(plain).toMatchObject({ tweet: { id: original.id }, author: { id: author.id }, retweetedBy: undefined });
    expect(response.sinceToken).not.toBe("");
    expect(response.nextPageToken).toBe("");

    const forwarded = { requestId: "req-page-1", callerId: reader.id, hasDeadline: true };
    expect(fakes.callsTo("BatchGetTweets")).toEqual([]);
    const users = fakes.callsTo("BatchGetUsers");
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject(forwarded);
    expect(new Set(users[0]!.ids)).toEqual(new Set([reader.id, author.id, retweeter.id]));
  });

  it("renders people from its own profiles projection, asking the users service only for those it does not know", async () => {
    const author = fakes.addUser("announced");
    await bus.publish(eventMessage({ $case: "userCreated", value: { userId: author.id, username: author.username, displayName: author.displayName } }, author.createdAt));
    const renamedAt = new Date(author.createdAt!.getTime() + 1_000);
    await bus.publish(
      eventMessage({ $case: "userProfileChanged", value: { userId: author.id, username: author.username, displayName: "Announced ✓", bio: "hi", avatarUrl: "", updatedAt: renamedAt } }, renamedAt),
    );
    // The reader's account is older than the events the projection was built from.
    const reader = await readerOf(author);
    const [theirs, own] = [await post(author.id, "from a known author"), await post(reader.id, "from a stranger to the projection")];
    await eventually(async () => expect((await page(reader.id)).items.map((i) => [i.id, i.author?.displayName])).toEqual([[own.id, reader.displayName], [theirs.id, "Announced ✓"]]));

    fakes.calls.length = 0;
    const [mine, known] = (await unary(client, client.getHomeTimeline, { pageSize: 10, pageToken: "" }, asCaller(reader.id, { requestId: "req-people" }))).items;
    expect(known!.author).toEqual({ ...author, displayName: "Announced ✓", bio: "hi", updatedAt: renamedAt, email: "" });
    expect(mine!.author).toMatchObject({ id: reader.id, email: "" });
    expect(fakes.callsTo("BatchGetUsers")).toEqual([{ method: "BatchGetUsers", requestId: "req-people", callerId: reader.id, hasDeadline: false, ids: [reader.id] }]);
  });

  it("shows counts and the reader's own likes and retweets from the events", async () => {
    const [author, fan] = [fakes.addUser("liked"), fakes.addUser("fan")];
    const reader = await readerOf(author);
    const original = await post(author.id, "like me");
    const reply = fakes.addTweet(fan.id, "nice", "");
    await bus.publish(eventMessage({ $case: "tweetCreated", value: { ...reply, tweetId: reply.id, replyToId: original.id, tags: [] } }));
    await post(reader.id, "", original.id);
    const liked = (userId: string, at: number) => eventMessage({ $case: "tweetLiked", value: { tweetId: original.id, userId, likedAt: new Date(at) } });
    await bus.publish(liked(reader.id, 1_000));
    await bus.publish(liked(fan.id, 1_000));
    await bus.publish(eventMessage({ $case: "tweetUnliked", value: { tweetId: original.id, userId: fan.id, unlikedAt: new Date(2_000) } }));

    await eventually(async () => {
      const shown = (await page(reader.id)).items.find((item) => item.id === original.id);
      expect(shown?.tweet).toMatchObject({ text: "like me", likeCount: "1", retweetCount: "1", replyCount: "1", likedByMe: true, retweetedByMe: true });
    });
    const asAuthor = (await page(author.id)).items.find((item) => item.id === original.id);
    expect(asAuthor?.tweet).toMatchObject({ likeCount: "1", likedByMe: false, retweetedByMe: false });
  });

  it("asks the tweets service for what its projection cannot render, for the caller", async () => {
    const author = fakes.addUser("veteran");
    const reader = await readerOf(author);
    // An older tweets service announces tweets without their text: the projection keeps no card.
    const old = fakes.addTweet(author.id, "from before the projection");
    await bus.publish(eventMessage({ $case: "tweetCreated", value: { ...old, tweetId: old.id, replyToId: "", tags: [], text: "", mentions: [] } }));
    const fresh = await post(author.id, "from now on");
    await eventually(async () => expect((await page(reader.id)).items).toHaveLength(2));

    fakes.calls.length = 0;
    const response = await unary(client, client.getHomeTimeline, { pageSize: 10, pageToken: "" }, asCaller(reader.id, { requestId: "req-old" }));
    expect(response.items.map((i) => [i.id, i.tweet?.text])).toEqual([
      [fresh.id, "from now on"],
      [old.id, "from before the projection"],
    ]);
    expect(fakes.callsTo("BatchGetTweets")).toEqual([{ method: "BatchGetTweets", requestId: "req-old", callerId: reader.id, hasDeadline: false, ids: [old.id] }]);
  });

  it("fans out with a request id of the event's own and no caller", async () => {
    const author = fakes.addUser("fanner");
    const reader = await readerOf(author);
    const event = created(fakes.addTweet(author.id, "fan me out"));
    await bus.publish(event);
    await eventually(async () => expect((await page(reader.id)).items).toHaveLength(1));
    const fanOutCalls = fakes.calls.filter((c) => ["GetCounts", "ListFollowerIds"].includes(c.method) && c.ids[0] === author.id);
    expect(fanOutCalls.map((c) => c.method)).toEqual(["GetCounts", "ListFollowerIds"]);
    for (const call of fanOutCalls) expect(call).toMatchObject({ requestId: `event-${event.id}`, callerId: undefined, hasDeadline: true });
  });

  it("pages with tokens and answers updates since a page", async () => {
    const author = fakes.addUser("pager");
    const reader = await readerOf(author);
    const posts = [];
    for (let i = 0; i < 3; i++) posts.push(await post(author.id, `post ${i}`));
    await eventually(async () => expect((await page(reader.id)).items).toHaveLength(3));

    const first = await page(reader.id, 2);
    const second = await page(reader.id, 2, first.nextPageToken);
    expect([...first.items, ...second.items].map((i) => i.id)).toEqual(posts.map((p) => p.id).reverse());
    expect(second.nextPageToken).toBe("");
    await grpcFailure(page(reader.id, 2, "not-a-token"), status.INVALID_ARGUMENT);

    const fresh = await post(author.id, "fresh");
    const updates = await eventually(async () => {
      const response = await unary(client, client.getHomeTimelineUpdates, { sinceToken: first.sinceToken, pageSize: 10 }, asCaller(reader.id));
      expect(response.items.map((i) => i.id)).toEqual([fresh.id]);
      return response;
    });
    expect(updates.hasMore).toBe(false);
    await grpcFailure(unary(client, client.getHomeTimelineUpdates, { sinceToken: "", pageSize: 10 }, asCaller(reader.id)), status.INVALID_ARGUMENT);
  });

  it("streams a follower's new post within a second, until the client leaves", async () => {
    const author = fakes.addUser("streamer");
    const reader = await readerOf(author);
    // The projection has the follow once an earlier post shows up in the timeline.
    await post(author.id, "before the stream");
    await eventually(async () => expect((await page(reader.id)).items).toHaveLength(1));

    const stream = client.streamHomeTimeline({}, asCaller(reader.id));
    await new Promise((resolve) => stream.once("metadata", resolve));
    const received = new Promise<{ item: StreamHomeTimelineResponse; at: number }>((resolve) => stream.once("data", (item) => resolve({ item, at: Date.now() })));
    const postedAt = Date.now();
    const live = await post(author.id, "live!");
    const { item, at } = await received;
    expect(item.item).toMatchObject({ id: live.id, tweet: { text: "live!" }, author: { id: author.id } });
    expect(at - postedAt).toBeLessThan(1_000);

    const ended = new Promise<ServiceError>((resolve) => stream.on("error", resolve));
    stream.cancel();
    expect(status[(await ended).code]).toBe("CANCELLED");
  });
});

describe("TimelineService when an upstream service is down", () => {
  it("answers UNAVAILABLE rather than INTERNAL", async () => {
    const bus = new InProcessEventBus(testLogger());
    const app = await startTimeline(testConfig({ upstreams: { users: "127.0.0.1:1", tweets: "127.0.0.1:1", graph: "127.0.0.1:1" } }), { log: testLogger(), bus });
    const client = new TimelineServiceClient(`127.0.0.1:${app.port}`, testChannel());
    try {
      const reader = "01M83VMQVV99P26KZM1TRZB034";
      // The author's own entry is written before the graph is asked for followers. Without text (as
      // an older tweets service announces), the tweet is one the projection cannot render.
      const tweetCreated = { tweetId: "01M83VMQVV99P26KZM1TRZB035", authorId: reader, createdAt: new Date(), replyToId: "", retweetOfId: "", tags: [], text: "", mentions: [] };
      await bus.publish(eventMessage({ $case: "tweetCreated", value: tweetCreated }));
      const error = await eventually(() => grpcFailure(unary(client, client.getHomeTimeline, { pageSize: 0, pageToken: "" }, asCaller(reader)), status.UNAVAILABLE));
      expect(error.details).toMatch(/tweets service/);
    } finally {
      client.close();
      await app.stop();
    }
  });
});

describe("TimelineService reusing public profiles (PROFILE_CACHE_MS)", () => {
  it("asks the users service once for the people of pages read within the cache time", async () => {
    const fakes = await new FakeUpstreamServices().start();
    const bus = new InProcessEventBus(testLogger());
    const upstreams = fakes.addresses;
    const app = await startTimeline(testConfig({ upstreams, profileCacheMs: 60_000 }), { log: testLogger(), bus });
    const client = new TimelineServiceClient(`127.0.0.1:${app.port}`, testChannel());
    try {
      const [author, reader] = [fakes.addUser("author"), fakes.addUser("reader")];
      fakes.followers.set(author.id, [reader.id]);
      await bus.publish(followed(reader.id, author.id));
      const tweet = fakes.addTweet(author.id, "hello", "");
      await bus.publish(created(tweet));
      const page = () => unary(client, client.getHomeTimeline, { pageSize: 20, pageToken: "" }, asCaller(reader.id));
      await eventually(async () => expect((await page()).items).toHaveLength(1));

      for (let i = 0; i < 3; i++) expect((await page()).items[0]).toMatchObject({ id: tweet.id, author: { id: author.id, username: "author", email: "" } });
      // Pages were empty until the post arrived; the first page that showed it asked for its people.
      expect(fakes.callsTo("BatchGetUsers")).toHaveLength(1);
    } finally {
      client.close();
      await app.stop();
      await fakes.stop();
    }
  });
});
