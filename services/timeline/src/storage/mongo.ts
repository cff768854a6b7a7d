import { countBy, duplicateKeyIndex, ensureIndexes } from "@chirp/kit/mongo";
import type { Collection, Db, Filter, UpdateFilter } from "mongodb";
import { changeVersion, unique, type Celebrity, type Engagement, type Entry, type FollowChange, type IdRange, type LikeChange, type Post, type ProfileCard, type TweetCard } from "../domain/model.js";
import { timelineSlack, type TimelineStore } from "../domain/ports.js";

interface PostDocument {
  /** The tweet id. */
  _id: string;
  authorId: string;
  /** Only on retweets, so the sparse index holds retweets alone. */
  retweetOfId?: string;
}

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

interface FollowDocument {
  /** `<follower id>:<followee id>`. */
  _id: string;
  followerId: string;
  followeeId: string;
  following: boolean;
  /** `changeVersion` of the change recorded; an unfollow stays as a record of its version. */
  version: string;
}

interface CardDocument {
  /** The tweet id. */
  _id: string;
  authorId: string;
  text: string;
  createdAt: Date;
  tags?: string[];
  mentions?: string[];
  /** Only on replies and retweet entries, so the sparse indexes hold those alone. */
  replyToId?: string;
  retweetOfId?: string;
}

interface LikeDocument {
  /** `<tweet id>:<user id>`. */
  _id: string;
  tweetId: string;
  userId: string;
  liking: boolean;
  /** `changeVersion` of the change recorded; an unlike stays as a record of its version. */
  version: string;
}

