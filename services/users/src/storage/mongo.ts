import { alreadyExists, type BusMessage } from "@chirp/kit";
import { duplicateKeyIndex, ensureIndexes, MongoOutboxStore, OUTBOX_INDEX, storedMessages, type WithOutbox } from "@chirp/kit/mongo";
import type { Collection, Db, Filter } from "mongodb";
import { emailKey, usernameKey, type Account, type AccountSessions, type ProfileChanges, type Session } from "../domain/model.js";
import type { NotUpdated, SessionStore, UserRepository } from "../domain/ports.js";

interface UserDocument extends WithOutbox {
  username: string;
  /** Lower-cased username, unique; a deleted account's is replaced so the name becomes free. */
  usernameKey: string;
  email: string;
  emailKey: string;
  passwordHash: string;
  displayName: string;
  bio: string;
  avatarUrl: string;
  roles: string[];
  createdAt: Date;
  updatedAt: Date;
  /** The account's sessions (hashes of refresh tokens, never the tokens); absent on accounts made before there were any. */
  sessions?: Session[];
  /** Grows with every write of `sessions`: the compare-and-set of saveSessions. */
  sessionsVersion?: number;
  /** Set on a tombstone, which lives until its UserDeleted event is relayed. */
  deletedAt?: Date;
}

const USERNAME_INDEX = "username_unique";
const EMAIL_INDEX = "email_unique";
const LIVE: Filter<UserDocument> = { deletedAt: { $exists: false } };
/** What reads of accounts load: neither the outbox nor the sessions, which only the session calls need. */
const ACCOUNT_ONLY = { outbox: 0, sessions: 0 } as const;
/** Sorts after every real username key ([a-z0-9_]), bounding prefix ranges and hiding tombstones. */
const AFTER_ALL_USERNAMES = "~";

function toAccount(doc: UserDocument): Account {
  return {
    id: doc._id,
    username: doc.username,
    email: doc.email,
    displayName: doc.displayName,
    bio: doc.bio,
    avatarUrl: doc.avatarUrl,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    passwordHash: doc.passwordHash,
    roles: doc.roles ?? [],
  };
}

/** Accounts in the `users` collection of the service's own database. */
export class MongoUserRepository implements UserRepository, SessionStore {
  readonly outbox: MongoOutboxStore<UserDocument>;

  constructor(private readonly users: Collection<UserDocument>) {
    this.outbox = new MongoOutboxStore(users, { deletedAt: { $exists: true } });
  }

  static async open(db: Db): Promise<MongoUserRepository> {
    const users = db.collection<UserDocument>("users");
    await ensureIndexes(users, [
      { key: { usernameKey: 1 }, name: USERNAME_INDEX, unique: true },
      { key: { emailKey: 1 }, name: EMAIL_INDEX, unique: true },
      OUTBOX_INDEX,
    ]);
    return new MongoUserRepository(users);
  }

  async create(account: Account, events: BusMessage[]): Promise<void> {
    const { id, ...fields } = account;
    try {
      await this.users.insertOne({
        _id: id,
        ...fields,
        usernameKey: usernameKey(account.username),
        emailKey: emailKey(account.email),
        outbox: storedMessages(events),
        sessions: [],
        sessionsVersion: 0,
      });
    } catch (error) {
      const index = duplicateKeyIndex(error);
      if (index === undefined) throw error;
      const usernameTaken =
        index === USERNAME_INDEX ||
        (index === "" && (await this.users.countDocuments({ usernameKey: usernameKey(account.username) }, { limit: 1 })) > 0);
      if (usernameTaken) throw alreadyExists("username", `"${account.username}" is already taken`);
      throw alreadyExists("email", "is already registered");
    }
  }

  private async findOne(filter: Filter<UserDocument>): Promise<Account | undefined> {
    const doc = await this.users.findOne({ $and: [filter, LIVE] }, { projection: ACCOUNT_ONLY });
    return doc ? toAccount(doc) : undefined;
  }

  findById(id: string) {
    return this.findOne({ _id: id });
  }

  findByUsername(username: string) {
    return this.findOne({ usernameKey: usernameKey(username) });
  }

  findByEmail(email: string) {
    return this.findOne({ emailKey: emailKey(email) });
  }

  async findByIds(ids: string[]) {
    const docs = await this.users.find({ $and: [{ _id: { $in: ids } }, LIVE] }, { projection: ACCOUNT_ONLY }).toArray();
    return docs.map(toAccount);
  }

