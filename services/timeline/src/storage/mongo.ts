import { duplicateKeyIndex, ensureIndexes } from "@chirp/kit/mongo";
import type { AnyBulkWriteOperation, Collection, Db, Filter } from "mongodb";
import { followVersion, unique, type Celebrity, type Entry, type FollowChange, type IdRange, type Post } from "../domain/model.js";
import { timelineSlack, type TimelineStore } from "../domain/ports.js";

interface PostDocument {
  /** The tweet id. */
  _id: string;
  authorId: string;
  /** Only on retweets, so the sparse index holds retweets alone. */
  retweetOfId?: string;
}

interface EntryDocument {
  /** `<owner id>:<tweet id>`: unique per owner and tweet, and the key home timelines are read by. */
  _id: string;
  ownerId: string;
  tweetId: string;
  authorId: string;
  retweetOfId?: string;
}

/** How many entries a timeline holds, counted upwards on insert and set exactly when trimmed. */
interface TimelineSizeDocument {
  /** The owner id. */
  _id: string;
  size: number;
}

interface FollowDocument {
  /** `<follower id>:<followee id>`. */
  _id: string;
  followerId: string;
  followeeId: string;
  following: boolean;
  /** `followVersion` of the change recorded; an unfollow stays as a record of its version. */
  version: string;
}

interface CelebrityDocument {
  /** The author id. */
  _id: string;
  since: string;
}

interface TombstoneDocument {
  /** `tweet:<id>` or `user:<id>`. */
  _id: string;
  deletedAt: Date;
}

interface ProgressDocument {
  /** The tweet id. */
  _id: string;
  resumeToken: string;
  updatedAt: Date;
}

/**
 * The `_id` range of the keys `<prefixId>:<id>` with `id` in the range. Ids are 26-character
 * ULIDs and `:` sorts below every id character, so such keys sort by their first id, then by the
 * second: a home timeline page (`<owner>:<tweet>`) or whom a reader follows
 * (`<follower>:<followee>`) is one scan of the `_id` index, and fan-out writes maintain no extra
 * owner index. (`;` is the character after `:`.)
 */
function keyRange(prefixId: string, range: IdRange = {}) {
  return {
    $gt: range.after === undefined ? `${prefixId}:` : `${prefixId}:${range.after}`,
    $lt: range.before === undefined ? `${prefixId};` : `${prefixId}:${range.before}`,
  };
}

const entryKey = (ownerId: string, tweetId: string) => `${ownerId}:${tweetId}`;
const followKey = (followerId: string, followeeId: string) => `${followerId}:${followeeId}`;
const ownerOfEntryKey = (key: string) => key.slice(0, key.indexOf(":"));

function idFilter(range: IdRange): Filter<PostDocument> {
  if (range.before === undefined && range.after === undefined) return {};
  return { _id: { ...(range.after !== undefined ? { $gt: range.after } : {}), ...(range.before !== undefined ? { $lt: range.before } : {}) } };
}

const toPost = (doc: PostDocument | EntryDocument): Post => ({
  tweetId: "tweetId" in doc ? doc.tweetId : doc._id,
  authorId: doc.authorId,
  ...(doc.retweetOfId ? { retweetOfId: doc.retweetOfId } : {}),
});

const toEntry = (doc: EntryDocument): Entry => ({ ...toPost(doc), ownerId: doc.ownerId });

/**
 * The timeline service's database. Collections and the indexes they are read by:
 * - `entries`: materialised home timelines; `_id` (owner range, see `keyRange`), `tweetId`
 *   (a deleted tweet leaves every timeline), `authorId, ownerId` (unfollow, deleted user);
 * - `timeline_sizes`: per-owner entry counts that tell when to trim;
 * - `posts`: recent posts per author; `authorId, _id` (backfill, celebrity merge), sparse
 *   `retweetOfId` (retweets of a deleted tweet);
 * - `follows`: the follows projection; `_id` (whom a reader follows), `followeeId` (deleted user);
 * - `celebrities`, `tombstones` (`deletedAt` for pruning), `fanout_progress` (`updatedAt`).
 */
