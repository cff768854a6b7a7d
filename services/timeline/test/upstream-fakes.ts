import { Server, type Metadata, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData } from "@grpc/grpc-js";
import { newId } from "@chirp/kit";
import { AUTHORIZATION_KEY, REQUEST_ID_KEY, serverCredentials } from "@chirp/kit/grpc";
import { testTls } from "@chirp/kit/testing";
import {
  GraphServiceService,
  type GetCountsRequest,
  type GetCountsResponse,
  type ListFollowerIdsRequest,
  type ListFollowerIdsResponse,
} from "@chirp/proto/grpc/chirp/graph/v1/graph";
import { TweetsServiceService, type BatchGetTweetsRequest, type BatchGetTweetsResponse, Tweet } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import { UsersServiceService, type BatchGetUsersRequest, type BatchGetUsersResponse, type User } from "@chirp/proto/grpc/chirp/users/v1/users";

/** What an upstream call carried. */
export interface ReceivedCall {
  method: string;
  requestId: string | undefined;
  callerId: string | undefined;
  hasDeadline: boolean;
  ids: string[];
}

const first = (metadata: Metadata, key: string) => metadata.get(key)[0]?.toString();

/**
 * The users, tweets and graph services as the timeline calls them, on one real gRPC server:
 * BatchGetUsers, BatchGetTweets, GetCounts and ListFollowerIds, answered from maps, every call
 * recorded with what it forwarded. (grpc-js answers the other methods UNIMPLEMENTED.)
 */
/** The caller an access token names (the fakes only record it; the services verify it). */
function callerOf(metadata: Metadata): string | undefined {
  const token = first(metadata, AUTHORIZATION_KEY)?.replace(/^Bearer /, "");
  if (!token) return undefined;
  return (JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as { sub?: string }).sub;
}

export class FakeUpstreamServices {
  readonly users = new Map<string, User>();
  readonly tweets = new Map<string, Tweet>();
  readonly followers = new Map<string, string[]>();
  readonly calls: ReceivedCall[] = [];
  private readonly server = new Server();
  readonly ports = { users: 0, tweets: 0, graph: 0 };

  private record(method: string, call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>, ids: string[]) {
    const deadline = call.getDeadline();
    this.calls.push({
      method,
      requestId: first(call.metadata, REQUEST_ID_KEY),
      callerId: callerOf(call.metadata),
      hasDeadline: deadline instanceof Date ? Number.isFinite(deadline.getTime()) : Number.isFinite(deadline),
      ids,
    });
  }

  async start(): Promise<this> {
    this.server.addService(TweetsServiceService, {
      batchGetTweets: (call: ServerUnaryCall<BatchGetTweetsRequest, BatchGetTweetsResponse>, callback: sendUnaryData<BatchGetTweetsResponse>) => {
        this.record("BatchGetTweets", call, call.request.ids);
        const found = call.request.ids.flatMap((id) => {
          const tweet = this.tweets.get(id);
          if (!tweet) return [];
          return [tweet.retweetOfId ? { ...tweet, retweetedTweet: this.tweets.get(tweet.retweetOfId) } : tweet];
        });
        callback(null, { tweets: found, missingIds: call.request.ids.filter((id) => !this.tweets.has(id)) });
      },
    });
    this.server.addService(UsersServiceService, {
      batchGetUsers: (call: ServerUnaryCall<BatchGetUsersRequest, BatchGetUsersResponse>, callback: sendUnaryData<BatchGetUsersResponse>) => {
        this.record("BatchGetUsers", call, call.request.ids);
        callback(null, {
          users: call.request.ids.flatMap((id) => this.users.get(id) ?? []),
          missingIds: call.request.ids.filter((id) => !this.users.has(id)),
        });
      },
    });
    this.server.addService(GraphServiceService, {
      getCounts: (call: ServerUnaryCall<GetCountsRequest, GetCountsResponse>, callback: sendUnaryData<GetCountsResponse>) => {
        this.record("GetCounts", call, [call.request.userId]);
        callback(null, { followersCount: String(this.followers.get(call.request.userId)?.length ?? 0), followingCount: "0" });
      },
      listFollowerIds: (call: ServerWritableStream<ListFollowerIdsRequest, ListFollowerIdsResponse>) => {
        this.record("ListFollowerIds", call, [call.request.userId]);
        const ids = this.followers.get(call.request.userId) ?? [];
        if (ids.length > 0) call.write({ followerIds: ids, resumeToken: "end" });
        call.end();
      },
    });
    // One port per service it stands for, each with that service's certificate (the timeline
    // checks whom it reached), all serving the same fakes.
    for (const name of ["users", "tweets", "graph"] as const) {
      this.ports[name] = await new Promise<number>((resolve, reject) =>
        this.server.bindAsync("127.0.0.1:0", serverCredentials(testTls(name)), (error, port) => (error ? reject(error) : resolve(port))),
      );
    }
    return this;
  }

  /** Where the timeline finds each service it calls. */
  get addresses(): { users: string; tweets: string; graph: string } {
    return { users: `127.0.0.1:${this.ports.users}`, tweets: `127.0.0.1:${this.ports.tweets}`, graph: `127.0.0.1:${this.ports.graph}` };
  }

  addUser(username: string): User {
    const now = new Date();
    const user: User = { id: newId(), username, displayName: username, bio: "", avatarUrl: "", createdAt: now, updatedAt: now, email: `${username}@example.org` };
    this.users.set(user.id, user);
    return user;
  }

  addTweet(authorId: string, text: string, retweetOfId = ""): Tweet {
    // The other fields keep their proto defaults: nobody has liked, retweeted or replied yet.
    const tweet = Tweet.fromPartial({ id: newId(), authorId, text, createdAt: new Date(), retweetOfId });
    this.tweets.set(tweet.id, tweet);
    return tweet;
  }

  callsTo(method: string): ReceivedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }
}
