import type { BusMessage, OutboxStore, PendingMessage } from "@chirp/kit";
import { countBy, duplicateKeyIndex, ensureIndexes, MongoOutboxStore, OUTBOX_INDEX, storedMessages, type WithOutbox } from "@chirp/kit/mongo";
import type { Collection, Db, Filter, IndexDescription } from "mongodb";
import { type Like, type Tweet, type TweetCounts, type TweetFilter } from "../domain/model.js";
import type { TweetRepository } from "../domain/ports.js";
import { isLikeKey, likeKey } from "./like-key.js";

interface TweetDocument extends WithOutbox {
  authorId: string;
  text: string;
  createdAt: Date;
  replyToId?: string;
  retweetOfId?: string;
  tags: string[];
  mentions: string[];
  /** The client's key as given. */
  idempotencyKey?: string;
  /** `<authorId>:<key>`, unique; only live tweets have one, so a deleted tweet's key is free again. */
  authorIdempotencyKey?: string;
  /** `<authorId>:<retweetOfId>`, unique: one live retweet per user and original. */
  retweetKey?: string;
  /** Set on a tombstone, which lives until its TweetDeleted event is relayed. */
  deletedAt?: Date;
}

interface LikeDocument extends WithOutbox {
  /** `<tweetId>:<userId>`: a user likes a tweet at most once, and "do I like these?" is an _id lookup. */
  _id: string;
  tweetId: string;
  userId: string;
  /** A ULID: likes list newest first by it. */
  likeId: string;
  likedAt: Date;
  /**
   * Set on a tombstone, which lives until its TweetUnliked event is relayed: deleting the like at
   * once would delete the event with it. Liking again revives the tombstone as a new like.
   */
  unlikedAt?: Date;
}

/** A deleted account, recorded for good (ids are never reused) before its clean-up sweeps. */
interface DeletedUserDocument {
  _id: string;
  deletedAt: Date;
}

const keyOf = (authorId: string, key: string) => `${authorId}:${key}`;
const LIVE: Filter<TweetDocument> = { deletedAt: { $exists: false } };
const LIVE_LIKE: Filter<LikeDocument> = { unlikedAt: { $exists: false } };
const UNLIKED: Filter<LikeDocument> = { unlikedAt: { $exists: true } };
const WITHOUT_OUTBOX = { projection: { outbox: 0 } } as const;

/**
 * Every query has an index whose prefix is its equality fields and whose next key is its sort or
 * range, so it scans just the index range of its answer (plus any tombstones awaiting relay, and
 * for author searches the author's retweet entries). Ids are ULIDs: `_id` order is time order and
 * a time range is an `_id` range, so a search or count by time alone uses the `_id` index.
 *
 * The unique keys are single fields holding both parts, `<authorId>:<…>`, present only while
 * they must be unique: a compound unique index on (authorId, key) would also index every tweet
 * without a key, and collide on them (MongoDB's sparse skips only documents missing every indexed
 * field, and FerretDB has no partial indexes).
 */
const TWEET_INDEXES: IndexDescription[] = [
  // ListUserTweets, search and count by author (with or without a time range), account clean-up.
  { key: { authorId: 1, _id: -1 }, name: "author_newest" },
  // Search and count by tag (with or without a time range); tags is an array, so multikey.
  { key: { tags: 1, _id: -1 }, name: "tag_newest" },
  // ListReplies and reply counts.
  { key: { replyToId: 1, _id: 1 }, name: "replies_oldest" },
  // Retweet counts and removing the retweets of a deleted post.
  { key: { retweetOfId: 1, _id: -1 }, name: "retweets_newest" },
  // One live retweet per user and original, and "have I retweeted these?".
  { key: { retweetKey: 1 }, name: "retweet_unique", unique: true, sparse: true },
  { key: { authorIdempotencyKey: 1 }, name: "idempotency_key_unique", unique: true, sparse: true },
  OUTBOX_INDEX,
];

const LIKE_INDEXES: IndexDescription[] = [
  // ListLikers, like counts and removing the likes of a deleted post.
  { key: { tweetId: 1, likeId: -1 }, name: "tweet_likes_newest" },
  // Removing a deleted account's likes.
  { key: { userId: 1 }, name: "user_likes" },
  OUTBOX_INDEX,
];