export class MongoTimelineStore implements TimelineStore {
  private readonly trimAbove: number;
  private readonly collections: {
    entries: Collection<EntryDocument>;
    sizes: Collection<TimelineSizeDocument>;
    posts: Collection<PostDocument>;
    follows: Collection<FollowDocument>;
    celebrities: Collection<CelebrityDocument>;
    tombstones: Collection<TombstoneDocument>;
    progress: Collection<ProgressDocument>;
  };

  private constructor(
    db: Db,
    private readonly timelineLength: number,
  ) {
    this.trimAbove = timelineLength + timelineSlack(timelineLength);
    this.collections = {
      entries: db.collection("entries"),
      sizes: db.collection("timeline_sizes"),
      posts: db.collection("posts"),
      follows: db.collection("follows"),
      celebrities: db.collection("celebrities"),
      tombstones: db.collection("tombstones"),
      progress: db.collection("fanout_progress"),
    };
  }

  static async open(db: Db, timelineLength: number): Promise<MongoTimelineStore> {
    const store = new MongoTimelineStore(db, timelineLength);
    await ensureIndexes(store.collections.entries, [
      { key: { tweetId: 1 }, name: "entries_by_tweet" },
      { key: { authorId: 1, ownerId: 1 }, name: "entries_by_author" },
    ]);
    await ensureIndexes(store.collections.posts, [
      { key: { authorId: 1, _id: -1 }, name: "posts_by_author" },
      { key: { retweetOfId: 1 }, name: "posts_by_original", sparse: true },
    ]);
    await ensureIndexes(store.collections.follows, [{ key: { followeeId: 1 }, name: "follows_by_followee" }]);
    await ensureIndexes(store.collections.tombstones, [{ key: { deletedAt: 1 }, name: "tombstones_by_age" }]);
    await ensureIndexes(store.collections.progress, [{ key: { updatedAt: 1 }, name: "fanout_progress_by_age" }]);
    return store;
  }

  async savePost(post: Post): Promise<void> {
    const fields = { authorId: post.authorId, ...(post.retweetOfId ? { retweetOfId: post.retweetOfId } : {}) };
    await this.collections.posts.updateOne({ _id: post.tweetId }, { $setOnInsert: fields }, { upsert: true });
  }

  async postsBy(authorIds: string[], range: IdRange, limit: number): Promise<Post[]> {
    if (authorIds.length === 0) return [];
    const docs = await this.collections.posts
      .find({ authorId: { $in: unique(authorIds) }, ...idFilter(range) })
      .sort({ _id: -1 })
      .limit(limit)
      .toArray();
    return docs.map(toPost);
  }

  async retweetsOf(tweetIds: string[]): Promise<string[]> {
    if (tweetIds.length === 0) return [];
    const docs = await this.collections.posts.find({ retweetOfId: { $in: unique(tweetIds) } }, { projection: { _id: 1 } }).toArray();
    return docs.map((d) => d._id);
  }

  async removePosts(tweetIds: string[]): Promise<void> {
    if (tweetIds.length > 0) await this.collections.posts.deleteMany({ _id: { $in: unique(tweetIds) } });
  }

