import type { BusMessage, OutboxStore, PendingMessage } from "@chirp/kit";
import { NO_COUNTS, type Like, type Tweet, type TweetCounts, type TweetFilter } from "../domain/model.js";
import type { TweetRepository } from "../domain/ports.js";

interface Entry {
  tweet: Tweet;
  outbox: BusMessage[];
  deleted: boolean;
}

const copy = (tweet: Tweet): Tweet => ({ ...tweet, tags: [...tweet.tags], mentions: [...tweet.mentions] });
const newestFirst = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
const oldestFirst = (a: { id: string }, b: { id: string }) => -newestFirst(a, b);
const keyOf = (authorId: string, key: string) => `${authorId}:${key}`;
const likeKey = (tweetId: string, userId: string) => `${tweetId}:${userId}`;

function matches(tweet: Tweet, filter: TweetFilter): boolean {
  return (
    tweet.retweetOfId === undefined &&
    (filter.tag === undefined || tweet.tags.includes(filter.tag)) &&
    (filter.authorId === undefined || tweet.authorId === filter.authorId) &&
    (filter.fromId === undefined || tweet.id >= filter.fromId) &&
    (filter.toId === undefined || tweet.id < filter.toId)
  );
}

/**
 * Tweets and likes in process memory, for the embedded mesh and fast tests. Same contract as the
 * MongoDB store, including the outbox: a deleted tweet lingers as a tombstone until its events
 * are relayed.
 */
export class InMemoryTweetRepository implements TweetRepository, OutboxStore {
  private readonly entries = new Map<string, Entry>();
  private readonly byIdempotencyKey = new Map<string, string>();
  private readonly byRetweet = new Map<string, string>();
  private readonly likes = new Map<string, Like>();

  private liveTweets(): Tweet[] {
    return [...this.entries.values()].filter((e) => !e.deleted).map((e) => e.tweet);
  }

  private live(id: string | undefined): Tweet | undefined {
    const entry = id === undefined ? undefined : this.entries.get(id);
    return entry && !entry.deleted ? copy(entry.tweet) : undefined;
  }

  private listed(tweets: Tweet[], order: typeof newestFirst, limit: number): Tweet[] {
    return tweets.sort(order).slice(0, limit).map(copy);
  }

  async create(tweet: Tweet, events: BusMessage[]) {
    const earlier = tweet.retweetOfId
      ? this.live(this.byRetweet.get(keyOf(tweet.authorId, tweet.retweetOfId)))
      : tweet.idempotencyKey
        ? this.live(this.byIdempotencyKey.get(keyOf(tweet.authorId, tweet.idempotencyKey)))
        : undefined;
    if (earlier) return { tweet: earlier, created: false };
    this.entries.set(tweet.id, { tweet: copy(tweet), outbox: [...events], deleted: false });
    if (tweet.retweetOfId) this.byRetweet.set(keyOf(tweet.authorId, tweet.retweetOfId), tweet.id);
    if (tweet.idempotencyKey) this.byIdempotencyKey.set(keyOf(tweet.authorId, tweet.idempotencyKey), tweet.id);
    return { tweet: copy(tweet), created: true };
  }

  async findById(id: string) {
    return this.live(id);
  }

  async findByIds(ids: string[]) {
    return ids.flatMap((id) => this.live(id) ?? []);
  }

  async findByIdempotencyKey(authorId: string, key: string) {
    return this.live(this.byIdempotencyKey.get(keyOf(authorId, key)));
  }

  async findRetweet(authorId: string, originalId: string) {
    return this.live(this.byRetweet.get(keyOf(authorId, originalId)));
  }

  async delete(id: string, events: BusMessage[]): Promise<boolean> {
    const entry = this.entries.get(id);
    if (!entry || entry.deleted) return false;
    const { tweet } = entry;
    entry.deleted = true;
    entry.outbox.push(...events);
    if (tweet.retweetOfId) this.byRetweet.delete(keyOf(tweet.authorId, tweet.retweetOfId));
    if (tweet.idempotencyKey) this.byIdempotencyKey.delete(keyOf(tweet.authorId, tweet.idempotencyKey));
    entry.tweet = { ...tweet, text: "", tags: [], mentions: [] };
    return true;
  }

