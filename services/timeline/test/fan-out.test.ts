import { newId } from "@chirp/kit";
import { BACKFILL_POSTS } from "../src/domain/fan-out.js";
import type { Entry } from "../src/domain/model.js";
import { memoryStores } from "../src/storage/memory.js";
import { World } from "./fixtures.js";

describe("fan-out on write", () => {
  it("writes a new post into its author's timeline and every follower's", async () => {
    const world = new World();
    const [author, b, c, d, stranger] = ["author", "b", "c", "d", "stranger"].map((n) => world.user(n));
    for (const follower of [b!, c!, d!]) await world.follow(follower, author!);
    const post = await world.post(author!);
    for (const owner of [author!, b!, c!, d!]) expect(await world.stored(owner)).toEqual([post.tweetId]);
    expect(await world.stored(stranger!)).toEqual([]);
  });

  it("writes followers batch by batch as the graph streams them", async () => {
    const world = new World();
    const added: Entry[][] = [];
    const addEntries = world.stores.timelines.addEntries.bind(world.stores.timelines);
    world.stores.timelines.addEntries = async (entries) => {
      added.push(entries);
      return addEntries(entries);
    };
    const author = world.user();
    const followers = Array.from({ length: 5 }, () => world.user());
    for (const follower of followers) world.graph.addFollower(author, follower);
    await world.post(author);
    // The author's own entry, then three graph batches of at most two followers each.
    expect(added.map((batch) => batch.map((e) => e.ownerId))).toEqual([[author], followers.slice(0, 2), followers.slice(2, 4), followers.slice(4)]);
  });

  it("keeps replies out of home timelines", async () => {
    const world = new World();
    const [author, follower] = [world.user(), world.user()];
    await world.follow(follower, author);
    const original = await world.post(author);
    await world.post(author, { replyToId: original.tweetId });
    expect(await world.stored(follower)).toEqual([original.tweetId]);
    expect(await world.stored(author)).toEqual([original.tweetId]);
  });

  it("leaves one entry per timeline however often a post is delivered", async () => {
    const world = new World();
    const [author, follower] = [world.user(), world.user()];
    await world.follow(follower, author);
    const post = await world.post(author);
    await world.fanOut.tweetCreated(post, world.graph);
    await world.fanOut.tweetCreated(post, world.graph);
    expect(await world.stored(follower)).toEqual([post.tweetId]);
    expect(await world.stored(author)).toEqual([post.tweetId]);
  });

  it("keeps each timeline to its newest entries", async () => {
    const world = new World(memoryStores(20), { timelineLength: 20 });
    const [author, follower] = [world.user(), world.user()];
    await world.follow(follower, author);
    const posts = [];
    for (let i = 0; i < 25; i++) posts.push((await world.post(author)).tweetId);
    expect(await world.stored(follower)).toEqual(posts.slice(5).reverse());
  });

  it("resumes an interrupted fan-out after the last batch it finished", async () => {
    const world = new World();
    const author = world.user();
    const followers = Array.from({ length: 6 }, () => world.user());
    for (const follower of followers) world.graph.addFollower(author, follower);
    const tweet = world.upstream.addTweet(author);
    world.graph.breakAfterBatches = 1;
    await expect(world.fanOut.tweetCreated({ tweetId: tweet.id, authorId: author }, world.graph)).rejects.toThrow("broke off");
    expect(await world.stores.progress.fanOutProgress(tweet.id)).toBe("2");

    await world.fanOut.tweetCreated({ tweetId: tweet.id, authorId: author }, world.graph);
    expect(world.graph.listings.map((l) => l.resumeToken)).toEqual([undefined, "2"]);
    for (const follower of followers) expect(await world.stored(follower)).toEqual([tweet.id]);
    expect(await world.stores.progress.fanOutProgress(tweet.id)).toBeUndefined();
  });

  it("stops between batches when asked to, leaving the rest for the next delivery", async () => {
    const world = new World();
    const author = world.user();
    const followers = Array.from({ length: 4 }, () => world.user());
    for (const follower of followers) world.graph.addFollower(author, follower);
    const tweet = world.upstream.addTweet(author);
    const stopping = new AbortController();
    stopping.abort();
    await expect(world.fanOut.tweetCreated({ tweetId: tweet.id, authorId: author }, world.graph, stopping.signal)).rejects.toThrow();
    expect(await world.stored(followers[0]!)).toEqual([]);
    await world.fanOut.tweetCreated({ tweetId: tweet.id, authorId: author }, world.graph);
    for (const follower of followers) expect(await world.stored(follower)).toEqual([tweet.id]);
  });
});

