import { DomainError } from "@chirp/kit";
import { eventually, testLogger } from "@chirp/kit/testing";
import { LiveTimelines } from "../src/domain/live.js";
import type { TimelineItem } from "../src/domain/model.js";
import type { Upstream } from "../src/domain/ports.js";
import { World } from "./fixtures.js";

/** Reads a stream into an array as items come, and remembers how it ended. */
function collect(feed: AsyncIterable<TimelineItem>) {
  const items: TimelineItem[] = [];
  const ended = (async () => {
    try {
      for await (const item of feed) items.push(item);
      return undefined;
    } catch (error) {
      return error as Error;
    }
  })();
  return { items, ended, ids: () => items.map((i) => i.id) };
}

function setUp(settings = {}) {
  const world = new World();
  const live = new LiveTimelines(world.stores, world.home, testLogger(), settings);
  const offer = (tweet: { id: string; authorId: string; retweetOfId?: string; replyToId?: string }, upstream: Upstream = world.upstream) =>
    live.tweetCreated({ tweetId: tweet.id, authorId: tweet.authorId, ...(tweet.retweetOfId ? { retweetOfId: tweet.retweetOfId } : {}), ...(tweet.replyToId ? { replyToId: tweet.replyToId } : {}) }, upstream);
  return { world, live, offer };
}

describe("live timelines", () => {
  it("push a new post to the open streams of its followers and its author, and no one else", async () => {
    const { world, live, offer } = setUp();
    const [author, follower, stranger] = [world.user("author"), world.user("follower"), world.user("stranger")];
    await world.follow(follower, author);
    const open = new AbortController();
    const followerStream = collect(live.follow(follower, open.signal));
    const secondDevice = collect(live.follow(follower, open.signal));
    const authorStream = collect(live.follow(author, open.signal));
    const strangerStream = collect(live.follow(stranger, open.signal));

    const tweet = world.upstream.addTweet(author);
    await offer(tweet);
    await eventually(() => {
      expect(followerStream.ids()).toEqual([tweet.id]);
      expect(secondDevice.ids()).toEqual([tweet.id]);
      expect(authorStream.ids()).toEqual([tweet.id]);
    });
    expect(followerStream.items[0]).toMatchObject({ tweet: { card: { tweetId: tweet.id } }, author: { userId: author } });
    expect(strangerStream.items).toEqual([]);
    open.abort();
    expect(await followerStream.ended).toBeUndefined();
  });

  it("render a post once however many readers receive it", async () => {
    const { world, live, offer } = setUp();
    const author = world.user();
    const open = new AbortController();
    const streams: Array<ReturnType<typeof collect>> = [];
    for (let i = 0; i < 5; i++) {
      const reader = world.user();
      await world.follow(reader, author);
      streams.push(collect(live.follow(reader, open.signal)));
    }
    world.upstream.tweetCalls.length = 0;
    await offer(world.upstream.addTweet(author));
    await eventually(() => expect(streams.every((s) => s.items.length === 1)).toBe(true));
    expect(world.upstream.tweetCalls).toHaveLength(1);
    open.abort();
  });

  it("skip replies, deleted posts, and posts when no reader is connected", async () => {
    const { world, live, offer } = setUp();
    const [author, follower] = [world.user(), world.user()];
    await world.follow(follower, author);
    world.upstream.tweetCalls.length = 0;
    await offer(world.upstream.addTweet(author));
    expect(world.upstream.tweetCalls).toEqual([]);

    const open = new AbortController();
    const stream = collect(live.follow(follower, open.signal));
    const original = world.upstream.addTweet(author);
    await offer({ ...world.upstream.addTweet(author, { replyToId: original.id }) });
    const deleted = world.upstream.addTweet(author);
    world.upstream.removeTweet(deleted.id);
    await offer(deleted);
    await offer(original);
    await eventually(() => expect(stream.ids()).toEqual([original.id]));
    open.abort();
  });

  it("deliver in the order posts came, however long each took to render", async () => {
    const { world, live, offer } = setUp({ concurrency: 4 });
    const [author, follower] = [world.user(), world.user()];
    await world.follow(follower, author);
    const open = new AbortController();
    const stream = collect(live.follow(follower, open.signal));
    const tweets = [world.upstream.addTweet(author), world.upstream.addTweet(author), world.upstream.addTweet(author)];
    // The first post renders slowest.
    const slowFirst: Upstream = {
      tweets: async (ids) => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return world.upstream.tweets(ids);
      },
      profiles: (ids) => world.upstream.profiles(ids),
    };
    await offer(tweets[0]!, slowFirst);
    await offer(tweets[1]!);
    await offer(tweets[2]!);
    await eventually(() => expect(stream.ids()).toEqual(tweets.map((t) => t.id)));
    open.abort();
  });

  it("end a stream that falls too far behind with RESOURCE_EXHAUSTED", async () => {
    const { world, live, offer } = setUp({ maxBacklog: 2 });
    const [author, follower] = [world.user(), world.user()];
    await world.follow(follower, author);
    const feed = live.follow(follower, new AbortController().signal);
    for (let i = 0; i < 3; i++) await offer(world.upstream.addTweet(author));
    await eventually(() => expect(live.streams).toBe(0));
    const stream = collect(feed);
    const error = await stream.ended;
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe("RESOURCE_EXHAUSTED");
    expect(stream.items).toHaveLength(2);
  });

  it("forget a reader who left, and end every stream on close", async () => {
    const { world, live } = setUp();
    const reader = world.user();
    const leaving = new AbortController();
    const left = collect(live.follow(reader, leaving.signal));
    const staying = collect(live.follow(reader, new AbortController().signal));
    expect(live.streams).toBe(2);
    leaving.abort();
    expect(await left.ended).toBeUndefined();
    expect(live.streams).toBe(1);
    live.close();
    expect(await staying.ended).toBeUndefined();
    expect(live.streams).toBe(0);
    const afterClose = collect(live.follow(reader, new AbortController().signal));
    expect(await afterClose.ended).toBeUndefined();
    expect(live.streams).toBe(0);
  });
});
