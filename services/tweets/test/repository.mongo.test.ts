import { connectMongo, type MongoConnection } from "@chirp/kit/mongo";
import { describeWith, testLogger, uniqueName } from "@chirp/testing";
import { MongoTweetRepository } from "../src/storage/mongo.js";
import { tweetRepositoryContract } from "./repository.contract.js";

describeWith(["MONGODB_URI"], "MongoTweetRepository", ({ MONGODB_URI }) => {
  let connection: MongoConnection;

  beforeAll(async () => {
    connection = await connectMongo(MONGODB_URI, uniqueName("chirp_tweets_test"), testLogger());
  });

  afterAll(async () => {
    await connection.db.dropDatabase();
    await connection.close();
  });

  tweetRepositoryContract(async () => {
    const store = await MongoTweetRepository.open(connection.db);
    return { repository: store, outbox: store.outbox };
  });

  it("creates its indexes idempotently", async () => {
    await MongoTweetRepository.open(connection.db);
    const names = async (collection: string) => (await connection.db.collection(collection).indexes()).map((i) => i.name);
    expect(await names("tweets")).toEqual(
      expect.arrayContaining(["author_newest", "tag_newest", "replies_oldest", "retweets_newest", "retweet_unique", "idempotency_key_unique", "outbox_pending"]),
    );
    expect(await names("likes")).toEqual(expect.arrayContaining(["tweet_likes_newest", "user_likes"]));
  });
});