interface ProfileDocument {
  /** The user id. */
  _id: string;
  username: string;
  displayName: string;
  bio: string;
  avatarUrl: string;
  createdAt: Date;
  /** The profile's `updatedAt`: a user's newest profile is the one kept. */
  version: Date;
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

const entryKey = (ownerId: string, tweetId: string) => `${ownerId}:${tweetId}`;
const followKey = (followerId: string, followeeId: string) => `${followerId}:${followeeId}`;
const likeKey = (tweetId: string, userId: string) => `${tweetId}:${userId}`;

const toProfile = (doc: ProfileDocument): ProfileCard => ({
  userId: doc._id,
  username: doc.username,
  displayName: doc.displayName,
  bio: doc.bio,
  avatarUrl: doc.avatarUrl,
  createdAt: doc.createdAt,
  updatedAt: doc.version,
});

const toCard = (doc: CardDocument): TweetCard => ({
  tweetId: doc._id,
  authorId: doc.authorId,
  text: doc.text,
  createdAt: doc.createdAt,
  // FerretDB drops an empty array from an upsert's $setOnInsert.
  tags: doc.tags ?? [],
  mentions: doc.mentions ?? [],
  ...(doc.replyToId ? { replyToId: doc.replyToId } : {}),
  ...(doc.retweetOfId ? { retweetOfId: doc.retweetOfId } : {}),
});

/** The range as a condition on an id field; nothing when it is open both ways. */
function rangeOn<F extends string>(field: F, range: IdRange): Partial<Record<F, { $gt?: string; $lt?: string }>> {
  if (range.before === undefined && range.after === undefined) return {};
  const bounds = { ...(range.after !== undefined ? { $gt: range.after } : {}), ...(range.before !== undefined ? { $lt: range.before } : {}) };
  return { [field]: bounds } as Partial<Record<F, { $gt?: string; $lt?: string }>>;
}

const toPost = (doc: PostDocument | EntryDocument): Post => ({
  tweetId: "tweetId" in doc ? doc.tweetId : doc._id,
  authorId: doc.authorId,
  ...(doc.retweetOfId ? { retweetOfId: doc.retweetOfId } : {}),
});

const toEntry = (doc: EntryDocument): Entry => ({ ...toPost(doc), ownerId: doc.ownerId });

/**
 * Records a change (of a pair's follow or like, of a user's profile) unless a newer one is
 * recorded: a conditional upsert that matches the document only if its recorded version is not
 * newer. When nothing matches, the upsert's insert collides with the existing `_id`. That alone
 * does not say "stale": two changes of a new pair applied at once (by two consumers) both find no
 * document and both insert, and the older may win the insert. So a collision is followed by the
 * same conditional update without the insert, which now finds the document: it applies the
 * change if it is newer, and matching nothing is the answer "stale" (false).
 * `firstKept` fields are written only by the change that creates the document.
 */
async function recordUnlessNewer<D extends { _id: string; version: string | Date }, K extends keyof D = never>(
  collection: Collection<D>,
  _id: string,
  fields: Omit<D, "_id" | "version" | K>,
  version: D["version"],
  firstKept?: Pick<D, K>,
): Promise<boolean> {
  const unlessNewer = { _id, version: { $lte: version } } as Filter<D>;
  const update = { $set: { ...fields, version }, ...(firstKept && { $setOnInsert: firstKept }) } as UpdateFilter<D>;
  try {
    await collection.updateOne(unlessNewer, update, { upsert: true });
    return true;
  } catch (error) {
    if (duplicateKeyIndex(error) === undefined) throw error;
  }
  return (await collection.updateOne(unlessNewer, update)).matchedCount === 1;
}

/**
 * The timeline service's database. Collections and the indexes they are read by:
 * - `entries`: materialised home timelines; `ownerId, tweetId` (a page: one owner, a tweet id
 *   range, newest first), `tweetId` (a deleted tweet leaves every timeline), `authorId, ownerId`
 *   (unfollow, deleted user);
 * - `timeline_sizes`: per-owner entry counts that tell when to trim;
 * - `posts`: recent posts per author; `authorId, _id` (backfill, celebrity merge), sparse
 *   `retweetOfId` (retweets of a deleted tweet);
 * - `follows`: the follows projection; `followerId` (whom a reader follows), `followeeId`
 *   (a deleted user's followers), `_id` (does this reader follow that author);
 * - `cards`: the tweets projection; `_id` (a page's tweets), sparse `retweetOfId, authorId`
 *   (retweet counts, "did I retweet it"), sparse `replyToId` (reply counts);
 * - `likes`: the likes projection; `tweetId, liking` (like counts, a deleted tweet's likes),
 *   `userId` (a deleted user's likes), `_id` (do I like these);
 * - `profiles`: the profiles projection; `_id` (a page's people);
 * - `celebrities`, `tombstones` (`deletedAt` for pruning), `fanout_progress` (`updatedAt`).
 */
export class MongoTimelineStore implements TimelineStore {
  private readonly trimAbove: number;
  private readonly collections: {
    entries: Collection<EntryDocument>;
    sizes: Collection<TimelineSizeDocument>;
    posts: Collection<PostDocument>;
    follows: Collection<FollowDocument>;
    cards: Collection<CardDocument>;
    likes: Collection<LikeDocument>;
    profiles: Collection<ProfileDocument>;
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
      cards: db.collection("cards"),
      likes: db.collection("likes"),
      profiles: db.collection("profiles"),
      celebrities: db.collection("celebrities"),
      tombstones: db.collection("tombstones"),
      progress: db.collection("fanout_progress"),
    };
  }

