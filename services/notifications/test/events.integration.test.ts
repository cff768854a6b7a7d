import { newId } from "@chirp/kit";
import { eventMessage, STREAMS } from "@chirp/kit/events";
import { unary } from "@chirp/kit/grpc";
import { durableFromNow, JetStreamBus } from "@chirp/kit/nats";
import { asCaller, describeWith, eventually, startFakeUsers, testChannel, testConfigFrom, testLogger, type FakeUsers, uniqueName } from "@chirp/kit/testing";
import { NotificationsServiceClient } from "@chirp/proto/grpc/chirp/notifications/v1/notifications";
import { MongoClient } from "mongodb";
import { startNotifications, type NotificationsApp } from "../src/app.js";
import { CONSUMED_SUBJECTS } from "../src/events.js";
import { schema } from "../src/config.js";
import { startFakeTweets } from "./fixtures.js";

/**
 * The service on MongoDB and JetStream, fed events published to the real streams: each event twice
 * (JetStream keeps one of a repeated id; a copy with a new id is handled again, to the same end),
 * undos published before what they undo, and events whose handling fails while the tweets service
 * is down, delivered again until it answers.
 */
describeWith(["MONGODB_URI", "NATS_URL"], "notifications events from JetStream", ({ MONGODB_URI, NATS_URL }) => {
  const log = testLogger();
  const durable = uniqueName("notifications_test");
  const database = uniqueName("chirp_notifications_events");
  let bus: JetStreamBus;
  let users: FakeUsers;
  let tweets: Awaited<ReturnType<typeof startFakeTweets>>;
  let app: NotificationsApp;
  let client: NotificationsServiceClient;
  let removeConsumer: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    bus = await JetStreamBus.connect(NATS_URL, "notifications-events-test", log);
    await bus.ensureStreams([STREAMS.users, STREAMS.tweets, STREAMS.graph]);
    // The kit's consumer would read the streams from their start; this test needs only what it publishes.
    removeConsumer = await durableFromNow(bus, durable, CONSUMED_SUBJECTS);
    users = await startFakeUsers();
    tweets = await startFakeTweets();
    const config = testConfigFrom(schema, {
      USERS_ADDRESS: users.address,
      TWEETS_ADDRESS: tweets.address,
      MONGODB_URI,
      MONGODB_DATABASE: database,
      NATS_URL,
      CONSUMER_NAME: durable,
    });
    app = await startNotifications(config, { log });
    client = new NotificationsServiceClient(`127.0.0.1:${app.port}`, testChannel());
  }, 30_000);

  afterAll(async () => {
    client?.close();
    await app?.stop();
    await users?.stop();
    await tweets?.stop();
    await removeConsumer?.();
    await bus?.close();
    const mongo = await MongoClient.connect(MONGODB_URI);
    await mongo.db(database).dropDatabase();
    await mongo.close();
  });

  const listed = async (userId: string) =>
    (await unary(client, client.listNotifications, { pageSize: 0, pageToken: "", kinds: [] }, asCaller(userId))).notifications.map((n) => ({
      id: n.id,
      actors: n.actors.map((a) => a.userId).sort(),
    }));
  /** Publishes the message twice as is (JetStream keeps one) and once more under a new id. */
  async function publishRepeatedly(message: ReturnType<typeof eventMessage>) {
    await bus.publish(message);
    await bus.publish(message);
    await bus.publish({ ...message, id: newId() });
  }

  it("comes out the same from repeated events, and from undos that come before what they undo", async () => {
    const [ada, bob, cy] = [newId(), newId(), newId()];
    const post = newId();
    tweets.authors.set(post, ada);
    const t = Date.now();
    // cy's unlike and unfollow are published before the like and follow they undo.
    await publishRepeatedly(eventMessage({ $case: "tweetUnliked", value: { tweetId: post, userId: cy, unlikedAt: new Date(t + 10) } }));
    await publishRepeatedly(eventMessage({ $case: "userUnfollowed", value: { followerId: cy, followeeId: ada, unfollowedAt: new Date(t + 10) } }));
    await publishRepeatedly(eventMessage({ $case: "tweetLiked", value: { tweetId: post, userId: cy, likedAt: new Date(t + 5) } }));
    await publishRepeatedly(eventMessage({ $case: "userFollowed", value: { followerId: cy, followeeId: ada, followedAt: new Date(t + 5) } }));
    await publishRepeatedly(eventMessage({ $case: "tweetLiked", value: { tweetId: post, userId: bob, likedAt: new Date(t + 20) } }));
    await publishRepeatedly(eventMessage({ $case: "userFollowed", value: { followerId: bob, followeeId: ada, followedAt: new Date(t + 20) } }));
    const day = new Date(t + 20).toISOString().slice(0, 10);
    // Both at one time: the order is the notifications' ids', newest first.
    await eventually(async () => expect(await listed(ada)).toEqual([{ id: `like:${post}`, actors: [bob] }, { id: `follow:${day}`, actors: [bob] }]), 15_000);
    // A marker published last has been handled: everything before it was, too, and stayed so.
    const marker = newId();
    tweets.authors.set(marker, cy);
    await bus.publish(eventMessage({ $case: "tweetLiked", value: { tweetId: marker, userId: ada, likedAt: new Date() } }));
    await eventually(async () => expect(await listed(cy)).toHaveLength(1), 15_000);
    expect(await listed(ada)).toEqual([{ id: `like:${post}`, actors: [bob] }, { id: `follow:${day}`, actors: [bob] }]);
  }, 30_000);

  it("is told again what it could not handle while the tweets service was down", async () => {
    const [ada, bob] = [newId(), newId()];
    const post = newId();
    tweets.authors.set(post, ada);
    tweets.state.down = true;
    const before = tweets.state.calls;
    await bus.publish(eventMessage({ $case: "tweetLiked", value: { tweetId: post, userId: bob, likedAt: new Date() } }));
    await eventually(() => expect(tweets.state.calls).toBeGreaterThan(before), 15_000);
    expect(await listed(ada)).toEqual([]);
    tweets.state.down = false;
    await eventually(async () => expect(await listed(ada)).toEqual([{ id: `like:${post}`, actors: [bob] }]), 20_000);
  }, 30_000);

  it("takes away a deleted tweet's and a deleted account's notifications, even from events that come after", async () => {
    const [ada, bob] = [newId(), newId()];
    const post = newId();
    tweets.authors.set(post, ada);
    await bus.publish(eventMessage({ $case: "tweetLiked", value: { tweetId: post, userId: bob, likedAt: new Date() } }));
    await eventually(async () => expect(await listed(ada)).toHaveLength(1), 15_000);
    await bus.publish(eventMessage({ $case: "tweetDeleted", value: { tweetId: post, authorId: ada, retweetOfId: "", replyToId: "" } }));
    await eventually(async () => expect(await listed(ada)).toEqual([]), 15_000);
    // The like again, delivered late: nothing comes back. bob's account deleted: his follow goes.
    await bus.publish(eventMessage({ $case: "tweetLiked", value: { tweetId: post, userId: bob, likedAt: new Date() } }));
    await bus.publish(eventMessage({ $case: "userFollowed", value: { followerId: bob, followeeId: ada, followedAt: new Date() } }));
    await eventually(async () => expect(await listed(ada)).toHaveLength(1), 15_000);
    await bus.publish(eventMessage({ $case: "userDeleted", value: { userId: bob } }));
    await eventually(async () => expect(await listed(ada)).toEqual([]), 15_000);
    await bus.publish(eventMessage({ $case: "userFollowed", value: { followerId: bob, followeeId: ada, followedAt: new Date() } }));
    const marker = newId();
    tweets.authors.set(marker, bob);
    await bus.publish(eventMessage({ $case: "tweetLiked", value: { tweetId: marker, userId: ada, likedAt: new Date() } }));
    const probe = newId();
    await bus.publish(eventMessage({ $case: "userFollowed", value: { followerId: ada, followeeId: probe, followedAt: new Date() } }));
    await eventually(async () => expect(await listed(probe)).toHaveLength(1), 15_000);
    expect(await listed(ada)).toEqual([]);
    expect(await listed(bob)).toEqual([]);
  }, 30_000);
});
