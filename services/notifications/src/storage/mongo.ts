import { duplicateKeyIndex, ensureIndexes } from "@chirp/kit/mongo";
import type { Collection, Db, Filter, UpdateFilter } from "mongodb";
import type { Activity, Kind } from "../domain/model.js";
import type { ActivityStore, Deletions, NotificationStores, ReadMarks } from "../domain/ports.js";

interface ActivityDocument {
  _id: string;
  recipientId: string;
  kind: Kind;
  groupKey: string;
  actorId: string;
  tweetId: string;
  replyToId: string;
  at: Date;
  tweetIds: string[];
  on: boolean;
}

/**
 * Writes `update` unless the document changed later than `condition` allows: a conditional
 * upsert. When the condition does not match, the insert collides with the existing `_id`; that
 * alone does not say "stale" (two first changes of one row applied at once both insert, and the
 * older may win), so the collision is followed by the same update without the insert, which now
 * finds the document: matching nothing there is the answer "stale".
 */
async function upsertUnlessNewer<D extends { _id: string }>(collection: Collection<D>, condition: Filter<D>, update: UpdateFilter<D>): Promise<boolean> {
  try {
    await collection.updateOne(condition, update, { upsert: true });
    return true;
  } catch (error) {
    if (duplicateKeyIndex(error) === undefined) throw error;
  }
  return (await collection.updateOne(condition, update)).matchedCount === 1;
}

const activityOf = (doc: ActivityDocument): Activity => ({
  id: doc._id,
  recipientId: doc.recipientId,
  kind: doc.kind,
  groupKey: doc.groupKey,
  actorId: doc.actorId,
  tweetId: doc.tweetId,
  replyToId: doc.replyToId,
  at: doc.at,
  tweetIds: doc.tweetIds,
});

/**
 * One document per activity, in `activities`, read by `recipientId, on, at` (a user's newest),
 * `tweetIds` (what a deleted tweet takes with it), `actorId` (what a deleted account did) and
 * `on, at` (forgetting old off rows). Every write touches one activity's own document, so
 * concurrent likes of one post never race on a shared one.
 */
export class MongoActivities implements ActivityStore {
  private constructor(private readonly activities: Collection<ActivityDocument>) {}

  static async open(db: Db): Promise<MongoActivities> {
    const store = new MongoActivities(db.collection("activities"));
    await ensureIndexes(store.activities, [
      { key: { recipientId: 1, on: 1, at: -1 }, name: "activities_by_recipient" },
      { key: { tweetIds: 1 }, name: "activities_by_tweet" },
      { key: { actorId: 1 }, name: "activities_by_actor" },
      { key: { on: 1, at: 1 }, name: "activities_by_state" },
    ]);
    return store;
  }

  async put(activity: Activity): Promise<boolean> {
    const { id, ...fields } = activity;
    let written = false;
    await this.settle(id, activity.at, async () => {
      written = (await upsertUnlessNewer(this.activities, { _id: id, at: { $lt: activity.at } }, { $set: { ...fields, on: true } })) || written;
    });
    return written;
  }

  async switchOff(id: string, at: Date): Promise<void> {
    // An undo that comes first creates the row with nobody in it: it only records the time.
    await this.settle(id, at, async () => {
      await upsertUnlessNewer(
        this.activities,
        { _id: id, at: { $lte: at } },
        { $set: { on: false, at }, $setOnInsert: { recipientId: "", kind: "like", groupKey: "", actorId: "", tweetId: "", replyToId: "", tweetIds: [] } },
      );
    });
  }

  /**
   * Writes, then reads the row back: FerretDB can lose one of two conditional updates racing on
   * one document (a like and its unlike handled at once), so a row found older than this change
   * afterwards is written again. Each round can only lose to a newer change, so the newest one
   * ends up kept; the rounds are bounded all the same.
   */
  private async settle(id: string, at: Date, write: () => Promise<void>): Promise<void> {
    for (let round = 0; round < 5; round += 1) {
      await write();
      const kept = await this.activities.findOne({ _id: id }, { projection: { at: 1 } });
      if (kept && kept.at >= at) return;
    }
  }

  async get(id: string): Promise<(Activity & { on: boolean }) | undefined> {
    const doc = await this.activities.findOne({ _id: id });
    return doc ? { ...activityOf(doc), on: doc.on } : undefined;
  }

  async remove(id: string): Promise<void> {
    await this.activities.deleteOne({ _id: id });
  }

  async removeByTweet(tweetId: string): Promise<void> {
    await this.activities.deleteMany({ tweetIds: tweetId });
  }

