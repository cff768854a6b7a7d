import { Metadata, status, type CallOptions } from "@grpc/grpc-js";
import { DomainError, ExpiringCache } from "@chirp/kit";
import { balancedClientOptions, channelCredentials, isServiceError, meshChannelOptions, replicaTarget, REQUEST_ID_KEY, unary, type CallContext, type MeshTls } from "@chirp/kit/grpc";
import { GraphService } from "@chirp/proto/es/chirp/graph/v1/graph_pb";
import { TweetsService } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";
import { GraphServiceClient, type ListFollowerIdsResponse } from "@chirp/proto/grpc/chirp/graph/v1/graph";
import { TweetsServiceClient } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import { UsersServiceClient } from "@chirp/proto/grpc/chirp/users/v1/users";
import type { ProfileCard } from "./domain/model.js";
import type { FollowerBatch, FollowerDirectory, Upstream } from "./domain/ports.js";
import { renderedOf, userProfile } from "./messages.js";

type Forwarding = () => { metadata: Metadata; options: Partial<CallOptions> };

/** The most ids BatchGetTweets and BatchGetUsers take. A page holds at most this many entries. */
const MAX_BATCH_IDS = 100;
/** Followers per streamed batch: one bulk write each. */
const FOLLOWER_BATCH_SIZE = 1_000;
const EVENT_CALL_TIMEOUT_MS = 10_000;
/** Listing every follower of a large account takes a while; an interrupted listing is resumed. */
const FOLLOWER_LISTING_TIMEOUT_MS = 5 * 60_000;

function chunks<T>(values: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}

/** An unreachable or slow upstream is UNAVAILABLE to our caller (retry), not an internal error. */
async function fromUpstream<T>(service: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isServiceError(error) && (error.code === status.UNAVAILABLE || error.code === status.DEADLINE_EXCEEDED)) {
      throw new DomainError("UNAVAILABLE", `the ${service} service did not answer in time; retry shortly`);
    }
    throw error;
  }
}

/** Profiles kept at most: enough for every author a busy replica renders within the cache time. */
const MAX_CACHED_PROFILES = 50_000;

/**
 * gRPC clients of the users, tweets and graph services, bound per request to what they forward.
 * Their answers are turned into domain types here, as they arrive.
 * Public profiles (asked only of people the profiles projection does not know) are kept for
 * `profileCacheMs`: every page shows a handful of people, mostly the same ones, and a renamed
 * author may show the old name that long. Profiles are the same for every reader; tweets are not
 * (liked/retweeted by me), so tweets are always asked for.
 */
export class UpstreamClients {
  private readonly users: UsersServiceClient;
  private readonly tweets: TweetsServiceClient;
  private readonly graph: GraphServiceClient;
  private readonly profileCache: ExpiringCache<ProfileCard> | undefined;

  constructor(addresses: { users: string; tweets: string; graph: string }, options: { profileCacheMs: number; tls?: MeshTls } = { profileCacheMs: 0 }) {
    this.profileCache = options.profileCacheMs > 0 ? new ExpiringCache<ProfileCard>(options.profileCacheMs, MAX_CACHED_PROFILES) : undefined;
    // Each address may name many replicas: calls are spread over them, reads retried on another.
    this.users = new UsersServiceClient(replicaTarget(addresses.users), channelCredentials(options.tls, "users"), balancedClientOptions(UsersService, meshChannelOptions("users")));
    this.tweets = new TweetsServiceClient(replicaTarget(addresses.tweets), channelCredentials(options.tls, "tweets"), balancedClientOptions(TweetsService, meshChannelOptions("tweets")));
    this.graph = new GraphServiceClient(replicaTarget(addresses.graph), channelCredentials(options.tls, "graph"), balancedClientOptions(GraphService, meshChannelOptions("graph")));
  }

  /** Calls on behalf of a gRPC call: its request id, caller and deadline go along. */
  forCall(ctx: CallContext): Upstream {
    return this.rendering(() => ctx.forward());
  }

  /** Calls caused by an event: no caller, the event's own request id in every log along the way, a deadline per call. */
  forEvent(eventId: string): Upstream & FollowerDirectory {
    const forEvent = (timeoutMs: number) => () => {
      const metadata = new Metadata();
      metadata.set(REQUEST_ID_KEY, `event-${eventId}`);
      return { metadata, options: { deadline: Date.now() + timeoutMs } };
    };
    return { ...this.rendering(forEvent(EVENT_CALL_TIMEOUT_MS)), ...this.followerDirectory(forEvent(EVENT_CALL_TIMEOUT_MS), forEvent(FOLLOWER_LISTING_TIMEOUT_MS)) };
  }

  close(): void {
    this.users.close();
    this.tweets.close();
    this.graph.close();
  }

  private rendering(forward: Forwarding): Upstream {
    return {
      tweets: async (ids) => {
        const batches = await Promise.all(
          chunks(ids, MAX_BATCH_IDS).map((batch) =>
            fromUpstream("tweets", () => {
              const { metadata, options } = forward();
              return unary(this.tweets, this.tweets.batchGetTweets, { ids: batch }, metadata, options);
            }),
          ),
        );
        return batches.flatMap((response) => response.tweets.map(renderedOf));
      },
      // A page names at most 100 tweets but up to twice as many people (authors and retweeters);
      // past 100 distinct people it takes a second call.
      profiles: async (ids) => {
        const load = async (missing: string[]) => {
          const batches = await Promise.all(
            chunks(missing, MAX_BATCH_IDS).map((batch) =>
              fromUpstream("users", () => {
                const { metadata, options } = forward();
                return unary(this.users, this.users.batchGetUsers, { ids: batch }, metadata, options);
              }),
            ),
          );
          // Public profiles only (a profile has no email): the users service shows callers their own.
          return batches.flatMap((response) => response.users.map(userProfile));
        };
        return this.profileCache ? this.profileCache.getMany(ids, load, (profile) => profile.userId) : load(ids);
      },
    };
  }

  private followerDirectory(forward: Forwarding, forwardListing: Forwarding): FollowerDirectory {
    const graph = this.graph;
    return {
      followerCount: async (userId) => {
        const { metadata, options } = forward();
        const counts = await fromUpstream("graph", () => unary(graph, graph.getCounts, { userId }, metadata, options));
        return Number(counts.followersCount);
      },
      async *followers(userId: string, resumeToken: string | undefined, signal?: AbortSignal): AsyncIterable<FollowerBatch> {
        const { metadata, options } = forwardListing();
        const call = graph.listFollowerIds({ userId, batchSize: FOLLOWER_BATCH_SIZE, resumeToken: resumeToken ?? "" }, metadata, options);
        const cancel = () => call.cancel();
        signal?.addEventListener("abort", cancel, { once: true });
        try {
          for await (const batch of call as AsyncIterable<ListFollowerIdsResponse>) {
            yield { followerIds: batch.followerIds, resumeToken: batch.resumeToken };
          }
        } finally {
          // Stops the server's listing when the fan-out ends early (tweet deleted, shutdown).
          signal?.removeEventListener("abort", cancel);
          call.cancel();
        }
      },
    };
  }
}