describe("celebrities", () => {
  it("are not fanned out above the threshold; readers merge their posts in order", async () => {
    const world = new World(undefined, { celebrityFollowers: 2 });
    const [star, friend, reader, other1, other2] = ["star", "friend", "reader", "o1", "o2"].map((n) => world.user(n));
    for (const follower of [reader!, other1!, other2!]) await world.follow(follower, star!);
    await world.follow(reader!, friend!);
    const a = await world.post(friend!);
    const b = await world.post(star!);
    const c = await world.post(friend!);
    const d = await world.post(star!);

    expect(await world.stored(reader!)).toEqual([c.tweetId, a.tweetId]);
    expect(await world.stored(star!)).toEqual([d.tweetId, b.tweetId]);
    expect(await world.stores.celebrities.celebrity(star!)).toEqual({ authorId: star, since: b.tweetId });
    expect(await world.seen(reader!)).toEqual([d, c, b, a].map((p) => p.tweetId));
    expect(await world.seen(other1!)).toEqual([d, b].map((p) => p.tweetId));
  });

  it("get the posts readers were merging fanned out when they fall back under the threshold", async () => {
    const world = new World(undefined, { celebrityFollowers: 2 });
    const [star, r1, r2, r3] = ["star", "r1", "r2", "r3"].map((n) => world.user(n));
    for (const follower of [r1!, r2!, r3!]) await world.follow(follower, star!);
    const whileFamous = await world.post(star!);
    expect(await world.stored(r1!)).toEqual([]);
    await world.unfollow(r3!, star!);
    const afterwards = await world.post(star!);

    expect(await world.stores.celebrities.celebrity(star!)).toBeUndefined();
    for (const reader of [r1!, r2!]) {
      expect(await world.stored(reader)).toEqual([afterwards.tweetId, whileFamous.tweetId]);
      expect(await world.seen(reader)).toEqual([afterwards.tweetId, whileFamous.tweetId]);
    }
  });

  it("show a post both fanned out and merged once", async () => {
    const world = new World(undefined, { celebrityFollowers: 1 });
    const [star, r1, r2] = [world.user(), world.user(), world.user()];
    await world.follow(r1, star);
    const early = await world.post(star);
    await world.follow(r2, star);
    const late = await world.post(star);
    expect(await world.stored(r1)).toEqual([early.tweetId]);
    expect(await world.seen(r1)).toEqual([late.tweetId, early.tweetId]);
  });
});

describe("follows", () => {
  it("backfill the followee's recent posts and remove them on unfollow", async () => {
    const world = new World();
    const [author, reader, friend] = [world.user(), world.user(), world.user()];
    await world.follow(reader, friend);
    const friends = await world.post(friend);
    const posts = [];
    for (let i = 0; i < 3; i++) posts.push((await world.post(author)).tweetId);
    await world.follow(reader, author);
    expect(await world.stored(reader)).toEqual([...[...posts].reverse(), friends.tweetId]);
    await world.unfollow(reader, author);
    expect(await world.stored(reader)).toEqual([friends.tweetId]);
  });

  it("backfill at most the followee's newest posts", async () => {
    const world = new World();
    const [author, reader] = [world.user(), world.user()];
    const posts = [];
    for (let i = 0; i < BACKFILL_POSTS + 3; i++) posts.push((await world.post(author)).tweetId);
    await world.follow(reader, author);
    expect(await world.stored(reader)).toEqual(posts.slice(3).reverse());
  });

  it("apply by event time: a late follow does not undo a newer unfollow", async () => {
    const world = new World();
    const [author, reader] = [world.user(), world.user()];
    const post = await world.post(author);
    const followedAt = new Date(Date.now() - 1_000);
    const follow = { followerId: reader, followeeId: author, following: true, at: followedAt, eventId: newId(followedAt.getTime()) };
    const unfollow = { ...follow, following: false, at: new Date(), eventId: newId() };

    await world.fanOut.followChanged(unfollow);
    await world.fanOut.followChanged(follow);
    expect(await world.stores.follows.isFollowing(reader, author)).toBe(false);
    expect(await world.stored(reader)).toEqual([]);

    // The other order, and each replayed: the unfollow still wins.
    await world.fanOut.followChanged(follow);
    await world.fanOut.followChanged(unfollow);
    await world.fanOut.followChanged(follow);
    expect(await world.stored(reader)).toEqual([]);
    expect(await world.seen(reader)).toEqual([]);
    expect(await world.stored(author)).toEqual([post.tweetId]);
  });

  it("replay a follow's backfill when the follow is redelivered", async () => {
    const world = new World();
    const [author, reader] = [world.user(), world.user()];
    const post = await world.post(author);
    const change = await world.follow(reader, author);
    await world.stores.timelines.removeTimeline(reader);
    await world.fanOut.followChanged(change);
    expect(await world.stored(reader)).toEqual([post.tweetId]);
  });

  it("hide an entry a fan-out wrote after the reader unfollowed", async () => {
    const world = new World();
    const [author, reader] = [world.user(), world.user()];
    await world.follow(reader, author);
    await world.unfollow(reader, author);
    // The graph listed the reader before the unfollow reached it: the fan-out writes anyway.
    world.graph.addFollower(author, reader);
    const post = await world.post(author);
    expect(await world.stored(reader)).toEqual([post.tweetId]);
    expect(await world.seen(reader)).toEqual([]);
  });
});