  async removeByUser(userId: string): Promise<void> {
    await this.activities.deleteMany({ recipientId: userId });
    await this.activities.deleteMany({ actorId: userId });
  }

  async byTweet(tweetId: string, kinds: readonly Kind[]): Promise<Activity[]> {
    const docs = await this.activities.find({ tweetIds: tweetId, on: true, kind: { $in: [...kinds] } }).toArray();
    return docs.map(activityOf);
  }

  async received(recipientId: string, limit: number): Promise<Activity[]> {
    const docs = await this.activities.find({ recipientId, on: true }).sort({ at: -1, _id: -1 }).limit(limit).toArray();
    return docs.map(activityOf);
  }

  async trim(recipientId: string, keep: number): Promise<void> {
    const count = await this.activities.countDocuments({ recipientId, on: true });
    if (count <= keep) return;
    const older = await this.activities.find({ recipientId, on: true }, { projection: { _id: 1 } }).sort({ at: -1, _id: -1 }).skip(keep).toArray();
    if (older.length > 0) await this.activities.deleteMany({ _id: { $in: older.map((doc) => doc._id) } });
  }

  async forgetOffBefore(before: Date): Promise<void> {
    await this.activities.deleteMany({ on: false, at: { $lt: before } });
  }
}

/** Deleted tweets in `deleted_tweets` (read by `_id`, forgotten by `at`), deleted accounts in `deleted_users`. */
export class MongoDeletions implements Deletions {
  private constructor(
    private readonly tweets: Collection<{ _id: string; at: Date }>,
    private readonly users: Collection<{ _id: string; at: Date }>,
  ) {}

  static async open(db: Db): Promise<MongoDeletions> {
    const store = new MongoDeletions(db.collection("deleted_tweets"), db.collection("deleted_users"));
    await ensureIndexes(store.tweets, [{ key: { at: 1 }, name: "deleted_tweets_by_time" }]);
    return store;
  }

  async tweetDeleted(tweetId: string, at: Date): Promise<void> {
    await this.tweets.updateOne({ _id: tweetId }, { $setOnInsert: { at } }, { upsert: true }).catch(ignoreDuplicate);
  }

  async userDeleted(userId: string): Promise<void> {
    await this.users.updateOne({ _id: userId }, { $setOnInsert: { at: new Date() } }, { upsert: true }).catch(ignoreDuplicate);
  }

  async anyDeleted(tweetIds: readonly string[], userIds: readonly string[]): Promise<boolean> {
    const [tweet, user] = await Promise.all([
      tweetIds.length > 0 ? this.tweets.findOne({ _id: { $in: [...tweetIds] } }, { projection: { _id: 1 } }) : null,
      userIds.length > 0 ? this.users.findOne({ _id: { $in: [...userIds] } }, { projection: { _id: 1 } }) : null,
    ]);
    return tweet !== null || user !== null;
  }

  async forgetTweetsBefore(before: Date): Promise<void> {
    await this.tweets.deleteMany({ at: { $lt: before } });
  }
}

/** Two upserts of one new `_id` at once: one inserts, the other collides, and the record is there either way. */
function ignoreDuplicate(error: unknown): void {
  if (duplicateKeyIndex(error) === undefined) throw error;
}

/** Read marks in `read_marks`, one document per user. */
export class MongoReadMarks implements ReadMarks {
  private constructor(private readonly marks: Collection<{ _id: string; readUpTo: Date }>) {}

  static async open(db: Db): Promise<MongoReadMarks> {
    return new MongoReadMarks(db.collection("read_marks"));
  }

  async get(userId: string): Promise<Date | undefined> {
    return (await this.marks.findOne({ _id: userId }))?.readUpTo;
  }

  /**
   * A conditional update, read back: FerretDB can lose one of two updates racing on one document,
   * so a mark found behind `to` afterwards is written again (a few times at most; each round can
   * only lose to a later mark).
   */
  async advance(userId: string, to: Date): Promise<Date> {
    for (let round = 0; ; round += 1) {
      await upsertUnlessNewer(this.marks, { _id: userId, readUpTo: { $lt: to } }, { $set: { readUpTo: to } });
      const mark = await this.get(userId);
      if ((mark && mark >= to) || round >= 4) return mark && mark > to ? mark : to;
    }
  }

  async forget(userId: string): Promise<void> {
    await this.marks.deleteOne({ _id: userId });
  }
}

/** Every store in the notifications service's database, their indexes created (idempotently). */
export async function openMongoStores(db: Db): Promise<NotificationStores> {
  return { activities: await MongoActivities.open(db), deletions: await MongoDeletions.open(db), readMarks: await MongoReadMarks.open(db) };
}