  async listByAuthor(authorId: string, before: string | undefined, limit: number) {
    const tweets = this.liveTweets().filter((t) => t.authorId === authorId && (before === undefined || t.id < before));
    return this.listed(tweets, newestFirst, limit);
  }

  async listReplies(tweetId: string, after: string | undefined, limit: number) {
    const tweets = this.liveTweets().filter((t) => t.replyToId === tweetId && (after === undefined || t.id > after));
    return this.listed(tweets, oldestFirst, limit);
  }

  async listRetweetsOf(originalId: string, before: string | undefined, limit: number) {
    const tweets = this.liveTweets().filter((t) => t.retweetOfId === originalId && (before === undefined || t.id < before));
    return this.listed(tweets, newestFirst, limit);
  }

  async search(filter: TweetFilter, before: string | undefined, limit: number) {
    const tweets = this.liveTweets().filter((t) => matches(t, filter) && (before === undefined || t.id < before));
    return this.listed(tweets, newestFirst, limit);
  }

  async count(filter: TweetFilter) {
    return this.liveTweets().filter((t) => matches(t, filter)).length;
  }

  async counts(tweetIds: string[]) {
    const counts = new Map<string, TweetCounts>(tweetIds.map((id) => [id, { ...NO_COUNTS }]));
    for (const like of this.likes.values()) {
      const c = counts.get(like.tweetId);
      if (c) c.likeCount += 1;
    }
    for (const tweet of this.liveTweets()) {
      const retweeted = tweet.retweetOfId === undefined ? undefined : counts.get(tweet.retweetOfId);
      if (retweeted) retweeted.retweetCount += 1;
      const repliedTo = tweet.replyToId === undefined ? undefined : counts.get(tweet.replyToId);
      if (repliedTo) repliedTo.replyCount += 1;
    }
    return counts;
  }

  async likedBy(userId: string, tweetIds: string[]) {
    return new Set(tweetIds.filter((id) => this.likes.has(likeKey(id, userId))));
  }

  async retweetedBy(userId: string, tweetIds: string[]) {
    return new Set(tweetIds.filter((id) => this.byRetweet.has(keyOf(userId, id))));
  }

  async addLike(like: Like) {
    const key = likeKey(like.tweetId, like.userId);
    if (this.likes.has(key)) return false;
    this.likes.set(key, { ...like });
    return true;
  }

  async removeLike(tweetId: string, userId: string) {
    return this.likes.delete(likeKey(tweetId, userId));
  }

  async listLikes(tweetId: string, before: string | undefined, limit: number) {
    return [...this.likes.values()]
      .filter((like) => like.tweetId === tweetId && (before === undefined || like.id < before))
      .sort(newestFirst)
      .slice(0, limit)
      .map((like) => ({ ...like }));
  }

  async removeLikesBy(userId: string) {
    for (const [key, like] of this.likes) if (like.userId === userId) this.likes.delete(key);
  }

  async removeLikesOf(tweetId: string) {
    for (const [key, like] of this.likes) if (like.tweetId === tweetId) this.likes.delete(key);
  }

  async pending(limit: number): Promise<PendingMessage[]> {
    return [...this.entries.entries()]
      .filter(([, entry]) => entry.outbox.length > 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, limit)
      .flatMap(([ownerId, entry]) => entry.outbox.map((message) => ({ ownerId, message })));
  }

  async markPublished({ ownerId, message }: PendingMessage): Promise<void> {
    const entry = this.entries.get(ownerId);
    if (!entry || entry.outbox[0]?.id !== message.id) return;
    entry.outbox.shift();
    if (entry.deleted && entry.outbox.length === 0) this.entries.delete(ownerId);
  }
}
