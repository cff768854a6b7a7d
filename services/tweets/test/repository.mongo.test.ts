import { newId } from "@chirp/kit";
import { describeWith, testDatabase } from "@chirp/kit/testing";
import { tweetEvents } from "../src/events.js";
import { MongoTweetRepository } from "../src/storage/mongo.js";
import { tweetRepositoryContract } from "./repository.contract.js";

describeWith(["MONGODB_URI"], "MongoTweetRepository", ({ MONGODB_URI }) => {
  const db = testDatabase(MONGODB_URI, "chirp_tweets_test");

  tweetRepositoryContract(async () => {
    const store = await MongoTweetRepository.open(db());
    return { repository: store, outbox: store.outbox };
  });

  it("creates its indexes idempotently", async () => {
    await MongoTweetRepository.open(db());
    const names = async (collection: string) => (await db().collection(collection).indexes()).map((i) => i.name);
    expect(await names("tweets")).toEqual(
      expect.arrayContaining(["author_newest", "tag_newest", "replies_oldest", "retweets_newest", "retweet_unique", "idempotency_key_unique", "outbox_pending"]),
    );
    expect(await names("likes")).toEqual(expect.arrayContaining(["tweet_likes_newest", "user_likes", "outbox_pending"]));
  });

  it("keeps an unliked like's document as a tombstone until its events are relayed, then deletes it", async () => {
    const store = await MongoTweetRepository.open(db());
    const likes = db().collection<{ _id: string }>("likes");
    const tweetId = newId();
    const like = { id: newId(), tweetId, userId: newId(), likedAt: new Date() };
    const key = `${tweetId}:${like.userId}`;
    await store.addLike(like, [tweetEvents.liked(like)]);
    await store.removeLike(tweetId, like.userId, [tweetEvents.unliked(like, new Date())]);
    expect(await likes.findOne({ _id: key })).toMatchObject({ unlikedAt: expect.any(Date), outbox: [expect.anything(), expect.anything()] });

    const pending = (await store.outbox.pending(10_000)).filter((p) => p.ownerId === key);
    expect(pending.map((p) => p.message.subject)).toEqual(["chirp.tweets.tweet_liked", "chirp.tweets.tweet_unliked"]);
    await store.outbox.markPublished(pending[0]!);
    expect(await likes.countDocuments({ _id: key })).toBe(1);
    await store.outbox.markPublished(pending[1]!);
    expect(await likes.countDocuments({ _id: key })).toBe(0);
  });

  it("deletes at once a tombstone that has no events to wait for", async () => {
    const store = await MongoTweetRepository.open(db());
    const like = { id: newId(), tweetId: newId(), userId: newId(), likedAt: new Date() };
    await store.addLike(like, []);
    expect(await store.removeLike(like.tweetId, like.userId, [])).toBe(true);
    expect(await db().collection<{ _id: string }>("likes").countDocuments({ _id: `${like.tweetId}:${like.userId}` })).toBe(0);
  });
});
