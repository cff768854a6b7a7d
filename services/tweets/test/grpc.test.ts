import { Metadata, status } from "@grpc/grpc-js";
import { newId } from "@chirp/kit";
import { decodeEvent, eventMessage, InProcessEventBus } from "@chirp/kit/events";
import { unary } from "@chirp/kit/grpc";
import { PeopleView, TweetsServiceClient, type CreateTweetRequest, type SearchTweetsRequest, type Tweet } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import { asCaller, eventually, grpcFailure, serviceUnderTest, testChannel, testLogger } from "@chirp/kit/testing";
import { startTweets } from "../src/app.js";
import { E_ACUTE_DECOMPOSED, FAMILY, FLAG, newUserId, testConfig } from "./fixtures.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("TweetsService over gRPC (in-process, in-memory storage)", () => {
  const service = serviceUnderTest({
    client: TweetsServiceClient,
    fakeUsers: true,
    start: ({ bus, log, users }) => startTweets(testConfig({ upstreams: { users: users.address } }), { log, bus }),
  });

  const call = {
    createTweet: (caller: string, req: Partial<CreateTweetRequest>) =>
      unary(service.client, service.client.createTweet, { text: "", replyToId: "", tags: [], idempotencyKey: "", ...req }, asCaller(caller)).then((r) => r.tweet!),
    getTweet: (id: string, md = new Metadata()) => unary(service.client, service.client.getTweet, { id }, md).then((r) => r.tweet!),
    batchGetTweets: (ids: string[], md = new Metadata()) => unary(service.client, service.client.batchGetTweets, { ids }, md),
    deleteTweet: (id: string, md = new Metadata()) => unary(service.client, service.client.deleteTweet, { id }, md),
    listUserTweets: (userId: string, pageSize: number, pageToken = "", md = new Metadata()) =>
      unary(service.client, service.client.listUserTweets, { userId, pageSize, pageToken }, md),
    listReplies: (tweetId: string, pageSize: number, pageToken = "") => unary(service.client, service.client.listReplies, { tweetId, pageSize, pageToken }),
    likeTweet: (tweetId: string, md = new Metadata()) => unary(service.client, service.client.likeTweet, { tweetId }, md).then((r) => r.tweet!),
    unlikeTweet: (tweetId: string, md = new Metadata()) => unary(service.client, service.client.unlikeTweet, { tweetId }, md).then((r) => r.tweet!),
    listLikers: (tweetId: string, pageSize: number, pageToken = "") => unary(service.client, service.client.listLikers, { tweetId, pageSize, pageToken, view: 0 }),
    retweet: (tweetId: string, md = new Metadata()) => unary(service.client, service.client.retweet, { tweetId }, md).then((r) => r.retweet!),
    unretweet: (tweetId: string, md = new Metadata()) => unary(service.client, service.client.unretweet, { tweetId }, md).then((r) => r.tweet!),
    searchTweets: (req: Partial<SearchTweetsRequest>) =>
      unary(service.client, service.client.searchTweets, { tag: "", authorId: "", startTime: undefined, endTime: undefined, pageSize: 0, pageToken: "", ...req }),
    // As an admin unless told otherwise: counting every user's posts is theirs alone.
    countTweets: (req: Partial<SearchTweetsRequest>, md = asCaller(newId(), { roles: ["admin"] })) =>
      unary(service.client, service.client.countTweets, { tag: "", authorId: "", startTime: undefined, endTime: undefined, ...req }, md).then((r) => Number(r.count)),
  };

  const published = (type: "tweetCreated" | "tweetDeleted" | "tweetLiked" | "tweetUnliked", tweetId: string) =>
    service.bus
      .messages("chirp.tweets.>")
      .map((m) => decodeEvent(m.data).payload)
      .filter((p) => p?.$case === type && p.value.tweetId === tweetId);

  it("posts as the caller, with tags, mentions and counts, and announces the tweet", async () => {
    const ann = newUserId();
    const tweet = await call.createTweet(ann, { text: " Hi @bob #Chirp ", tags: ["Launch"] });
    expect(tweet).toMatchObject({
      authorId: ann,
      text: "Hi @bob #Chirp",
      replyToId: "",
      retweetOfId: "",
      tags: ["chirp", "launch"],
      mentions: ["bob"],
      likeCount: "0",
      retweetCount: "0",
      replyCount: "0",
      likedByMe: false,
      retweetedByMe: false,
      retweetedTweet: undefined,
    });
    expect(tweet.id).toMatch(/^[0-9A-Z]{26}$/);
    expect(tweet.createdAt).toBeInstanceOf(Date);
    const [created] = await eventually(() => {
      const events = published("tweetCreated", tweet.id);
      expect(events).toHaveLength(1);
      return events;
    });
    expect(created!.value).toEqual({
      tweetId: tweet.id,
      authorId: ann,
      createdAt: tweet.createdAt,
      replyToId: "",
      retweetOfId: "",
      tags: ["chirp", "launch"],
      text: "Hi @bob #Chirp",
      mentions: ["bob"],
    });
    await grpcFailure(unary(service.client, service.client.createTweet, { text: "hi", replyToId: "", tags: [], idempotencyKey: "" }), status.UNAUTHENTICATED);
  });

  it.each([
    ["family emoji", FAMILY],
    ["flags", FLAG],
    ["combining marks", E_ACUTE_DECOMPOSED],
  ])("takes 280 and refuses 281 characters of %s", async (_, character) => {
    const ann = newUserId();
    expect((await call.createTweet(ann, { text: character.repeat(280) })).text).toBe(character.repeat(280).normalize("NFC"));
    const error = await grpcFailure(call.createTweet(ann, { text: character.repeat(281) }), status.INVALID_ARGUMENT, "text");
    expect(error.details).toBe("text: must be at most 280 characters");
  });

  it("refuses a 65,000-character text on its size, before normalising or counting it", async () => {
    const ann = newUserId();
    const error = await grpcFailure(call.createTweet(ann, { text: "a".repeat(65_000) }), status.INVALID_ARGUMENT, "text");
    expect(error.details).toMatch(/^text: must be at most \d+ bytes of UTF-8, got at least 65000$/);
    await grpcFailure(call.createTweet(ann, { text: `a${"\u0301".repeat(10_000)}` }), status.INVALID_ARGUMENT, "text");
    await grpcFailure(call.createTweet(ann, { text: "\u200B".repeat(5) }), status.INVALID_ARGUMENT, "text");
    expect((await call.listUserTweets(ann, 10)).tweets).toHaveLength(0);
  });

  it("answers a retried create with the same tweet, even when the retries race", async () => {
    const ann = newUserId();
    const request = { text: "exactly once", idempotencyKey: "create-7f3c" };
    const results = await Promise.all(Array.from({ length: 5 }, () => call.createTweet(ann, request)));
    expect(new Set(results.map((t) => t.id)).size).toBe(1);
    expect(await call.createTweet(ann, request)).toEqual(results[0]);
    expect((await call.listUserTweets(ann, 10)).tweets).toHaveLength(1);
  });

  it("answers bad input to every RPC with INVALID_ARGUMENT naming the field", async () => {
    const me = asCaller(newUserId());
    const tweet = await call.createTweet(newUserId(), { text: "target" });
    const when = new Date("2026-01-01T00:00:00Z");
    const cases: Array<[Promise<unknown>, string]> = [
      [call.createTweet(newUserId(), { text: "" }), "text"],
      [call.createTweet(newUserId(), { text: "x", tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }), "tags"],
      [call.createTweet(newUserId(), { text: "x", tags: ["fine", "#"] }), "tags[1]"],
      [call.createTweet(newUserId(), { text: "x", replyToId: "bad" }), "reply_to_id"],
      [call.createTweet(newUserId(), { text: "x", idempotencyKey: "k".repeat(129) }), "idempotency_key"],
      [call.getTweet(""), "id"],
      [call.batchGetTweets([tweet.id, "bad"]), "ids[1]"],
      [call.batchGetTweets(Array.from({ length: 101 }, () => newId())), "ids"],
      [call.deleteTweet("bad", me), "id"],
      [call.listUserTweets("bad", 0), "user_id"],
      [call.listUserTweets(newUserId(), -1), "page_size"],
      [call.listUserTweets(newUserId(), 5, "garbage"), "page_token"],
      [call.listReplies("", 0), "tweet_id"],
      [call.likeTweet("bad", me), "tweet_id"],
      [call.unlikeTweet("bad", me), "tweet_id"],
      [call.listLikers("bad", 0), "tweet_id"],
      [call.retweet("", me), "tweet_id"],
      [call.unretweet("bad", me), "tweet_id"],
      [call.searchTweets({ tag: "two words" }), "tag"],
      [call.searchTweets({ authorId: "bad" }), "author_id"],
      [call.searchTweets({ startTime: when, endTime: when }), "start_time"],
      [call.countTweets({ startTime: new Date(when.getTime() + 1), endTime: when }), "start_time"],
    ];
    for (const [promise, field] of cases) await grpcFailure(promise, status.INVALID_ARGUMENT, field);
  });

  it("refuses to act without a caller", async () => {
    const tweet = await call.createTweet(newUserId(), { text: "target" });
    for (const promise of [call.deleteTweet(tweet.id), call.likeTweet(tweet.id), call.unlikeTweet(tweet.id), call.retweet(tweet.id), call.unretweet(tweet.id)]) {
      await grpcFailure(promise, status.UNAUTHENTICATED);
    }
  });

  it("believes no header naming a caller: posting as someone takes their valid access token", async () => {
    const ann = newUserId();
    const forged = new Metadata();
    forged.set("x-chirp-caller-id", ann);
    forged.set("x-chirp-caller-roles", "admin");
    const refused = await grpcFailure(unary(service.client, service.client.createTweet, { text: "posted as ann?", replyToId: "", tags: [], idempotencyKey: "" }, forged), status.UNAUTHENTICATED);
    expect(refused.details).toBe("this call needs an authenticated caller");
    await grpcFailure(call.deleteTweet((await call.createTweet(ann, { text: "mine" })).id, forged), status.UNAUTHENTICATED);
  });

  it("counts every user's posts for admins only, whoever forwards the call; one author's for any signed-in caller", async () => {
    const ann = newUserId();
    await call.createTweet(ann, { text: "counted once" });
    const everyone = await grpcFailure(call.countTweets({}, asCaller(newUserId())), status.PERMISSION_DENIED, "author_id");
    expect(everyone.details).toBe("author_id: counting every user's tweets needs the admin role");
    await grpcFailure(call.countTweets({}, new Metadata()), status.UNAUTHENTICATED);
    expect(await call.countTweets({ authorId: ann }, asCaller(newUserId()))).toBe(1);
    expect(await call.countTweets({})).toBeGreaterThanOrEqual(1);
  });

  it("gets tweets one at a time or in a batch in request order, listing missing ids", async () => {
    const ann = newUserId();
    const a = await call.createTweet(ann, { text: "a" });
    const b = await call.createTweet(ann, { text: "b" });
    const missing = newId();
    expect(await call.getTweet(a.id)).toEqual(a);
    const result = await call.batchGetTweets([b.id, missing, a.id]);
    expect(result.tweets.map((t) => t.id)).toEqual([b.id, a.id]);
    expect(result.missingIds).toEqual([missing]);
    await grpcFailure(call.getTweet(missing), status.NOT_FOUND, "id");
  });

  it("threads replies under a tweet, oldest first, counting them on the parent", async () => {
    const parent = await call.createTweet(newUserId(), { text: "what do you think?" });
    const replies = [];
    for (const text of ["first", "second", "third"]) replies.push(await call.createTweet(newUserId(), { text, replyToId: parent.id }));
    expect((await call.getTweet(parent.id)).replyCount).toBe("3");
    const first = await call.listReplies(parent.id, 2);
    expect(first.tweets.map((t) => t.text)).toEqual(["first", "second"]);
    const second = await call.listReplies(parent.id, 2, first.nextPageToken);
    expect(second.tweets.map((t) => t.replyToId)).toEqual([parent.id]);
    expect(second.nextPageToken).toBe("");
    await grpcFailure(call.createTweet(newUserId(), { text: "hello?", replyToId: newId() }), status.NOT_FOUND, "reply_to_id");
  });

  it("lets only the author delete a tweet, which then disappears from every read and is announced", async () => {
    const ann = newUserId();
    const tweet = await call.createTweet(ann, { text: "regrettable #oops" });
    await grpcFailure(call.deleteTweet(tweet.id, asCaller(newUserId())), status.PERMISSION_DENIED, "id");
    await call.deleteTweet(tweet.id, asCaller(ann));
    await grpcFailure(call.getTweet(tweet.id), status.NOT_FOUND, "id");
    await grpcFailure(call.deleteTweet(tweet.id, asCaller(ann)), status.NOT_FOUND, "id");
    expect((await call.batchGetTweets([tweet.id])).missingIds).toEqual([tweet.id]);
    expect((await call.listUserTweets(ann, 10)).tweets).toEqual([]);
    expect((await call.searchTweets({ tag: "oops", authorId: ann })).tweets).toEqual([]);
    await grpcFailure(call.likeTweet(tweet.id, asCaller(ann)), status.NOT_FOUND, "tweet_id");
    const [deleted] = await eventually(() => {
      const events = published("tweetDeleted", tweet.id);
      expect(events).toHaveLength(1);
      return events;
    });
    expect(deleted!.value).toEqual({ tweetId: tweet.id, authorId: ann, retweetOfId: "", replyToId: "" });
  });

  it("counts 50 simultaneous likes exactly, and a second like by the same user not at all", async () => {
    const tweet = await call.createTweet(newUserId(), { text: "like me" });
    const users = Array.from({ length: 50 }, newUserId);
    await Promise.all(users.flatMap((user) => [call.likeTweet(tweet.id, asCaller(user)), call.likeTweet(tweet.id, asCaller(user))]));
    expect((await call.getTweet(tweet.id)).likeCount).toBe("50");
    expect(await call.likeTweet(tweet.id, asCaller(users[0]!))).toMatchObject({ likeCount: "50", likedByMe: true });
    expect(await call.unlikeTweet(tweet.id, asCaller(users[0]!))).toMatchObject({ likeCount: "49", likedByMe: false });
    expect(await call.unlikeTweet(tweet.id, asCaller(users[0]!))).toMatchObject({ likeCount: "49", likedByMe: false });
    expect((await call.getTweet(tweet.id, asCaller(users[1]!))).likedByMe).toBe(true);
  });

  it("announces a new like and a removed like, once each, as likes of the original", async () => {
    const original = await call.createTweet(newUserId(), { text: "announce my likes" });
    const bob = newUserId();
    const entry = await call.retweet(original.id, asCaller(newUserId()));
    await call.likeTweet(entry.id, asCaller(bob));
    await call.likeTweet(original.id, asCaller(bob));
    const [liker] = (await call.listLikers(original.id, 10)).likers;
    await eventually(() => expect(published("tweetLiked", original.id)).toEqual([{ $case: "tweetLiked", value: { tweetId: original.id, userId: bob, likedAt: liker!.likedAt } }]));

    await call.unlikeTweet(entry.id, asCaller(bob));
    await call.unlikeTweet(original.id, asCaller(bob));
    const [unliked] = await eventually(() => {
      const events = published("tweetUnliked", original.id);
      expect(events).toHaveLength(1);
      return events;
    });
    expect(unliked).toEqual({ $case: "tweetUnliked", value: { tweetId: original.id, userId: bob, unlikedAt: expect.any(Date) } });
    await sleep(200);
    expect(published("tweetLiked", original.id)).toHaveLength(1);
    expect(published("tweetUnliked", original.id)).toHaveLength(1);
    expect([...published("tweetLiked", entry.id), ...published("tweetUnliked", entry.id)]).toEqual([]);
  });

  it("lists likers newest like first, page by page", async () => {
    const tweet = await call.createTweet(newUserId(), { text: "who likes this" });
    const users = [newUserId(), newUserId(), newUserId()];
    for (const user of users) await call.likeTweet(tweet.id, asCaller(user));
    const first = await call.listLikers(tweet.id, 2);
    expect(first.likers.map((l) => l.userId)).toEqual([users[2], users[1]]);
    expect(first.likers[0]!.likedAt).toBeInstanceOf(Date);
    const second = await call.listLikers(tweet.id, 2, first.nextPageToken);
    expect(second.likers.map((l) => l.userId)).toEqual([users[0]]);
    expect(second.nextPageToken).toBe("");
  });

  it("lists the likers themselves with PEOPLE_VIEW_PROFILES, one users call a page, and only ids otherwise", async () => {
    const tweet = await call.createTweet(newUserId(), { text: "who are you" });
    const [gone, kept] = [newUserId(), newUserId()];
    for (const liker of [gone, kept]) await call.likeTweet(tweet.id, asCaller(liker));
    const users = service.users;
    users.deleted.add(gone);
    const before = users.batchCalls;
    const list = (view: PeopleView) => unary(service.client, service.client.listLikers, { tweetId: tweet.id, pageSize: 0, pageToken: "", view });
    const { likers } = await list(PeopleView.PEOPLE_VIEW_PROFILES);
    expect(users.batchCalls - before).toBe(1);
    expect(likers.map((l) => [l.userId, l.user?.username, l.user?.email])).toEqual([
      [kept, `u_${kept.slice(-8).toLowerCase()}`, ""],
      // Deleted since it liked (its like not yet cleaned up): listed, without a profile.
      [gone, undefined, undefined],
    ]);
    expect((await call.listLikers(tweet.id, 0)).likers.every((l) => l.user === undefined)).toBe(true);
    expect(users.batchCalls - before).toBe(1);
    await grpcFailure(list(9 as PeopleView), status.INVALID_ARGUMENT, "view");
  });

  it("retweets once per user, as an entry of its own that shows the original and is announced", async () => {
    const ann = newUserId();
    const bob = asCaller(newUserId());
    const original = await call.createTweet(ann, { text: "share me #good" });
    const retweet = await call.retweet(original.id, bob);
    expect(retweet).toMatchObject({ text: "", retweetOfId: original.id, tags: [], retweetedTweet: { id: original.id, retweetCount: "1", retweetedByMe: true } });
    expect(retweet.id).not.toBe(original.id);
    expect(await call.retweet(original.id, bob)).toEqual(retweet);
    expect(await call.retweet(retweet.id, bob)).toEqual(retweet);
    expect((await call.getTweet(original.id, bob)).retweetedByMe).toBe(true);

    const users = Array.from({ length: 20 }, newUserId);
    await Promise.all(users.map((user) => call.retweet(original.id, asCaller(user))));
    expect((await call.getTweet(original.id)).retweetCount).toBe("21");

    const [created] = await eventually(() => {
      const events = published("tweetCreated", retweet.id);
      expect(events).toHaveLength(1);
      return events;
    });
    expect(created!.value).toMatchObject({ authorId: retweet.authorId, retweetOfId: original.id, replyToId: "" });
  });

  it("unretweets by deleting the caller's entry, keeping the count right and announcing it", async () => {
    const original = await call.createTweet(newUserId(), { text: "original" });
    const bob = newUserId();
    const retweet = await call.retweet(original.id, asCaller(bob));
    expect(await call.unretweet(original.id, asCaller(bob))).toMatchObject({ id: original.id, retweetCount: "0", retweetedByMe: false });
    expect(await call.unretweet(original.id, asCaller(bob))).toMatchObject({ retweetCount: "0" });
    await grpcFailure(call.getTweet(retweet.id), status.NOT_FOUND, "id");
    await eventually(() => expect(published("tweetDeleted", retweet.id)).toEqual([{ $case: "tweetDeleted", value: { tweetId: retweet.id, authorId: bob, retweetOfId: original.id, replyToId: "" } }]));

    const again = await call.retweet(original.id, asCaller(bob));
    await call.deleteTweet(again.id, asCaller(bob));
    expect((await call.getTweet(original.id)).retweetCount).toBe("0");
  });

  it("lists a user's posts and retweets newest first, with the caller's likes and retweets marked", async () => {
    const ann = newUserId();
    const someone = await call.createTweet(newUserId(), { text: "someone's" });
    const own = await call.createTweet(ann, { text: "ann's own" });
    const retweet = await call.retweet(someone.id, asCaller(ann));
    await call.likeTweet(own.id, asCaller(ann));
    const first = await call.listUserTweets(ann, 1, "", asCaller(ann));
    expect(first.tweets.map((t) => t.id)).toEqual([retweet.id]);
    expect(first.tweets[0]!.retweetedTweet).toMatchObject({ id: someone.id, retweetedByMe: true });
    const second = await call.listUserTweets(ann, 1, first.nextPageToken, asCaller(ann));
    expect(second.tweets).toEqual([expect.objectContaining({ id: own.id, likedByMe: true, likeCount: "1" })]);
    expect(second.nextPageToken).toBe("");
    await grpcFailure(call.listUserTweets(newUserId(), 1, first.nextPageToken), status.INVALID_ARGUMENT, "page_token");
  });

  describe("search and count at page boundaries", () => {
    const author = newUserId();

    /** n tweets with the tag, a few milliseconds apart so time ranges can split them. */
    async function tagged(tag: string, n: number): Promise<Tweet[]> {
      const made = [];
      for (let i = 0; i < n; i++) {
        made.push(await call.createTweet(author, { text: `#${tag} ${i}` }));
        await sleep(2);
      }
      return made;
    }

    it("answers exactly page_size matches in one page", async () => {
      const made = await tagged("fits_one_page", 4);
      const page = await call.searchTweets({ tag: "#Fits_One_Page", pageSize: 4 });
      expect(page.tweets.map((t) => t.id)).toEqual(made.map((t) => t.id).reverse());
      expect(page.nextPageToken).toBe("");
      expect(await call.countTweets({ tag: "fits_one_page" })).toBe(4);
    });

    it("answers page_size + 1 matches in two pages without gaps or repeats", async () => {
      const made = await tagged("spills_over", 5);
      const first = await call.searchTweets({ tag: "spills_over", pageSize: 4 });
      expect(first.tweets.map((t) => t.id)).toEqual(made.slice(1).map((t) => t.id).reverse());
      const second = await call.searchTweets({ tag: "spills_over", pageSize: 4, pageToken: first.nextPageToken });
      expect(second.tweets.map((t) => t.id)).toEqual([made[0]!.id]);
      expect(second.nextPageToken).toBe("");
      await grpcFailure(call.searchTweets({ tag: "spills_over", pageSize: 4, pageToken: first.nextPageToken, authorId: author }), status.INVALID_ARGUMENT, "page_token");
    });

    it("counts and searches a time range, start inclusive and end exclusive, across pages", async () => {
      const made = await tagged("in_range", 7);
      const range = { tag: "in_range", startTime: made[1]!.createdAt, endTime: made[6]!.createdAt };
      expect(await call.countTweets(range)).toBe(5);
      expect(await call.countTweets({ ...range, authorId: author })).toBe(5);
      expect(await call.countTweets({ ...range, authorId: newUserId() })).toBe(0);
      const first = await call.searchTweets({ ...range, pageSize: 5 });
      expect(first.tweets.map((t) => t.id)).toEqual(made.slice(1, 6).map((t) => t.id).reverse());
      expect(first.nextPageToken).toBe("");
      const narrower = await call.searchTweets({ ...range, endTime: made[5]!.createdAt, pageSize: 3 });
      const rest = await call.searchTweets({ ...range, endTime: made[5]!.createdAt, pageSize: 3, pageToken: narrower.nextPageToken });
      expect([...narrower.tweets, ...rest.tweets].map((t) => t.id)).toEqual(made.slice(1, 5).map((t) => t.id).reverse());
      expect(rest.nextPageToken).toBe("");
    });
  });

  it("removes a deleted user's tweets, likes and retweets when UserDeleted arrives", async () => {
    const gone = newUserId();
    const stays = await call.createTweet(newUserId(), { text: "stays" });
    const own = await call.createTweet(gone, { text: "gone soon #bye" });
    await call.likeTweet(stays.id, asCaller(gone));
    await call.retweet(stays.id, asCaller(gone));
    await call.createTweet(gone, { text: "a reply", replyToId: stays.id });
    expect(await call.getTweet(stays.id)).toMatchObject({ likeCount: "1", retweetCount: "1", replyCount: "1" });

    await service.bus.publish(eventMessage({ $case: "userDeleted", value: { userId: gone } }));
    await eventually(async () => expect(await call.getTweet(stays.id)).toMatchObject({ likeCount: "0", retweetCount: "0", replyCount: "0" }));
    expect((await call.listUserTweets(gone, 10)).tweets).toEqual([]);
    await grpcFailure(call.getTweet(own.id), status.NOT_FOUND, "id");
    expect(await call.countTweets({ authorId: gone })).toBe(0);
    await eventually(() => expect(published("tweetDeleted", own.id)).toHaveLength(1));
  });

  it("refuses every write by a deleted account from the moment the users service says so, before any event", async () => {
    const gone = newUserId();
    const other = await call.createTweet(newUserId(), { text: "someone else's" });
    const own = await call.createTweet(gone, { text: "mine" });
    service.users.deleted.add(gone);
    const as = asCaller(gone);
    for (const write of [
      call.createTweet(gone, { text: "ghost" }),
      call.createTweet(gone, { text: "ghost reply", replyToId: other.id }),
      call.likeTweet(other.id, as),
      call.unlikeTweet(other.id, as),
      call.retweet(other.id, as),
      call.unretweet(other.id, as),
      call.deleteTweet(own.id, as),
    ]) {
      const error = await grpcFailure(write, status.PERMISSION_DENIED);
      expect(error.details).toBe("your account has been deleted");
    }
    expect((await call.listUserTweets(gone, 10)).tweets.map((t) => t.id)).toEqual([own.id]);
    expect(await call.getTweet(other.id)).toMatchObject({ likeCount: "0", retweetCount: "0", replyCount: "0" });
  });

  it("writes nothing while the users service cannot say whether the caller is live, and serves reads meanwhile", async () => {
    const own = await startTweets(testConfig(), { log: testLogger(), bus: new InProcessEventBus(testLogger()) });
    const ownClient = new TweetsServiceClient(`127.0.0.1:${own.port}`, testChannel());
    try {
      const author = newUserId();
      const error = await grpcFailure(
        unary(ownClient, ownClient.createTweet, { text: "unchecked", replyToId: "", tags: [], idempotencyKey: "" }, asCaller(author)),
        status.UNAVAILABLE,
      );
      expect(error.details).toMatch(/users service/);
      expect((await unary(ownClient, ownClient.listUserTweets, { userId: author, pageSize: 10, pageToken: "" })).tweets).toEqual([]);
    } finally {
      ownClient.close();
      await own.stop();
    }
  });
});
