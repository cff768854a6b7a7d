import { status, type ServiceError } from "@grpc/grpc-js";
import { unary } from "@chirp/kit/grpc";
import type { Tweet } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import type { User } from "@chirp/proto/grpc/chirp/users/v1/users";
import { describeWith, eventually, testLogger } from "@chirp/kit/testing";
import { asCaller, startServices, type Services } from "./mesh.js";

async function refusedAsDeleted(call: Promise<unknown>): Promise<void> {
  const error = await call.then(
    () => {
      throw new Error("a write by a deleted account was accepted");
    },
    (e: ServiceError) => e,
  );
  expect([status[error.code], error.details]).toEqual(["PERMISSION_DENIED", "your account has been deleted"]);
}

/**
 * A deleted account whose identity is still good (the gateway would still accept its token until it
 * expires) can write nothing from the moment DeleteUser answers, in any service, and nothing it
 * wrote before is left once the clean-up has run.
 */
function deletionStory(services: () => Services) {
  it("refuses every write of a deleted account at once, and leaves nothing it wrote", async () => {
    const mesh = services();
    const { users, tweets, graph } = mesh.clients;
    const tag = `gone${Date.now().toString(36)}`;
    const [gone, other, third] = [await mesh.register("gone"), await mesh.register("other"), await mesh.register("third")];
    // The graph knows all three (the follows below wait for it), so a refused follow is refused for the deletion alone.
    await mesh.follow(gone, other);
    await mesh.follow(other, gone);
    await mesh.follow(other, third);
    const othersPost = await mesh.post(other, `still here #${tag}`);
    const own = await mesh.post(gone, `about to go #${tag}`);
    await mesh.like(gone, othersPost);
    await mesh.retweet(gone, othersPost);

    await unary(users, users.deleteUser, { id: gone.id }, asCaller(gone.id));

    // No waiting for any event: every write is refused the moment the deletion is acknowledged.
    const as = asCaller(gone.id);
    const newTweet = (replyToId: string) => ({ text: `ghost #${tag}`, replyToId, tags: [], idempotencyKey: "" });
    await refusedAsDeleted(unary(tweets, tweets.createTweet, newTweet(""), as));
    await refusedAsDeleted(unary(tweets, tweets.createTweet, newTweet(othersPost.id), as));
    await refusedAsDeleted(unary(tweets, tweets.likeTweet, { tweetId: othersPost.id }, as));
    await refusedAsDeleted(unary(tweets, tweets.unlikeTweet, { tweetId: othersPost.id }, as));
    await refusedAsDeleted(unary(tweets, tweets.retweet, { tweetId: othersPost.id }, as));
    await refusedAsDeleted(unary(tweets, tweets.unretweet, { tweetId: othersPost.id }, as));
    await refusedAsDeleted(unary(tweets, tweets.deleteTweet, { id: own.id }, as));
    await refusedAsDeleted(unary(graph, graph.follow, { followeeId: third.id }, as));
    await refusedAsDeleted(unary(graph, graph.unfollow, { followeeId: other.id }, as));

    // Once the UserDeleted has been handled, nothing of theirs is left anywhere a reader looks.
    const authoredBy = (user: User, found: Tweet[]) => found.filter((t) => t.authorId === user.id).map((t) => t.id);
    await eventually(async () => {
      const listed = await unary(tweets, tweets.listUserTweets, { userId: gone.id, pageSize: 100, pageToken: "" });
      expect(listed.tweets).toEqual([]);
      const searched = await unary(tweets, tweets.searchTweets, { tag, authorId: "", startTime: undefined, endTime: undefined, pageSize: 100, pageToken: "" });
      expect(authoredBy(gone, searched.tweets)).toEqual([]);
      expect(searched.tweets.map((t) => t.id)).toEqual([othersPost.id]);
      const missing = await unary(tweets, tweets.getTweet, { id: own.id }).catch((e: ServiceError) => e);
      expect(status[(missing as ServiceError).code]).toBe("NOT_FOUND");
      const { tweet } = await unary(tweets, tweets.getTweet, { id: othersPost.id });
      expect([tweet!.likeCount, tweet!.retweetCount]).toEqual(["0", "0"]);
      const counts = await unary(graph, graph.getCounts, { userId: other.id });
      expect([counts.followersCount, counts.followingCount]).toEqual(["0", "1"]);
    }, 15_000);
  }, 60_000);
}

describe("a deleted account, with the real services embedded (memory, one in-process bus)", () => {
  let services: Services;
  beforeAll(async () => {
    services = await startServices({ log: testLogger(), celebrityFollowers: 10 });
  });
  afterAll(() => services?.stop());

  deletionStory(() => services);
});

describeWith(["MONGODB_URI", "NATS_URL"], "a deleted account, with the real services", ({ MONGODB_URI, NATS_URL }) => {
  let services: Services;
  beforeAll(async () => {
    services = await startServices({ log: testLogger(), celebrityFollowers: 10, servers: { mongoUri: MONGODB_URI, natsUrl: NATS_URL } });
  }, 30_000);
  afterAll(() => services?.stop());

  deletionStory(() => services);
});
