import { ensureIndexes } from "@chirp/kit/mongo";
import type { Collection, Db } from "mongodb";
import { unique } from "../../domain/model.js";
import type { FanOutProgressStore } from "../../domain/ports.js";

interface ProgressDocument {
  /** The tweet id. */
  _id: string;
  resumeToken: string;
  updatedAt: Date;
}

/** Fan-out progress, in `fanout_progress`: read by `_id`, pruned by `updatedAt`. */
export class MongoFanOutProgressStore implements FanOutProgressStore {
  private constructor(private readonly progress: Collection<ProgressDocument>) {}

  static async open(db: Db): Promise<MongoFanOutProgressStore> {
    const store = new MongoFanOutProgressStore(db.collection("fanout_progress"));
    await ensureIndexes(store.progress, [{ key: { updatedAt: 1 }, name: "fanout_progress_by_age" }]);
    return store;
  }

  async fanOutProgress(tweetId: string): Promise<string | undefined> {
    return (await this.progress.findOne({ _id: tweetId }))?.resumeToken;
  }

  async saveFanOutProgress(tweetId: string, resumeToken: string, at: Date): Promise<void> {
    await this.progress.updateOne({ _id: tweetId }, { $set: { resumeToken, updatedAt: at } }, { upsert: true });
  }

  async clearFanOutProgress(tweetIds: string[]): Promise<void> {
    if (tweetIds.length > 0) await this.progress.deleteMany({ _id: { $in: unique(tweetIds) } });
  }

  async forgetBefore(cutoff: Date): Promise<void> {
    await this.progress.deleteMany({ updatedAt: { $lt: cutoff } });
  }
}
