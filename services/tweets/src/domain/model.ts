/**
 * A tweet as stored: a post, a reply (replyToId) or a retweet entry (retweetOfId, empty text).
 * Its counts are not stored with it; see `TweetCounts`.
 */
export interface Tweet {
  /** A ULID: its time part is createdAt, so time ranges are id ranges. */
  id: string;
  authorId: string;
  text: string;
  createdAt: Date;
  replyToId?: string;
  retweetOfId?: string;
  /** Lower-cased, without '#', in order of first appearance. */
  tags: string[];
  /** Usernames without '@', in order of first appearance. */
  mentions: string[];
  /** The client's key for retrying this create; unique per author among live tweets. */
  idempotencyKey?: string;
}

/**
 * Counted from the like, retweet and reply documents whenever a tweet is read, never stored as
 * numbers. Without multi-document transactions a stored counter needs a second write after the
 * like (or retweet, or reply) itself. A process dying between the two leaves the counter wrong,
 * and a `counted` flag on the like does not say whether the increment happened before the crash,
 * so repairing it means recounting, which races with the increments of concurrent likes. A count
 * of the documents is exact under any concurrency and after any crash, because the only write is
 * the one that creates or removes the document. The price is on reads: one grouped count per kind
 * per page, over index ranges as long as the tweets' likes, retweets and replies. Should single
 * tweets gather millions, a cached counter rebuilt from these documents would take over, with the
 * documents staying the source of truth.
 */
export interface TweetCounts {
  likeCount: number;
  retweetCount: number;
  replyCount: number;
}

/** A tweet as one viewer sees it. */
export interface TweetView extends Omit<Tweet, "idempotencyKey">, TweetCounts {
  likedByMe: boolean;
  retweetedByMe: boolean;
  /** For a retweet entry, the original. */
  retweetedTweet?: TweetView;
}

export interface Like {
  /** A ULID, so likes list newest first by id. */
  id: string;
  tweetId: string;
  userId: string;
  likedAt: Date;
}

/** What SearchTweets and CountTweets filter on; ids bound the time range (see `idFloor`). */
export interface TweetFilter {
  tag?: string;
  authorId?: string;
  /** Inclusive lower bound on the id. */
  fromId?: string;
  /** Exclusive upper bound on the id. */
  toId?: string;
}