function toTweet(doc: TweetDocument): Tweet {
  return {
    id: doc._id,
    authorId: doc.authorId,
    text: doc.text,
    createdAt: doc.createdAt,
    ...(doc.replyToId !== undefined && { replyToId: doc.replyToId }),
    ...(doc.retweetOfId !== undefined && { retweetOfId: doc.retweetOfId }),
    tags: doc.tags,
    mentions: doc.mentions,
    ...(doc.idempotencyKey !== undefined && { idempotencyKey: doc.idempotencyKey }),
  };
}

function toDocument(tweet: Tweet, events: BusMessage[]): TweetDocument {
  return {
    _id: tweet.id,
    authorId: tweet.authorId,
    text: tweet.text,
    createdAt: tweet.createdAt,
    ...(tweet.replyToId !== undefined && { replyToId: tweet.replyToId }),
    ...(tweet.retweetOfId !== undefined && { retweetOfId: tweet.retweetOfId, retweetKey: keyOf(tweet.authorId, tweet.retweetOfId) }),
    tags: tweet.tags,
    mentions: tweet.mentions,
    ...(tweet.idempotencyKey !== undefined && {
      idempotencyKey: tweet.idempotencyKey,
      authorIdempotencyKey: keyOf(tweet.authorId, tweet.idempotencyKey),
    }),
    outbox: storedMessages(events),
  };
}

const toLike = (doc: LikeDocument): Like => ({ id: doc.likeId, tweetId: doc.tweetId, userId: doc.userId, likedAt: doc.likedAt });

/** Posts and replies matching the filter; never retweet entries, which have no text or tags of their own. */
function searchQuery(filter: TweetFilter, before: string | undefined): Filter<TweetDocument> {
  const upper = [filter.toId, before].filter((id) => id !== undefined).sort()[0];
  const idRange = { ...(filter.fromId !== undefined && { $gte: filter.fromId }), ...(upper !== undefined && { $lt: upper }) };
  return {
    ...LIVE,
    retweetOfId: { $exists: false },
    ...(filter.tag !== undefined && { tags: filter.tag }),
    ...(filter.authorId !== undefined && { authorId: filter.authorId }),
    ...(Object.keys(idRange).length > 0 && { _id: idRange }),
  };
}

/**
 * The one outbox the relay reads, over the two collections that keep messages in their documents.
 * Each pending() takes up to `limit` owners from both, so a backlog of one never holds up the other.
 */
class TweetsAndLikesOutbox implements OutboxStore {
  constructor(
    private readonly tweets: OutboxStore,
    private readonly likes: OutboxStore,
  ) {}

  async pending(limit: number): Promise<PendingMessage[]> {
    const [tweets, likes] = await Promise.all([this.tweets.pending(limit), this.likes.pending(limit)]);
    return [...tweets, ...likes];
  }

  markPublished(pending: PendingMessage): Promise<void> {
    return (isLikeKey(pending.ownerId) ? this.likes : this.tweets).markPublished(pending);
  }
}

/**
 * Tweets in the `tweets` collection, likes in `likes` and deleted accounts in `deleted_users`, in
 * the service's own database. A like's tombstone, like a tweet's, is purged once its events are
 * relayed.
 */
export class MongoTweetRepository implements TweetRepository {
  readonly outbox: OutboxStore;
  /** Each write to a tweet or like takes its turn with the relay marking it (see `MongoOutboxStore.exclusive`). */
  private readonly tweetsOutbox: MongoOutboxStore<TweetDocument>;
  private readonly likesOutbox: MongoOutboxStore<LikeDocument>;

  constructor(
    private readonly tweets: Collection<TweetDocument>,
    private readonly likes: Collection<LikeDocument>,
    private readonly deletedUsers: Collection<DeletedUserDocument>,
  ) {
    this.tweetsOutbox = new MongoOutboxStore(tweets, { deletedAt: { $exists: true } });
    this.likesOutbox = new MongoOutboxStore(likes, UNLIKED);
    this.outbox = new TweetsAndLikesOutbox(this.tweetsOutbox, this.likesOutbox);
  }

