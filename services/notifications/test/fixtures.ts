import { testTls } from "@chirp/kit/testing";
import { serverCredentials } from "@chirp/kit/grpc";
import { Server, status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { newId } from "@chirp/kit";
import { BatchGetTweetsResponse, Tweet, TweetsServiceService, type BatchGetTweetsRequest } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import type { Profile } from "../src/domain/model.js";
import type { People } from "../src/domain/ports.js";

/**
 * The other services as the domain sees them, in memory: tweets by id with their authors, users
 * by username. `profilesFail` makes the profile lookup answer nothing, as the adapter does when
 * the users service does not answer.
 */
export function fakePeople() {
  const authors = new Map<string, string>();
  const usernames = new Map<string, string>();
  const state = { profilesFail: false, profileCalls: 0 };
  const people: People = {
    async tweetAuthors(ids) {
      return new Map(ids.filter((id) => authors.has(id)).map((id) => [id, authors.get(id)!]));
    },
    async userIds(names) {
      return new Map(names.filter((name) => usernames.has(name.toLowerCase())).map((name) => [name, usernames.get(name.toLowerCase())!]));
    },
    async profiles(ids): Promise<Profile[]> {
      state.profileCalls += 1;
      if (state.profilesFail) return [];
      const names = new Map([...usernames].map(([name, id]) => [id, name]));
      return ids.filter((id) => names.has(id)).map((id) => ({ userId: id, username: names.get(id)!, displayName: names.get(id)!.toUpperCase(), bio: "", avatarUrl: "", createdAt: undefined, updatedAt: undefined }));
    },
  };
  return {
    people,
    state,
    /** A user with a username, known to the users service. */
    user(name: string): string {
      const id = newId();
      usernames.set(name.toLowerCase(), id);
      return id;
    },
    /** A tweet by `authorId`, known to the tweets service. */
    tweet(authorId: string): string {
      const id = newId();
      authors.set(id, authorId);
      return id;
    },
    forgetTweet(id: string) {
      authors.delete(id);
    },
  };
}

/**
 * A stand-in tweets service: BatchGetTweets answers the tweets in `authors` (id → author), or
 * UNAVAILABLE while `down` is set; `calls` counts the calls. Over mutual TLS as `tweets`.
 */
export async function startFakeTweets() {
  const authors = new Map<string, string>();
  const state = { down: false, calls: 0 };
  const server = new Server();
  const batchGetTweets = (call: ServerUnaryCall<BatchGetTweetsRequest, BatchGetTweetsResponse>, callback: sendUnaryData<BatchGetTweetsResponse>) => {
    state.calls += 1;
    if (state.down) return callback({ code: status.UNAVAILABLE, details: "down for the test" });
    callback(null, BatchGetTweetsResponse.fromPartial({ tweets: call.request.ids.filter((id) => authors.has(id)).map((id) => Tweet.fromPartial({ id, authorId: authors.get(id)! })) }));
  };
  server.addService(TweetsServiceService, { batchGetTweets } as unknown as UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", serverCredentials(testTls("tweets")), (error, bound) => (error ? reject(error) : resolve(bound))));
  return { address: `127.0.0.1:${port}`, authors, state, stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

