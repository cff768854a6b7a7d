import { PendingOwners, SetIndex, type BusMessage, type OutboxStore, type PendingMessage } from "@chirp/kit";
import type { Like, Tweet, TweetCounts, TweetFilter } from "../domain/model.js";
import type { TweetRepository } from "../domain/ports.js";
import { isLikeKey, likeKey } from "./like-key.js";

interface Entry {
  tweet: Tweet;
  outbox: BusMessage[];
  deleted: boolean;
}

interface LikeEntry {
  like: Like;
  outbox: BusMessage[];
  /** A tombstone, kept only until its TweetUnliked event is relayed; liking again revives it. */
  unliked: boolean;
}

const copy = (tweet: Tweet): Tweet => ({ ...tweet, tags: [...tweet.tags], mentions: [...tweet.mentions] });
const newestFirst = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
const oldestFirst = (a: { id: string }, b: { id: string }) => -newestFirst(a, b);
const keyOf = (authorId: string, key: string) => `${authorId}:${key}`;

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
 * MongoDB store, including the outbox: a deleted tweet or a removed like lingers as a tombstone
 * until its events are relayed.
 */
export class InMemoryTweetRepository implements TweetRepository, OutboxStore {
  private readonly entries = new Map<string, Entry>();
  private readonly byIdempotencyKey = new Map<string, string>();
  private readonly byRetweet = new Map<string, string>();
  /**
   * Ids of live tweets by author, by the tweet they reply to and by the original they retweet, so
   * lists and counts look only at their own tweets. A tombstone leaves them when it is made.
   */
  private readonly byAuthor = new SetIndex();
  private readonly byReplyTo = new SetIndex();
  private readonly byRetweetOf = new SetIndex();
  /** Live likes and tombstones by like key. */
  private readonly likes = new Map<string, LikeEntry>();
  /** Keys of live likes by tweet and by user; a tombstone leaves them when it is made. */
  private readonly likesOf = new SetIndex();
  private readonly likesBy = new SetIndex();
  /** Tweets and likes whose outbox holds messages, ranked by tweet id and by like key. */
  private readonly tweetsWithOutbox = new PendingOwners<string>();
  private readonly likesWithOutbox = new PendingOwners<string>();
  /** Deleted accounts, kept for good. */
  private readonly deletedUsers = new Set<string>();

  private liveTweets(): Tweet[] {
    return [...this.entries.values()].filter((e) => !e.deleted).map((e) => e.tweet);
  }

  private liveAmong(ids: ReadonlySet<string> | undefined, keep: (tweet: Tweet) => boolean): Tweet[] {
    return [...(ids ?? [])].flatMap((id) => {
      const entry = this.entries.get(id);
      return entry && !entry.deleted && keep(entry.tweet) ? [entry.tweet] : [];
    });
  }

  /** Adds (or with `remove`, removes) a live tweet to the indexes above. */
  private indexTweet(tweet: Tweet, remove = false): void {
    const update = (index: SetIndex, key: string) => (remove ? index.delete(key, tweet.id) : index.add(key, tweet.id));
    update(this.byAuthor, tweet.authorId);
    if (tweet.replyToId !== undefined) update(this.byReplyTo, tweet.replyToId);
    if (tweet.retweetOfId !== undefined) update(this.byRetweetOf, tweet.retweetOfId);
  }

  private recorded(id: string, entry: Entry): void {
    if (entry.outbox.length > 0) this.tweetsWithOutbox.add(id, id);
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
    const entry: Entry = { tweet: copy(tweet), outbox: [...events], deleted: false };
    this.entries.set(tweet.id, entry);
    this.recorded(tweet.id, entry);
    this.indexTweet(entry.tweet);
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
    this.recorded(id, entry);
    this.indexTweet(tweet, true);
    if (tweet.retweetOfId) this.byRetweet.delete(keyOf(tweet.authorId, tweet.retweetOfId));
    if (tweet.idempotencyKey) this.byIdempotencyKey.delete(keyOf(tweet.authorId, tweet.idempotencyKey));
    entry.tweet = { ...tweet, text: "", tags: [], mentions: [] };
    return true;
  }

  async listByAuthor(authorId: string, before: string | undefined, limit: number) {
    const tweets = this.liveAmong(this.byAuthor.get(authorId), (t) => before === undefined || t.id < before);
    return this.listed(tweets, newestFirst, limit);
  }

  async listReplies(tweetId: string, after: string | undefined, limit: number) {
    const tweets = this.liveAmong(this.byReplyTo.get(tweetId), (t) => after === undefined || t.id > after);
    return this.listed(tweets, oldestFirst, limit);
  }

