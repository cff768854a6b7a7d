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
 * entry, so pages render without asking the tweets service.
 */
export interface TweetCard {
  tweetId: string;
  authorId: string;
  /** Empty for a retweet entry: it shows its original. */
  text: string;
  createdAt: Date;
  tags: string[];
  mentions: string[];
  replyToId?: string;
  retweetOfId?: string;
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

/** What a tweet has drawn, counted from the projection. */
export interface Engagement {
  likeCount: number;
  /** Retweet entries pointing at it. */
  retweetCount: number;
  /** Direct replies to it. */
  replyCount: number;
}

export const NO_ENGAGEMENT: Engagement = { likeCount: 0, retweetCount: 0, replyCount: 0 };

/** A tweet as one reader sees it, rendered from the projection: the tweets service's view of it. */
export interface RenderedTweet extends Engagement {
  id: string;
  authorId: string;
  text: string;
  createdAt: Date;
  /** Empty unless a reply. */
  replyToId: string;
  /** Empty unless a retweet entry. */
  retweetOfId: string;
  tags: string[];
  mentions: string[];
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

/** What the timeline needs to know of a hydrated tweet; the tweets service's message has it. */
export interface TweetView {
  id: string;
  authorId: string;
  /** Empty or absent unless the tweet is a retweet. */
  retweetOfId?: string;
  createdAt?: Date;
  /** For a retweet, the original tweet. */
  retweetedTweet?: TweetView;
}

/**
 * A user's public profile as the profiles projection keeps it, from UserCreated and
 * UserProfileChanged, so pages show their people without asking the users service.
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

/** What the timeline needs to know of a user's profile; the users service's message has it. */
export interface ProfileView {
  id: string;
}

/** A render-ready timeline entry. */
export interface TimelineItem<T extends TweetView = TweetView, P extends ProfileView = ProfileView> {
  /** The entry's position: its tweet id (the retweet's own id for a retweet). */
  id: string;
  /** The post shown; for a retweet, the original. */
  tweet: T;
  /** The shown post's author. */
  author: P;
  /** For a retweet, who retweeted it. */
  retweetedBy?: P;
  /** When the entry entered the timeline: the post's or the retweet's time. */
  createdAt?: Date;
}

export const unique = <T>(values: Iterable<T>): T[] => [...new Set(values)];

/** Newest first: ULIDs of later tweets are greater strings. */
export const newestFirst = (a: Post, b: Post) => (a.tweetId < b.tweetId ? 1 : a.tweetId > b.tweetId ? -1 : 0);
