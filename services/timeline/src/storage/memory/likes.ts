import { SetIndex } from "@chirp/kit";
import { changeVersion, unique, type LikeChange } from "../../domain/model.js";
import type { LikeStore } from "../../domain/ports.js";

const likeKey = (tweetId: string, userId: string) => `${tweetId}:${userId}`;

/** The tweets projection's likes in process memory. */
export class InMemoryLikeStore implements LikeStore {
  /** The `changeVersion` of each (tweet, user) pair's latest like or unlike; who likes what now is `likers`. */
  private readonly likeVersions = new Map<string, string>();
  /** Who has a like record of each tweet, and which tweets each user has records of, whatever their state. */
  private readonly likeRecordsByTweet = new SetIndex();
  private readonly likeRecordsByUser = new SetIndex();
  /** Who likes each tweet now: counts without reading every record. */
  private readonly likers = new SetIndex();

  async applyLike(change: LikeChange): Promise<void> {
    const key = likeKey(change.tweetId, change.userId);
    const version = changeVersion(change);
    const recorded = this.likeVersions.get(key);
    if (recorded !== undefined && recorded > version) return;
    this.likeVersions.set(key, version);
    this.likeRecordsByTweet.add(change.tweetId, change.userId);
    this.likeRecordsByUser.add(change.userId, change.tweetId);
    if (change.liking) this.likers.add(change.tweetId, change.userId);
    else this.likers.delete(change.tweetId, change.userId);
  }

  // Read on every page: one pass each, the Map and Set taking care of repeated ids.
  async likeCounts(tweetIds: string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const id of tweetIds) counts.set(id, this.likers.get(id)?.size ?? 0);
    return counts;
  }

  async likedBy(userId: string, tweetIds: string[]): Promise<Set<string>> {
    const liked = new Set<string>();
    for (const id of tweetIds) if (this.likers.get(id)?.has(userId)) liked.add(id);
    return liked;
  }

  async removeLikesOf(tweetIds: string[]): Promise<void> {
    for (const id of unique(tweetIds)) {
      for (const userId of this.likeRecordsByTweet.get(id) ?? []) {
        this.likeVersions.delete(likeKey(id, userId));
        this.likeRecordsByUser.delete(userId, id);
      }
      this.likeRecordsByTweet.deleteKey(id);
      this.likers.deleteKey(id);
    }
  }

  async removeLikesBy(userId: string): Promise<void> {
    for (const tweetId of this.likeRecordsByUser.get(userId) ?? []) {
      this.likeVersions.delete(likeKey(tweetId, userId));
      this.likeRecordsByTweet.delete(tweetId, userId);
      this.likers.delete(tweetId, userId);
    }
    this.likeRecordsByUser.deleteKey(userId);
  }
}
