import type { Celebrity, Entry, FollowChange, IdRange, LikeChange, Post, ProfileCard, RenderedTweet, TweetCard } from "./model.js";

/**
 * How far past its length a stored timeline may grow before it is trimmed back to the newest
 * `length` entries. Trimming costs a query per timeline, so stores may do it in steps rather than
 * on every insert; reads never depend on the exact length.
 */
export const timelineSlack = (length: number) => Math.max(1, Math.ceil(length / 10));

// What the timeline service stores, one port per kind of record. Every write is idempotent: events
// may be delivered more than once and out of order, and the domain relies on replays changing
// nothing. Each domain module is given only the stores it uses (a `Pick` of `TimelineStores`).

/** Materialised home timelines. */
export interface TimelineEntries {
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
}

/** The posts projection: every original post and retweet, from TweetCreated. */
export interface PostStore {
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
}

/** The follows projection, from UserFollowed and UserUnfollowed. */
export interface FollowStore {
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
}

/** Authors whose posts are merged in at read time. */
export interface CelebrityStore {
  celebrity(authorId: string): Promise<Celebrity | undefined>;
  /** Marks the author, or moves an existing mark's `since` back if this post is older. */
  markCelebrity(authorId: string, since: string): Promise<void>;
  unmarkCelebrity(authorId: string): Promise<void>;
  /** Those of the authors who are marked. */
  celebritiesAmong(authorIds: string[]): Promise<string[]>;
}

/** The tweets projection's cards, from TweetCreated and TweetDeleted. */
export interface CardStore {
  /** Keeps the card; saving it again changes nothing. */
  saveCard(card: TweetCard): Promise<void>;
  /** The cards kept among the ids, in no particular order; the caller's own to keep. */
  cards(tweetIds: string[]): Promise<TweetCard[]>;
  removeCards(tweetIds: string[]): Promise<void>;
  /** For each of the tweets: the kept retweet entries and replies pointing at it. */
  retweetAndReplyCounts(tweetIds: string[]): Promise<Map<string, { retweetCount: number; replyCount: number }>>;
  /** Which of the tweets the user has a kept retweet entry of. */
  retweetedBy(userId: string, tweetIds: string[]): Promise<Set<string>>;
}

/** The tweets projection's likes, from TweetLiked and TweetUnliked. */
export interface LikeStore {
  /** Records the like or unlike unless a later change of the same pair is recorded (by `changeVersion`). */
  applyLike(change: LikeChange): Promise<void>;
  /** For each of the tweets, how many like it. */
  likeCounts(tweetIds: string[]): Promise<Map<string, number>>;
  /** Which of the tweets the user likes. */
  likedBy(userId: string, tweetIds: string[]): Promise<Set<string>>;
  /** Forgets every like of the tweets. */
  removeLikesOf(tweetIds: string[]): Promise<void>;
  /** Forgets every like the user gave. */
  removeLikesBy(userId: string): Promise<void>;
}

/** The profiles projection, from UserCreated and UserProfileChanged. */
export interface ProfileStore {
  /**
   * Keeps the profile unless a newer one of the same user (by `updatedAt`) is kept; saving it again
   * changes nothing. The user's `createdAt` is the first one kept: a profile change does not carry it.
   */
  saveProfile(profile: ProfileCard): Promise<void>;
  /** The profiles kept among the ids, in no particular order; the caller's own to keep. */
  profiles(userIds: string[]): Promise<ProfileCard[]>;
  removeProfile(userId: string): Promise<void>;
}

/** What was deleted, so late or replayed events cannot bring it back. */
export interface TombstoneStore {
  markTweetsDeleted(tweetIds: string[], at: Date): Promise<void>;
  markUserDeleted(userId: string, at: Date): Promise<void>;
  /** Which of the tweets and users have tombstones. */
  findTombstones(ids: { tweetIds: string[]; userIds: string[] }): Promise<{ tweetIds: string[]; userIds: string[] }>;
  /** Drops tombstones older than the cutoff: once no event that could need them can still be delivered, they only take space. */
  forgetBefore(cutoff: Date): Promise<void>;
}

/** Fan-out progress, so a fan-out interrupted after some batches resumes after them. */
export interface FanOutProgressStore {
  fanOutProgress(tweetId: string): Promise<string | undefined>;
  saveFanOutProgress(tweetId: string, resumeToken: string, at: Date): Promise<void>;
  clearFanOutProgress(tweetIds: string[]): Promise<void>;
  /** Drops the progress of fan-outs abandoned before the cutoff. */
  forgetBefore(cutoff: Date): Promise<void>;
}

/** Every store of the service, as one adapter opens them. */
export interface TimelineStores {
  timelines: TimelineEntries;
  posts: PostStore;
  follows: FollowStore;
  celebrities: CelebrityStore;
  cards: CardStore;
  likes: LikeStore;
  profiles: ProfileStore;
  tombstones: TombstoneStore;
  progress: FanOutProgressStore;
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
 * caller's view of each tweet, such as whether they like it, comes back). Asked only for what the
 * timeline's own projections cannot render.
 */
export interface Upstream {
  /** The tweets that exist among the ids, in any order; deleted and unknown ones are left out. */
  tweets(ids: string[]): Promise<RenderedTweet[]>;
  /** The public profiles of the users that exist among the ids, in any order. */
  profiles(ids: string[]): Promise<ProfileCard[]>;
}

/**
 * What the timeline reports of its work: spans and metrics, made outside the domain
 * (src/observe.ts). Unobserved by default.
 */
export interface TimelineObserver {
  /** Runs one fan-out write of `entries` timeline entries. */
  fanOutBatch<T>(entries: number, write: () => Promise<T>): Promise<T>;
  /** A post reached its last follower's timeline. */
  fannedOut(tweetId: string): void;
  /** A home read merged in the posts of `celebrities` celebrities. */
  celebritiesMerged(celebrities: number): void;
}

export const UNOBSERVED: TimelineObserver = {
  fanOutBatch: (_entries, write) => write(),
  fannedOut: () => undefined,
  celebritiesMerged: () => undefined,
};
