import { ensureIndexes } from "@chirp/kit/mongo";
import type { Collection, Db } from "mongodb";
import { unique } from "../../domain/model.js";
import type { TombstoneStore } from "../../domain/ports.js";

interface TombstoneDocument {
  /** `tweet:<id>` or `user:<id>`. */
  _id: string;
  deletedAt: Date;
}

/** Tombstones, in `tombstones`: read by `_id`, pruned by `deletedAt`. */
export class MongoTombstoneStore implements TombstoneStore {
  private constructor(private readonly tombstones: Collection<TombstoneDocument>) {}

  static async open(db: Db): Promise<MongoTombstoneStore> {
    const store = new MongoTombstoneStore(db.collection("tombstones"));
    await ensureIndexes(store.tombstones, [{ key: { deletedAt: 1 }, name: "tombstones_by_age" }]);
    return store;
  }

  async markTweetsDeleted(tweetIds: string[], at: Date): Promise<void> {
    await this.add(tweetIds.map((id) => `tweet:${id}`), at);
  }

  async markUserDeleted(userId: string, at: Date): Promise<void> {
    await this.add([`user:${userId}`], at);
  }

  /** Keeps the first deletion's time: a replayed deletion does not put off forgetting it. */
  private async add(keys: string[], at: Date): Promise<void> {
    if (keys.length === 0) return;
    await this.tombstones.bulkWrite(
      keys.map((key) => ({ updateOne: { filter: { _id: key }, update: { $setOnInsert: { deletedAt: at } }, upsert: true } })),
      { ordered: false },
    );
  }

  async findTombstones(ids: { tweetIds: string[]; userIds: string[] }) {
    const keys = [...unique(ids.tweetIds).map((id) => `tweet:${id}`), ...unique(ids.userIds).map((id) => `user:${id}`)];
    if (keys.length === 0) return { tweetIds: [], userIds: [] };
    const found = (await this.tombstones.find({ _id: { $in: keys } }, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
    return {
      tweetIds: found.filter((key) => key.startsWith("tweet:")).map((key) => key.slice("tweet:".length)),
      userIds: found.filter((key) => key.startsWith("user:")).map((key) => key.slice("user:".length)),
    };
  }

  async forgetBefore(cutoff: Date): Promise<void> {
    await this.tombstones.deleteMany({ deletedAt: { $lt: cutoff } });
  }
}
