import { Metadata, status, type CallOptions } from "@grpc/grpc-js";
import { DomainError, ExpiringCache, type Logger } from "@chirp/kit";
import { channelCredentials, clientOptions, isServiceError, meshChannelOptions, REQUEST_ID_KEY, unary, type CallContext, type MeshTls } from "@chirp/kit/grpc";
import { TweetsServiceClient } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import { UsersServiceClient, type User } from "@chirp/proto/grpc/chirp/users/v1/users";
import type { Profile } from "./domain/model.js";
import type { People } from "./domain/ports.js";

type Forwarding = () => { metadata: Metadata; options: Partial<CallOptions> };

/** The most ids BatchGetTweets and BatchGetUsers take. */
const MAX_BATCH_IDS = 100;
const EVENT_CALL_TIMEOUT_MS = 10_000;
/** A tweet's author never changes: kept long, bounded in number. */
const AUTHOR_CACHE_MS = 3_600_000;
const MAX_CACHED = 50_000;

function chunks<T>(values: readonly T[], size: number): T[][] {
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

const profileOf = (user: User): Profile => ({
  userId: user.id,
  username: user.username,
  displayName: user.displayName,
  bio: user.bio,
  avatarUrl: user.avatarUrl,
  createdAt: user.createdAt,
  updatedAt: user.updatedAt,
});

/**
 * gRPC clients of the users and tweets services, bound per request (or per event) to what they
 * forward. Tweets' authors are cached (they never change); public profiles for `profileCacheMs`.
 */
export class UpstreamClients {
  private readonly users: UsersServiceClient;
  private readonly tweets: TweetsServiceClient;
  private readonly authors = new ExpiringCache<{ tweetId: string; authorId: string }>(AUTHOR_CACHE_MS, MAX_CACHED);
  private readonly profileCache: ExpiringCache<Profile> | undefined;

  constructor(
    addresses: { users: string; tweets: string },
    private readonly log: Logger,
    options: { profileCacheMs: number; tls?: MeshTls } = { profileCacheMs: 0 },
  ) {
    this.profileCache = options.profileCacheMs > 0 ? new ExpiringCache<Profile>(options.profileCacheMs, MAX_CACHED) : undefined;
    this.users = new UsersServiceClient(addresses.users, channelCredentials(options.tls, "users", log), { ...clientOptions(), ...meshChannelOptions("users") });
    this.tweets = new TweetsServiceClient(addresses.tweets, channelCredentials(options.tls, "tweets", log), { ...clientOptions(), ...meshChannelOptions("tweets") });
  }

  /** Calls on behalf of a gRPC call: its request id, caller and deadline go along. */
  forCall(ctx: CallContext): People {
    return this.people(() => ctx.forward(), ctx.log);
  }

  /** Calls caused by an event: no caller, the event's own request id, a deadline per call. */
  forEvent(eventId: string): People {
    return this.people(() => {
      const metadata = new Metadata();
      metadata.set(REQUEST_ID_KEY, `event-${eventId}`);
      return { metadata, options: { deadline: Date.now() + EVENT_CALL_TIMEOUT_MS } };
    }, this.log);
  }

  close(): void {
    this.users.close();
    this.tweets.close();
  }

  private people(forward: Forwarding, log: Logger): People {
    return {
      tweetAuthors: async (tweetIds) => {
        const load = async (missing: string[]) => {
          const answers = await Promise.all(
            chunks(missing, MAX_BATCH_IDS).map((ids) =>
              fromUpstream("tweets", () => {
                const { metadata, options } = forward();
                return unary(this.tweets, this.tweets.batchGetTweets, { ids }, metadata, options);
              }),
            ),
          );
          return answers.flatMap((answer) => answer.tweets.map((tweet) => ({ tweetId: tweet.id, authorId: tweet.authorId })));
        };
        const found = await this.authors.getMany([...tweetIds], load, (entry) => entry.tweetId);
        return new Map(found.map((entry) => [entry.tweetId, entry.authorId]));
      },
      userIds: async (usernames) => {
        const found = await Promise.all(
          usernames.map((username) =>
            fromUpstream("users", () => {
              const { metadata, options } = forward();
              return unary(this.users, this.users.getUserByUsername, { username }, metadata, options);
            }).then(
              (answer) => (answer.user ? ([username, answer.user.id] as const) : undefined),
              (error: unknown) => {
                // A mention of a name nobody has (or that is not a username at all) tells nobody.
                if (isServiceError(error) && (error.code === status.NOT_FOUND || error.code === status.INVALID_ARGUMENT)) return undefined;
                throw error;
              },
            ),
          ),
        );
        return new Map(found.filter((entry) => entry !== undefined));
      },
      // A page still shows who did what when the users service cannot say what they are called.
      profiles: async (userIds) => {
        const load = async (missing: string[]) => {
          const answers = await Promise.all(
            chunks(missing, MAX_BATCH_IDS).map((ids) =>
              fromUpstream("users", () => {
                const { metadata, options } = forward();
                return unary(this.users, this.users.batchGetUsers, { ids }, metadata, options);
              }),
            ),
          );
          return answers.flatMap((answer) => answer.users.map(profileOf));
        };
        try {
          return this.profileCache ? await this.profileCache.getMany([...userIds], load, (profile) => profile.userId) : await load([...userIds]);
        } catch (error) {
          log.warn({ err: error }, "could not read the actors' profiles; answering without them");
          return [];
        }
      },
    };
  }
}
