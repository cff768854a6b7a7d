import type { Collection, Db } from "mongodb";
import { unique, type Celebrity } from "../../domain/model.js";
import type { CelebrityStore } from "../../domain/ports.js";

interface CelebrityDocument {
  /** The author id. */
  _id: string;
  since: string;
}

/** Celebrity marks, in `celebrities`, read by `_id` alone. */
export class MongoCelebrityStore implements CelebrityStore {
  private constructor(private readonly celebrities: Collection<CelebrityDocument>) {}

  static async open(db: Db): Promise<MongoCelebrityStore> {
    return new MongoCelebrityStore(db.collection("celebrities"));
  }

  async celebrity(authorId: string): Promise<Celebrity | undefined> {
    const doc = await this.celebrities.findOne({ _id: authorId });
    return doc ? { authorId: doc._id, since: doc.since } : undefined;
  }

  async markCelebrity(authorId: string, since: string): Promise<void> {
    await this.celebrities.updateOne({ _id: authorId }, { $min: { since } }, { upsert: true });
  }

  async unmarkCelebrity(authorId: string): Promise<void> {
    await this.celebrities.deleteOne({ _id: authorId });
  }

  async celebritiesAmong(authorIds: string[]): Promise<string[]> {
    if (authorIds.length === 0) return [];
    const docs = await this.celebrities.find({ _id: { $in: unique(authorIds) } }, { projection: { _id: 1 } }).toArray();
    return docs.map((d) => d._id);
  }
}
