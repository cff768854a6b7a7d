import { randomInt } from "node:crypto";
import { idTime, newId, type BusMessage, type OutboxStore, type PendingMessage } from "@chirp/kit";
import { decodeEvent, eventMessage } from "@chirp/kit/events";
import { idFloor } from "@chirp/kit";
import type { Like, Tweet } from "../src/domain/model.js";
import type { TweetRepository } from "../src/domain/ports.js";

export interface RepositoryUnderTest {
  repository: TweetRepository;
  outbox: OutboxStore;
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** An id made at the given time; newId cannot make one in the past. */
function idAt(time: Date): string {
  const random = Array.from({ length: 16 }, () => CROCKFORD[randomInt(32)]).join("");
  return idFloor(time).slice(0, 10) + random;
}

let minutes = 0;
/** A minute of 2001 no other test uses: tweets placed in it are the only ones in that time range. */
function freshMinute(): Date {
  minutes += 1;
  return new Date(Date.UTC(2001, 0, 1) + (Date.now() % 1_000_000) * 60_000 + minutes * 60_000);
}

/** Tweet fields, and `at`: when its id says it was made. */
type TweetOverrides = Partial<Tweet> & { at?: Date };

function tweet(overrides: TweetOverrides = {}): Tweet {
  const { at, ...fields } = overrides;
  const id = idAt(at ?? new Date());
  return { id, authorId: newId(), text: `tweet ${id}`, createdAt: idTime(id), tags: [], mentions: [], ...fields };
}

const retweetOf = (original: Tweet, authorId = newId()): Tweet => tweet({ authorId, text: "", retweetOfId: original.id });
const replyTo = (parent: Tweet, overrides: TweetOverrides = {}): Tweet => tweet({ replyToId: parent.id, ...overrides });
const like = (tweetId: string, userId = newId()): Like => {
  const id = newId();
  return { id, tweetId, userId, likedAt: idTime(id) };
};
const created = (t: Tweet): BusMessage =>
  eventMessage({ $case: "tweetCreated", value: { tweetId: t.id, authorId: t.authorId, createdAt: t.createdAt, replyToId: "", retweetOfId: "", tags: [], text: t.text, mentions: [] } });
const deleted = (t: Tweet): BusMessage => eventMessage({ $case: "tweetDeleted", value: { tweetId: t.id, authorId: t.authorId, retweetOfId: t.retweetOfId ?? "", replyToId: "" } });
const liked = (l: Like): BusMessage => eventMessage({ $case: "tweetLiked", value: { tweetId: l.tweetId, userId: l.userId, likedAt: l.likedAt } });
const unliked = (l: Like): BusMessage => eventMessage({ $case: "tweetUnliked", value: { tweetId: l.tweetId, userId: l.userId, unlikedAt: new Date() } });
const uniqueTag = () => `t${newId().slice(-10).toLowerCase()}`;
const ids = (tweets: Tweet[]) => tweets.map((t) => t.id);

/**
 * The behaviour every TweetRepository must share, run against each adapter: what the domain
 * relies on, and the outbox semantics the relay relies on.
 */
export function tweetRepositoryContract(open: () => Promise<RepositoryUnderTest>) {
  let repository: TweetRepository;
  let outbox: OutboxStore;

  beforeEach(async () => {
    ({ repository, outbox } = await open());
  });

  async function saved(...tweets: Tweet[]): Promise<Tweet[]> {
    for (const t of tweets) expect((await repository.create(t, [created(t)])).created).toBe(true);
    return tweets;
  }

  /** Saves the like with its TweetLiked, as the domain does; false when the user likes the tweet already. */
  const addLike = (l: Like) => repository.addLike(l, [liked(l)]);
  /** Removes the user's like with its TweetUnliked, as the domain does. */
  const removeLike = (tweetId: string, userId: string) => repository.removeLike(tweetId, userId, [unliked(like(tweetId, userId))]);

  /** The pending TweetLiked and TweetUnliked events about the tweet, in the order the relay gets them. */
  async function pendingLikeEvents(tweetId: string): Promise<PendingMessage[]> {
    return (await outbox.pending(10_000)).filter((p) => {
      const payload = decodeEvent(p.message.data).payload;
      return (payload?.$case === "tweetLiked" || payload?.$case === "tweetUnliked") && payload.value.tweetId === tweetId;
    });
  }

  const messageIds = (pending: PendingMessage[]) => pending.map((p) => p.message.id);

  /** What the relay does once it has published them. */
  async function relayed(pending: PendingMessage[]): Promise<void> {
    for (const p of pending) await outbox.markPublished(p);
  }

  it("stores a tweet and finds it by id and among ids", async () => {
    const [post] = await saved(tweet({ tags: ["a", "b"], mentions: ["Ann"] }));
    const [reply] = await saved(replyTo(post!));
    expect(await repository.findById(post!.id)).toEqual(post);
    expect(await repository.findById(reply!.id)).toEqual(reply);
    const found = await repository.findByIds([reply!.id, newId(), post!.id]);
    expect(ids(found).sort()).toEqual([post!.id, reply!.id].sort());
  });

  it("answers undefined, empty or false for what does not exist", async () => {
    expect(await repository.findById(newId())).toBeUndefined();
    expect(await repository.findByIds([newId()])).toEqual([]);
    expect(await repository.findByIdempotencyKey(newId(), "key")).toBeUndefined();
    expect(await repository.findRetweet(newId(), newId())).toBeUndefined();
    expect(await repository.delete(newId(), [])).toBe(false);
    expect(await removeLike(newId(), newId())).toBe(false);
  });

  it("creates one tweet per author and idempotency key, however many creates race", async () => {
    const authorId = newId();
    const attempts = Array.from({ length: 8 }, () => tweet({ authorId, idempotencyKey: "post-1" }));
    const results = await Promise.all(attempts.map((t) => repository.create(t, [created(t)])));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const winner = results.find((r) => r.created)!.tweet;
    expect(results.map((r) => r.tweet)).toEqual(attempts.map(() => winner));
    expect(await repository.findByIdempotencyKey(authorId, "post-1")).toEqual(winner);
    expect(await repository.findByIds(ids(attempts))).toEqual([winner]);

    const otherAuthor = tweet({ idempotencyKey: "post-1" });
    expect(await repository.create(otherAuthor, [])).toEqual({ tweet: otherAuthor, created: true });
  });

  it("keeps one live retweet per user and original, however many retweets race", async () => {
    const [original] = await saved(tweet());
    const retweeter = newId();
    const attempts = Array.from({ length: 8 }, () => retweetOf(original!, retweeter));
    const results = await Promise.all(attempts.map((t) => repository.create(t, [created(t)])));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const winner = results.find((r) => r.created)!.tweet;
    expect(new Set(results.map((r) => r.tweet.id))).toEqual(new Set([winner.id]));
    expect(await repository.findRetweet(retweeter, original!.id)).toEqual(winner);
    expect((await repository.counts([original!.id])).get(original!.id)?.retweetCount).toBe(1);
  });

  it("hides a deleted tweet from every read and frees its idempotency key and retweet slot", async () => {
    const tag = uniqueTag();
    const authorId = newId();
    const [original] = await saved(tweet({ authorId, tags: [tag], idempotencyKey: "k" }));
    const [reply] = await saved(replyTo(original!));
    const [entry] = await saved(retweetOf(original!, authorId));

    expect(await repository.delete(original!.id, [deleted(original!)])).toBe(true);
    expect(await repository.delete(entry!.id, [deleted(entry!)])).toBe(true);
    expect(await repository.delete(original!.id, [deleted(original!)])).toBe(false);
    expect(await repository.findById(original!.id)).toBeUndefined();
    expect(await repository.findByIds([original!.id, entry!.id])).toEqual([]);
    expect(await repository.findByIdempotencyKey(authorId, "k")).toBeUndefined();
    expect(await repository.findRetweet(authorId, original!.id)).toBeUndefined();
    expect(await repository.listByAuthor(authorId, undefined, 10)).toEqual([]);
    expect(await repository.listRetweetsOf(original!.id, undefined, 10)).toEqual([]);
    expect(await repository.search({ tag }, undefined, 10)).toEqual([]);
    expect(await repository.count({ tag })).toBe(0);
    expect(await repository.retweetedBy(authorId, [original!.id])).toEqual(new Set());

    // The reply stays; the key and the retweet slot can be used again.
    expect(await repository.findById(reply!.id)).toEqual(reply);
    const again = tweet({ authorId, idempotencyKey: "k" });
    expect((await repository.create(again, [])).created).toBe(true);
    expect((await repository.create(retweetOf(original!, authorId), [])).created).toBe(true);
  });

  it("records events with the write, hands them to the relay in order and purges a drained tombstone", async () => {
    const [t] = await saved(tweet());
    expect(await repository.delete(t!.id, [deleted(t!)])).toBe(true);

    const pending = (await outbox.pending(1000)).filter((p) => p.ownerId === t!.id);
    expect(pending.map((p) => p.message.subject)).toEqual(["chirp.tweets.tweet_created", "chirp.tweets.tweet_deleted"]);
    await outbox.markPublished(pending[1]!);
    expect((await outbox.pending(1000)).filter((p) => p.ownerId === t!.id)).toHaveLength(2);

    await outbox.markPublished(pending[0]!);
    const rest = (await outbox.pending(1000)).filter((p) => p.ownerId === t!.id);
    expect(rest.map((p) => p.message.id)).toEqual([pending[1]!.message.id]);
    await outbox.markPublished(rest[0]!);
    expect((await outbox.pending(1000)).filter((p) => p.ownerId === t!.id)).toEqual([]);
    expect(await repository.delete(t!.id, [])).toBe(false);
  });

  it("lists an author's posts, replies and retweets newest first, below a cursor", async () => {
    const authorId = newId();
    const start = freshMinute();
    const [a, b, c, d] = await saved(
      ...[0, 1, 2].map((s) => tweet({ authorId, at: new Date(start.getTime() + s * 1000) })),
      retweetOf(tweet(), authorId),
    );
    expect(ids(await repository.listByAuthor(authorId, undefined, 3))).toEqual([d!.id, c!.id, b!.id]);
    expect(ids(await repository.listByAuthor(authorId, b!.id, 3))).toEqual([a!.id]);
  });

  it("lists live direct replies oldest first, above a cursor", async () => {
    const [parent] = await saved(tweet());
    const start = freshMinute();
    const [r1, r2, r3] = await saved(...[0, 1, 2].map((s) => replyTo(parent!, { at: new Date(start.getTime() + s * 1000) })));
    await saved(replyTo(r1!));
    await repository.delete(r2!.id, []);
    expect(ids(await repository.listReplies(parent!.id, undefined, 10))).toEqual([r1!.id, r3!.id]);
    expect(ids(await repository.listReplies(parent!.id, r1!.id, 10))).toEqual([r3!.id]);
    expect(ids(await repository.listReplies(parent!.id, undefined, 1))).toEqual([r1!.id]);
  });

  it("lists the live retweet entries of an original newest first", async () => {
    const [original] = await saved(tweet());
    const entries = await saved(retweetOf(original!), retweetOf(original!), retweetOf(original!));
    const newest = ids(entries).sort().reverse();
    expect(ids(await repository.listRetweetsOf(original!.id, undefined, 2))).toEqual(newest.slice(0, 2));
    expect(ids(await repository.listRetweetsOf(original!.id, newest[1], 2))).toEqual(newest.slice(2));
  });

  it("searches posts by tag, author and id range, newest first below a cursor, never retweet entries", async () => {
    const tag = uniqueTag();
    const alice = newId();
    const start = freshMinute();
    const at = (s: number) => new Date(start.getTime() + s * 1000);
    const [a0, b1, a2, a3] = await saved(
      tweet({ authorId: alice, tags: [tag], at: at(0) }),
      tweet({ tags: [tag, "other"], at: at(1) }),
      tweet({ authorId: alice, tags: [tag], at: at(2) }),
      tweet({ authorId: alice, at: at(3) }),
    );
    await saved(retweetOf(a0!, alice));

    expect(ids(await repository.search({ tag }, undefined, 10))).toEqual([a2!.id, b1!.id, a0!.id]);
    expect(ids(await repository.search({ tag }, a2!.id, 1))).toEqual([b1!.id]);
    expect(ids(await repository.search({ authorId: alice }, undefined, 10))).toEqual([a3!.id, a2!.id, a0!.id]);
    expect(ids(await repository.search({ tag, authorId: alice }, undefined, 10))).toEqual([a2!.id, a0!.id]);
    const range = { fromId: idFloor(at(1)), toId: idFloor(at(3)) };
    expect(ids(await repository.search(range, undefined, 10))).toEqual([a2!.id, b1!.id]);
    expect(ids(await repository.search({ ...range, tag }, a2!.id, 10))).toEqual([b1!.id]);
    expect(ids(await repository.search({ ...range, toId: idFloor(at(2)) }, a2!.id, 10))).toEqual([b1!.id]);
  });

  it("counts posts by the same filters", async () => {
    const tag = uniqueTag();
    const alice = newId();
    const start = freshMinute();
    const at = (s: number) => new Date(start.getTime() + s * 1000);
    const [a0] = await saved(
      tweet({ authorId: alice, tags: [tag], at: at(0) }),
      tweet({ tags: [tag], at: at(1) }),
      tweet({ authorId: alice, tags: [tag], at: at(2) }),
      tweet({ authorId: alice, at: at(3) }),
    );
    await saved(retweetOf(a0!, alice));

    expect(await repository.count({ tag })).toBe(3);
    expect(await repository.count({ authorId: alice })).toBe(3);
    expect(await repository.count({ tag, authorId: alice })).toBe(2);
    expect(await repository.count({ fromId: idFloor(at(0)), toId: idFloor(at(4)) })).toBe(4);
    expect(await repository.count({ fromId: idFloor(at(1)), toId: idFloor(at(3)) })).toBe(2);
    expect(await repository.count({ authorId: alice, fromId: idFloor(at(1)) })).toBe(2);
    expect(await repository.count({ tag, toId: idFloor(at(1)) })).toBe(1);
  });

  it("counts likes, live retweet entries and live direct replies for every tweet asked about", async () => {
    const [a, b] = await saved(tweet(), tweet());
    const [reply] = await saved(replyTo(a!), replyTo(a!), replyTo(b!));
    await saved(replyTo(reply!));
    const [entry] = await saved(retweetOf(a!), retweetOf(a!));
    await repository.delete(entry!.id, []);
    for (const l of [like(a!.id), like(a!.id), like(b!.id)]) await addLike(l);
    const unknown = newId();

    const counts = await repository.counts([a!.id, b!.id, unknown]);
    expect(counts.get(a!.id)).toEqual({ likeCount: 2, retweetCount: 1, replyCount: 2 });
    expect(counts.get(b!.id)).toEqual({ likeCount: 1, retweetCount: 0, replyCount: 1 });
    expect(counts.get(unknown)).toEqual({ likeCount: 0, retweetCount: 0, replyCount: 0 });
  });

  it("counts every like exactly when 50 users like at once, and refuses a second like by anyone", async () => {
    const [t] = await saved(tweet());
    const likes = Array.from({ length: 50 }, () => like(t!.id));
    expect(await Promise.all(likes.map((l) => addLike(l)))).toEqual(likes.map(() => true));
    expect(await Promise.all(likes.slice(0, 10).map((l) => addLike({ ...l, id: newId() })))).toEqual(Array(10).fill(false));
    expect((await repository.counts([t!.id])).get(t!.id)?.likeCount).toBe(50);
    await Promise.all(likes.slice(0, 20).map((l) => removeLike(t!.id, l.userId)));
    expect((await repository.counts([t!.id])).get(t!.id)?.likeCount).toBe(30);
  });

  it("tells which of a batch of tweets a user likes or has retweeted", async () => {
    const [a, b, c] = await saved(tweet(), tweet(), tweet());
    const user = newId();
    await addLike(like(a!.id, user));
    await addLike(like(b!.id));
    await saved(retweetOf(c!, user), retweetOf(b!));
    expect(await repository.likedBy(user, [a!.id, b!.id, c!.id])).toEqual(new Set([a!.id]));
    expect(await repository.retweetedBy(user, [a!.id, b!.id, c!.id])).toEqual(new Set([c!.id]));
  });

  it("lists likes newest first below a cursor and removes a like once", async () => {
    const [t] = await saved(tweet());
    const likes = [like(t!.id), like(t!.id), like(t!.id)];
    for (const l of likes) expect(await addLike(l)).toBe(true);
    expect(await repository.listLikes(t!.id, undefined, 2)).toEqual([likes[2], likes[1]]);
    expect(await repository.listLikes(t!.id, likes[1]!.id, 2)).toEqual([likes[0]]);
    expect(await removeLike(t!.id, likes[1]!.userId)).toBe(true);
    expect(await removeLike(t!.id, likes[1]!.userId)).toBe(false);
    expect(await repository.listLikes(t!.id, undefined, 10)).toEqual([likes[2], likes[0]]);
    // The removed like's tombstone, still awaiting relay, takes no place in a page.
    expect(await repository.listLikes(t!.id, likes[2]!.id, 1)).toEqual([likes[0]]);
  });

  it("removes every like of a user, and every like of a tweet", async () => {
    const [a, b] = await saved(tweet(), tweet());
    const user = newId();
    const other = newId();
    for (const l of [like(a!.id, user), like(b!.id, user), like(a!.id, other), like(b!.id, other)]) await addLike(l);
    await repository.removeLikesBy(user);
    expect(await repository.likedBy(user, [a!.id, b!.id])).toEqual(new Set());
    expect(await repository.likedBy(other, [a!.id, b!.id])).toEqual(new Set([a!.id, b!.id]));
    await repository.removeLikesOf(a!.id);
    expect(await repository.likedBy(other, [a!.id, b!.id])).toEqual(new Set([b!.id]));
  });

  it("records TweetLiked with a new like only, and TweetUnliked with a removed like only", async () => {
    const [t] = await saved(tweet());
    const first = like(t!.id);
    const [likedFirst, unlikedFirst] = [liked(first), unliked(first)];
    expect(await repository.addLike(first, [likedFirst])).toBe(true);
    const again = like(t!.id, first.userId);
    expect(await repository.addLike(again, [liked(again)])).toBe(false);
    expect(messageIds(await pendingLikeEvents(t!.id))).toEqual([likedFirst.id]);

    expect(await repository.removeLike(t!.id, first.userId, [unlikedFirst])).toBe(true);
    expect(await removeLike(t!.id, first.userId)).toBe(false);
    expect(await removeLike(t!.id, newId())).toBe(false);
    expect(messageIds(await pendingLikeEvents(t!.id))).toEqual([likedFirst.id, unlikedFirst.id]);
  });

  it("hides a removed like from counts and reads at once, and keeps a live like once its events are relayed", async () => {
    const [t] = await saved(tweet());
    const [kept, removed] = [like(t!.id), like(t!.id)];
    await addLike(kept);
    await addLike(removed);
    expect(await removeLike(t!.id, removed.userId)).toBe(true);
    expect((await repository.counts([t!.id])).get(t!.id)?.likeCount).toBe(1);
    expect(await repository.likedBy(removed.userId, [t!.id])).toEqual(new Set());
    expect(await repository.likedBy(kept.userId, [t!.id])).toEqual(new Set([t!.id]));
    expect(await repository.listLikes(t!.id, undefined, 1)).toEqual([kept]);

    const pending = await pendingLikeEvents(t!.id);
    expect(pending.map((p) => decodeEvent(p.message.data).payload?.$case).sort()).toEqual(["tweetLiked", "tweetLiked", "tweetUnliked"]);
    await relayed(pending);
    expect(await pendingLikeEvents(t!.id)).toEqual([]);
    expect(await repository.listLikes(t!.id, undefined, 10)).toEqual([kept]);
    expect((await repository.counts([t!.id])).get(t!.id)?.likeCount).toBe(1);

    // The drained tombstone is gone: the user can like again, once.
    const back = like(t!.id, removed.userId);
    expect(await addLike(back)).toBe(true);
    expect(await addLike(like(t!.id, removed.userId))).toBe(false);
    expect(await repository.listLikes(t!.id, undefined, 10)).toEqual([back, kept]);
  });

  it("takes a new like over a tombstone still awaiting relay, announcing it after the unlike", async () => {
    const [t] = await saved(tweet());
    const first = like(t!.id);
    const second = like(t!.id, first.userId);
    const messages = [liked(first), unliked(first), liked(second)];
    expect(await repository.addLike(first, [messages[0]!])).toBe(true);
    expect(await repository.removeLike(t!.id, first.userId, [messages[1]!])).toBe(true);
    expect(await repository.addLike(second, [messages[2]!])).toBe(true);
    expect(await addLike(like(t!.id, first.userId))).toBe(false);

    expect(await repository.listLikes(t!.id, undefined, 10)).toEqual([second]);
    expect(await repository.likedBy(first.userId, [t!.id])).toEqual(new Set([t!.id]));
    expect((await repository.counts([t!.id])).get(t!.id)?.likeCount).toBe(1);
    const pending = await pendingLikeEvents(t!.id);
    expect(messageIds(pending)).toEqual(messages.map((m) => m.id));

    // Relayed out of order, nothing moves; in order, all go and the like stays.
    await outbox.markPublished(pending[1]!);
    expect(messageIds(await pendingLikeEvents(t!.id))).toEqual(messages.map((m) => m.id));
    await relayed(pending);
    expect(await pendingLikeEvents(t!.id)).toEqual([]);
    expect(await repository.listLikes(t!.id, undefined, 10)).toEqual([second]);
    expect(await removeLike(t!.id, first.userId)).toBe(true);
    expect((await repository.counts([t!.id])).get(t!.id)?.likeCount).toBe(0);
  });

  it("lets one of many concurrent likes by a user win, with one TweetLiked", async () => {
    const [t] = await saved(tweet());
    const user = newId();
    const attempts = Array.from({ length: 8 }, () => like(t!.id, user));
    const results = await Promise.all(attempts.map((l) => addLike(l)));
    expect(results.filter((won) => won)).toHaveLength(1);
    const winner = attempts[results.indexOf(true)]!;
    expect(await repository.listLikes(t!.id, undefined, 10)).toEqual([winner]);
    const events = (await pendingLikeEvents(t!.id)).map((p) => decodeEvent(p.message.data).payload);
    expect(events).toEqual([{ $case: "tweetLiked", value: { tweetId: t!.id, userId: user, likedAt: winner.likedAt } }]);
  });

  it("cleans up live likes with their unrelayed events, leaving tombstones to the relay", async () => {
    const [a, b] = await saved(tweet(), tweet());
    const user = newId();
    const other = like(a!.id);
    await addLike(like(a!.id, user));
    await addLike(other);
    await addLike(like(b!.id, user));
    await removeLike(b!.id, user);
    const tombstoneEvents = messageIds(await pendingLikeEvents(b!.id));
    expect(tombstoneEvents).toHaveLength(2);

    await repository.removeLikesBy(user);
    const pendingOnA = await pendingLikeEvents(a!.id);
    expect(pendingOnA.map((p) => decodeEvent(p.message.data).payload?.value)).toEqual([expect.objectContaining({ userId: other.userId })]);
    expect(messageIds(await pendingLikeEvents(b!.id))).toEqual(tombstoneEvents);

    await repository.removeLikesOf(a!.id);
    await repository.removeLikesOf(b!.id);
    expect(await pendingLikeEvents(a!.id)).toEqual([]);
    expect((await repository.counts([a!.id])).get(a!.id)?.likeCount).toBe(0);
    const stillPending = await pendingLikeEvents(b!.id);
    expect(messageIds(stillPending)).toEqual(tombstoneEvents);
    await relayed(stillPending);
    expect(await pendingLikeEvents(b!.id)).toEqual([]);
    expect(await addLike(like(b!.id, user))).toBe(true);
  });

  it("records a deleted account for good, once however often or concurrently told", async () => {
    const [gone, other] = [newId(), newId()];
    expect(await repository.isUserDeleted(gone)).toBe(false);
    await Promise.all([1, 2, 3].map(() => repository.markUserDeleted(gone)));
    await repository.markUserDeleted(gone);
    expect(await repository.isUserDeleted(gone)).toBe(true);
    expect(await repository.isUserDeleted(other)).toBe(false);
  });
}
