import type { Celebrity, Engagement, Entry, FollowChange, IdRange, LikeChange, Post, ProfileCard, ProfileView, TweetCard, TweetView } from "./model.js";

/**
 * How far past its length a stored timeline may grow before it is trimmed back to the newest
 * `length` entries. Trimming costs a query per timeline, so stores may do it in steps rather than
 * on every insert; reads never depend on the exact length.
 */
export const timelineSlack = (length: number) => Math.max(1, Math.ceil(length / 10));

/**
 * Everything the timeline service stores. Every write is idempotent: events may be delivered more
 * than once and out of order, and the domain relies on replays changing nothing.
 */
export interface TimelineStore {
  // --- the posts projection: every original post and retweet, from TweetCreated ---

  /** Keeps the post; saving it again changes nothing. */
  savePost(post: Post): Promise<void>;
  /** Posts by any of the authors within the range, newest first, at most `limit`. */
  postsBy(authorIds: string[], range: IdRange, limit: number): Promise<Post[]>;
  /** Ids of the kept retweets of any of the tweets. */
  retweetsOf(tweetIds: string[]): Promise<string[]>;
  removePosts(tweetIds: string[]): Promise<void>;
  /** Removes every post of the author and answers their ids. */
  removePostsBy(authorId: string): Promise<string[]>;
  /** Keeps only the author's newest `keep` posts. */
  trimPosts(authorId: string, keep: number): Promise<void>;

  // --- materialised home timelines ---

  /**
   * Adds entries, one per owner and tweet however often added, and keeps each timeline to its
   * newest entries: at least the store's timeline length, at most `timelineSlack` more.
   */
  addEntries(entries: Entry[]): Promise<void>;
  /** The owner's entries within the range, newest first, at most `limit`. */
  entries(ownerId: string, range: IdRange, limit: number): Promise<Entry[]>;
  /** Removes the tweets from every timeline. */
  removeEntriesOf(tweetIds: string[]): Promise<void>;
  /** Removes the author's posts from the owner's timeline, or from every timeline without an owner. */
  removeEntriesBy(authorId: string, ownerId?: string): Promise<void>;
  removeTimeline(ownerId: string): Promise<void>;

  // --- the follows projection, from UserFollowed and UserUnfollowed ---

  /**
   * Records the change unless a later change of the same pair is recorded (by `changeVersion`).
   * Answers whether the pair's recorded state is now this change's, as it is after a replay.
   */
  applyFollow(change: FollowChange): Promise<boolean>;
  isFollowing(followerId: string, followeeId: string): Promise<boolean>;
  /** Whom the user follows. */
  followees(followerId: string): Promise<string[]>;
  /** Those of the candidates who follow the user. */
  followersAmong(followeeId: string, candidateIds: string[]): Promise<string[]>;
  /** Forgets every follow the user is part of, either way. */
  removeFollowsOf(userId: string): Promise<void>;

  // --- authors whose posts are merged in at read time ---

  celebrity(authorId: string): Promise<Celebrity | undefined>;
  /** Marks the author, or moves an existing mark's `since` back if this post is older. */
  markCelebrity(authorId: string, since: string): Promise<void>;
  unmarkCelebrity(authorId: string): Promise<void>;
  /** Those of the authors who are marked. */
  celebritiesAmong(authorIds: string[]): Promise<string[]>;

  // --- the tweets projection, from TweetCreated, TweetDeleted, TweetLiked and TweetUnliked ---

  /** Keeps the card; saving it again changes nothing. */
  saveCard(card: TweetCard): Promise<void>;
  /** The cards kept among the ids, in no particular order; the caller's own to keep. */
  cards(tweetIds: string[]): Promise<TweetCard[]>;
  /** Removes the cards and every like of those tweets. */
  removeCards(tweetIds: string[]): Promise<void>;
  /** Records the like or unlike unless a later change of the same pair is recorded (by `changeVersion`). */
  applyLike(change: LikeChange): Promise<void>;
  /** Forgets every like the user gave. */
  removeLikesBy(userId: string): Promise<void>;
  /** For each of the tweets: its likes, and the kept retweet entries and replies pointing at it. */
  engagement(tweetIds: string[]): Promise<Map<string, Engagement>>;
  /** Which of the tweets the user likes, and which they have a kept retweet entry of. */
  reactionsOf(userId: string, tweetIds: string[]): Promise<{ liked: Set<string>; retweeted: Set<string> }>;

  // --- the profiles projection, from UserCreated and UserProfileChanged ---

  /**
   * Keeps the profile unless a newer one of the same user (by `updatedAt`) is kept; saving it again
   * changes nothing. The user's `createdAt` is the first one kept: a profile change does not carry it.
   */
  saveProfile(profile: ProfileCard): Promise<void>;
  /** The profiles kept among the ids, in no particular order; the caller's own to keep. */
  profiles(userIds: string[]): Promise<ProfileCard[]>;
  removeProfile(userId: string): Promise<void>;

  // --- tombstones: what was deleted, so late or replayed events cannot bring it back ---

  markTweetsDeleted(tweetIds: string[], at: Date): Promise<void>;
  markUserDeleted(userId: string, at: Date): Promise<void>;
  /** Which of the tweets and users have tombstones. */
  findTombstones(ids: { tweetIds: string[]; userIds: string[] }): Promise<{ tweetIds: string[]; userIds: string[] }>;

  // --- fan-out progress, so a fan-out interrupted after some batches resumes after them ---

  fanOutProgress(tweetId: string): Promise<string | undefined>;
  saveFanOutProgress(tweetId: string, resumeToken: string, at: Date): Promise<void>;
  clearFanOutProgress(tweetIds: string[]): Promise<void>;

  /**
   * Drops tombstones and abandoned fan-out progress older than the cutoff: once no event that
   * could need them can still be delivered, they only take space.
   */
  forgetBefore(cutoff: Date): Promise<void>;
}

/** One streamed batch of a user's followers. */
export interface FollowerBatch {
  followerIds: string[];
  /** Resumes the listing after this batch. */
  resumeToken: string;
}

/** The graph service, as fan-out needs it. */
export interface FollowerDirectory {
  followerCount(userId: string): Promise<number>;
  /**
   * Every follower of the user, batch by batch; after the batch that gave `resumeToken` when one
   * is given. Aborting `signal` breaks the listing off with an error.
   */
  followers(userId: string, resumeToken: string | undefined, signal?: AbortSignal): AsyncIterable<FollowerBatch>;
}

/**
 * The tweets and users services, as rendering needs them, on behalf of one request (so the
 * caller's view of each tweet, such as whether they like it, comes back).
 */
export interface Hydration<T extends TweetView, P extends ProfileView> {
  /** The tweets that exist among the ids, in any order; deleted and unknown ones are left out. */
  tweets(ids: string[]): Promise<T[]>;
  /** The public profiles of the users that exist among the ids, in any order. */
  profiles(ids: string[]): Promise<P[]>;
}