  async listRetweetsOf(originalId: string, before: string | undefined, limit: number) {
    const tweets = this.liveAmong(this.byRetweetOf.get(originalId), (t) => before === undefined || t.id < before);
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
    // The indexes hold live tweets and current likes only, so their sizes are the counts.
    return new Map<string, TweetCounts>(
      tweetIds.map((id) => [
        id,
        {
          likeCount: this.likesOf.get(id)?.size ?? 0,
          retweetCount: this.byRetweetOf.get(id)?.size ?? 0,
          replyCount: this.byReplyTo.get(id)?.size ?? 0,
        },
      ]),
    );
  }

  async likedBy(userId: string, tweetIds: string[]) {
    return new Set(tweetIds.filter((id) => this.likes.get(likeKey(id, userId))?.unliked === false));
  }

  async retweetedBy(userId: string, tweetIds: string[]) {
    return new Set(tweetIds.filter((id) => this.byRetweet.has(keyOf(userId, id))));
  }

  async addLike(like: Like, events: BusMessage[]) {
    const key = likeKey(like.tweetId, like.userId);
    const earlier = this.likes.get(key);
    if (earlier && !earlier.unliked) return false;
    // A tombstone's unlike events, if still pending, stay ahead of the new like's.
    const entry: LikeEntry = { like: { ...like }, outbox: [...(earlier?.outbox ?? []), ...events], unliked: false };
    this.likes.set(key, entry);
    this.likesOf.add(like.tweetId, key);
    this.likesBy.add(like.userId, key);
    if (entry.outbox.length > 0) this.likesWithOutbox.add(key, key);
    return true;
  }

  async removeLike(tweetId: string, userId: string, events: BusMessage[]) {
    const key = likeKey(tweetId, userId);
    const entry = this.likes.get(key);
    if (!entry || entry.unliked) return false;
    entry.unliked = true;
    entry.outbox.push(...events);
    this.likesOf.delete(tweetId, key);
    this.likesBy.delete(userId, key);
    if (entry.outbox.length > 0) this.likesWithOutbox.add(key, key);
    else this.likes.delete(key);
    return true;
  }

  /** Deletes a live like outright, with any events it still holds (see `removeLikesBy`). */
  private dropLike(key: string): void {
    const { like } = this.likes.get(key)!;
    this.likes.delete(key);
    this.likesOf.delete(like.tweetId, key);
    this.likesBy.delete(like.userId, key);
    this.likesWithOutbox.delete(key);
  }

  async listLikes(tweetId: string, before: string | undefined, limit: number) {
    return [...(this.likesOf.get(tweetId) ?? [])]
      .map((key) => this.likes.get(key)!.like)
      .filter((like) => before === undefined || like.id < before)
      .sort(newestFirst)
      .slice(0, limit)
      .map((like) => ({ ...like }));
  }

  /**
   * Deletes live likes even with a TweetLiked not yet relayed: the UserDeleted behind this
   * clean-up tells consumers they are gone. Tombstones, not in the index, stay until relayed.
   */
  async removeLikesBy(userId: string) {
    for (const key of [...(this.likesBy.get(userId) ?? [])]) this.dropLike(key);
  }

  /** As `removeLikesBy`, the TweetDeleted behind it telling consumers the likes are gone. */
  async removeLikesOf(tweetId: string) {
    for (const key of [...(this.likesOf.get(tweetId) ?? [])]) this.dropLike(key);
  }

  async markUserDeleted(userId: string) {
    this.deletedUsers.add(userId);
  }

  async isUserDeleted(userId: string) {
    return this.deletedUsers.has(userId);
  }

  async pending(limit: number): Promise<PendingMessage[]> {
    // As the MongoDB store lists them: up to `limit` tweets by id, then up to `limit` likes by key.
    const messagesOf = (ownerId: string, outbox: BusMessage[]) => outbox.map((message) => ({ ownerId, message }));
    return [
      ...this.tweetsWithOutbox.first(limit).flatMap((id) => messagesOf(id, this.entries.get(id)!.outbox)),
      ...this.likesWithOutbox.first(limit).flatMap((key) => messagesOf(key, this.likes.get(key)!.outbox)),
    ];
  }

  async markPublished(pending: PendingMessage): Promise<void> {
    if (isLikeKey(pending.ownerId)) this.likePublished(pending);
    else this.tweetPublished(pending);
  }

  private tweetPublished({ ownerId, message }: PendingMessage): void {
    const entry = this.entries.get(ownerId);
    if (entry && this.tweetsWithOutbox.markPublished(ownerId, entry.outbox, message) && entry.deleted) this.entries.delete(ownerId);
  }

  private likePublished({ ownerId, message }: PendingMessage): void {
    const entry = this.likes.get(ownerId);
    if (entry && this.likesWithOutbox.markPublished(ownerId, entry.outbox, message) && entry.unliked) this.likes.delete(ownerId);
  }
}