  async listByUsernamePrefix(prefix: string, after: string | undefined, limit: number) {
    const lowerBound = after !== undefined && after >= prefix ? { $gt: after } : { $gte: prefix };
    const docs = await this.users
      .find({ $and: [{ usernameKey: { ...lowerBound, $lt: prefix + AFTER_ALL_USERNAMES } }, LIVE] }, { projection: ACCOUNT_ONLY })
      .sort({ usernameKey: 1 })
      .limit(limit)
      .toArray();
    return docs.map(toAccount);
  }

  async update(id: string, expectedUpdatedAt: Date, changes: ProfileChanges, updatedAt: Date, events: BusMessage[]): Promise<Account | NotUpdated> {
    // The filter on updatedAt makes this a compare-and-set on MongoDB. FerretDB v1 does not apply
    // it atomically: two racing updates of one account can both pass (see README, "Tests").
    const doc = await this.outbox.exclusive(id, () =>
      this.users.findOneAndUpdate(
        { $and: [{ _id: id, updatedAt: expectedUpdatedAt }, LIVE] },
        { $set: { ...changes, updatedAt }, $push: { outbox: { $each: storedMessages(events) } } },
        // No projection: FerretDB does not support one on findAndModify.
        { returnDocument: "after" },
      ),
    );
    if (doc) return toAccount(doc);
    const live = await this.users.countDocuments({ $and: [{ _id: id }, LIVE] }, { limit: 1 });
    return live > 0 ? "stale" : "missing";
  }

  async setRoles(id: string, roles: string[]): Promise<Account | undefined> {
    // $set of this one field: a profile update racing it keeps the roles (on MongoDB; see README, "Tests").
    const doc = await this.outbox.exclusive(id, () => this.users.findOneAndUpdate({ $and: [{ _id: id }, LIVE] }, { $set: { roles } }, { returnDocument: "after" }));
    return doc ? toAccount(doc) : undefined;
  }

  async delete(id: string, events: BusMessage[]): Promise<boolean> {
    const tombstoneKey = `${AFTER_ALL_USERNAMES}deleted~${id}`;
    const result = await this.outbox.exclusive(id, () =>
      this.users.updateOne(
        { $and: [{ _id: id }, LIVE] },
        {
          $set: {
            deletedAt: new Date(),
            usernameKey: tombstoneKey,
            emailKey: tombstoneKey,
            email: "",
            passwordHash: "",
            roles: [],
            sessions: [],
            displayName: "",
            bio: "",
            avatarUrl: "",
          },
          $push: { outbox: { $each: storedMessages(events) } },
        },
      ),
    );
    return result.matchedCount === 1;
  }

  async findSessions(userId: string): Promise<AccountSessions | undefined> {
    const doc = await this.users.findOne({ $and: [{ _id: userId }, LIVE] }, { projection: { outbox: 0 } });
    if (!doc) return undefined;
    return { account: toAccount(doc), sessions: (doc.sessions ?? []).map(toSession), version: doc.sessionsVersion ?? 0 };
  }

  async saveSessions(userId: string, expectedVersion: number, sessions: Session[], events: BusMessage[], passwordHash?: string): Promise<"saved" | NotUpdated> {
    // A compare-and-set on the version (absent counts as 0 on accounts older than sessions); see
    // update for what FerretDB makes of racing writes.
    const version: Filter<UserDocument> =
      expectedVersion === 0 ? { $or: [{ sessionsVersion: 0 }, { sessionsVersion: { $exists: false } }] } : { sessionsVersion: expectedVersion };
    const result = await this.outbox.exclusive(userId, () =>
      this.users.updateOne(
        { $and: [{ _id: userId }, version, LIVE] },
        {
          $set: { sessions: sessions.map(toSession), sessionsVersion: expectedVersion + 1, ...(passwordHash !== undefined && { passwordHash }) },
          $push: { outbox: { $each: storedMessages(events) } },
        },
      ),
    );
    if (result.matchedCount === 1) return "saved";
    const live = await this.users.countDocuments({ $and: [{ _id: userId }, LIVE] }, { limit: 1 });
    return live > 0 ? "stale" : "missing";
  }
}

/** Exactly the fields of a session, whatever else a stored one carries. */
function toSession(s: Session): Session {
  return {
    id: s.id,
    deviceLabel: s.deviceLabel,
    clientAddress: s.clientAddress,
    createdAt: s.createdAt,
    lastUsedAt: s.lastUsedAt,
    expiresAt: s.expiresAt,
    tokenHash: s.tokenHash,
    usedHashes: [...s.usedHashes],
  };
}