describe("deletions", () => {
  it("take a deleted tweet out of every timeline, with its retweets", async () => {
    const world = new World();
    const [author, retweeter, reader, other] = [world.user(), world.user(), world.user(), world.user()];
    await world.follow(reader, author);
    await world.follow(other, retweeter);
    const original = await world.post(author);
    const retweet = await world.post(retweeter, { retweetOfId: original.tweetId });
    expect(await world.stored(other)).toEqual([retweet.tweetId]);

    await world.deleteTweet(original.tweetId);
    for (const owner of [author, retweeter, reader, other]) expect(await world.stored(owner)).toEqual([]);
    expect(await world.stores.posts.postsBy([author, retweeter], {}, 10)).toEqual([]);
  });

  it("never bring back a tweet whose deletion was delivered before its creation", async () => {
    const world = new World();
    const [author, reader] = [world.user(), world.user()];
    await world.follow(reader, author);
    const tweet = world.upstream.addTweet(author);
    await world.fanOut.tweetDeleted(tweet.id);
    await world.fanOut.tweetCreated({ tweetId: tweet.id, authorId: author }, world.graph);
    expect(await world.stored(reader)).toEqual([]);
    expect(await world.stored(author)).toEqual([]);
    // A retweet of it arriving later is dropped too.
    await world.post(reader, { retweetOfId: tweet.id });
    expect(await world.stored(reader)).toEqual([]);
  });

  it("undo a fan-out that raced a deletion", async () => {
    const world = new World();
    const author = world.user();
    const followers = Array.from({ length: 6 }, () => world.user());
    for (const follower of followers) world.graph.addFollower(author, follower);
    const tweet = world.upstream.addTweet(author);
    // The deletion is handled (by another replica) while the second batch is being written.
    const addEntries = world.stores.timelines.addEntries.bind(world.stores.timelines);
    let writes = 0;
    world.stores.timelines.addEntries = async (entries) => {
      writes += 1;
      if (writes === 3) await world.fanOut.tweetDeleted(tweet.id);
      return addEntries(entries);
    };
    await world.fanOut.tweetCreated({ tweetId: tweet.id, authorId: author }, world.graph);
    for (const owner of [author, ...followers]) expect(await world.stored(owner)).toEqual([]);
    expect(world.graph.listings).toHaveLength(1);
    expect(writes).toBe(3);
  });

  it("undo a follow's backfill that raced a deletion", async () => {
    const world = new World();
    const [author, reader] = [world.user(), world.user()];
    const kept = await world.post(author);
    const doomed = await world.post(author);
    const addEntries = world.stores.timelines.addEntries.bind(world.stores.timelines);
    world.stores.timelines.addEntries = async (entries) => {
      // The backfill read the posts; the deletion lands before it writes them.
      if (entries.some((e) => e.ownerId === reader)) await world.fanOut.tweetDeleted(doomed.tweetId);
      return addEntries(entries);
    };
    await world.follow(reader, author);
    expect(await world.stored(reader)).toEqual([kept.tweetId]);
  });

  it("take a deleted user out of everywhere, and keep them out", async () => {
    const world = new World();
    const [gone, reader, friend] = [world.user(), world.user(), world.user()];
    await world.follow(reader, gone);
    await world.follow(gone, friend);
    await world.follow(reader, friend);
    const theirs = await world.post(gone);
    const friends = await world.post(friend);
    const retweetOfTheirs = await world.post(friend, { retweetOfId: theirs.tweetId });

    await world.fanOut.userDeleted(gone);
    expect(await world.stored(reader)).toEqual([friends.tweetId]);
    expect(await world.stored(gone)).toEqual([]);
    expect(await world.stores.follows.followees(gone)).toEqual([]);
    expect(await world.stores.follows.followersAmong(gone, [reader])).toEqual([]);
    expect(await world.stores.posts.postsBy([gone], {}, 10)).toEqual([]);
    // Other people's retweets of their posts go with them.
    expect(await world.stored(friend)).toEqual([friends.tweetId]);
    expect(await world.stores.posts.postsBy([friend], {}, 10)).toEqual([{ tweetId: friends.tweetId, authorId: friend }]);
    expect(retweetOfTheirs.retweetOfId).toBe(theirs.tweetId);

    // Late or replayed events about them change nothing.
    await world.fanOut.tweetCreated(theirs, world.graph);
    await world.follow(reader, gone);
    await world.follow(gone, friend);
    await world.post(friend);
    expect(await world.stored(gone)).toEqual([]);
    expect(await world.stored(reader)).not.toContain(theirs.tweetId);
    expect(await world.stores.follows.followees(gone)).toEqual([]);
  });

  it("are idempotent", async () => {
    const world = new World();
    const [author, reader] = [world.user(), world.user()];
    await world.follow(reader, author);
    const post = await world.post(author);
    await world.deleteTweet(post.tweetId);
    await world.deleteTweet(post.tweetId);
    await world.fanOut.userDeleted(author);
    await world.fanOut.userDeleted(author);
    expect(await world.stored(reader)).toEqual([]);
  });
});
