import { countBy, ensureIndexes } from "@chirp/kit/mongo";
import type { Collection, Db } from "mongodb";
import { changeVersion, unique, type LikeChange } from "../../domain/model.js";
import type { LikeStore } from "../../domain/ports.js";
import { recordUnlessNewer } from "./records.js";

interface LikeDocument {
  /** `<tweet id>:<user id>`. */
  _id: string;
  tweetId: string;
  userId: string;
  liking: boolean;
  /** `changeVersion` of the change recorded; an unlike stays as a record of its version. */
  version: string;
}

const likeKey = (tweetId: string, userId: string) => `${tweetId}:${userId}`;

/**
 * The tweets projection's likes, in `likes`: read by `tweetId, liking` (like counts, a deleted
 * tweet's likes), `userId` (a deleted user's likes) and `_id` (do I like these).
 */
export class MongoLikeStore implements LikeStore {
  private constructor(private readonly likes: Collection<LikeDocument>) {}

  static async open(db: Db): Promise<MongoLikeStore> {
    const store = new MongoLikeStore(db.collection("likes"));
    await ensureIndexes(store.likes, [
      { key: { tweetId: 1, liking: 1 }, name: "likes_by_tweet" },
      { key: { userId: 1 }, name: "likes_by_user" },
    ]);
    return store;
  }

  async applyLike(change: LikeChange): Promise<void> {
    const { tweetId, userId, liking } = change;
    await recordUnlessNewer(this.likes, likeKey(tweetId, userId), { tweetId, userId, liking }, changeVersion(change));
  }

  /** One grouped count for the whole batch, answered from its index. */
  async likeCounts(tweetIds: string[]): Promise<Map<string, number>> {
    const ids = unique(tweetIds);
    const likes = await countBy(this.likes, "tweetId", ids, { liking: true });
    return new Map(ids.map((id) => [id, likes.get(id) ?? 0]));
  }

  async likedBy(userId: string, tweetIds: string[]): Promise<Set<string>> {
    const ids = unique(tweetIds);
    if (ids.length === 0) return new Set();
    const liked = await this.likes.find({ _id: { $in: ids.map((id) => likeKey(id, userId)) }, liking: true }, { projection: { tweetId: 1 } }).toArray();
    return new Set(liked.map((d) => d.tweetId));
  }

  async removeLikesOf(tweetIds: string[]): Promise<void> {
    if (tweetIds.length > 0) await this.likes.deleteMany({ tweetId: { $in: unique(tweetIds) } });
  }

  async removeLikesBy(userId: string): Promise<void> {
    await this.likes.deleteMany({ userId });
  }
}
