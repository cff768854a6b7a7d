import { DomainError } from "@chirp/kit";
import { decodeEvent } from "@chirp/kit/events";
import { accountsWithDeletions, domainFailure } from "@chirp/kit/testing";
import type { TweetRepository } from "../src/domain/ports.js";
import type { Tweets } from "../src/domain/tweets.js";
import { InMemoryTweetRepository } from "../src/storage/memory.js";
import { domainOn, newUserId, post } from "./fixtures.js";

/** The events recorded in the outbox, decoded, as "<kind> <tweet id>". */
async function recorded(repository: InMemoryTweetRepository): Promise<string[]> {
  return (await repository.pending(10_000)).map((p) => {
    const payload = decodeEvent(p.message.data).payload!;
    return `${payload.$case} ${(payload.value as { tweetId: string }).tweetId}`;
  });
}

async function refusedAsDeleted(promise: Promise<unknown>): Promise<void> {
  const failure = await domainFailure(promise);
  expect([failure.code, failure.message]).toEqual(["PERMISSION_DENIED", "your account has been deleted"]);
}

/**
 * The repository with `hook` run just before one of its methods (on every call), as if another
 * replica did something at that moment.
 */
function before(repository: TweetRepository, method: keyof TweetRepository, hook: () => Promise<void>): TweetRepository {
  return new Proxy(repository, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (name !== method || typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        await hook();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe("Tweets domain: a deleted account writes nothing", () => {
  let repository: InMemoryTweetRepository;
  let tweets: Tweets;
  let users: ReturnType<typeof accountsWithDeletions>;
  const ann = newUserId();
  const bob = newUserId();

  beforeEach(() => {
    repository = new InMemoryTweetRepository();
    users = accountsWithDeletions();
    tweets = domainOn(repository, { accounts: users.accounts });
  });

  it("refuses every write by an account the users service says is deleted, before its UserDeleted arrives, and records nothing", async () => {
    const bobs = await tweets.createTweet(bob, post("bob's"));
    const anns = await tweets.createTweet(ann, post("ann's", { idempotencyKey: "k-1" }));
    await tweets.likeTweet(ann, bobs.id);
    await tweets.retweet(ann, bobs.id);
    const before = await recorded(repository);

    users.deleted.add(ann);
    await refusedAsDeleted(tweets.createTweet(ann, post("ghost")));
    await refusedAsDeleted(tweets.createTweet(ann, post("ghost reply", { replyToId: bobs.id })));
    // Even a retry that would only answer with the tweet it made before.
    await refusedAsDeleted(tweets.createTweet(ann, post("ann's", { idempotencyKey: "k-1" })));
    await refusedAsDeleted(tweets.likeTweet(ann, bobs.id));
    await refusedAsDeleted(tweets.unlikeTweet(ann, bobs.id));
    await refusedAsDeleted(tweets.retweet(ann, bobs.id));
    await refusedAsDeleted(tweets.unretweet(ann, bobs.id));
    await refusedAsDeleted(tweets.deleteTweet(ann, anns.id));
    // The deletion wins over whatever else is wrong with the write.
    await refusedAsDeleted(tweets.likeTweet(ann, newUserId()));

    expect(await recorded(repository)).toEqual(before);
    expect((await tweets.listUserTweets({ userId: ann, pageSize: 0, pageToken: "" })).items.map((t) => t.id)).toHaveLength(2);
    // Others write as before, and reads ask nothing of the users service.
    await tweets.likeTweet(bob, anns.id);
    const asked = users.asked.length;
    await tweets.getTweet(anns.id, ann);
    await tweets.listUserTweets({ userId: ann, pageSize: 0, pageToken: "" }, ann);
    expect(users.asked.length).toBe(asked);
  });

  it("asks about the caller, once per write", async () => {
    const bobs = await tweets.createTweet(bob, post("bob's"));
    users.asked.length = 0;
    await tweets.likeTweet(ann, bobs.id);
    await tweets.unlikeTweet(ann, bobs.id);
    await tweets.retweet(ann, bobs.id);
    await tweets.unretweet(ann, bobs.id);
    const mine = await tweets.createTweet(ann, post("mine"));
    await tweets.deleteTweet(ann, mine.id);
    expect(users.asked).toEqual([ann, ann, ann, ann, ann, ann]);
  });

  it("writes nothing when the users service cannot say, and refuses a caller id that is no user id", async () => {
    const unsure = domainOn(repository, {
      accounts: {
        isLive: async () => {
          throw new DomainError("UNAVAILABLE", "the users service did not answer");
        },
      },
    });
    expect((await domainFailure(unsure.createTweet(ann, post("unchecked")))).code).toBe("UNAVAILABLE");
    expect(await recorded(repository)).toEqual([]);
    expect((await domainFailure(tweets.createTweet("not-an-id", post("who?")))).code).toBe("UNAUTHENTICATED");
    expect(users.asked).toEqual([]);
  });

  describe("a write that passed the check just before the deletion", () => {
    it("is undone, and its deletion announced, when it lands after the clean-up", async () => {
      const bobs = await tweets.createTweet(bob, post("bob's"));
      // Ann's post is checked while she is live; her deletion and its whole clean-up run before it is written.
      const racing = domainOn(before(repository, "create", () => tweets.onUserDeleted(ann)), { accounts: users.accounts });
      await refusedAsDeleted(racing.createTweet(ann, post("late")));
      await refusedAsDeleted(racing.retweet(ann, bobs.id));
      expect(await repository.listByAuthor(ann, undefined, 10)).toEqual([]);
      const annsEvents = (await recorded(repository)).filter((e) => e !== `tweetCreated ${bobs.id}`);
      expect(annsEvents.map((e) => e.split(" ")[0])).toEqual(["tweetCreated", "tweetDeleted", "tweetCreated", "tweetDeleted"]);
      expect((await tweets.getTweet(bobs.id)).retweetCount).toBe(0);
    });

    it("is undone when it lands while the clean-up sweeps, after it listed what to remove", async () => {
      let landed: Promise<unknown> | undefined;
      const sweeping = new Proxy(repository, {
        get(target, name, receiver) {
          if (name !== "listByAuthor") return Reflect.get(target, name, receiver);
          return async (...args: Parameters<TweetRepository["listByAuthor"]>) => {
            const listed = await target.listByAuthor(...args);
            // The post lands after the sweep has read what to remove: only the deletion's record, made before, can catch it.
            landed ??= tweets.createTweet(ann, post("landed mid-sweep")).catch((error: unknown) => error);
            await landed;
            return listed;
          };
        },
      });
      await domainOn(sweeping, { accounts: users.accounts }).onUserDeleted(ann);
      const outcome = await landed;
      expect(outcome).toBeInstanceOf(DomainError);
      expect((outcome as DomainError).message).toBe("your account has been deleted");
      expect(await repository.listByAuthor(ann, undefined, 10)).toEqual([]);
    });

    it("is undone for a like, announced as an unlike", async () => {
      const bobs = await tweets.createTweet(bob, post("bob's"));
      const racing = domainOn(before(repository, "addLike", () => tweets.onUserDeleted(ann)), { accounts: users.accounts });
      await refusedAsDeleted(racing.likeTweet(ann, bobs.id));
      expect(await tweets.getTweet(bobs.id)).toMatchObject({ likeCount: 0 });
      expect(await repository.likedBy(ann, [bobs.id])).toEqual(new Set());
      expect((await recorded(repository)).filter((e) => e.endsWith(bobs.id))).toEqual([`tweetCreated ${bobs.id}`, `tweetLiked ${bobs.id}`, `tweetUnliked ${bobs.id}`]);
    });
  });
});
