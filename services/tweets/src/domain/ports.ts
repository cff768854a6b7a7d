import type { BusMessage } from "@chirp/kit";
import type { Like, Tweet, TweetCounts, TweetFilter } from "./model.js";

/**
 * Where tweets and likes live. Every change other services must hear about is saved together
 * with its event messages in one atomic write (the outbox); a store never publishes by itself.
 * Reads see live tweets only: a deleted tweet is a tombstone until its events are relayed.
 */
export interface TweetRepository {
  /**
   * Saves a new tweet and its events, unless the author already has a live tweet with the same
   * idempotency key, or already retweeted the same original: then nothing is written and that
   * tweet is returned. Concurrent creates of either kind leave exactly one tweet.
   */
  create(tweet: Tweet, events: BusMessage[]): Promise<{ tweet: Tweet; created: boolean }>;
  findById(id: string): Promise<Tweet | undefined>;
  /** The live tweets among the ids, in any order. */
  findByIds(ids: string[]): Promise<Tweet[]>;
  findByIdempotencyKey(authorId: string, key: string): Promise<Tweet | undefined>;
  /** The author's live retweet of the original. */
  findRetweet(authorId: string, originalId: string): Promise<Tweet | undefined>;
  /**
   * Turns a live tweet into a tombstone (hidden from every read, its idempotency key and retweet
   * slot free again) and records the events; false when there is no such live tweet.
   */
  delete(id: string, events: BusMessage[]): Promise<boolean>;

  /** The author's posts, replies and retweets with ids below `before`, newest first. */
  listByAuthor(authorId: string, before: string | undefined, limit: number): Promise<Tweet[]>;
  /** Direct replies to the tweet with ids above `after`, oldest first. */
  listReplies(tweetId: string, after: string | undefined, limit: number): Promise<Tweet[]>;
  /** Retweet entries of the original with ids below `before`, newest first. */
  listRetweetsOf(originalId: string, before: string | undefined, limit: number): Promise<Tweet[]>;
  /** Posts and replies (not retweet entries) matching every filter, ids below `before`, newest first. */
  search(filter: TweetFilter, before: string | undefined, limit: number): Promise<Tweet[]>;
  /** How many posts and replies match every filter. */
  count(filter: TweetFilter): Promise<number>;

  /** Likes, live retweet entries and live direct replies of each tweet; every id gets an entry. */
  counts(tweetIds: string[]): Promise<Map<string, TweetCounts>>;
  /** Which of the tweets the user likes. */
  likedBy(userId: string, tweetIds: string[]): Promise<Set<string>>;
  /** Which of the tweets the user has a live retweet of. */
  retweetedBy(userId: string, tweetIds: string[]): Promise<Set<string>>;

  /**
   * Saves the like and records its events; false (and nothing written) when the user already
   * likes the tweet. Concurrent likes by one user leave one like and one set of events.
   */
  addLike(like: Like, events: BusMessage[]): Promise<boolean>;
  /**
   * Removes the user's like and records the events; false (and nothing written) when the user
   * does not like the tweet. Like a deleted tweet, a removed like may linger as a tombstone,
   * hidden from every read, until its events are relayed; liking again is a new like.
   */
  removeLike(tweetId: string, userId: string, events: BusMessage[]): Promise<boolean>;
  /** The tweet's likes with ids below `before`, newest first. */
  listLikes(tweetId: string, before: string | undefined, limit: number): Promise<Like[]>;
  /**
   * The clean-ups after a deleted account or post. They delete the live likes outright, with any
   * of their events not yet relayed, and announce nothing: the UserDeleted or TweetDeleted that
   * caused them already tells every consumer those likes are gone, and an unlike per like would
   * only repeat it. Tombstones are left to be relayed and purged as usual.
   */
  removeLikesBy(userId: string): Promise<void>;
  removeLikesOf(tweetId: string): Promise<void>;

  /**
   * Records for good that an account was deleted (ids are never reused), before its clean-up
   * sweeps: a write that lands after the sweep looks here and undoes itself.
   */
  markUserDeleted(userId: string): Promise<void>;
  isUserDeleted(userId: string): Promise<boolean>;
}

/** Builds the event messages that announce changes to tweets and likes. */
export interface TweetEvents {
  created(tweet: Tweet): BusMessage;
  deleted(tweet: Tweet, at: Date): BusMessage;
  liked(like: Like): BusMessage;
  unliked(like: Pick<Like, "tweetId" | "userId">, at: Date): BusMessage;
}
