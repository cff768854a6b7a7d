import { newId } from "@chirp/kit";
import { testLogger } from "@chirp/kit/testing";
import { Activities, likeId } from "../src/domain/activities.js";
import { LiveNotifications } from "../src/domain/live.js";
import type { NotificationView } from "../src/domain/model.js";
import { Notifications } from "../src/domain/notifications.js";
import { memoryStores } from "../src/storage/memory.js";
import { fakePeople } from "./fixtures.js";
import { at } from "./store.contract.js";

function setUp() {
  const stores = memoryStores();
  const world = fakePeople();
  const activities = new Activities(stores);
  const notifications = new Notifications(stores);
  const live = new LiveNotifications(stores.activities, notifications, testLogger(), { retryDelaysMs: [5, 10, 20, 40], maxBacklog: 3 });
  return { stores, world, activities, live };
}

/** The next `count` notifications a stream pushes, or a failure after `timeoutMs`. */
async function next(feed: AsyncIterable<NotificationView>, count: number, timeoutMs = 2_000): Promise<NotificationView[]> {
  const got: NotificationView[] = [];
  const iterator = feed[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} pushed`)), timeoutMs)));
  try {
    while (got.length < count) {
      const step = await Promise.race([iterator.next(), timeout]);
      if (step.done) throw new Error(`the stream ended after ${got.length} of ${count}`);
      got.push(step.value);
    }
    return got;
  } finally {
    clearTimeout(timer);
  }
}

describe("the live side", () => {
  it("pushes a like to its recipient's open streams once the consumer has recorded it, as the list shows it", async () => {
    const { world, activities, live } = setUp();
    const [ada, bob] = [world.user("ada"), world.user("bob")];
    const post = world.tweet(ada);
    const abort = new AbortController();
    const [one, two] = [live.follow(ada, abort.signal), live.follow(ada, abort.signal)];
    const other = live.follow(bob, abort.signal);
    expect(live.streams).toBe(3);
    // Offered before it is recorded, as a replica's live subscription may be told first.
    live.offer({ ids: [likeId(post, bob)], at: at(1) }, world.people);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await activities.likeChanged({ tweetId: post, userId: bob, liking: true, at: at(1) }, world.people);
    for (const feed of [one, two]) {
      const [pushed] = await next(feed, 1);
      expect(pushed).toMatchObject({ id: `like:${post}`, kind: "like", actorCount: 1, actors: [{ userId: bob, profile: { username: "bob" } }], unread: true });
    }
    await expect(next(other, 1, 200)).rejects.toThrow("only 0 of 1 pushed");
    abort.abort();
    expect(live.streams).toBe(0);
  });

  it("pushes the mentions and the reply of a new post to whoever has a stream open", async () => {
    const { world, activities, live } = setUp();
    const [ada, bob, cy] = [world.user("ada"), world.user("bob"), world.user("cy")];
    const post = world.tweet(ada);
    const reply = world.tweet(bob);
    const abort = new AbortController();
    const [adas, cys] = [live.follow(ada, abort.signal), live.follow(cy, abort.signal)];
    await activities.postCreated({ tweetId: reply, authorId: bob, at: at(2), replyToId: post, mentions: ["cy"] }, world.people);
    live.offer({ postId: reply }, world.people);
    expect((await next(adas, 1))[0]).toMatchObject({ kind: "reply", tweetId: reply, replyToId: post });
    expect((await next(cys, 1))[0]).toMatchObject({ kind: "mention", tweetId: reply });
    abort.abort();
  });

  it("gives up on what never gets recorded, and costs nothing with no stream open", async () => {
    const { world, live, stores } = setUp();
    const ada = world.user("ada");
    const lookedUp = jest.spyOn(stores.activities, "get");
    live.offer({ ids: [likeId(newId(), newId())], at: at(1) }, world.people);
    expect(lookedUp).not.toHaveBeenCalled();
    const abort = new AbortController();
    const feed = live.follow(ada, abort.signal);
    live.offer({ ids: [likeId(newId(), newId())], at: at(1) }, world.people);
    await expect(next(feed, 1, 300)).rejects.toThrow();
    expect(lookedUp).toHaveBeenCalledTimes(4);
    // A follow names its recipient: nobody else's stream makes it looked for.
    live.offer({ ids: ["follow:x:y"], at: at(1), recipientId: newId() }, world.people);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(lookedUp).toHaveBeenCalledTimes(4);
    abort.abort();
  });

  it("ends a stream that falls too far behind, and every stream when closed", async () => {
    const { world, activities, live } = setUp();
    const ada = world.user("ada");
    const abort = new AbortController();
    const slow = live.follow(ada, abort.signal);
    for (let i = 0; i < 4; i += 1) {
      const post = world.tweet(ada);
      const liker = newId();
      await activities.likeChanged({ tweetId: post, userId: liker, liking: true, at: at(i) }, world.people);
      live.offer({ ids: [likeId(post, liker)], at: at(i) }, world.people);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expect(next(slow, 4)).rejects.toMatchObject({ code: "RESOURCE_EXHAUSTED" });
    const open = live.follow(ada, abort.signal);
    live.close();
    const ended = await open[Symbol.asyncIterator]().next();
    expect(ended.done).toBe(true);
    expect(live.streams).toBe(0);
  });
});
