import { OutboxRelay, type BusMessage, type Consumer, type Delivery, type EventPublisher } from "@chirp/kit";
import { decodeEvent, eventMessage, STREAMS } from "@chirp/kit/events";
import { unary } from "@chirp/kit/grpc";
import { connectMongo, type MongoConnection } from "@chirp/kit/mongo";
import { JetStreamBus } from "@chirp/kit/nats";
import { TweetsServiceClient, type CreateTweetRequest } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import { asCaller, describeWith, eventually, everyoneLive, startFakeUsers, testChannel, testLogger, type FakeUsers, uniqueName } from "@chirp/kit/testing";
import { startTweets, type TweetsApp } from "../src/app.js";
import { tweetEvents } from "../src/events.js";
import { Tweets } from "../src/domain/tweets.js";
import { MongoTweetRepository } from "../src/storage/mongo.js";
import { newUserId, post, testConfig } from "./fixtures.js";

const payloadOf = (delivery: Delivery) => decodeEvent(delivery.data).payload;
const tweetIdOf = (delivery: Delivery) => (payloadOf(delivery)?.value as { tweetId?: string } | undefined)?.tweetId;

/** Consumers replay what the shared streams already hold before they reach this run's events. */
const CONSUMER_TIMEOUT_MS = 20_000;