  async removePostsBy(authorId: string): Promise<string[]> {
    const ids = (await this.collections.posts.find({ authorId }, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
    await this.removePosts(ids);
    return ids;
  }

  async trimPosts(authorId: string, keep: number): Promise<void> {
    const oldestKept = await this.collections.posts.find({ authorId }, { projection: { _id: 1 } }).sort({ _id: -1 }).skip(keep - 1).limit(1).next();
    if (oldestKept) await this.collections.posts.deleteMany({ authorId, _id: { $lt: oldestKept._id } });
  }

  /**
   * One unordered bulk write of upserts keyed by owner and tweet, so a replayed batch changes
   * nothing. The owners that gained entries have their counts raised in a second bulk write, and
   * only those past length plus slack are trimmed, one query each: trimming is paid once per
   * `timelineSlack` inserts, not on every one.
   */
  async addEntries(entries: Entry[]): Promise<void> {
    if (entries.length === 0) return;
    const result = await this.collections.entries.bulkWrite(
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
    const grown = new Map<string, number>();
    for (const key of Object.values(result.upsertedIds) as string[]) {
      const ownerId = ownerOfEntryKey(key);
      grown.set(ownerId, (grown.get(ownerId) ?? 0) + 1);
    }
    if (grown.size === 0) return;
    await this.collections.sizes.bulkWrite(
      [...grown].map(([ownerId, added]): AnyBulkWriteOperation<TimelineSizeDocument> => ({
        updateOne: { filter: { _id: ownerId }, update: { $inc: { size: added } }, upsert: true },
      })),
      { ordered: false },
    );
    const overfull = await this.collections.sizes.find({ _id: { $in: [...grown.keys()] }, size: { $gt: this.trimAbove } }).toArray();
    for (const { _id: ownerId } of overfull) await this.trim(ownerId);
  }

  /** Cuts the timeline back to its newest `timelineLength` entries and records its true size. */
  private async trim(ownerId: string): Promise<void> {
    const oldestKept = await this.collections.entries
      .find({ _id: keyRange(ownerId) }, { projection: { _id: 1 } })
      .sort({ _id: -1 })
      .skip(this.timelineLength - 1)
      .limit(1)
      .next();
    if (oldestKept) await this.collections.entries.deleteMany({ _id: { $gt: `${ownerId}:`, $lt: oldestKept._id } });
    // Deletions elsewhere (tweets, unfollows) leave counts too high; recount when there was less to cut.
    const size = oldestKept ? this.timelineLength : await this.collections.entries.countDocuments({ _id: keyRange(ownerId) });
    await this.collections.sizes.updateOne({ _id: ownerId }, { $set: { size } });
  }

  async entries(ownerId: string, range: IdRange, limit: number): Promise<Entry[]> {
    const docs = await this.collections.entries.find({ _id: keyRange(ownerId, range) }).sort({ _id: -1 }).limit(limit).toArray();
    return docs.map(toEntry);
  }

  async removeEntriesOf(tweetIds: string[]): Promise<void> {
    if (tweetIds.length > 0) await this.collections.entries.deleteMany({ tweetId: { $in: unique(tweetIds) } });
  }

  async removeEntriesBy(authorId: string, ownerId?: string): Promise<void> {
    await this.collections.entries.deleteMany(ownerId === undefined ? { authorId } : { authorId, ownerId });
  }

  async removeTimeline(ownerId: string): Promise<void> {
    await this.collections.entries.deleteMany({ _id: keyRange(ownerId) });
    await this.collections.sizes.deleteOne({ _id: ownerId });
  }

  /**
   * A conditional upsert: it matches the pair only if the recorded version is not newer. When a
   * newer one is recorded, nothing matches and the upsert's insert collides with the existing
   * `_id`: the duplicate-key error is the answer "stale", and nothing changed.
   */
  async applyFollow(change: FollowChange): Promise<boolean> {
    const version = followVersion(change);
    try {
      await this.collections.follows.updateOne(
        { _id: followKey(change.followerId, change.followeeId), version: { $lte: version } },
        { $set: { followerId: change.followerId, followeeId: change.followeeId, following: change.following, version } },
        { upsert: true },
      );
      return true;
    } catch (error) {
      if (duplicateKeyIndex(error) !== undefined) return false;
      throw error;
    }
  }

  async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
    return (await this.collections.follows.countDocuments({ _id: followKey(followerId, followeeId), following: true }, { limit: 1 })) > 0;
  }

  async followees(followerId: string): Promise<string[]> {
    const docs = await this.collections.follows.find({ _id: keyRange(followerId), following: true }, { projection: { followeeId: 1 } }).toArray();
    return docs.map((d) => d.followeeId);
  }

  async followersAmong(followeeId: string, candidateIds: string[]): Promise<string[]> {
    if (candidateIds.length === 0) return [];
    const keys = unique(candidateIds).map((id) => followKey(id, followeeId));
    const docs = await this.collections.follows.find({ _id: { $in: keys }, following: true }, { projection: { followerId: 1 } }).toArray();
    return docs.map((d) => d.followerId);
  }

  async removeFollowsOf(userId: string): Promise<void> {
    await this.collections.follows.deleteMany({ _id: keyRange(userId) });
    await this.collections.follows.deleteMany({ followeeId: userId });
  }

  async celebrity(authorId: string): Promise<Celebrity | undefined> {
    const doc = await this.collections.celebrities.findOne({ _id: authorId });
    return doc ? { authorId: doc._id, since: doc.since } : undefined;
  }

  async markCelebrity(authorId: string, since: string): Promise<void> {
    await this.collections.celebrities.updateOne({ _id: authorId }, { $min: { since } }, { upsert: true });
  }

  async unmarkCelebrity(authorId: string): Promise<void> {
    await this.collections.celebrities.deleteOne({ _id: authorId });
  }

  async celebritiesAmong(authorIds: string[]): Promise<string[]> {
    if (authorIds.length === 0) return [];
    const docs = await this.collections.celebrities.find({ _id: { $in: unique(authorIds) } }, { projection: { _id: 1 } }).toArray();
    return docs.map((d) => d._id);
  }

  async markTweetsDeleted(tweetIds: string[], at: Date): Promise<void> {
    await this.addTombstones(tweetIds.map((id) => `tweet:${id}`), at);
  }

  async markUserDeleted(userId: string, at: Date): Promise<void> {
    await this.addTombstones([`user:${userId}`], at);
  }

  private async addTombstones(keys: string[], at: Date): Promise<void> {
    if (keys.length === 0) return;
    await this.collections.tombstones.bulkWrite(
      keys.map((key) => ({ updateOne: { filter: { _id: key }, update: { $setOnInsert: { deletedAt: at } }, upsert: true } })),
      { ordered: false },
    );
  }

  async findTombstones(ids: { tweetIds: string[]; userIds: string[] }) {
    const keys = [...unique(ids.tweetIds).map((id) => `tweet:${id}`), ...unique(ids.userIds).map((id) => `user:${id}`)];
    if (keys.length === 0) return { tweetIds: [], userIds: [] };
    const found = (await this.collections.tombstones.find({ _id: { $in: keys } }, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
    return {
      tweetIds: found.filter((key) => key.startsWith("tweet:")).map((key) => key.slice("tweet:".length)),
      userIds: found.filter((key) => key.startsWith("user:")).map((key) => key.slice("user:".length)),
    };
  }

  async fanOutProgress(tweetId: string): Promise<string | undefined> {
    return (await this.collections.progress.findOne({ _id: tweetId }))?.resumeToken;
  }

  async saveFanOutProgress(tweetId: string, resumeToken: string, at: Date): Promise<void> {
    await this.collections.progress.updateOne({ _id: tweetId }, { $set: { resumeToken, updatedAt: at } }, { upsert: true });
  }

  async clearFanOutProgress(tweetIds: string[]): Promise<void> {
    if (tweetIds.length > 0) await this.collections.progress.deleteMany({ _id: { $in: unique(tweetIds) } });
  }

  async forgetBefore(cutoff: Date): Promise<void> {
    await this.collections.tombstones.deleteMany({ deletedAt: { $lt: cutoff } });
    await this.collections.progress.deleteMany({ updatedAt: { $lt: cutoff } });
  }
}
