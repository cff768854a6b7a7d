import { duplicateKeyIndex, ensureIndexes } from "@chirp/kit/mongo";
import type { Collection, Db } from "mongodb";
import type { Activity, Kind } from "../domain/model.js";
import type { ActivityStore, Deletions, NotificationStores, ReadMarks } from "../domain/ports.js";

/**
 * One version of one activity: each change (on at a time, off at a time) is a document of its own,
 * `<activity id>|<time in ms>|<1 on, 0 off>`, so no write ever updates a document another write
 * may be updating (FerretDB can lose one of two updates racing on one document).
 */
interface ActivityDocument {
  _id: string;
  rowId: string;
  on: boolean;
  recipientId: string;
  kind: Kind;
  groupKey: string;
  actorId: string;
  tweetId: string;
  replyToId: string;
  at: Date;
  tweetIds: string[];
}

const versionId = (id: string, at: Date, on: boolean) => `${id}|${at.getTime()}|${on ? 1 : 0}`;

const activityOf = (doc: ActivityDocument): Activity => ({
  id: doc.rowId,
  recipientId: doc.recipientId,
  kind: doc.kind,
  groupKey: doc.groupKey,
  actorId: doc.actorId,
  tweetId: doc.tweetId,
  replyToId: doc.replyToId,
  at: doc.at,
  tweetIds: doc.tweetIds,
});

/** The newest version of each activity among `docs` (sorted newest first), in their order. */
function newestOfEach(docs: ActivityDocument[]): ActivityDocument[] {
  const seen = new Set<string>();
  return docs.filter((doc) => !seen.has(doc.rowId) && (seen.add(doc.rowId), true));
}

/** An insert of a version that is already there is the same write again: nothing to do. */
async function insertOnce(collection: Collection<ActivityDocument>, doc: ActivityDocument): Promise<void> {
  try {
    await collection.insertOne(doc);
  } catch (error) {
    if (duplicateKeyIndex(error) === undefined) throw error;
  }
}

/**
 * Activities in `activities`, one document per version (see ActivityDocument), read by
 * `recipientId, on, at` (a user's newest), `rowId, at` (an activity's versions), `tweetIds` (what a
 * deleted tweet takes with it), `actorId` (what a deleted account did) and `on, at` (forgetting old
 * off versions).
 *
 * A change inserts its version, then deletes the versions older than it, then looks for a newer
 * one and, if there is one, deletes its own. Inserts and deletes of single documents do not race,
 * so whatever the interleaving, the newest change is what stays: an older change inserted before
 * the newer one's clean-up is deleted by it; one inserted after it finds the newer one and deletes
 * itself. A tie goes to off. Repeating a change (a redelivery after a crash) finishes its clean-up.
 */
export class MongoActivities implements ActivityStore {
  private constructor(private readonly activities: Collection<ActivityDocument>) {}

  static async open(db: Db): Promise<MongoActivities> {
    const store = new MongoActivities(db.collection("activities"));
    await ensureIndexes(store.activities, [
      { key: { recipientId: 1, on: 1, at: -1 }, name: "activities_by_recipient" },
      { key: { rowId: 1, at: -1 }, name: "activities_by_row" },
      { key: { tweetIds: 1 }, name: "activities_by_tweet" },
      { key: { actorId: 1 }, name: "activities_by_actor" },
      { key: { on: 1, at: 1 }, name: "activities_by_state" },
    ]);
    return store;
  }

  async put(activity: Activity): Promise<boolean> {
    const { id, ...fields } = activity;
    const _id = versionId(id, activity.at, true);
    const existed = (await this.activities.countDocuments({ _id }, { limit: 1 })) > 0;
    await insertOnce(this.activities, { _id, rowId: id, on: true, ...fields, tweetIds: [...fields.tweetIds] });
    await this.activities.deleteMany({ rowId: id, at: { $lt: activity.at } });
    const newer = await this.activities.findOne({ rowId: id, $or: [{ at: { $gt: activity.at } }, { at: activity.at, on: false }] }, { projection: { _id: 1 } });
    if (newer) {
      await this.activities.deleteOne({ _id });
      return false;
    }
    return !existed;
  }

