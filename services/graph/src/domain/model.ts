import type { PublicProfile } from "@chirp/kit";
/** A follow relationship that holds now. */
export interface Follow {
  followerId: string;
  followeeId: string;
  /**
   * A ULID assigned when this relationship began (a re-follow begins a new one): unique, never
   * changed while the relationship lasts, and sorted by time. Lists are paged by it, newest first.
   */
  since: string;
  followedAt: Date;
}

/** One entry of a followers or following list: the other user, and since when. */
export interface FollowListEntry {
  userId: string;
  followedAt: Date;
  /** The other user's public profile, when the list was asked for with them. */
  profile?: PublicProfile;
}

/**
 * What the graph service knows of a user, from the users service's events: `unknown` until a
 * UserCreated arrives, `deleted` for good once a UserDeleted has.
 */
export type UserStatus = "unknown" | "live" | "deleted";

export interface Counts {
  followers: number;
  following: number;
}
