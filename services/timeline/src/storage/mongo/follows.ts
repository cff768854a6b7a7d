import { ensureIndexes } from "@chirp/kit/mongo";
import type { Collection, Db } from "mongodb";
import { changeVersion, unique, type FollowChange } from "../../domain/model.js";
import type { FollowStore } from "../../domain/ports.js";
import { recordUnlessNewer } from "./records.js";

interface FollowDocument {
  /** `<follower id>:<followee id>`. */
  _id: string;
  followerId: string;
  followeeId: string;
  following: boolean;
  /** `changeVersion` of the change recorded; an unfollow stays as a record of its version. */
  version: string;
}

const followKey = (followerId: string, followeeId: string) => `${followerId}:${followeeId}`;

/**
 * The follows projection, in `follows`: read by `followerId` (whom a reader follows), `followeeId`
 * (a deleted user's followers) and `_id` (does this reader follow that author).
 */
export class MongoFollowStore implements FollowStore {
  private constructor(private readonly follows: Collection<FollowDocument>) {}

  static async open(db: Db): Promise<MongoFollowStore> {
    const store = new MongoFollowStore(db.collection("follows"));
    await ensureIndexes(store.follows, [
      { key: { followerId: 1 }, name: "follows_by_follower" },
      { key: { followeeId: 1 }, name: "follows_by_followee" },
    ]);
    return store;
  }

  async applyFollow(change: FollowChange): Promise<boolean> {
    const { followerId, followeeId, following } = change;
    return recordUnlessNewer(this.follows, followKey(followerId, followeeId), { followerId, followeeId, following }, changeVersion(change));
  }

  async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
    return (await this.follows.countDocuments({ _id: followKey(followerId, followeeId), following: true }, { limit: 1 })) > 0;
  }

  async followees(followerId: string): Promise<string[]> {
    const docs = await this.follows.find({ followerId, following: true }, { projection: { followeeId: 1 } }).toArray();
    return docs.map((d) => d.followeeId);
  }

  async followersAmong(followeeId: string, candidateIds: string[]): Promise<string[]> {
    if (candidateIds.length === 0) return [];
    const keys = unique(candidateIds).map((id) => followKey(id, followeeId));
    const docs = await this.follows.find({ _id: { $in: keys }, following: true }, { projection: { followerId: 1 } }).toArray();
    return docs.map((d) => d.followerId);
  }

  async removeFollowsOf(userId: string): Promise<void> {
    await this.follows.deleteMany({ followerId: userId });
    await this.follows.deleteMany({ followeeId: userId });
  }
}