  async switchOff(id: string, at: Date): Promise<void> {
    // An undo that comes first is a version with nobody in it: it only records the time.
    const _id = versionId(id, at, false);
    await insertOnce(this.activities, { _id, rowId: id, on: false, recipientId: "", kind: "like", groupKey: "", actorId: "", tweetId: "", replyToId: "", at, tweetIds: [] });
    await this.activities.deleteMany({ rowId: id, $or: [{ at: { $lt: at } }, { at, on: true }] });
    if (await this.activities.findOne({ rowId: id, at: { $gt: at } }, { projection: { _id: 1 } })) await this.activities.deleteOne({ _id });
  }

  async get(id: string): Promise<(Activity & { on: boolean }) | undefined> {
    // Newest first; on a tie, off (false) before on.
    const [doc] = await this.activities.find({ rowId: id }).sort({ at: -1, on: 1 }).limit(1).toArray();
    return doc ? { ...activityOf(doc), on: doc.on } : undefined;
  }

  async remove(id: string): Promise<void> {
    await this.activities.deleteMany({ rowId: id });
  }

  async removeByTweet(tweetId: string): Promise<void> {
    await this.activities.deleteMany({ tweetIds: tweetId });
  }

  async removeByUser(userId: string): Promise<void> {
    await this.activities.deleteMany({ recipientId: userId });
    await this.activities.deleteMany({ actorId: userId });
  }

  async byTweet(tweetId: string, kinds: readonly Kind[]): Promise<Activity[]> {
    const docs = await this.activities.find({ tweetIds: tweetId, on: true, kind: { $in: [...kinds] } }).sort({ at: -1, _id: -1 }).toArray();
    return newestOfEach(docs).map(activityOf);
  }

  async received(recipientId: string, limit: number): Promise<Activity[]> {
    const docs = await this.activities.find({ recipientId, on: true }).sort({ at: -1, _id: -1 }).limit(limit).toArray();
    return newestOfEach(docs).map(activityOf);
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

/**
 * Read marks in `read_marks`, one document per mark set (`<user>|<time in ms>`), read by `userId,
 * at`: the mark is the newest. Setting one inserts it, then deletes the older ones; inserts and
 * deletes of single documents do not race (FerretDB can lose one of two updates racing on one
 * document), so the latest of marks set at once is always the one that stays.
 */
export class MongoReadMarks implements ReadMarks {
  private constructor(private readonly marks: Collection<{ _id: string; userId: string; at: Date }>) {}

  static async open(db: Db): Promise<MongoReadMarks> {
    const store = new MongoReadMarks(db.collection("read_marks"));
    await ensureIndexes(store.marks, [{ key: { userId: 1, at: -1 }, name: "read_marks_by_user" }]);
    return store;
  }

  async get(userId: string): Promise<Date | undefined> {
    const [mark] = await this.marks.find({ userId }).sort({ at: -1 }).limit(1).toArray();
    return mark?.at;
  }

  async advance(userId: string, to: Date): Promise<Date> {
    const mark = await this.get(userId);
    if (mark && mark >= to) return mark;
    await this.marks.insertOne({ _id: `${userId}|${to.getTime()}`, userId, at: to }).catch(ignoreDuplicate);
    await this.marks.deleteMany({ userId, at: { $lt: to } });
    const now = await this.get(userId);
    return now && now > to ? now : to;
  }

  async forget(userId: string): Promise<void> {
    await this.marks.deleteMany({ userId });
  }
}

/** Every store in the notifications service's database, their indexes created (idempotently). */
export async function openMongoStores(db: Db): Promise<NotificationStores> {
  return { activities: await MongoActivities.open(db), deletions: await MongoDeletions.open(db), readMarks: await MongoReadMarks.open(db) };
}