  static async open(db: Db): Promise<MongoTweetRepository> {
    const tweets = db.collection<TweetDocument>("tweets");
    const likes = db.collection<LikeDocument>("likes");
    await ensureIndexes(tweets, TWEET_INDEXES);
    await ensureIndexes(likes, LIKE_INDEXES);
    return new MongoTweetRepository(tweets, likes, db.collection<DeletedUserDocument>("deleted_users"));
  }

  async create(tweet: Tweet, events: BusMessage[]): Promise<{ tweet: Tweet; created: boolean }> {
    try {
      await this.tweets.insertOne(toDocument(tweet, events));
      return { tweet, created: true };
    } catch (error) {
      if (duplicateKeyIndex(error) === undefined) throw error;
      // Ids are fresh, so the collision is on the retweet or idempotency key (FerretDB does not
      // say which index): whichever this tweet has names the live tweet that holds it.
      const holder =
        tweet.retweetOfId !== undefined
          ? await this.findRetweet(tweet.authorId, tweet.retweetOfId)
          : tweet.idempotencyKey !== undefined
            ? await this.findByIdempotencyKey(tweet.authorId, tweet.idempotencyKey)
            : undefined;
      if (holder) return { tweet: holder, created: false };
      if (tweet.retweetOfId === undefined && tweet.idempotencyKey === undefined) throw error;
      // The holder was deleted since the insert collided with it, so the key is free again.
      return this.create(tweet, events);
    }
  }

  private async findOne(filter: Filter<TweetDocument>): Promise<Tweet | undefined> {
    const doc = await this.tweets.findOne({ ...filter, ...LIVE }, WITHOUT_OUTBOX);
    return doc ? toTweet(doc) : undefined;
  }

  private async findMany(filter: Filter<TweetDocument>, sort: Record<string, 1 | -1>, limit: number): Promise<Tweet[]> {
    const docs = await this.tweets.find({ ...filter, ...LIVE }, WITHOUT_OUTBOX).sort(sort).limit(limit).toArray();
    return docs.map(toTweet);
  }

  findById(id: string) {
    return this.findOne({ _id: id });
  }

  async findByIds(ids: string[]) {
    const docs = await this.tweets.find({ _id: { $in: ids }, ...LIVE }, WITHOUT_OUTBOX).toArray();
    return docs.map(toTweet);
  }

  findByIdempotencyKey(authorId: string, key: string) {
    return this.findOne({ authorIdempotencyKey: keyOf(authorId, key) });
  }

  findRetweet(authorId: string, originalId: string) {
    return this.findOne({ retweetKey: keyOf(authorId, originalId) });
  }

  async delete(id: string, events: BusMessage[]): Promise<boolean> {
    const result = await this.tweetsOutbox.exclusive(id, () =>
      this.tweets.updateOne(
        { _id: id, ...LIVE },
        {
          // The content goes at once; what the TweetDeleted event needs stays until it is relayed.
          $set: { deletedAt: new Date(), text: "", tags: [], mentions: [] },
          $unset: { authorIdempotencyKey: "", retweetKey: "" },
          $push: { outbox: { $each: storedMessages(events) } },
        },
      ),
    );
    return result.matchedCount === 1;
  }

  listByAuthor(authorId: string, before: string | undefined, limit: number) {
    return this.findMany({ authorId, ...(before !== undefined && { _id: { $lt: before } }) }, { _id: -1 }, limit);
  }

  listReplies(tweetId: string, after: string | undefined, limit: number) {
    return this.findMany({ replyToId: tweetId, ...(after !== undefined && { _id: { $gt: after } }) }, { _id: 1 }, limit);
  }

  listRetweetsOf(originalId: string, before: string | undefined, limit: number) {
    return this.findMany({ retweetOfId: originalId, ...(before !== undefined && { _id: { $lt: before } }) }, { _id: -1 }, limit);
  }

  async search(filter: TweetFilter, before: string | undefined, limit: number) {
    const docs = await this.tweets.find(searchQuery(filter, before), WITHOUT_OUTBOX).sort({ _id: -1 }).limit(limit).toArray();
    return docs.map(toTweet);
  }

  count(filter: TweetFilter) {
    return this.tweets.countDocuments(searchQuery(filter, undefined));
  }

