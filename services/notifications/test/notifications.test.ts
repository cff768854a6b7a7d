import { newId } from "@chirp/kit";
import { domainFailure } from "@chirp/kit/testing";
import { Activities } from "../src/domain/activities.js";
import { Notifications } from "../src/domain/notifications.js";
import { memoryStores } from "../src/storage/memory.js";
import { fakePeople } from "./fixtures.js";
import { at } from "./store.contract.js";

function setUp() {
  const stores = memoryStores();
  const world = fakePeople();
  const activities = new Activities(stores);
  const clock = { now: at(1_000) };
  const notifications = new Notifications(stores, () => clock.now);
  return { world, activities, notifications, clock };
}

/** ada's posts, each liked once, at seconds 1..count; answers the posts newest first. */
async function likedPosts(count: number, { world, activities }: ReturnType<typeof setUp>, ada: string): Promise<string[]> {
  const posts: string[] = [];
  for (let i = 1; i <= count; i += 1) {
    const post = world.tweet(ada);
    posts.push(post);
    await activities.likeChanged({ tweetId: post, userId: newId(), liking: true, at: at(i) }, world.people);
  }
  return posts.reverse();
}

describe("reading notifications", () => {
  it("pages through them newest first; a group that grows meanwhile moves up and is not shown twice", async () => {
    const setup = setUp();
    const { world, activities, notifications } = setup;
    const ada = world.user("ada");
    const posts = await likedPosts(5, setup, ada);
    const first = await notifications.list(ada, { pageSize: 2, pageToken: "", kinds: [] }, world.people);
    expect(first.notifications.map((n) => n.tweetId)).toEqual(posts.slice(0, 2));
    // Someone likes the oldest post shown on the first page: it moves to the top, not onto page two.
    await activities.likeChanged({ tweetId: posts[1]!, userId: newId(), liking: true, at: at(50) }, world.people);
    const second = await notifications.list(ada, { pageSize: 2, pageToken: first.nextPageToken, kinds: [] }, world.people);
    expect(second.notifications.map((n) => n.tweetId)).toEqual(posts.slice(2, 4));
    const third = await notifications.list(ada, { pageSize: 2, pageToken: second.nextPageToken, kinds: [] }, world.people);
    expect(third.notifications.map((n) => n.tweetId)).toEqual(posts.slice(4));
    expect(third.nextPageToken).toBe("");
    const top = await notifications.list(ada, { pageSize: 0, pageToken: "", kinds: [] }, world.people);
    expect(top.notifications[0]).toMatchObject({ tweetId: posts[1], actorCount: 2 });
  });

  it("filters by kind, and binds a page token to the kinds it was asked with", async () => {
    const setup = setUp();
    const { world, activities, notifications } = setup;
    const ada = world.user("ada");
    await likedPosts(3, setup, ada);
    await activities.followChanged({ followerId: newId(), followeeId: ada, following: true, at: at(9) });
    const follows = await notifications.list(ada, { pageSize: 10, pageToken: "", kinds: ["follow", "follow"] }, world.people);
    expect(follows.notifications.map((n) => n.kind)).toEqual(["follow"]);
    const likes = await notifications.list(ada, { pageSize: 1, pageToken: "", kinds: ["like"] }, world.people);
    expect(likes.notifications.map((n) => n.kind)).toEqual(["like"]);
    // The same kinds in another order are the same query.
    await notifications.list(ada, { pageSize: 1, pageToken: (await notifications.list(ada, { pageSize: 1, pageToken: "", kinds: ["like", "follow"] }, world.people)).nextPageToken, kinds: ["follow", "like"] }, world.people);
    const refused = await domainFailure(notifications.list(ada, { pageSize: 1, pageToken: likes.nextPageToken, kinds: [] }, world.people));
    expect(refused).toMatchObject({ code: "INVALID_ARGUMENT", field: "page_token" });
  });

  it("refuses bad requests naming the field, before reading anything", async () => {
    const { world, notifications } = setUp();
    const ada = world.user("ada");
    const list = (request: Partial<Parameters<Notifications["list"]>[1]>) => domainFailure(notifications.list(ada, { pageSize: 0, pageToken: "", kinds: [], ...request }, world.people));
    expect(await list({ kinds: Array(6).fill("like") })).toMatchObject({ code: "INVALID_ARGUMENT", message: "kinds: must list at most 5 kinds, got 6" });
    expect(await list({ kinds: Array(1_000_000).fill(undefined) })).toMatchObject({ code: "INVALID_ARGUMENT", field: "kinds" });
    expect(await list({ kinds: ["like", undefined] })).toMatchObject({ code: "INVALID_ARGUMENT", message: "kinds[1]: must be MENTION, REPLY, LIKE, RETWEET or FOLLOW" });
    expect(await list({ pageSize: -1 })).toMatchObject({ code: "INVALID_ARGUMENT", field: "page_size" });
    expect(await list({ pageToken: "x".repeat(201) })).toMatchObject({ code: "INVALID_ARGUMENT", field: "page_token" });
    expect(await list({ pageToken: "not a token" })).toMatchObject({ code: "INVALID_ARGUMENT", field: "page_token" });
    expect(await domainFailure(notifications.markRead(ada, new Date(Number.NaN)))).toMatchObject({ code: "INVALID_ARGUMENT", message: "up_to: is not a valid time" });
    expect(await domainFailure(notifications.markRead(ada, new Date(0)))).toMatchObject({ code: "INVALID_ARGUMENT", field: "up_to" });
  });

  it("counts unread groups after the read mark, which moves forward only and never past now", async () => {
    const setup = setUp();
    const { world, activities, notifications, clock } = setup;
    const ada = world.user("ada");
    const posts = await likedPosts(4, setup, ada);
    expect(await notifications.unreadCount(ada)).toEqual({ unreadCount: 4, readUpTo: undefined });
    expect(await notifications.markRead(ada, at(2))).toEqual({ readUpTo: at(2), unreadCount: 2 });
    expect(await notifications.markRead(ada, at(1))).toEqual({ readUpTo: at(2), unreadCount: 2 });
    const page = await notifications.list(ada, { pageSize: 10, pageToken: "", kinds: [] }, world.people);
    expect(page.notifications.map((n) => n.unread)).toEqual([true, true, false, false]);
    expect(page.readUpTo).toEqual(at(2));
    // A read group that grows is unread again.
    await activities.likeChanged({ tweetId: posts[3]!, userId: newId(), liking: true, at: at(10) }, world.people);
    expect((await notifications.unreadCount(ada)).unreadCount).toBe(3);
    // A time in the future counts as now; unset is now.
    expect(await notifications.markRead(ada, at(1_000_000))).toEqual({ readUpTo: clock.now, unreadCount: 0 });
    clock.now = at(2_000);
    expect(await notifications.markRead(ada, undefined)).toEqual({ readUpTo: at(2_000), unreadCount: 0 });
  });

  it("shows at most three actors, newest first, with their profiles, and the ids alone when profiles cannot be read", async () => {
    const { world, activities, notifications } = setUp();
    const ada = world.user("ada");
    const likers = ["b", "c", "d", "e"].map((name) => world.user(name));
    const post = world.tweet(ada);
    for (const [i, liker] of likers.entries()) await activities.likeChanged({ tweetId: post, userId: liker, liking: true, at: at(i) }, world.people);
    const [liked] = (await notifications.list(ada, { pageSize: 1, pageToken: "", kinds: [] }, world.people)).notifications;
    expect(liked).toMatchObject({ id: `like:${post}`, kind: "like", actorCount: 4, updatedAt: at(3) });
    expect(liked!.actors.map((a) => [a.userId, a.profile?.username])).toEqual([
      [likers[3], "e"],
      [likers[2], "d"],
      [likers[1], "c"],
    ]);
    world.state.profilesFail = true;
    const [bare] = (await notifications.list(ada, { pageSize: 1, pageToken: "", kinds: [] }, world.people)).notifications;
    expect(bare!.actors).toEqual([
      { userId: likers[3], at: at(3) },
      { userId: likers[2], at: at(2) },
      { userId: likers[1], at: at(1) },
    ]);
  });

  it("answers an empty page without asking for profiles", async () => {
    const { world, notifications } = setUp();
    expect(await notifications.list(newId(), { pageSize: 0, pageToken: "", kinds: [] }, world.people)).toEqual({ notifications: [], nextPageToken: "", readUpTo: undefined });
    expect(world.state.profileCalls).toBe(0);
  });
});
