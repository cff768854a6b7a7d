/**
 * A post as the timeline service keeps it, from TweetCreated: an original post or a retweet.
 * Replies are never posts here: they are read under the tweet they answer, not in home timelines.
 */
export interface Post {
  /** The tweet's id; ULIDs sort by creation time, which is the timeline's order. */
  tweetId: string;
  /** Who posted it; for a retweet, who retweeted. */
  authorId: string;
  /** For a retweet, the original tweet. */
  retweetOfId?: string;
}

/** One line of a materialised home timeline: a post as it appears in its owner's timeline. */
export interface Entry extends Post {
  ownerId: string;
}

/** What TweetCreated says. */
export interface CreatedTweet extends Post {
  replyToId?: string;
}

/** Bounds on tweet ids, both exclusive; a missing bound is open. */
export interface IdRange {
  /** Only ids smaller than this (older). */
  before?: string;
  /** Only ids greater than this (newer). */
  after?: string;
}

export const inRange = (id: string, range: IdRange) =>
  (range.before === undefined || id < range.before) && (range.after === undefined || id > range.after);

/** A follow or unfollow, as the graph service announced it. */
export interface FollowChange {
  followerId: string;
  followeeId: string;
  following: boolean;
  at: Date;
  /** The announcing event's id: orders changes made in the same millisecond. */
  eventId: string;
}

/**
 * Orders the changes of one pair (a follow, a like) by when they happened, whatever order they are
 * delivered in: the time (zero-padded milliseconds, so strings compare like numbers), then the
 * event id.
 */
export const changeVersion = (change: { at: Date; eventId: string }) => `${String(change.at.getTime()).padStart(15, "0")}:${change.eventId}`;

/**
 * A tweet as the tweets projection keeps it, from TweetCreated: every post, reply and retweet
 * entry, so pages render without asking the tweets service. A tweet the tweets service renders
 * (one the projection does not know) comes back as a card too.
 */
export interface TweetCard extends CreatedTweet {
  /** Empty for a retweet entry: it shows its original. */
  text: string;
  createdAt: Date;
  tags: string[];
  mentions: string[];
}

/** A like or its withdrawal, as the tweets service announced it. */
export interface LikeChange {
  tweetId: string;
  userId: string;
  liking: boolean;
  at: Date;
  /** The announcing event's id: orders changes made in the same millisecond. */
  eventId: string;
}

/** What a tweet has drawn: counted from the projection, or as the tweets service counted it. */
export interface Engagement {
  likeCount: number;
  /** Retweet entries pointing at it. */
  retweetCount: number;
  /** Direct replies to it. */
  replyCount: number;
}

/**
 * A tweet as one reader sees it: its card, what it has drawn and the reader's own reactions. Built
 * with every field in one order wherever it is made, so every rendered tweet has one object shape.
 */
export interface RenderedTweet extends Engagement {
  card: TweetCard;
  likedByMe: boolean;
  retweetedByMe: boolean;
  /** For a retweet entry, its original. */
  retweetedTweet: RenderedTweet | undefined;
}

/** An author whose posts are merged in at read time instead of fanned out. */
export interface Celebrity {
  authorId: string;
  /** The oldest post not fanned out; posts from it on are fanned out if the author stops being a celebrity. */
  since: string;
}

/**
 * A user's public profile as the profiles projection keeps it, from UserCreated and
 * UserProfileChanged, so pages show their people without asking the users service. A profile the
 * users service answers (one the projection does not know) comes back as one too.
 */
export interface ProfileCard {
  userId: string;
  username: string;
  displayName: string;
  bio: string;
  avatarUrl: string;
  createdAt: Date;
  /** Grows with every change of the account: the newest profile is the one with the greatest. */
  updatedAt: Date;
}

/** A render-ready timeline entry. */
export interface TimelineItem {
  /** The entry's position: its tweet id (the retweet's own id for a retweet). */
  id: string;
  /** The post shown; for a retweet, the original. */
  tweet: RenderedTweet;
  /** The shown post's author. */
  author: ProfileCard;
  /** For a retweet, who retweeted it. */
  retweetedBy: ProfileCard | undefined;
  /** When the entry entered the timeline: the post's or the retweet's time. */
  createdAt: Date;
}

export const unique = <T>(values: Iterable<T>): T[] => [...new Set(values)];

/** Newest first: ULIDs of later tweets are greater strings. */
export const newestFirst = (a: Post, b: Post) => (a.tweetId < b.tweetId ? 1 : a.tweetId > b.tweetId ? -1 : 0);
