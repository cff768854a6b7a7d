import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import type { Logger } from "@chirp/kit";
import { EVENT_SUBJECTS, InProcessEventBus, STREAMS } from "@chirp/kit/events";
import { CALLER_ID_KEY, unary } from "@chirp/kit/grpc";
import { connectMongo } from "@chirp/kit/mongo";
import { JetStreamBus } from "@chirp/kit/nats";
import { GraphServiceClient } from "@chirp/proto/grpc/chirp/graph/v1/graph";
import { TimelineServiceClient } from "@chirp/proto/grpc/chirp/timeline/v1/timeline";
import { TweetsServiceClient, type Tweet } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import { UsersServiceClient, type User } from "@chirp/proto/grpc/chirp/users/v1/users";
import { startGraph } from "@chirp/graph";
import { startTweets } from "@chirp/tweets";
import { startUsers } from "@chirp/users";
import { eventually, uniqueName } from "@chirp/kit/testing";
import { loadConfig as graphConfig } from "@chirp/graph/config";
import { loadConfig as tweetsConfig } from "@chirp/tweets/config";
import { loadConfig as usersConfig } from "@chirp/users/config";
import { startTimeline } from "../src/app.js";
import { loadConfig as timelineConfig } from "../src/config.js";
import { CONSUMED_SUBJECTS } from "../src/events.js";
import { durableFromNow } from "./jetstream.js";

export const asCaller = (id: string) => {
  const metadata = new Metadata();
  metadata.set(CALLER_ID_KEY, id);
  return metadata;
};

export interface MeshOptions {
  log: Logger;
  /** Authors with more followers than this are merged in at read time. */
  celebrityFollowers: number;
  /** MongoDB and JetStream; memory and one shared in-process bus without them. */
  servers?: { mongoUri: string; natsUrl: string };
}

/**
 * The four services in this process, each through its own composition root on its own port, as
 * the embedded mesh runs them: with MongoDB (a database of its own each) and JetStream (durable
 * consumers of their own, starting at the streams' end), or with memory and one shared
 * in-process bus.
 */
export async function startServices(options: MeshOptions) {
  const run = uniqueName("e2e");
  const stops: Array<() => Promise<unknown>> = [];
  /** Every step runs even when one before it fails, so a failed run still removes its consumers. */
  const stopAll = async () => {
    const failures: unknown[] = [];
    for (const stop of stops.splice(0).reverse()) await stop().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw failures[0];
  };
  try {
    const env = (service: string): Record<string, string> => ({
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: "0",
      LOG_LEVEL: "silent",
      PASSWORD_HASH_COST: "4",
      OUTBOX_POLL_MS: "100",
      ...(options.servers ? { MONGODB_URI: options.servers.mongoUri, MONGODB_DATABASE: `${run}_${service}`, NATS_URL: options.servers.natsUrl } : {}),
    });
    const consumers = { tweets: `${run}_tweets`, graph: `${run}_graph`, timeline: `${run}_timeline` };
    let bus: InProcessEventBus | undefined;
    if (options.servers) {
      const admin = await JetStreamBus.connect(options.servers.natsUrl, "timeline-e2e-admin", options.log);
      stops.push(() => admin.close());
      await admin.ensureStreams([STREAMS.users, STREAMS.tweets, STREAMS.graph, STREAMS.deadLetters]);
      for (const [durable, subjects] of [
        [consumers.tweets, [EVENT_SUBJECTS.userDeleted, EVENT_SUBJECTS.tweetDeleted]],
        [consumers.graph, [EVENT_SUBJECTS.userCreated, EVENT_SUBJECTS.userDeleted]],
        [consumers.timeline, CONSUMED_SUBJECTS],
      ] as const) {
        stops.push(await durableFromNow(admin, durable, [...subjects]));
      }
      const { mongoUri } = options.servers;
      stops.push(async () => {
        const connection = await connectMongo(mongoUri, `${run}_users`, options.log);
        for (const service of ["users", "tweets", "graph", "timeline"]) await connection.client.db(`${run}_${service}`).dropDatabase();
        await connection.close();
      });
    } else {
      bus = new InProcessEventBus(options.log);
    }

    const users = await startUsers(usersConfig(env("users")), { log: options.log, bus });
    stops.push(users.stop);
    // Tweets and graph ask users, before every write, whether the caller's account is live.
    const USERS_ADDRESS = `127.0.0.1:${users.port}`;
    const tweets = await startTweets(tweetsConfig({ ...env("tweets"), USERS_ADDRESS }), { log: options.log, bus, consumerName: consumers.tweets });
    stops.push(tweets.stop);
    const graph = await startGraph(graphConfig({ ...env("graph"), USERS_ADDRESS, USER_EVENTS_CONSUMER: consumers.graph }), { log: options.log, bus });
    stops.push(graph.stop);
    const timeline = await startTimeline(
      timelineConfig({
        ...env("timeline"),
        USERS_ADDRESS,
        TWEETS_ADDRESS: `127.0.0.1:${tweets.port}`,
        GRAPH_ADDRESS: `127.0.0.1:${graph.port}`,
        CONSUMER_NAME: consumers.timeline,
        CELEBRITY_FOLLOWERS: String(options.celebrityFollowers),
      }),
      { log: options.log, bus },
    );
    stops.push(timeline.stop);

    const clients = {
      users: new UsersServiceClient(`127.0.0.1:${users.port}`, credentials.createInsecure()),
      tweets: new TweetsServiceClient(`127.0.0.1:${tweets.port}`, credentials.createInsecure()),
      graph: new GraphServiceClient(`127.0.0.1:${graph.port}`, credentials.createInsecure()),
      timeline: new TimelineServiceClient(`127.0.0.1:${timeline.port}`, credentials.createInsecure()),
    };
    stops.push(async () => Object.values(clients).forEach((client) => client.close()));
    /**
     * Resolves once the tweets service's outbox is drained: published and marked so. A test that
     * changes a like right after making it waits for this first, because FerretDB (the MongoDB
     * stand-in here) loses one of two updates racing on one document, and the relay's "mark
     * published" would otherwise erase the change (MongoDB applies both).
     */
    const tweetsRelayed = () => tweets.relay.flush();
    return { clients, timelineDatabase: `${run}_timeline`, ...actionsOn(clients), tweetsRelayed, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
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
