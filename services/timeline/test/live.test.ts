import { DomainError } from "@chirp/kit";
import { eventually, testLogger } from "@chirp/kit/testing";
import { LiveTimelines } from "../src/domain/live.js";
import type { TimelineItem } from "../src/domain/model.js";
import type { Hydration } from "../src/domain/ports.js";
import { World, type FakeProfile, type FakeTweet } from "./fixtures.js";

type Item = TimelineItem<FakeTweet, FakeProfile>;

/** Reads a stream into an array as items come, and remembers how it ended. */
function collect(feed: AsyncIterable<Item>) {
  const items: Item[] = [];
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
  const live = new LiveTimelines(world.store, world.home, testLogger(), settings);
  const offer = (tweet: { id: string; authorId: string; retweetOfId?: string; replyToId?: string }, hydration: Hydration<FakeTweet, FakeProfile> = world.hydration) =>
    live.tweetCreated({ tweetId: tweet.id, authorId: tweet.authorId, ...(tweet.retweetOfId ? { retweetOfId: tweet.retweetOfId } : {}), ...(tweet.replyToId ? { replyToId: tweet.replyToId } : {}) }, hydration);
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

    const tweet = world.hydration.addTweet(author);
    await offer(tweet);
    await eventually(() => {
      expect(followerStream.ids()).toEqual([tweet.id]);
      expect(secondDevice.ids()).toEqual([tweet.id]);
      expect(authorStream.ids()).toEqual([tweet.id]);
    });
    expect(followerStream.items[0]).toMatchObject({ tweet: { id: tweet.id }, author: { id: author } });
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
    world.hydration.tweetCalls.length = 0;
    await offer(world.hydration.addTweet(author));
    await eventually(() => expect(streams.every((s) => s.items.length === 1)).toBe(true));
    expect(world.hydration.tweetCalls).toHaveLength(1);
    open.abort();
  });

  it("skip replies, deleted posts, and posts when no reader is connected", async () => {
    const { world, live, offer } = setUp();
    const [author, follower] = [world.user(), world.user()];
    await world.follow(follower, author);
    world.hydration.tweetCalls.length = 0;
    await offer(world.hydration.addTweet(author));
    expect(world.hydration.tweetCalls).toEqual([]);

    const open = new AbortController();
    const stream = collect(live.follow(follower, open.signal));
    const original = world.hydration.addTweet(author);
    await offer({ ...world.hydration.addTweet(author, { replyToId: original.id }) });
    const deleted = world.hydration.addTweet(author);
    world.hydration.removeTweet(deleted.id);
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
    const tweets = [world.hydration.addTweet(author), world.hydration.addTweet(author), world.hydration.addTweet(author)];
    // The first post renders slowest.
    const slowFirst: Hydration<FakeTweet, FakeProfile> = {
      tweets: async (ids) => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return world.hydration.tweets(ids);
      },
      profiles: (ids) => world.hydration.profiles(ids),
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
    for (let i = 0; i < 3; i++) await offer(world.hydration.addTweet(author));
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