  static async open(db: Db, timelineLength: number): Promise<MongoTimelineStore> {
    const store = new MongoTimelineStore(db, timelineLength);
    await ensureIndexes(store.collections.entries, [
      { key: { ownerId: 1, tweetId: -1 }, name: "entries_by_owner" },
      { key: { tweetId: 1 }, name: "entries_by_tweet" },
      { key: { authorId: 1, ownerId: 1 }, name: "entries_by_author" },
    ]);
    await ensureIndexes(store.collections.posts, [
      { key: { authorId: 1, _id: -1 }, name: "posts_by_author" },
      { key: { retweetOfId: 1 }, name: "posts_by_original", sparse: true },
    ]);
    await ensureIndexes(store.collections.follows, [
      { key: { followerId: 1 }, name: "follows_by_follower" },
      { key: { followeeId: 1 }, name: "follows_by_followee" },
    ]);
    await ensureIndexes(store.collections.cards, [
      { key: { retweetOfId: 1, authorId: 1 }, name: "cards_by_original", sparse: true },
      { key: { replyToId: 1 }, name: "cards_by_parent", sparse: true },
    ]);
    await ensureIndexes(store.collections.likes, [
      { key: { tweetId: 1, liking: 1 }, name: "likes_by_tweet" },
      { key: { userId: 1 }, name: "likes_by_user" },
    ]);
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
      .find({ authorId: { $in: unique(authorIds) }, ...rangeOn("_id", range) })
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
   * nothing. The owners that gained entries have their counts raised, and only those past length
   * plus slack are trimmed, one query each: trimming is paid once per `timelineSlack` inserts per
   * timeline, not on every insert.
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
    for (const [added, ownerIds] of byIncrease) await this.collections.sizes.updateMany({ _id: { $in: ownerIds } }, { $inc: { size: added } });
    const sizes = new Map((await this.collections.sizes.find({ _id: { $in: [...grown.keys()] } }).toArray()).map((c) => [c._id, c.size]));
    const uncounted = [...grown].filter(([ownerId]) => !sizes.has(ownerId)).map(([ownerId, added]) => ({ _id: ownerId, size: added }));
    if (uncounted.length > 0) {
      // Timelines new to the store: what was just added is all they hold.
      await this.collections.sizes.insertMany(uncounted, { ordered: false }).catch((error: unknown) => {
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
    const oldestKept = await this.collections.entries
      .find({ ownerId }, { projection: { tweetId: 1 } })
      .sort({ tweetId: -1 })
      .skip(this.timelineLength - 1)
      .limit(1)
      .next();
    if (oldestKept) await this.collections.entries.deleteMany({ ownerId, tweetId: { $lt: oldestKept.tweetId } });
    // Deletions elsewhere (tweets, unfollows) leave counts too high; recount when there was less to cut.
    const size = oldestKept ? this.timelineLength : await this.collections.entries.countDocuments({ ownerId });
    await this.collections.sizes.updateOne({ _id: ownerId }, { $set: { size } });
  }

  async entries(ownerId: string, range: IdRange, limit: number): Promise<Entry[]> {
    const docs = await this.collections.entries
      .find({ ownerId, ...rangeOn("tweetId", range) })
      .sort({ tweetId: -1 })
      .limit(limit)
      .toArray();
    return docs.map(toEntry);
  }

  async removeEntriesOf(tweetIds: string[]): Promise<void> {
    if (tweetIds.length > 0) await this.collections.entries.deleteMany({ tweetId: { $in: unique(tweetIds) } });
  }

  async removeEntriesBy(authorId: string, ownerId?: string): Promise<void> {
    await this.collections.entries.deleteMany(ownerId === undefined ? { authorId } : { authorId, ownerId });
  }

  async removeTimeline(ownerId: string): Promise<void> {
    await this.collections.entries.deleteMany({ ownerId });
    await this.collections.sizes.deleteOne({ _id: ownerId });
  }

  async applyFollow(change: FollowChange): Promise<boolean> {
    const { followerId, followeeId, following } = change;
    return recordUnlessNewer(this.collections.follows, followKey(followerId, followeeId), { followerId, followeeId, following }, changeVersion(change));
  }

  async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
    return (await this.collections.follows.countDocuments({ _id: followKey(followerId, followeeId), following: true }, { limit: 1 })) > 0;
  }

  async followees(followerId: string): Promise<string[]> {
    const docs = await this.collections.follows.find({ followerId, following: true }, { projection: { followeeId: 1 } }).toArray();
    return docs.map((d) => d.followeeId);
  }

  async followersAmong(followeeId: string, candidateIds: string[]): Promise<string[]> {
    if (candidateIds.length === 0) return [];
    const keys = unique(candidateIds).map((id) => followKey(id, followeeId));
    const docs = await this.collections.follows.find({ _id: { $in: keys }, following: true }, { projection: { followerId: 1 } }).toArray();
    return docs.map((d) => d.followerId);
  }

  async removeFollowsOf(userId: string): Promise<void> {
    await this.collections.follows.deleteMany({ followerId: userId });
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

  async saveCard(card: TweetCard): Promise<void> {
    const { tweetId, replyToId, retweetOfId, ...content } = card;
    const fields = { ...content, ...(replyToId ? { replyToId } : {}), ...(retweetOfId ? { retweetOfId } : {}) };
    await this.collections.cards.updateOne({ _id: tweetId }, { $setOnInsert: fields }, { upsert: true });
  }

  async cards(tweetIds: string[]): Promise<TweetCard[]> {
    if (tweetIds.length === 0) return [];
    return (await this.collections.cards.find({ _id: { $in: unique(tweetIds) } }).toArray()).map(toCard);
  }

  async removeCards(tweetIds: string[]): Promise<void> {
    if (tweetIds.length === 0) return;
    await this.collections.cards.deleteMany({ _id: { $in: unique(tweetIds) } });
    await this.collections.likes.deleteMany({ tweetId: { $in: unique(tweetIds) } });
  }

  async applyLike(change: LikeChange): Promise<void> {
    const { tweetId, userId, liking } = change;
    await recordUnlessNewer(this.collections.likes, likeKey(tweetId, userId), { tweetId, userId, liking }, changeVersion(change));
  }

  async removeLikesBy(userId: string): Promise<void> {
    await this.collections.likes.deleteMany({ userId });
  }

  /** Three grouped counts for the whole batch, each answered from its index. */
  async engagement(tweetIds: string[]): Promise<Map<string, Engagement>> {
    const ids = unique(tweetIds);
    const [likes, retweets, replies] = await Promise.all([
      countBy(this.collections.likes, "tweetId", ids, { liking: true }),
      countBy(this.collections.cards, "retweetOfId", ids),
      countBy(this.collections.cards, "replyToId", ids),
    ]);
    return new Map(ids.map((id) => [id, { likeCount: likes.get(id) ?? 0, retweetCount: retweets.get(id) ?? 0, replyCount: replies.get(id) ?? 0 }]));
  }

  async reactionsOf(userId: string, tweetIds: string[]) {
    const ids = unique(tweetIds);
    if (ids.length === 0) return { liked: new Set<string>(), retweeted: new Set<string>() };
    const [liked, retweets] = await Promise.all([
      this.collections.likes.find({ _id: { $in: ids.map((id) => likeKey(id, userId)) }, liking: true }, { projection: { tweetId: 1 } }).toArray(),
      this.collections.cards.find({ retweetOfId: { $in: ids }, authorId: userId }, { projection: { retweetOfId: 1 } }).toArray(),
    ]);
    return { liked: new Set(liked.map((d) => d.tweetId)), retweeted: new Set(retweets.map((d) => d.retweetOfId!)) };
  }

  async saveProfile(profile: ProfileCard): Promise<void> {
    const { userId, createdAt, updatedAt, username, displayName, bio, avatarUrl } = profile;
    await recordUnlessNewer(this.collections.profiles, userId, { username, displayName, bio, avatarUrl }, updatedAt, { createdAt });
  }

  async profiles(userIds: string[]): Promise<ProfileCard[]> {
    if (userIds.length === 0) return [];
    return (await this.collections.profiles.find({ _id: { $in: unique(userIds) } }).toArray()).map(toProfile);
  }

  async removeProfile(userId: string): Promise<void> {
    await this.collections.profiles.deleteOne({ _id: userId });
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
