import { newId } from "@chirp/kit";
import { decodeEvent } from "@chirp/kit/events";
import { domainFailure } from "@chirp/kit/testing";
import type { Tweets } from "../src/domain/tweets.js";
import { tweetEvents } from "../src/events.js";
import type { InMemoryTweetRepository } from "../src/storage/memory.js";
import { domainOn, domainWithMemory, FAMILY, instrumented, newUserId, post } from "./fixtures.js";

/** The events recorded in the outbox, decoded: tweet by tweet, then like by like, each one's oldest first. */
async function recorded(repository: InMemoryTweetRepository) {
  return (await repository.pending(10_000)).map((p) => decodeEvent(p.message.data).payload);
}

async function recordedLikeEvents(repository: InMemoryTweetRepository) {
  return (await recorded(repository)).filter((e) => e?.$case === "tweetLiked" || e?.$case === "tweetUnliked");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("Tweets domain", () => {
  let tweets: Tweets;
  let repository: InMemoryTweetRepository;
  const ann = newUserId();
  const bob = newUserId();

  beforeEach(() => {
    ({ tweets, repository } = domainWithMemory());
  });

  describe("posting", () => {
    it("posts a tweet with its hashtags, explicit tags and mentions, and records TweetCreated", async () => {
      const tweet = await tweets.createTweet(ann, post("  Hello @Bob and @bob, #Chirp #launch  ", { tags: ["#News", "chirp"] }));
      expect(tweet).toMatchObject({
        authorId: ann,
        text: "Hello @Bob and @bob, #Chirp #launch",
        tags: ["chirp", "launch", "news"],
        mentions: ["Bob"],
        likeCount: 0,
        retweetCount: 0,
        replyCount: 0,
        likedByMe: false,
        retweetedByMe: false,
      });
      expect(tweet.replyToId).toBeUndefined();
      expect(tweet.createdAt.getTime()).toBeLessThanOrEqual(Date.now());
      expect(await recorded(repository)).toEqual([
        {
          $case: "tweetCreated",
          value: {
            tweetId: tweet.id,
            authorId: ann,
            createdAt: tweet.createdAt,
            replyToId: "",
            retweetOfId: "",
            tags: ["chirp", "launch", "news"],
            text: "Hello @Bob and @bob, #Chirp #launch",
            mentions: ["Bob"],
          },
        },
      ]);
    });

    it("counts length in user-perceived characters", async () => {
      expect((await tweets.createTweet(ann, post(FAMILY.repeat(280)))).text).toBe(FAMILY.repeat(280));
      const tooLong = await domainFailure(tweets.createTweet(ann, post(FAMILY.repeat(281))));
      expect([tooLong.code, tooLong.field]).toEqual(["INVALID_ARGUMENT", "text"]);
    });

    it("answers a retried create with the first tweet, per author", async () => {
      const first = await tweets.createTweet(ann, post("once", { idempotencyKey: "k-1" }));
      const retries = await Promise.all([1, 2, 3].map(() => tweets.createTweet(ann, post("once", { idempotencyKey: "k-1" }))));
      expect(retries).toEqual([first, first, first]);
      expect((await tweets.createTweet(bob, post("once", { idempotencyKey: "k-1" }))).id).not.toBe(first.id);
      expect((await recorded(repository)).filter((e) => e?.$case === "tweetCreated")).toHaveLength(2);
    });

    it("refuses bad input naming the field", async () => {
      const cases: Array<[Promise<unknown>, string]> = [
        [tweets.createTweet(ann, post("   ")), "text"],
        [tweets.createTweet(ann, post("x", { tags: ["ok", "not ok"] })), "tags[1]"],
        [tweets.createTweet(ann, post("x", { replyToId: "nope" })), "reply_to_id"],
        [tweets.createTweet(ann, post("x", { idempotencyKey: "a b" })), "idempotency_key"],
      ];
      for (const [call, field] of cases) {
        const failure = await domainFailure(call);
        expect([failure.code, failure.field]).toEqual(["INVALID_ARGUMENT", field]);
      }
    });
  });

  describe("replies", () => {
    it("counts replies on the parent and lists them oldest first", async () => {
      const parent = await tweets.createTweet(ann, post("parent"));
      const first = await tweets.createTweet(bob, post("first", { replyToId: parent.id }));
      const second = await tweets.createTweet(ann, post("second", { replyToId: parent.id }));
      expect(first.replyToId).toBe(parent.id);
      expect((await tweets.getTweet(parent.id)).replyCount).toBe(2);
      const page = await tweets.listReplies({ tweetId: parent.id, pageSize: 1, pageToken: "" });
      expect(page.items.map((t) => t.id)).toEqual([first.id]);
      const next = await tweets.listReplies({ tweetId: parent.id, pageSize: 1, pageToken: page.nextPageToken });
      expect(next).toEqual({ items: [expect.objectContaining({ id: second.id })], nextPageToken: "" });
    });

    it("refuses to reply to a missing or deleted tweet", async () => {
      const parent = await tweets.createTweet(ann, post("soon gone"));
      await tweets.deleteTweet(ann, parent.id);
      for (const replyToId of [parent.id, newId()]) {
        const failure = await domainFailure(tweets.createTweet(bob, post("hi", { replyToId })));
        expect([failure.code, failure.field]).toEqual(["NOT_FOUND", "reply_to_id"]);
      }
    });

    it("keeps replies when their parent is deleted, and drops deleted replies from the count", async () => {
      const parent = await tweets.createTweet(ann, post("parent"));
      const kept = await tweets.createTweet(bob, post("kept", { replyToId: parent.id }));
      const dropped = await tweets.createTweet(bob, post("dropped", { replyToId: parent.id }));
      await tweets.deleteTweet(bob, dropped.id);
      expect((await tweets.getTweet(parent.id)).replyCount).toBe(1);

      await tweets.deleteTweet(ann, parent.id);
      expect((await tweets.getTweet(kept.id)).replyToId).toBe(parent.id);
      expect((await domainFailure(tweets.getTweet(parent.id))).code).toBe("NOT_FOUND");
      expect((await tweets.listReplies({ tweetId: parent.id, pageSize: 0, pageToken: "" })).items.map((t) => t.id)).toEqual([kept.id]);
    });

    it("sends a reply to a retweet entry to its original", async () => {
      const original = await tweets.createTweet(ann, post("original"));
      const entry = await tweets.retweet(bob, original.id);
      const reply = await tweets.createTweet(bob, post("reply", { replyToId: entry.id }));
      expect(reply.replyToId).toBe(original.id);
    });
  });

  describe("deleting", () => {
    it("lets only the author delete, once, and records TweetDeleted", async () => {
      const tweet = await tweets.createTweet(ann, post("mine"));
      const denied = await domainFailure(tweets.deleteTweet(bob, tweet.id));
      expect(denied.code).toBe("PERMISSION_DENIED");
      expect(denied.message).toMatch(/^id: /);

      await tweets.deleteTweet(ann, tweet.id);
      expect((await domainFailure(tweets.getTweet(tweet.id))).code).toBe("NOT_FOUND");
      expect((await domainFailure(tweets.deleteTweet(ann, tweet.id))).code).toBe("NOT_FOUND");
      expect(await tweets.batchGetTweets([tweet.id])).toEqual({ tweets: [], missingIds: [tweet.id] });
      expect((await tweets.listUserTweets({ userId: ann, pageSize: 0, pageToken: "" })).items).toEqual([]);
      expect((await recorded(repository)).map((e) => e?.$case)).toEqual(["tweetCreated", "tweetDeleted"]);
    });
  });

  describe("likes", () => {
    it("counts each user's like once, shows it to the liker and lists likers newest first", async () => {
      const tweet = await tweets.createTweet(ann, post("like me"));
      expect((await tweets.likeTweet(bob, tweet.id)).likeCount).toBe(1);
      const again = await tweets.likeTweet(bob, tweet.id);
      expect(again).toMatchObject({ likeCount: 1, likedByMe: true });
      expect((await tweets.likeTweet(ann, tweet.id)).likeCount).toBe(2);
      expect((await tweets.getTweet(tweet.id, bob)).likedByMe).toBe(true);
      expect((await tweets.getTweet(tweet.id)).likedByMe).toBe(false);

      const likers = await tweets.listLikers({ tweetId: tweet.id, pageSize: 1, pageToken: "" });
      expect(likers.items.map((l) => l.userId)).toEqual([ann]);
      const rest = await tweets.listLikers({ tweetId: tweet.id, pageSize: 1, pageToken: likers.nextPageToken });
      expect(rest.items.map((l) => l.userId)).toEqual([bob]);
      expect(rest.nextPageToken).toBe("");

      expect(await tweets.unlikeTweet(bob, tweet.id)).toMatchObject({ likeCount: 1, likedByMe: false });
      expect(await tweets.unlikeTweet(bob, tweet.id)).toMatchObject({ likeCount: 1, likedByMe: false });
    });

    it("counts 50 simultaneous likes exactly", async () => {
      const tweet = await tweets.createTweet(ann, post("popular"));
      const users = Array.from({ length: 50 }, newUserId);
      await Promise.all(users.flatMap((user) => [tweets.likeTweet(user, tweet.id), tweets.likeTweet(user, tweet.id)]));
      expect((await tweets.getTweet(tweet.id)).likeCount).toBe(50);
    });

    it("counts a like whose process died right after writing it: the like document is the only write", async () => {
      const tweet = await tweets.createTweet(ann, post("crash"));
      const like = { id: newId(), tweetId: tweet.id, userId: bob, likedAt: new Date() };
      // What a process that died inside LikeTweet leaves behind, if it got that far at all.
      await repository.addLike(like, [tweetEvents.liked(like)]);
      const restarted = domainOn(repository);
      expect(await restarted.getTweet(tweet.id, bob)).toMatchObject({ likeCount: 1, likedByMe: true });
      expect((await restarted.likeTweet(bob, tweet.id)).likeCount).toBe(1);
      expect(await recordedLikeEvents(repository)).toEqual([{ $case: "tweetLiked", value: { tweetId: tweet.id, userId: bob, likedAt: like.likedAt } }]);
    });

    it("likes and unlikes the original when given a retweet entry, and refuses missing tweets", async () => {
      const original = await tweets.createTweet(ann, post("original"));
      const entry = await tweets.retweet(bob, original.id);
      expect(await tweets.likeTweet(bob, entry.id)).toMatchObject({ id: original.id, likeCount: 1 });
      expect(await tweets.unlikeTweet(bob, entry.id)).toMatchObject({ id: original.id, likeCount: 0 });
      const events = await recordedLikeEvents(repository);
      expect(events.map((e) => [e?.$case, e?.value.tweetId])).toEqual([
        ["tweetLiked", original.id],
        ["tweetUnliked", original.id],
      ]);
      const missing = await domainFailure(tweets.likeTweet(bob, newId()));
      expect([missing.code, missing.field]).toEqual(["NOT_FOUND", "tweet_id"]);
      expect(await recordedLikeEvents(repository)).toHaveLength(2);
    });

    it("records TweetLiked only for a new like and TweetUnliked only for a removed one, and only then nudges the relay", async () => {
      const tweet = await tweets.createTweet(ann, post("like me once"));
      const nudges = jest.fn();
      const watched = domainOn(repository, { onEventsRecorded: nudges });
      await watched.likeTweet(bob, tweet.id);
      await watched.likeTweet(bob, tweet.id);
      const [like] = (await watched.listLikers({ tweetId: tweet.id, pageSize: 0, pageToken: "" })).items;
      const liked = { $case: "tweetLiked", value: { tweetId: tweet.id, userId: bob, likedAt: like!.likedAt } };
      expect(await recordedLikeEvents(repository)).toEqual([liked]);
      expect(nudges).toHaveBeenCalledTimes(1);

      const before = new Date();
      await watched.unlikeTweet(bob, tweet.id);
      await watched.unlikeTweet(bob, tweet.id);
      await watched.unlikeTweet(ann, tweet.id);
      const events = await recordedLikeEvents(repository);
      expect(events).toEqual([liked, { $case: "tweetUnliked", value: { tweetId: tweet.id, userId: bob, unlikedAt: expect.any(Date) } }]);
      const { unlikedAt } = events[1]!.value as { unlikedAt: Date };
      expect(unlikedAt.getTime()).toBeGreaterThanOrEqual(before.getTime());
      expect(unlikedAt.getTime()).toBeLessThanOrEqual(Date.now());
      expect(nudges).toHaveBeenCalledTimes(2);
    });

    it("likes again after an unlike whose event still awaits relay: a new like with its own id, time and TweetLiked", async () => {
      const tweet = await tweets.createTweet(ann, post("on and off"));
      const likers = () => tweets.listLikers({ tweetId: tweet.id, pageSize: 0, pageToken: "" });
      await tweets.likeTweet(bob, tweet.id);
      const [first] = (await likers()).items;
      expect(await tweets.unlikeTweet(bob, tweet.id)).toMatchObject({ likeCount: 0, likedByMe: false });
      expect(await likers()).toEqual({ items: [], nextPageToken: "" });

      await sleep(2);
      expect(await tweets.likeTweet(bob, tweet.id)).toMatchObject({ likeCount: 1, likedByMe: true });
      const [second] = (await likers()).items;
      expect(second!.id).not.toBe(first!.id);
      expect(second!.likedAt.getTime()).toBeGreaterThan(first!.likedAt.getTime());
      expect(await recordedLikeEvents(repository)).toEqual([
        { $case: "tweetLiked", value: { tweetId: tweet.id, userId: bob, likedAt: first!.likedAt } },
        { $case: "tweetUnliked", value: { tweetId: tweet.id, userId: bob, unlikedAt: expect.any(Date) } },
        { $case: "tweetLiked", value: { tweetId: tweet.id, userId: bob, likedAt: second!.likedAt } },
      ]);
      expect((await tweets.getTweet(tweet.id, bob)).likedByMe).toBe(true);
    });
  });

  describe("retweets", () => {
    it("makes one retweet entry per user with the original inside, and announces it", async () => {
      const original = await tweets.createTweet(ann, post("worth sharing #good"));
      const entry = await tweets.retweet(bob, original.id);
      expect(entry).toMatchObject({ authorId: bob, text: "", retweetOfId: original.id, tags: [], mentions: [] });
      expect(entry.id).not.toBe(original.id);
      expect(entry.retweetedTweet).toMatchObject({ id: original.id, retweetCount: 1, retweetedByMe: true });
      expect(await tweets.retweet(bob, original.id)).toEqual(entry);
      expect(await tweets.retweet(bob, entry.id)).toEqual(entry);

      const events = await recorded(repository);
      expect(events.at(-1)).toEqual({
        $case: "tweetCreated",
        value: { tweetId: entry.id, authorId: bob, createdAt: entry.createdAt, replyToId: "", retweetOfId: original.id, tags: [], text: "", mentions: [] },
      });
      expect(events).toHaveLength(2);
    });

    it("counts retweets exactly when they race", async () => {
      const original = await tweets.createTweet(ann, post("race"));
      const users = Array.from({ length: 20 }, newUserId);
      await Promise.all(users.flatMap((user) => [tweets.retweet(user, original.id), tweets.retweet(user, original.id)]));
      expect((await tweets.getTweet(original.id)).retweetCount).toBe(20);
    });

    it("leaves no retweet entry behind when the original is deleted and cleaned up while retweeting", async () => {
      const original = await tweets.createTweet(ann, post("going"));
      const racing = new Proxy(repository, {
        get: (target, name, receiver) =>
          name === "create"
            ? async (...args: Parameters<InMemoryTweetRepository["create"]>) => {
                // The author deletes the original and its clean-up runs just before the entry is written.
                await tweets.deleteTweet(ann, original.id);
                await tweets.onTweetDeleted({ tweetId: original.id, retweetOfId: "" });
                return target.create(...args);
              }
            : Reflect.get(target, name, receiver),
      });
      const retweeting = domainOn(racing);
      const failure = await domainFailure(retweeting.retweet(bob, original.id));
      expect([failure.code, failure.field]).toEqual(["NOT_FOUND", "tweet_id"]);
      expect(await repository.listByAuthor(bob, undefined, 10)).toEqual([]);
    });

    it("unretweets by removing the entry, whether through Unretweet or DeleteTweet", async () => {
      const original = await tweets.createTweet(ann, post("original"));
      const entry = await tweets.retweet(bob, original.id);
      expect(await tweets.unretweet(bob, original.id)).toMatchObject({ id: original.id, retweetCount: 0, retweetedByMe: false });
      expect(await tweets.unretweet(bob, original.id)).toMatchObject({ retweetCount: 0 });
      expect((await domainFailure(tweets.getTweet(entry.id))).code).toBe("NOT_FOUND");

      const second = await tweets.retweet(bob, original.id);
      expect(second.id).not.toBe(entry.id);
      await tweets.deleteTweet(bob, second.id);
      expect((await tweets.getTweet(original.id, bob)).retweetCount).toBe(0);
      const deletions = (await recorded(repository)).filter((e) => e?.$case === "tweetDeleted").map((e) => e!.value);
      expect(deletions).toEqual([
        { tweetId: entry.id, authorId: bob, retweetOfId: original.id, replyToId: "" },
        { tweetId: second.id, authorId: bob, retweetOfId: original.id, replyToId: "" },
      ]);
    });

    it("lists a user's posts and retweets newest first, page by page", async () => {
      const original = await tweets.createTweet(bob, post("bob's"));
      const own = await tweets.createTweet(ann, post("ann's"));
      const entry = await tweets.retweet(ann, original.id);
      const first = await tweets.listUserTweets({ userId: ann, pageSize: 1, pageToken: "" }, ann);
      expect(first.items.map((t) => t.id)).toEqual([entry.id]);
      expect(first.items[0]!.retweetedTweet).toMatchObject({ id: original.id, retweetedByMe: true });
      const second = await tweets.listUserTweets({ userId: ann, pageSize: 1, pageToken: first.nextPageToken });
      expect(second).toEqual({ items: [expect.objectContaining({ id: own.id })], nextPageToken: "" });
      const misuse = await domainFailure(tweets.listUserTweets({ userId: bob, pageSize: 1, pageToken: first.nextPageToken }));
      expect([misuse.code, misuse.field]).toEqual(["INVALID_ARGUMENT", "page_token"]);
    });
  });

  describe("search and count", () => {
    /** n tweets with the tag, a few milliseconds apart so time ranges can split them. */
    async function tagged(tag: string, n: number) {
      const made = [];
      for (let i = 0; i < n; i++) {
        made.push(await tweets.createTweet(i % 2 ? ann : bob, post(`#${tag} number ${i}`)));
        await sleep(2);
      }
      return made;
    }

    it("answers exactly page_size matches in one page without a next token", async () => {
      const made = await tagged("exactfit", 5);
      await tweets.createTweet(ann, post("#other"));
      const page = await tweets.searchTweets({ tag: "exactfit", authorId: "", pageSize: 5, pageToken: "" });
      expect(page).toEqual({ items: made.reverse().map((t) => expect.objectContaining({ id: t.id })), nextPageToken: "" });
    });

    it("answers page_size + 1 matches in two pages without gaps or repeats", async () => {
      const made = await tagged("onemore", 6);
      const first = await tweets.searchTweets({ tag: "onemore", authorId: "", pageSize: 5, pageToken: "" });
      expect(first.items.map((t) => t.id)).toEqual(made.slice(1).reverse().map((t) => t.id));
      const second = await tweets.searchTweets({ tag: "onemore", authorId: "", pageSize: 5, pageToken: first.nextPageToken });
      expect(second).toEqual({ items: [expect.objectContaining({ id: made[0]!.id })], nextPageToken: "" });
    });

    it("counts by tag, author and time range, start inclusive and end exclusive", async () => {
      const made = await tagged("counted", 6);
      const criteria = { tag: "COUNTED", authorId: "" };
      expect(await tweets.countTweets(criteria, ["admin"])).toBe(6);
      expect(await tweets.countTweets({ ...criteria, authorId: ann }, ["admin"])).toBe(3);
      const range = { startTime: made[1]!.createdAt, endTime: made[4]!.createdAt };
      expect(await tweets.countTweets({ ...criteria, ...range }, ["admin"])).toBe(3);
      expect((await tweets.searchTweets({ ...criteria, ...range, pageSize: 3, pageToken: "" })).items.map((t) => t.id)).toEqual(
        [made[3]!.id, made[2]!.id, made[1]!.id],
      );
      expect(await tweets.countTweets({ ...criteria, startTime: made[5]!.createdAt }, ["admin"])).toBe(1);
      expect(await tweets.countTweets({ ...criteria, endTime: made[0]!.createdAt }, ["admin"])).toBe(0);
      const reversed = await domainFailure(tweets.countTweets({ ...criteria, startTime: range.endTime, endTime: range.startTime }, ["admin"]));
      expect([reversed.code, reversed.field]).toEqual(["INVALID_ARGUMENT", "start_time"]);
    });

    it("binds a page token to its query", async () => {
      await tagged("bound", 3);
      const first = await tweets.searchTweets({ tag: "bound", authorId: "", pageSize: 1, pageToken: "" });
      const misuse = await domainFailure(tweets.searchTweets({ tag: "bound", authorId: ann, pageSize: 1, pageToken: first.nextPageToken }));
      expect([misuse.code, misuse.field]).toEqual(["INVALID_ARGUMENT", "page_token"]);
    });
  });

  describe("reads", () => {
    it("batch-gets in request order, listing missing and deleted ids", async () => {
      const a = await tweets.createTweet(ann, post("a"));
      const b = await tweets.createTweet(ann, post("b"));
      const gone = await tweets.createTweet(ann, post("gone"));
      await tweets.deleteTweet(ann, gone.id);
      const unknown = newId();
      const result = await tweets.batchGetTweets([b.id, unknown, a.id, gone.id, b.id]);
      expect(result.tweets.map((t) => t.id)).toEqual([b.id, a.id]);
      expect(result.missingIds).toEqual([unknown, gone.id]);
    });

    it("reads a page of tweets in a fixed number of queries, however long the page", async () => {
      const originals = [];
      for (let i = 0; i < 4; i++) originals.push(await tweets.createTweet(bob, post(`original ${i}`)));
      for (const original of originals) await tweets.retweet(ann, original.id);
      for (let i = 0; i < 20; i++) await tweets.likeTweet(ann, (await tweets.createTweet(ann, post(`own ${i}`))).id);

      const { repository: counting, calls } = instrumented(repository);
      const watched = domainOn(counting);
      const page = await watched.listUserTweets({ userId: ann, pageSize: 24, pageToken: "" }, ann);
      expect(page.items).toHaveLength(24);
      expect(page.items.every((t) => (t.retweetedTweet ? t.retweetedTweet.retweetedByMe : t.likedByMe && t.likeCount === 1))).toBe(true);
      expect(calls.sort()).toEqual(["counts", "findByIds", "likedBy", "listByAuthor", "retweetedBy"]);
    });
  });

  describe("reacting to deletions", () => {
    async function scene() {
      const other = await tweets.createTweet(bob, post("bob's post"));
      const annPost = await tweets.createTweet(ann, post("ann's post"));
      const annReply = await tweets.createTweet(ann, post("ann replies", { replyToId: other.id }));
      const annRetweet = await tweets.retweet(ann, other.id);
      await tweets.likeTweet(ann, other.id);
      await tweets.likeTweet(bob, annPost.id);
      const bobRetweet = await tweets.retweet(bob, annPost.id);
      const bobReply = await tweets.createTweet(bob, post("bob replies", { replyToId: annPost.id }));
      return { other, annPost, annReply, annRetweet, bobRetweet, bobReply };
    }

    /** What the relay and the event consumer would do: handle each TweetDeleted recorded. */
    async function handleRecordedDeletions() {
      const seen = new Set<string>();
      for (;;) {
        const pending = (await repository.pending(10_000)).filter((p) => !seen.has(p.message.id));
        const deletions = pending.flatMap((p) => {
          seen.add(p.message.id);
          const payload = decodeEvent(p.message.data).payload;
          return payload?.$case === "tweetDeleted" ? [payload.value] : [];
        });
        if (deletions.length === 0) return;
        for (const deletion of deletions) await tweets.onTweetDeleted(deletion);
      }
    }

    it("removes a deleted account's tweets, likes and retweets, and fixes the counts on others' tweets", async () => {
      const s = await scene();
      expect(await tweets.getTweet(s.other.id)).toMatchObject({ likeCount: 1, retweetCount: 1, replyCount: 1 });

      await tweets.onUserDeleted(ann);
      expect(await tweets.getTweet(s.other.id)).toMatchObject({ likeCount: 0, retweetCount: 0, replyCount: 0 });
      expect((await tweets.batchGetTweets([s.annPost.id, s.annReply.id, s.annRetweet.id])).missingIds).toHaveLength(3);
      expect((await tweets.listUserTweets({ userId: ann, pageSize: 0, pageToken: "" })).items).toEqual([]);
      // Bob's retweet of Ann's post reads as missing at once, and is removed when its TweetDeleted is handled.
      expect((await tweets.batchGetTweets([s.bobRetweet.id])).missingIds).toEqual([s.bobRetweet.id]);
      await handleRecordedDeletions();
      expect(await repository.findById(s.bobRetweet.id)).toBeUndefined();
      expect((await tweets.getTweet(s.bobReply.id)).replyToId).toBe(s.annPost.id);

      const deletions = (await recorded(repository)).filter((e) => e?.$case === "tweetDeleted").map((e) => (e!.value as { tweetId: string }).tweetId);
      expect(deletions.sort()).toEqual([s.annPost.id, s.annReply.id, s.annRetweet.id, s.bobRetweet.id].sort());
      // UserDeleted and TweetDeleted say the likes went; no unlike is announced for them.
      expect((await recorded(repository)).filter((e) => e?.$case === "tweetUnliked")).toEqual([]);
    });

    it("finishes the clean-up when it is redelivered after dying half-way", async () => {
      const s = await scene();
      const dying = domainOn(instrumented(repository, { method: "delete", onCall: 2 }).repository);
      await expect(dying.onUserDeleted(ann)).rejects.toThrow("process killed");
      expect((await tweets.getTweet(s.other.id)).likeCount).toBe(0);

      await tweets.onUserDeleted(ann);
      await tweets.onUserDeleted(ann);
      expect(await tweets.getTweet(s.other.id)).toMatchObject({ likeCount: 0, retweetCount: 0, replyCount: 0 });
      expect((await tweets.batchGetTweets([s.annPost.id, s.annReply.id, s.annRetweet.id])).missingIds).toHaveLength(3);
      const deletions = (await recorded(repository)).filter((e) => e?.$case === "tweetDeleted");
      expect(deletions).toHaveLength(3);
    });

    it("removes the likes and retweet entries of a deleted post, once however often told", async () => {
      const s = await scene();
      await tweets.deleteTweet(ann, s.annPost.id);
      const deletion = { tweetId: s.annPost.id, retweetOfId: "" };
      await tweets.onTweetDeleted(deletion);
      await tweets.onTweetDeleted(deletion);
      expect(await repository.findById(s.bobRetweet.id)).toBeUndefined();
      expect(await repository.likedBy(bob, [s.annPost.id])).toEqual(new Set());
      const bobsDeletions = (await recorded(repository)).filter((e) => e?.$case === "tweetDeleted" && e.value.authorId === bob);
      expect(bobsDeletions).toHaveLength(1);
    });
  });
});
