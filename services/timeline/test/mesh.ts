import { status, type ServiceError } from "@grpc/grpc-js";
import type { Logger } from "@chirp/kit";
import { unary } from "@chirp/kit/grpc";
import { asCaller, eventually, testCertificates, testChannel, TEST_SIGNING_KEY, uniqueName } from "@chirp/kit/testing";
import { startMesh } from "@chirp/mesh";
import { GraphServiceClient } from "@chirp/proto/grpc/chirp/graph/v1/graph";
import { TimelineServiceClient } from "@chirp/proto/grpc/chirp/timeline/v1/timeline";
import { TweetsServiceClient, type Tweet } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import { UsersServiceClient, type User } from "@chirp/proto/grpc/chirp/users/v1/users";

export { asCaller };

export interface MeshOptions {
  log: Logger;
  /** Authors with more followers than this are merged in at read time. */
  celebrityFollowers: number;
  /** MongoDB and JetStream; memory and one shared in-process bus without them. */
  servers?: { mongoUri: string; natsUrl: string };
}

/**
 * The whole mesh as `npm start` runs it, as a run of its own: with MongoDB (a database of its own
 * per service) and JetStream (durable consumers of its own, starting at the streams' end), or with
 * memory and one shared in-process bus. The tests talk to the services directly, through the
 * actions below.
 */
export async function startServices(options: MeshOptions) {
  const mesh = await startMesh({
    env: {
      LOG_LEVEL: "silent",
      PASSWORD_HASH_COST: "4",
      OUTBOX_POLL_MS: "100",
      // The tests' tokens (asCaller) are signed with the test key: the mesh's users service signs with it too.
      AUTH_SIGNING_KEY: TEST_SIGNING_KEY,
      CELEBRITY_FOLLOWERS: String(options.celebrityFollowers),
      ...(options.servers && { MONGODB_URI: options.servers.mongoUri, NATS_URL: options.servers.natsUrl }),
    },
    log: options.log,
    loopback: true,
    run: uniqueName("e2e"),
    certificates: testCertificates(),
  });
  const clients = {
    users: new UsersServiceClient(mesh.addresses.users, testChannel()),
    tweets: new TweetsServiceClient(mesh.addresses.tweets, testChannel()),
    graph: new GraphServiceClient(mesh.addresses.graph, testChannel()),
    timeline: new TimelineServiceClient(mesh.addresses.timeline, testChannel()),
  };
  /**
   * Resolves once the tweets service's outbox is drained: published and marked so. A test that
   * changes a like right after making it waits for this first, because FerretDB (the MongoDB
   * stand-in here) loses one of two updates racing on one document, and the relay's "mark
   * published" would otherwise erase the change (MongoDB applies both).
   */
  const tweetsRelayed = () => mesh.apps.tweets.relay.flush();
  const stop = async () => {
    for (const client of Object.values(clients)) client.close();
    await mesh.stop();
  };
  return { clients, timelineDatabase: mesh.databases.timeline, ...actionsOn(clients), tweetsRelayed, stop };
}

export type Services = Awaited<ReturnType<typeof startServices>>;

/** What people do, through the public APIs. */
function actionsOn(clients: { users: UsersServiceClient; tweets: TweetsServiceClient; graph: GraphServiceClient; timeline: TimelineServiceClient }) {
  return {
    async register(name: string): Promise<User> {
      const username = `${name}_${Math.random().toString(36).slice(2, 8)}`;
      const { user } = await unary(clients.users, clients.users.createUser, { username, email: `${username}@example.org`, password: "correct horse battery", displayName: name });
      return user!;
    },
    /** The graph learns of new users from events: a follow of someone just registered is retried until it knows them. */
    async follow(follower: User, followee: User): Promise<void> {
      await eventually(
        () =>
          unary(clients.graph, clients.graph.follow, { followeeId: followee.id }, asCaller(follower.id)).catch((error: ServiceError) => {
            throw error.code === status.NOT_FOUND ? new Error(`the graph does not know ${followee.username} yet`) : error;
          }),
        10_000,
      );
    },
    async unfollow(follower: User, followee: User): Promise<void> {
      await unary(clients.graph, clients.graph.unfollow, { followeeId: followee.id }, asCaller(follower.id));
    },
    async rename(user: User, displayName: string): Promise<User> {
      const { user: renamed } = await unary(clients.users, clients.users.updateUser, { user: { ...user, displayName }, updateMask: ["display_name"] }, asCaller(user.id));
      return renamed!;
    },
    async post(author: User, text: string): Promise<Tweet> {
      const { tweet } = await unary(clients.tweets, clients.tweets.createTweet, { text, replyToId: "", tags: [], idempotencyKey: "" }, asCaller(author.id));
      return tweet!;
    },
    async reply(author: User, to: Tweet, text: string): Promise<Tweet> {
      const { tweet } = await unary(clients.tweets, clients.tweets.createTweet, { text, replyToId: to.id, tags: [], idempotencyKey: "" }, asCaller(author.id));
      return tweet!;
    },
    async retweet(user: User, original: Tweet): Promise<Tweet> {
      const { retweet } = await unary(clients.tweets, clients.tweets.retweet, { tweetId: original.id }, asCaller(user.id));
      return retweet!;
    },
    async like(user: User, tweet: Tweet): Promise<void> {
      await unary(clients.tweets, clients.tweets.likeTweet, { tweetId: tweet.id }, asCaller(user.id));
    },
    async unlike(user: User, tweet: Tweet): Promise<void> {
      await unary(clients.tweets, clients.tweets.unlikeTweet, { tweetId: tweet.id }, asCaller(user.id));
    },
    async deleteTweet(author: User, tweet: Tweet): Promise<void> {
      await unary(clients.tweets, clients.tweets.deleteTweet, { id: tweet.id }, asCaller(author.id));
    },
    async home(reader: User, pageSize = 50) {
      return unary(clients.timeline, clients.timeline.getHomeTimeline, { pageSize, pageToken: "" }, asCaller(reader.id));
    },
    /** The ids of the reader's first page, once they match; fails with the last difference after the timeout. */
    async homeShows(reader: User, expected: Tweet[], timeoutMs = 10_000): Promise<void> {
      await eventually(async () => {
        const page = await unary(clients.timeline, clients.timeline.getHomeTimeline, { pageSize: 50, pageToken: "" }, asCaller(reader.id));
        expect(page.items.map((i) => i.id)).toEqual(expected.map((t) => t.id));
      }, timeoutMs);
    },
  };
}
