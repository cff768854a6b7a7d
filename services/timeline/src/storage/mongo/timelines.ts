import { duplicateKeyIndex, ensureIndexes } from "@chirp/kit/mongo";
import type { Collection, Db } from "mongodb";
import { unique, type Entry, type IdRange } from "../../domain/model.js";
import { timelineSlack, type TimelineEntries } from "../../domain/ports.js";
import { rangeOn, toPost } from "./records.js";

interface EntryDocument {
  /** `<owner id>:<tweet id>`: one entry per owner and tweet, whoever writes it how often. */
  _id: string;
  ownerId: string;
  tweetId: string;
  authorId: string;
  retweetOfId?: string;
}

/** How many entries a timeline holds: counted up as entries are added, set exactly when trimmed. */
interface TimelineSizeDocument {
  /** The owner id. */
  _id: string;
  size: number;
}

const entryKey = (ownerId: string, tweetId: string) => `${ownerId}:${tweetId}`;

const toEntry = (doc: EntryDocument): Entry => ({ ...toPost(doc), ownerId: doc.ownerId });

/**
 * Materialised home timelines: `entries`, read by `ownerId, tweetId` (a page: one owner, a tweet
 * id range, newest first), `tweetId` (a deleted tweet leaves every timeline) and `authorId,
 * ownerId` (unfollow, deleted user); and `timeline_sizes`, per-owner entry counts that tell when
 * to trim.
 */
export class MongoTimelineEntries implements TimelineEntries {
  private readonly trimAbove: number;

  private constructor(
    private readonly entriesCollection: Collection<EntryDocument>,
    private readonly sizes: Collection<TimelineSizeDocument>,
    private readonly timelineLength: number,
  ) {
    this.trimAbove = timelineLength + timelineSlack(timelineLength);
  }

  static async open(db: Db, timelineLength: number): Promise<MongoTimelineEntries> {
    const store = new MongoTimelineEntries(db.collection("entries"), db.collection("timeline_sizes"), timelineLength);
    await ensureIndexes(store.entriesCollection, [
      { key: { ownerId: 1, tweetId: -1 }, name: "entries_by_owner" },
      { key: { tweetId: 1 }, name: "entries_by_tweet" },
      { key: { authorId: 1, ownerId: 1 }, name: "entries_by_author" },
    ]);
    return store;
  }

  /**
   * One unordered bulk write of upserts keyed by owner and tweet, so a replayed batch changes
   * nothing. The owners that gained entries have their counts raised, and only those past length
   * plus slack are trimmed, one query each: trimming is paid once per `timelineSlack` inserts per
   * timeline, not on every insert.
   */
  async addEntries(entries: Entry[]): Promise<void> {
    if (entries.length === 0) return;
    const result = await this.entriesCollection.bulkWrite(
      entries.map((e) => ({
        updateOne: {
          filter: { _id: entryKey(e.ownerId, e.tweetId) },
          update: { $setOnInsert: { ownerId: e.ownerId, tweetId: e.tweetId, authorId: e.authorId, ...(e.retweetOfId ? { retweetOfId: e.retweetOfId } : {}) } },
          upsert: true,
        },
      })),
      { ordered: false },
    );
    // The upserted ids name the owners (FerretDB misreports their positions, so read the ids).
    const inserted = new Set(Object.values(result.upsertedIds) as string[]);
    const grown = new Map<string, number>();
    for (const e of entries) {
      if (inserted.has(entryKey(e.ownerId, e.tweetId))) grown.set(e.ownerId, (grown.get(e.ownerId) ?? 0) + 1);
    }
    if (grown.size > 0) await this.count(grown);
  }

  /**
   * Raises the owners' counts: one update per distinct increase (a fan-out batch adds one entry
   * to each of its owners), then one read that finds the owners without a count yet and those
   * over the limit. (Plain updates, not upserts with $inc: under load, FerretDB v1 kept back a
   * connection per such upsert until its pool ran dry and every client of the server hung.)
   */
  private async count(grown: Map<string, number>): Promise<void> {
    const byIncrease = new Map<number, string[]>();
    for (const [ownerId, added] of grown) byIncrease.set(added, [...(byIncrease.get(added) ?? []), ownerId]);
    for (const [added, ownerIds] of byIncrease) await this.sizes.updateMany({ _id: { $in: ownerIds } }, { $inc: { size: added } });
    const sizes = new Map((await this.sizes.find({ _id: { $in: [...grown.keys()] } }).toArray()).map((c) => [c._id, c.size]));
    const uncounted = [...grown].filter(([ownerId]) => !sizes.has(ownerId)).map(([ownerId, added]) => ({ _id: ownerId, size: added }));
    if (uncounted.length > 0) {
      // Timelines new to the store: what was just added is all they hold.
      await this.sizes.insertMany(uncounted, { ordered: false }).catch((error: unknown) => {
        // Another writer counted the same new timeline first: these entries go uncounted, which
        // only puts its next trim off a little.
        if (duplicateKeyIndex(error) === undefined) throw error;
      });
      for (const { _id, size } of uncounted) sizes.set(_id, size);
    }
    for (const [ownerId, size] of sizes) if (size > this.trimAbove) await this.trim(ownerId);
  }

  /** Cuts the timeline back to its newest `timelineLength` entries and records its true size. */
  private async trim(ownerId: string): Promise<void> {
    const oldestKept = await this.entriesCollection
      .find({ ownerId }, { projection: { tweetId: 1 } })
      .sort({ tweetId: -1 })
      .skip(this.timelineLength - 1)
      .limit(1)
      .next();
    if (oldestKept) await this.entriesCollection.deleteMany({ ownerId, tweetId: { $lt: oldestKept.tweetId } });
    // Deletions elsewhere (tweets, unfollows) leave counts too high; recount when there was less to cut.
    const size = oldestKept ? this.timelineLength : await this.entriesCollection.countDocuments({ ownerId });
    await this.sizes.updateOne({ _id: ownerId }, { $set: { size } });
  }

  async entries(ownerId: string, range: IdRange, limit: number): Promise<Entry[]> {
    const docs = await this.entriesCollection
      .find({ ownerId, ...rangeOn("tweetId", range) })
      .sort({ tweetId: -1 })
      .limit(limit)
      .toArray();
    return docs.map(toEntry);
  }

  async removeEntriesOf(tweetIds: string[]): Promise<void> {
    if (tweetIds.length > 0) await this.entriesCollection.deleteMany({ tweetId: { $in: unique(tweetIds) } });
  }

  async removeEntriesBy(authorId: string, ownerId?: string): Promise<void> {
    await this.entriesCollection.deleteMany(ownerId === undefined ? { authorId } : { authorId, ownerId });
  }

  async removeTimeline(ownerId: string): Promise<void> {
    await this.entriesCollection.deleteMany({ ownerId });
    await this.sizes.deleteOne({ _id: ownerId });
  }
}
