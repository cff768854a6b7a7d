import { newId } from "@chirp/kit";
import { Activities } from "../src/domain/activities.js";
import { Notifications } from "../src/domain/notifications.js";
import { memoryStores } from "../src/storage/memory.js";
import { fakePeople } from "./fixtures.js";
import { at } from "./store.contract.js";

/** The domain on memory stores, with the other services faked: what events make of notifications. */
function setUp(maxPerUser?: number) {
  const stores = memoryStores();
  const world = fakePeople();
  const activities = new Activities(stores, maxPerUser);
  const notifications = new Notifications(stores, () => at(10_000));
  const list = async (userId: string, kinds: ("mention" | "reply" | "like" | "retweet" | "follow")[] = []) =>
    (await notifications.list(userId, { pageSize: 100, pageToken: "", kinds }, world.people)).notifications;
  const summary = async (userId: string) =>
    (await list(userId)).map((n) => ({ kind: n.kind, tweetId: n.tweetId, actors: n.actors.map((a) => a.userId), count: n.actorCount }));
  return { stores, world, activities, notifications, list, summary };
}

describe("notifications made from events", () => {
  it("tells of a mention, a reply, likes and retweets grouped per post, and follows grouped per day", async () => {
    const { world, activities, summary, list } = setUp();
    const [ada, bob, cy, dee] = ["ada", "bob", "cy", "dee"].map((name) => world.user(name)) as [string, string, string, string];
    const post = world.tweet(ada);
    await activities.postCreated({ tweetId: newId(), authorId: bob, at: at(1), mentions: ["ADA", "ada", "nobody"] }, world.people);
    const reply = world.tweet(bob);
    await activities.postCreated({ tweetId: reply, authorId: bob, at: at(2), replyToId: post, mentions: ["ada", "cy"] }, world.people);
    for (const [i, liker] of [bob, cy, dee].entries()) await activities.likeChanged({ tweetId: post, userId: liker, liking: true, at: at(10 + i) }, world.people);
    const retweet = newId();
    await activities.postCreated({ tweetId: retweet, authorId: cy, at: at(20), retweetOfId: post, mentions: [] }, world.people);
    await activities.followChanged({ followerId: bob, followeeId: ada, following: true, at: at(30) });
    await activities.followChanged({ followerId: cy, followeeId: ada, following: true, at: at(31) });
    // A day later: a follow of a new day is a notification of its own.
    await activities.followChanged({ followerId: dee, followeeId: ada, following: true, at: at(31 + 86_400) });

    const mention = (await list(ada)).find((n) => n.kind === "mention")!;
    expect(await summary(ada)).toEqual([
      { kind: "follow", tweetId: "", actors: [dee], count: 1 },
      { kind: "follow", tweetId: "", actors: [cy, bob], count: 2 },
      { kind: "retweet", tweetId: post, actors: [cy], count: 1 },
      { kind: "like", tweetId: post, actors: [dee, cy, bob], count: 3 },
      // The reply mentions ada too: she is told once, of the reply.
      { kind: "reply", tweetId: reply, actors: [bob], count: 1 },
      { kind: "mention", tweetId: mention.tweetId, actors: [bob], count: 1 },
    ]);
    // cy, mentioned in the reply, is told of the mention.
    expect(await summary(cy)).toEqual([{ kind: "mention", tweetId: reply, actors: [bob], count: 1 }]);
    const replied = (await list(ada)).find((n) => n.kind === "reply")!;
    expect(replied).toMatchObject({ replyToId: post, unread: true, actors: [{ userId: bob, at: at(2), profile: { username: "bob", displayName: "BOB" } }] });
    expect((await list(ada, ["like", "retweet"])).map((n) => n.kind)).toEqual(["retweet", "like"]);
  });

  it("never tells anyone of their own actions", async () => {
    const { world, activities, summary } = setUp();
    const ada = world.user("ada");
    const post = world.tweet(ada);
    await activities.postCreated({ tweetId: world.tweet(ada), authorId: ada, at: at(1), replyToId: post, mentions: ["ada"] }, world.people);
    await activities.likeChanged({ tweetId: post, userId: ada, liking: true, at: at(2) }, world.people);
    await activities.postCreated({ tweetId: newId(), authorId: ada, at: at(3), retweetOfId: post, mentions: [] }, world.people);
    await activities.followChanged({ followerId: ada, followeeId: ada, following: true, at: at(4) });
    expect(await summary(ada)).toEqual([]);
  });

  it("is the same after every event comes twice, and after an undo that came before what it undoes", async () => {
    const { world, activities, summary } = setUp();
    const [ada, bob, cy] = ["ada", "bob", "cy"].map((name) => world.user(name)) as [string, string, string];
    const post = world.tweet(ada);
    const reply = world.tweet(bob);
    const events = [
      () => activities.postCreated({ tweetId: reply, authorId: bob, at: at(1), replyToId: post, mentions: [] }, world.people),
      () => activities.likeChanged({ tweetId: post, userId: bob, liking: true, at: at(2) }, world.people),
      () => activities.followChanged({ followerId: bob, followeeId: ada, following: true, at: at(3) }),
    ];
    for (const event of events) await event();
    const once = await summary(ada);
    for (const event of events) await event();
    expect(await summary(ada)).toEqual(once);
    expect(once).toHaveLength(3);

    // cy's unlike and unfollow arrive before the like and follow they undo: neither ever shows.
    await activities.likeChanged({ tweetId: post, userId: cy, liking: false, at: at(11) }, world.people);
    await activities.followChanged({ followerId: cy, followeeId: ada, following: false, at: at(13) });
    await activities.likeChanged({ tweetId: post, userId: cy, liking: true, at: at(10) }, world.people);
    await activities.followChanged({ followerId: cy, followeeId: ada, following: true, at: at(12) });
    expect(await summary(ada)).toEqual(once);

    // bob unlikes and unfollows: gone. A later like again is back.
    await activities.likeChanged({ tweetId: post, userId: bob, liking: false, at: at(20) }, world.people);
    await activities.followChanged({ followerId: bob, followeeId: ada, following: false, at: at(21) });
    expect((await summary(ada)).map((n) => n.kind)).toEqual(["reply"]);
    await activities.likeChanged({ tweetId: post, userId: bob, liking: true, at: at(30) }, world.people);
    expect((await summary(ada)).map((n) => n.kind)).toEqual(["like", "reply"]);
  });

  it("takes away what a deleted tweet caused, including events about it that come late", async () => {
    const { world, activities, summary } = setUp();
    const [ada, bob] = [world.user("ada"), world.user("bob")];
    const post = world.tweet(ada);
    const reply = world.tweet(bob);
    const mentioning = world.tweet(bob);
    await activities.postCreated({ tweetId: reply, authorId: bob, at: at(1), replyToId: post, mentions: [] }, world.people);
    await activities.postCreated({ tweetId: mentioning, authorId: bob, at: at(2), mentions: ["ada"] }, world.people);
    await activities.likeChanged({ tweetId: post, userId: bob, liking: true, at: at(3) }, world.people);
    const retweet = newId();
    await activities.postCreated({ tweetId: retweet, authorId: bob, at: at(4), retweetOfId: post, mentions: [] }, world.people);
    expect(await summary(ada)).toHaveLength(4);

    // Unretweeting deletes the retweet entry.
    await activities.tweetDeleted(retweet, at(5));
    expect((await summary(ada)).map((n) => n.kind)).toEqual(["like", "mention", "reply"]);
    await activities.tweetDeleted(mentioning, at(6));
    expect((await summary(ada)).map((n) => n.kind)).toEqual(["like", "reply"]);
    // The post itself: its like and the reply to it go.
    await activities.tweetDeleted(post, at(7));
    expect(await summary(ada)).toEqual([]);
    // Events about it delivered again, late: nothing comes back.
    await activities.likeChanged({ tweetId: post, userId: bob, liking: true, at: at(3) }, world.people);
    await activities.postCreated({ tweetId: retweet, authorId: bob, at: at(4), retweetOfId: post, mentions: [] }, world.people);
    await activities.postCreated({ tweetId: mentioning, authorId: bob, at: at(2), mentions: ["ada"] }, world.people);
    expect(await summary(ada)).toEqual([]);
  });

  it("tells nothing of a tweet the tweets service no longer has", async () => {
    const { world, activities, summary } = setUp();
    const [ada, bob] = [world.user("ada"), world.user("bob")];
    const post = world.tweet(ada);
    world.forgetTweet(post);
    await activities.likeChanged({ tweetId: post, userId: bob, liking: true, at: at(1) }, world.people);
    expect(await summary(ada)).toEqual([]);
  });

  it("takes away a deleted account's notifications and what it did in everyone else's, for good", async () => {
    const { world, activities, summary, notifications, stores } = setUp();
    const [ada, bob, cy] = ["ada", "bob", "cy"].map((name) => world.user(name)) as [string, string, string];
    const adas = world.tweet(ada);
    const bobs = world.tweet(bob);
    await activities.likeChanged({ tweetId: adas, userId: bob, liking: true, at: at(1) }, world.people);
    await activities.likeChanged({ tweetId: adas, userId: cy, liking: true, at: at(2) }, world.people);
    await activities.followChanged({ followerId: bob, followeeId: ada, following: true, at: at(3) });
    await activities.likeChanged({ tweetId: bobs, userId: ada, liking: true, at: at(4) }, world.people);
    await notifications.markRead(bob, at(100));

    await activities.userDeleted(bob);
    expect(await summary(ada)).toEqual([{ kind: "like", tweetId: adas, actors: [cy], count: 1 }]);
    expect(await summary(bob)).toEqual([]);
    expect(await stores.readMarks.get(bob)).toBeUndefined();
    // bob's follow delivered again after the deletion: nothing.
    await activities.followChanged({ followerId: bob, followeeId: ada, following: true, at: at(3) });
    await activities.likeChanged({ tweetId: bobs, userId: cy, liking: true, at: at(5) }, world.people);
    expect(await summary(ada)).toHaveLength(1);
    expect(await summary(bob)).toEqual([]);
  });

  it("keeps each user's newest activities only", async () => {
    const { world, activities, list } = setUp(5);
    const ada = world.user("ada");
    const posts = Array.from({ length: 8 }, () => world.tweet(ada));
    for (const [i, post] of posts.entries()) await activities.likeChanged({ tweetId: post, userId: newId(), liking: true, at: at(i) }, world.people);
    expect((await list(ada)).map((n) => n.tweetId)).toEqual(posts.slice(3).reverse());
  });

  it("tells of at most 70 mentions of one post", async () => {
    const { world, activities } = setUp();
    const author = world.user("author");
    const names = Array.from({ length: 80 }, (_, i) => `user${i}`);
    const ids = names.map((name) => world.user(name));
    await activities.postCreated({ tweetId: newId(), authorId: author, at: at(1), mentions: names }, world.people);
    const told = await Promise.all(ids.map(async (id) => (await new Notifications(activities["stores"]).unreadCount(id)).unreadCount));
    expect(told.filter((n) => n === 1)).toHaveLength(70);
  });
});
