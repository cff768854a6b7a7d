import { SetIndex } from "@chirp/kit";
import { changeVersion, unique, type FollowChange } from "../../domain/model.js";
import type { FollowStore } from "../../domain/ports.js";

const pairKey = (followerId: string, followeeId: string) => `${followerId}:${followeeId}`;

/** The follows projection in process memory. */
export class InMemoryFollowStore implements FollowStore {
  /** The `changeVersion` of each (follower, followee) pair's latest follow or unfollow; who follows whom now is `activeFollowees`. */
  private readonly followVersions = new Map<string, string>();
  /**
   * Whom each user has a follow record with, either way and whatever its state, so forgetting a
   * user looks only at that user's records.
   */
  private readonly recordedFollowees = new SetIndex();
  private readonly recordedFollowers = new SetIndex();
  /** Whom each user follows now: every page read asks. */
  private readonly activeFollowees = new SetIndex();

  async applyFollow(change: FollowChange): Promise<boolean> {
    const key = pairKey(change.followerId, change.followeeId);
    const version = changeVersion(change);
    const recorded = this.followVersions.get(key);
    if (recorded !== undefined && recorded > version) return false;
    this.followVersions.set(key, version);
    if (change.following) this.activeFollowees.add(change.followerId, change.followeeId);
    else this.activeFollowees.delete(change.followerId, change.followeeId);
    this.recordedFollowees.add(change.followerId, change.followeeId);
    this.recordedFollowers.add(change.followeeId, change.followerId);
    return true;
  }

  async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
    return this.activeFollowees.get(followerId)?.has(followeeId) === true;
  }

  async followees(followerId: string): Promise<string[]> {
    return [...(this.activeFollowees.get(followerId) ?? [])];
  }

  async followersAmong(followeeId: string, candidateIds: string[]): Promise<string[]> {
    return unique(candidateIds).filter((id) => this.activeFollowees.get(id)?.has(followeeId) === true);
  }

  async removeFollowsOf(userId: string): Promise<void> {
    for (const followeeId of this.recordedFollowees.get(userId) ?? []) {
      this.followVersions.delete(pairKey(userId, followeeId));
      this.recordedFollowers.delete(followeeId, userId);
    }
    for (const followerId of this.recordedFollowers.get(userId) ?? []) {
      this.followVersions.delete(pairKey(followerId, userId));
      this.recordedFollowees.delete(followerId, userId);
      this.activeFollowees.delete(followerId, userId);
    }
    this.recordedFollowees.deleteKey(userId);
    this.activeFollowees.deleteKey(userId);
    this.recordedFollowers.deleteKey(userId);
  }
}
