/** What a notification is about. */
export type Kind = "mention" | "reply" | "like" | "retweet" | "follow";

export const KINDS: readonly Kind[] = ["mention", "reply", "like", "retweet", "follow"];

/**
 * One thing someone did that one user is told of: one row per (recipient, group, actor), so
 * concurrent actions on one post write different rows and groups are counted when read, never by
 * updating a shared counter (FerretDB can lose one of two updates racing on one document).
 */
export interface Activity {
  /**
   * Made from its cause alone, so a redelivered event writes the same row:
   * `like:<tweet>:<liker>`, `follow:<follower>:<followee>`, `retweet:<retweet entry>`,
   * `reply:<reply>`, `mention:<post>:<mentioned>`.
   */
  id: string;
  recipientId: string;
  kind: Kind;
  /** The notification it counts in (see groupKeyOf). */
  groupKey: string;
  actorId: string;
  /** For like and retweet the recipient's post; for mention and reply the post that does it; "" for follow. */
  tweetId: string;
  /** For reply, the recipient's post replied to; "" otherwise. */
  replyToId: string;
  /** When the actor did it, as its event says. */
  at: Date;
  /** The tweets whose deletion takes it away. */
  tweetIds: string[];
}

/** A user's public profile as the users service tells it. */
export interface Profile {
  userId: string;
  username: string;
  displayName: string;
  bio: string;
  avatarUrl: string;
  createdAt: Date | undefined;
  updatedAt: Date | undefined;
}

export interface ActorView {
  userId: string;
  at: Date;
  /** Unset when the users service did not answer, or no longer knows them. */
  profile?: Profile;
}

/** One notification as a user sees it: a group of activities. */
export interface NotificationView {
  /** The group key: stable while the group lasts. */
  id: string;
  kind: Kind;
  tweetId: string;
  replyToId: string;
  /** The newest actors first, at most ACTORS_SHOWN. */
  actors: ActorView[];
  actorCount: number;
  updatedAt: Date;
  unread: boolean;
}

/** The newest activities kept per user; older ones are dropped as new ones come. */
export const MAX_ACTIVITIES_PER_USER = 500;

/** Actors named in one notification; the others are counted. */
export const ACTORS_SHOWN = 3;

/** Distinct @mentions of one post that are notified; a post of 280 characters holds at most 70. */
export const MAX_MENTIONS = 70;

const utcDay = (at: Date) => at.toISOString().slice(0, 10);

/**
 * The group an activity counts in. Likes and retweets are grouped per post, as people expect
 * ("ada and 3 others liked your post"); follows per UTC day of following, a window everyone
 * reads the same way and the event's own time decides, so a redelivery lands in the same group;
 * a mention or a reply stands alone, since each is a different post to read.
 */
export function groupKeyOf(kind: Kind, at: Date, tweetId: string): string {
  return kind === "follow" ? `follow:${utcDay(at)}` : `${kind}:${tweetId}`;
}
