import type { BusMessage } from "@chirp/kit";
import { duplicateKeyIndex, ensureIndexes, MongoOutboxStore, OUTBOX_INDEX, storedMessages, type WithOutbox } from "@chirp/kit/mongo";
import type { Collection, Db, Filter } from "mongodb";
import type { Follow, UserStatus } from "../domain/model.js";
import type { GraphRepository } from "../domain/ports.js";
import { edgeKey } from "./edge-key.js";

/** One per (follower, followee) pair, `_id` = edgeKey: a relationship and the events announcing its changes. */
interface EdgeDocument extends WithOutbox {
  followerId: string;
  followeeId: string;
  /** False once the relationship ended: the record then stays only until its events are relayed. */
  active: boolean;
  since: string;
  followedAt: Date;
}

/** A user the users service announced; `deleted` is a tombstone kept for good (ids are never reused). */
interface KnownUserDocument {
  _id: string;
  deleted: boolean;
}

/**
 * Lists, counts and follower-id batches all read one of these two ranges: the active edges of one
 * user, newest relationship first. Counting is a count over the same range.
 */
const FOLLOWERS_INDEX = "followers_newest_first";
const FOLLOWING_INDEX = "following_newest_first";

const FOLLOW_FIELDS = { _id: 0, followerId: 1, followeeId: 1, since: 1, followedAt: 1 } as const;

const toFollow = (doc: Pick<EdgeDocument, "followerId" | "followeeId" | "since" | "followedAt">): Follow => ({
  followerId: doc.followerId,
  followeeId: doc.followeeId,
  since: doc.since,
  followedAt: doc.followedAt,
});

/** Follow edges in the `edges` collection and known users in `known_users`, in the service's own database. */
export class MongoGraphRepository implements GraphRepository {
  readonly outbox: MongoOutboxStore<EdgeDocument>;

  constructor(
    private readonly edges: Collection<EdgeDocument>,
    private readonly users: Collection<KnownUserDocument>,
  ) {
    this.outbox = new MongoOutboxStore(edges, { active: false });
  }

  static async open(db: Db): Promise<MongoGraphRepository> {
    const edges = db.collection<EdgeDocument>("edges");
    await ensureIndexes(edges, [
      { key: { followeeId: 1, active: 1, since: -1 }, name: FOLLOWERS_INDEX },
      { key: { followerId: 1, active: 1, since: -1 }, name: FOLLOWING_INDEX },
      OUTBOX_INDEX,
    ]);
    return new MongoGraphRepository(edges, db.collection<KnownUserDocument>("known_users"));
  }

  async follow(follow: Follow, event: BusMessage): Promise<boolean> {
    try {
      // Matches a missing or inactive edge only, so exactly one of any concurrent follows flips it.
      const _id = edgeKey(follow.followerId, follow.followeeId);
      await this.outbox.exclusive(_id, () =>
        this.edges.updateOne(
          { _id, active: { $ne: true } },
          {
            $set: { followerId: follow.followerId, followeeId: follow.followeeId, active: true, since: follow.since, followedAt: follow.followedAt },
            $push: { outbox: { $each: storedMessages([event]) } },
          },
          { upsert: true },
        ),
      );
      return true;
    } catch (error) {
      // No inactive edge matched and none could be inserted: the relationship already holds.
      if (duplicateKeyIndex(error) !== undefined) return false;
      throw error;
    }
  }

  async unfollow(followerId: string, followeeId: string, event: BusMessage): Promise<boolean> {
    const _id = edgeKey(followerId, followeeId);
    const result = await this.outbox.exclusive(_id, () =>
      this.edges.updateOne({ _id, active: true }, { $set: { active: false }, $push: { outbox: { $each: storedMessages([event]) } } }),
    );
    return result.modifiedCount === 1;
  }

  async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
    return (await this.edges.countDocuments({ _id: edgeKey(followerId, followeeId), active: true }, { limit: 1 })) > 0;
  }

  listFollowers(followeeId: string, before: string | undefined, limit: number): Promise<Follow[]> {
    return this.list({ followeeId, active: true }, before, limit);
  }

  listFollowing(followerId: string, before: string | undefined, limit: number): Promise<Follow[]> {
    return this.list({ followerId, active: true }, before, limit);
  }

  countFollowers(followeeId: string): Promise<number> {
    return this.edges.countDocuments({ followeeId, active: true });
  }

  countFollowing(followerId: string): Promise<number> {
    return this.edges.countDocuments({ followerId, active: true });
  }

  async rememberUser(userId: string): Promise<void> {
    try {
      await this.users.updateOne({ _id: userId }, { $setOnInsert: { deleted: false } }, { upsert: true });
    } catch (error) {
      // A concurrent delivery inserted the record first; it is there either way.
      if (duplicateKeyIndex(error) === undefined) throw error;
    }
  }

  async forgetUser(userId: string): Promise<void> {
    const tombstone = () => this.users.updateOne({ _id: userId }, { $set: { deleted: true } }, { upsert: true });
    try {
      await tombstone();
    } catch (error) {
      // A concurrent insert of the same record won the race; now the update finds it.
      if (duplicateKeyIndex(error) === undefined) throw error;
      await tombstone();
    }
  }

  async userStatus(userId: string): Promise<UserStatus> {
    const user = await this.users.findOne({ _id: userId });
    return user ? (user.deleted ? "deleted" : "live") : "unknown";
  }

  async removeFollowsOf(userId: string): Promise<void> {
    const touching: Filter<EdgeDocument> = { $or: [{ followerId: userId }, { followeeId: userId }] };
    await this.edges.updateMany({ $and: [touching, { active: true }] }, { $set: { active: false } });
    // Ended edges with nothing left to relay go now; the rest go when the relay drains them.
    await this.edges.deleteMany({ $and: [touching, { active: false }, { "outbox.id": { $exists: false } }] });
  }

  private async list(filter: Filter<EdgeDocument>, before: string | undefined, limit: number): Promise<Follow[]> {
    const docs = await this.edges
      .find(before === undefined ? filter : { $and: [filter, { since: { $lt: before } }] }, { projection: FOLLOW_FIELDS })
      .sort({ since: -1 })
      .limit(limit)
      .toArray();
    return docs.map(toFollow);
  }
}