  /** Three grouped counts for the whole batch: likes, live retweet entries, live direct replies. */
  async counts(tweetIds: string[]) {
    const [likes, retweets, replies] = await Promise.all([
      countBy(this.likes, "tweetId", tweetIds, LIVE_LIKE),
      countBy(this.tweets, "retweetOfId", tweetIds, LIVE),
      countBy(this.tweets, "replyToId", tweetIds, LIVE),
    ]);
    return new Map<string, TweetCounts>(
      tweetIds.map((id) => [id, { likeCount: likes.get(id) ?? 0, retweetCount: retweets.get(id) ?? 0, replyCount: replies.get(id) ?? 0 }]),
    );
  }

  async likedBy(userId: string, tweetIds: string[]) {
    const docs = await this.likes.find({ _id: { $in: tweetIds.map((id) => likeKey(id, userId)) }, ...LIVE_LIKE }, { projection: { tweetId: 1 } }).toArray();
    return new Set(docs.map((doc) => doc.tweetId));
  }

  async retweetedBy(userId: string, tweetIds: string[]) {
    const docs = await this.tweets
      .find({ retweetKey: { $in: tweetIds.map((id) => keyOf(userId, id)) } }, { projection: { retweetOfId: 1 } })
      .toArray();
    return new Set(docs.map((doc) => doc.retweetOfId!));
  }

  async addLike(like: Like, events: BusMessage[]) {
    try {
      // Revives a tombstone (its unlike's events, if still pending, stay ahead of the new like's)
      // or else inserts: the unique _id, or the atomic update of the one tombstone, lets exactly
      // one of concurrent likes by the user write.
      const _id = likeKey(like.tweetId, like.userId);
      await this.likesOutbox.exclusive(_id, () =>
        this.likes.updateOne(
          { _id, ...UNLIKED },
          {
            $set: { tweetId: like.tweetId, userId: like.userId, likeId: like.id, likedAt: like.likedAt },
            $unset: { unlikedAt: "" },
            $push: { outbox: { $each: storedMessages(events) } },
          },
          { upsert: true },
        ),
      );
      return true;
    } catch (error) {
      // No tombstone matched and the insert collided: the user likes the tweet already.
      if (duplicateKeyIndex(error) === undefined) throw error;
      return false;
    }
  }

  async removeLike(tweetId: string, userId: string, events: BusMessage[]) {
    const _id = likeKey(tweetId, userId);
    const result = await this.likesOutbox.exclusive(_id, () =>
      this.likes.updateOne({ _id, ...LIVE_LIKE }, { $set: { unlikedAt: new Date() }, $push: { outbox: { $each: storedMessages(events) } } }),
    );
    // A tombstone with nothing to relay would wait for a markPublished that never comes.
    if (result.matchedCount === 1 && events.length === 0) await this.likes.deleteOne({ _id, ...UNLIKED, "outbox.id": { $exists: false } });
    return result.matchedCount === 1;
  }

  async listLikes(tweetId: string, before: string | undefined, limit: number) {
    const docs = await this.likes
      .find({ tweetId, ...LIVE_LIKE, ...(before !== undefined && { likeId: { $lt: before } }) })
      .sort({ likeId: -1 })
      .limit(limit)
      .toArray();
    return docs.map(toLike);
  }

  /**
   * Deletes live likes even with a TweetLiked not yet relayed: the UserDeleted behind this
   * clean-up tells consumers they are gone. Tombstones stay until the relay purges them.
   */
  async removeLikesBy(userId: string) {
    await this.likes.deleteMany({ userId, ...LIVE_LIKE });
  }

  /** As `removeLikesBy`, the TweetDeleted behind it telling consumers the likes are gone. */
  async removeLikesOf(tweetId: string) {
    await this.likes.deleteMany({ tweetId, ...LIVE_LIKE });
  }

  async markUserDeleted(userId: string) {
    try {
      await this.deletedUsers.updateOne({ _id: userId }, { $setOnInsert: { deletedAt: new Date() } }, { upsert: true });
    } catch (error) {
      // A concurrent delivery inserted the record first; it is there either way.
      if (duplicateKeyIndex(error) === undefined) throw error;
    }
  }

  async isUserDeleted(userId: string) {
    return (await this.deletedUsers.countDocuments({ _id: userId }, { limit: 1 })) > 0;
  }
}