describeWith(["MONGODB_URI", "NATS_URL"], "tweets events through the outbox to JetStream", ({ MONGODB_URI, NATS_URL }) => {
  const log = testLogger();
  const database = uniqueName("chirp_tweets_events");
  /** Where the crash scenarios write: no relay of a running app looks there. */
  const crashedDatabase = uniqueName("chirp_tweets_crashed");
  const watcherName = uniqueName("tweets_test_watch");
  const serviceConsumer = uniqueName("tweets_test_service");
  let mongo: MongoConnection;
  let bus: JetStreamBus;
  let watcher: Consumer;
  let app: TweetsApp;
  let client: TweetsServiceClient;
  /** Asked before each write whether the caller's account is live. */
  let users: FakeUsers;
  const received: Delivery[] = [];
  const receivedFor = (tweetId: string) => received.filter((d) => tweetIdOf(d) === tweetId);

  const createTweet = (caller: string, req: Partial<CreateTweetRequest>) =>
    unary(client, client.createTweet, { ...post(""), ...req }, asCaller(caller)).then((r) => r.tweet!);
  const getTweet = (id: string) => unary(client, client.getTweet, { id }).then((r) => r.tweet!);

  beforeAll(async () => {
    mongo = await connectMongo(MONGODB_URI, database, log);
    bus = await JetStreamBus.connect(NATS_URL, "tweets-events-test", log);
    await bus.ensureStreams([STREAMS.tweets, STREAMS.users]);
    // From now on: replaying every earlier run's tweet events still in the shared stream (a week
    // of them) first could take longer than a check waits, under load.
    watcher = await bus.consume({ durable: watcherName, subjects: ["chirp.tweets.>"], startAt: "new" }, async (d) => {
      received.push(d);
    });
    users = await startFakeUsers();
    app = await startTweets(testConfig({ mongo: { uri: MONGODB_URI, database, username: undefined, password: undefined }, natsUrl: NATS_URL, upstreams: { users: users.address } }), { log, consumerName: serviceConsumer });
    client = new TweetsServiceClient(`127.0.0.1:${app.port}`, testChannel());
  });

  afterAll(async () => {
    client.close();
    await app.stop();
    await users.stop();
    await watcher.stop();
    await bus.manager.consumers.delete(STREAMS.tweets.name, watcherName);
    await bus.manager.consumers.delete(STREAMS.tweets.name, serviceConsumer);
    await bus.manager.consumers.delete(STREAMS.users.name, serviceConsumer);
    await bus.close();
    await mongo.db.dropDatabase();
    await mongo.client.db(crashedDatabase).dropDatabase();
    await mongo.close();
  });

  /** The domain on MongoDB with no relay running, as in a process that dies right after a write. */
  async function domainWithoutRelay() {
    const repository = await MongoTweetRepository.open(mongo.client.db(crashedDatabase));
    return { repository, tweets: new Tweets({ repository, events: tweetEvents, accounts: everyoneLive }) };
  }

  it("publishes TweetCreated for posts, replies and retweets and TweetDeleted for deletions, with event ids as message ids", async () => {
    const ann = newUserId();
    const bob = newUserId();
    const original = await createTweet(ann, { text: "hello #jetstream" });
    const reply = await createTweet(bob, { text: "hi", replyToId: original.id });
    const retweet = (await unary(client, client.retweet, { tweetId: original.id }, asCaller(bob))).retweet!;
    await unary(client, client.unretweet, { tweetId: original.id }, asCaller(bob));
    await unary(client, client.deleteTweet, { id: reply.id }, asCaller(bob));

    const [created] = await eventually(() => {
      const mine = receivedFor(original.id);
      expect(mine).toHaveLength(1);
      return mine;
    });
    expect(created!.subject).toBe("chirp.tweets.tweet_created");
    expect(created!.id).toBe(decodeEvent(created!.data).id);
    expect(payloadOf(created!)).toEqual({
      $case: "tweetCreated",
      value: { tweetId: original.id, authorId: ann, createdAt: original.createdAt, replyToId: "", retweetOfId: "", tags: ["jetstream"], text: "hello #jetstream", mentions: [] },
    });

    const replyEvents = await eventually(() => {
      const mine = receivedFor(reply.id);
      expect(mine).toHaveLength(2);
      return mine.map(payloadOf);
    });
    expect(replyEvents.map((p) => p?.$case)).toEqual(["tweetCreated", "tweetDeleted"]);
    expect(replyEvents[0]!.value).toMatchObject({ replyToId: original.id, authorId: bob });
    expect(replyEvents[1]!.value).toEqual({ tweetId: reply.id, authorId: bob, retweetOfId: "", replyToId: original.id });

    const retweetEvents = await eventually(() => {
      const mine = receivedFor(retweet.id);
      expect(mine).toHaveLength(2);
      return mine.map(payloadOf);
    });
    expect(retweetEvents[0]).toMatchObject({ $case: "tweetCreated", value: { retweetOfId: original.id, authorId: bob, tags: [] } });
    expect(retweetEvents[1]).toEqual({ $case: "tweetDeleted", value: { tweetId: retweet.id, authorId: bob, retweetOfId: original.id, replyToId: "" } });

    // Tombstones are gone once their deletion was announced.
    const tweets = mongo.db.collection("tweets");
    await eventually(async () => expect(await tweets.countDocuments({ _id: { $in: [reply.id, retweet.id] } } as never)).toBe(0));
    expect(await tweets.countDocuments({ _id: original.id } as never)).toBe(1);
  });

  it("publishes TweetLiked and TweetUnliked once per real change, and purges an unlike's tombstone once published", async () => {
    const tweet = await createTweet(newUserId(), { text: "like me on JetStream" });
    const bob = newUserId();
    const likes = mongo.db.collection<{ _id: string }>("likes");
    const likesOf = (subject: string) => receivedFor(tweet.id).filter((d) => d.subject === subject).map(payloadOf);
    await unary(client, client.likeTweet, { tweetId: tweet.id }, asCaller(bob));
    await unary(client, client.likeTweet, { tweetId: tweet.id }, asCaller(bob));
    const [liker] = (await unary(client, client.listLikers, { tweetId: tweet.id, pageSize: 10, pageToken: "", view: 0 })).likers;
    // FerretDB can lose an update racing the relay's on the same like: each change is relayed before the next.
    await eventually(() => expect(likesOf("chirp.tweets.tweet_liked")).toEqual([{ $case: "tweetLiked", value: { tweetId: tweet.id, userId: bob, likedAt: liker!.likedAt } }]));

    await unary(client, client.unlikeTweet, { tweetId: tweet.id }, asCaller(bob));
    await unary(client, client.unlikeTweet, { tweetId: tweet.id }, asCaller(bob));
    await eventually(() => expect(likesOf("chirp.tweets.tweet_unliked")).toEqual([{ $case: "tweetUnliked", value: { tweetId: tweet.id, userId: bob, unlikedAt: expect.any(Date) } }]));
    await eventually(async () => expect(await likes.countDocuments({ _id: `${tweet.id}:${bob}` })).toBe(0));
    expect(await getTweet(tweet.id)).toMatchObject({ likeCount: "0" });

    await unary(client, client.likeTweet, { tweetId: tweet.id }, asCaller(bob));
    const [again] = (await unary(client, client.listLikers, { tweetId: tweet.id, pageSize: 10, pageToken: "", view: 0 })).likers;
    expect(again!.likedAt!.getTime()).toBeGreaterThan(liker!.likedAt!.getTime());
    await eventually(() => expect(likesOf("chirp.tweets.tweet_liked")).toHaveLength(2));
    expect(likesOf("chirp.tweets.tweet_liked")[1]).toEqual({ $case: "tweetLiked", value: { tweetId: tweet.id, userId: bob, likedAt: again!.likedAt } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receivedFor(tweet.id).map((d) => d.subject)).toEqual([
      "chirp.tweets.tweet_created",
      "chirp.tweets.tweet_liked",
      "chirp.tweets.tweet_unliked",
      "chirp.tweets.tweet_liked",
    ]);
  });

  it("loses nothing when the process dies between the database write and the publish", async () => {
    // A process that saved the tweet and the retweet and died before its relay ran: nothing was published.
    const { repository, tweets } = await domainWithoutRelay();
    const tweet = await tweets.createTweet(newUserId(), post("written, not yet published"));
    const retweet = await tweets.retweet(newUserId(), tweet.id);
    const liker = newUserId();
    const unliker = newUserId();
    await tweets.likeTweet(liker, tweet.id);
    await tweets.likeTweet(unliker, tweet.id);
    await tweets.unlikeTweet(unliker, tweet.id);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receivedFor(tweet.id)).toHaveLength(0);
    expect(receivedFor(retweet.id)).toHaveLength(0);

    // The restarted process's relay finds the pending events and publishes them.
    await new OutboxRelay(repository.outbox, bus, log).flush();
    const userIdOf = (d: Delivery) => (payloadOf(d)?.value as { userId?: string }).userId;
    await eventually(() => {
      expect(receivedFor(tweet.id).filter((d) => d.subject === "chirp.tweets.tweet_created")).toHaveLength(1);
      expect(receivedFor(tweet.id).filter((d) => userIdOf(d) === liker).map((d) => d.subject)).toEqual(["chirp.tweets.tweet_liked"]);
      expect(receivedFor(tweet.id).filter((d) => userIdOf(d) === unliker).map((d) => d.subject)).toEqual(["chirp.tweets.tweet_liked", "chirp.tweets.tweet_unliked"]);
      expect(receivedFor(retweet.id).map((d) => d.subject)).toEqual(["chirp.tweets.tweet_created"]);
    });
    expect((await repository.outbox.pending(100)).filter((p) => [tweet.id, retweet.id].includes(p.ownerId) || p.ownerId.startsWith(`${tweet.id}:`))).toEqual([]);
    expect(await repository.likedBy(unliker, [tweet.id])).toEqual(new Set());
    expect(await repository.likedBy(liker, [tweet.id])).toEqual(new Set([tweet.id]));
  });

  it("stores an event once when the process dies after publishing but before marking it published", async () => {
    const { repository, tweets } = await domainWithoutRelay();
    const tweet = await tweets.createTweet(newUserId(), post("published twice, stored once"));

    const diesAfterPublish: EventPublisher = {
      publish: async (message: BusMessage) => {
        await bus.publish(message);
        throw new Error("process killed");
      },
    };
    await new OutboxRelay(repository.outbox, diesAfterPublish, log).flush();
    expect((await repository.outbox.pending(100)).filter((p) => p.ownerId === tweet.id)).toHaveLength(1);

    await new OutboxRelay(repository.outbox, bus, log).flush();
    expect((await repository.outbox.pending(100)).filter((p) => p.ownerId === tweet.id)).toEqual([]);
    await eventually(() => expect(receivedFor(tweet.id)).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receivedFor(tweet.id)).toHaveLength(1);
  });

  it("counts 50 simultaneous likes and 20 simultaneous retweets exactly on MongoDB", async () => {
    const tweet = await createTweet(newUserId(), { text: "popular on MongoDB" });
    const likers = Array.from({ length: 50 }, newUserId);
    await Promise.all(likers.flatMap((user) => [1, 2].map(() => unary(client, client.likeTweet, { tweetId: tweet.id }, asCaller(user)))));
    const retweeters = Array.from({ length: 20 }, newUserId);
    await Promise.all(retweeters.flatMap((user) => [1, 2].map(() => unary(client, client.retweet, { tweetId: tweet.id }, asCaller(user)))));
    expect(await getTweet(tweet.id)).toMatchObject({ likeCount: "50", retweetCount: "20" });
    const likersPage = await unary(client, client.listLikers, { tweetId: tweet.id, pageSize: 100, pageToken: "", view: 0 });
    expect(new Set(likersPage.likers.map((l) => l.userId))).toEqual(new Set(likers));
  });

  it("cleans up after a UserDeleted from JetStream, announcing each removed tweet, however often it arrives", async () => {
    const gone = newUserId();
    const friend = newUserId();
    const friendsPost = await createTweet(friend, { text: "friend's post" });
    const goneTweet = await createTweet(gone, { text: "soon gone" });
    const goneReply = await createTweet(gone, { text: "a reply", replyToId: friendsPost.id });
    const goneRetweet = (await unary(client, client.retweet, { tweetId: friendsPost.id }, asCaller(gone))).retweet!;
    await unary(client, client.likeTweet, { tweetId: friendsPost.id }, asCaller(gone));
    const friendsRetweet = (await unary(client, client.retweet, { tweetId: goneTweet.id }, asCaller(friend))).retweet!;
    expect(await getTweet(friendsPost.id)).toMatchObject({ likeCount: "1", retweetCount: "1", replyCount: "1" });

    // Published twice with different event ids, as a producer retrying beyond the duplicate window would.
    for (let i = 0; i < 2; i++) await bus.publish(eventMessage({ $case: "userDeleted", value: { userId: gone } }));

    await eventually(async () => expect(await getTweet(friendsPost.id)).toMatchObject({ likeCount: "0", retweetCount: "0", replyCount: "0" }), CONSUMER_TIMEOUT_MS);
    const removed = [goneTweet.id, goneReply.id, goneRetweet.id, friendsRetweet.id];
    // The friend's retweet of the deleted user's post goes when that post's TweetDeleted comes back round.
    await eventually(() => {
      for (const id of removed) expect(receivedFor(id).map((d) => d.subject)).toEqual(["chirp.tweets.tweet_created", "chirp.tweets.tweet_deleted"]);
    }, CONSUMER_TIMEOUT_MS);
    const missing = (await unary(client, client.batchGetTweets, { ids: removed })).missingIds;
    expect(missing.sort()).toEqual([...removed].sort());
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const id of removed) expect(receivedFor(id)).toHaveLength(2);
  });
});
