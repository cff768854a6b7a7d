import type { BusMessage } from "@chirp/kit";
import type { Follow, UserStatus } from "./model.js";

/**
 * Where follow edges and the record of known users live. An edge is one record per
 * (follower, followee) pair; every change that other services must hear about is saved together
 * with its event in that record, atomically (the outbox), and a store never publishes by itself.
 *
 * An ended relationship stays as an inactive record until its events are relayed, then goes.
 * Counts and lists only ever see active edges, so they agree with each other at every moment.
 */
export interface GraphRepository {
  /**
   * Starts the relationship and records the event, in one atomic write; false, with nothing
   * changed and the event dropped, when it already holds.
   */
  follow(follow: Follow, event: BusMessage): Promise<boolean>;
  /** Ends the relationship and records the event, in one atomic write; false when it did not hold. */
  unfollow(followerId: string, followeeId: string, event: BusMessage): Promise<boolean>;
  isFollowing(followerId: string, followeeId: string): Promise<boolean>;
  /** The user's followers, newest relationship first, from those that began before `before`, at most `limit`. */
  listFollowers(followeeId: string, before: string | undefined, limit: number): Promise<Follow[]>;
  /** Whom the user follows, newest relationship first, from those that began before `before`, at most `limit`. */
  listFollowing(followerId: string, before: string | undefined, limit: number): Promise<Follow[]>;
  countFollowers(followeeId: string): Promise<number>;
  countFollowing(followerId: string): Promise<number>;
  /** Records that a user exists, unless they were deleted: a late UserCreated must not revive them. */
  rememberUser(userId: string): Promise<void>;
  /** Records for good that a user was deleted. */
  forgetUser(userId: string): Promise<void>;
  userStatus(userId: string): Promise<UserStatus>;
  /**
   * Ends every relationship from or to the user, without events. Idempotent; running it again
   * completes a run that was cut short.
   */
  removeFollowsOf(userId: string): Promise<void>;
}

/** Builds the event messages that announce follow changes. */
export interface GraphEvents {
  followed(follow: Follow): BusMessage;
  unfollowed(followerId: string, followeeId: string, at: Date): BusMessage;
}
