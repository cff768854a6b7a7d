import { unique } from "../../domain/model.js";
import type { TombstoneStore } from "../../domain/ports.js";

/** Tombstones in process memory. */
export class InMemoryTombstoneStore implements TombstoneStore {
  /** "tweet:<id>" or "user:<id>" → when deleted. */
  private readonly tombstones = new Map<string, Date>();

  async markTweetsDeleted(tweetIds: string[], at: Date): Promise<void> {
    for (const id of tweetIds) if (!this.tombstones.has(`tweet:${id}`)) this.tombstones.set(`tweet:${id}`, at);
  }

  async markUserDeleted(userId: string, at: Date): Promise<void> {
    if (!this.tombstones.has(`user:${userId}`)) this.tombstones.set(`user:${userId}`, at);
  }

  async findTombstones(ids: { tweetIds: string[]; userIds: string[] }) {
    return {
      tweetIds: unique(ids.tweetIds).filter((id) => this.tombstones.has(`tweet:${id}`)),
      userIds: unique(ids.userIds).filter((id) => this.tombstones.has(`user:${id}`)),
    };
  }

  async forgetBefore(cutoff: Date): Promise<void> {
    for (const [key, at] of [...this.tombstones]) if (at < cutoff) this.tombstones.delete(key);
  }
}
