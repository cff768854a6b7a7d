import { newId, type BusMessage, type OutboxStore } from "@chirp/kit";
import { eventMessage } from "@chirp/kit/events";
import { domainFailure } from "@chirp/kit/testing";
import type { Account, Session } from "../src/domain/model.js";
import type { SessionStore, UserRepository } from "../src/domain/ports.js";

export interface RepositoryUnderTest {
  repository: UserRepository & SessionStore;
  outbox: OutboxStore;
}

let serial = 0;
function account(overrides: Partial<Account> = {}): Account {
  serial += 1;
  const tag = `${Date.now().toString(36).slice(-6)}${serial}`;
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  return {
    id: newId(),
    username: `c_${tag}`,
    email: `c_${tag}@example.com`,
    displayName: `C ${tag}`,
    bio: "",
    avatarUrl: "",
    createdAt: now,
    updatedAt: now,
    passwordHash: "scrypt$4$8$1$c2FsdA==$aGFzaA==",
    roles: [],
    ...overrides,
  };
}

const created = (a: Account): BusMessage => eventMessage({ $case: "userCreated", value: { userId: a.id, username: a.username, displayName: a.displayName } });
const profileChanged = (a: Account): BusMessage =>
  eventMessage(
    {
      $case: "userProfileChanged",
      value: { userId: a.id, username: a.username, displayName: a.displayName, bio: a.bio, avatarUrl: a.avatarUrl, updatedAt: a.updatedAt },
    },
    a.updatedAt,
  );
const deleted = (a: Account): BusMessage => eventMessage({ $case: "userDeleted", value: { userId: a.id } });

/**
 * The behaviour every UserRepository must share, run against each adapter: what the domain
 * relies on, and the outbox semantics the relay relies on.
 */
export function userRepositoryContract(open: () => Promise<RepositoryUnderTest>) {
  let repository: UserRepository & SessionStore;
  let outbox: OutboxStore;

  beforeEach(async () => {
    ({ repository, outbox } = await open());
  });

  it("stores and finds an account by id, username and email ignoring case", async () => {
    const a = account();
    await repository.create(a, [created(a)]);
    expect(await repository.findById(a.id)).toEqual(a);
    expect(await repository.findByUsername(a.username.toUpperCase())).toEqual(a);
    expect(await repository.findByEmail(a.email.toUpperCase())).toEqual(a);
  });

  it("answers undefined for what does not exist", async () => {
    expect(await repository.findById(newId())).toBeUndefined();
    expect(await repository.findByUsername("no_such_user")).toBeUndefined();
    expect(await repository.findByEmail("nobody@nowhere.example")).toBeUndefined();
    expect(await repository.update(newId(), new Date(), { bio: "x" }, new Date(), [])).toBe("missing");
    expect(await repository.delete(newId(), [])).toBe(false);
  });

  it("keeps usernames unique ignoring case and emails unique, naming the field", async () => {
    const a = account();
    await repository.create(a, []);
    const sameName = account({ username: a.username.toUpperCase() });
    const e1 = await domainFailure(repository.create(sameName, []));
    expect([e1.code, e1.field]).toEqual(["ALREADY_EXISTS", "username"]);
    const sameEmail = account({ email: a.email.toUpperCase() });
    const e2 = await domainFailure(repository.create(sameEmail, []));
    expect([e2.code, e2.field]).toEqual(["ALREADY_EXISTS", "email"]);
    expect(await repository.findById(sameName.id)).toBeUndefined();
    expect(await repository.findById(sameEmail.id)).toBeUndefined();
  });

  it("returns only existing accounts from a batch", async () => {
    const a = account();
    const b = account();
    await repository.create(a, []);
    await repository.create(b, []);
    const found = await repository.findByIds([b.id, newId(), a.id]);
    expect(found.map((x) => x.id).sort()).toEqual([a.id, b.id].sort());
  });

  it("lists by username prefix in lower-cased username order, after a cursor, up to a limit", async () => {
    const prefix = `p${Date.now().toString(36).slice(-5)}`;
    const names = [`${prefix}_d`, `${prefix.toUpperCase()}_B`, `${prefix}_a`, `${prefix}_c`, `${prefix}_e`];
    for (const username of names) await repository.create(account({ username }), []);
    await repository.create(account({ username: `q${prefix.slice(1)}_a` }), []);

    const firstPage = await repository.listByUsernamePrefix(prefix, undefined, 2);
    expect(firstPage.map((a) => a.username)).toEqual([`${prefix}_a`, `${prefix.toUpperCase()}_B`]);
    const secondPage = await repository.listByUsernamePrefix(prefix, `${prefix}_b`, 2);
    expect(secondPage.map((a) => a.username)).toEqual([`${prefix}_c`, `${prefix}_d`]);
    const lastPage = await repository.listByUsernamePrefix(prefix, `${prefix}_d`, 2);
    expect(lastPage.map((a) => a.username)).toEqual([`${prefix}_e`]);
  });

  it("updates profile fields and nothing else", async () => {
    const a = account();
    await repository.create(a, []);
    const at = new Date(a.updatedAt.getTime() + 5_000);
    const updated = await repository.update(a.id, a.updatedAt, { bio: "new bio", displayName: "New" }, at, []);
    expect(updated).toEqual({ ...a, bio: "new bio", displayName: "New", updatedAt: at });
    expect(await repository.findById(a.id)).toEqual(updated);
  });

  it("updates only the version expected, recording its events in the same write", async () => {
    const a = account();
    const creation = created(a);
    await repository.create(a, [creation]);
    const first = { ...a, bio: "first", updatedAt: new Date(a.updatedAt.getTime() + 1) };
    const second = { ...a, bio: "second", updatedAt: new Date(a.updatedAt.getTime() + 2) };
    const subjectsOf = async () => (await outbox.pending(100)).filter((p) => p.ownerId === a.id).map((p) => p.message.subject);

    const olderThanStored = new Date(a.updatedAt.getTime() - 1);
    expect(await repository.update(a.id, olderThanStored, { bio: "first" }, first.updatedAt, [profileChanged(first)])).toBe("stale");
    expect(await repository.findById(a.id)).toEqual(a);
    expect(await subjectsOf()).toEqual(["chirp.users.user_created"]);

    const announcement = profileChanged(first);
    expect(await repository.update(a.id, a.updatedAt, { bio: "first" }, first.updatedAt, [announcement])).toEqual(first);
    const pending = (await outbox.pending(100)).filter((p) => p.ownerId === a.id);
    expect(pending.map((p) => p.message.id)).toEqual([creation.id, announcement.id]);
    expect(Buffer.from(pending[1]!.message.data)).toEqual(Buffer.from(announcement.data));

    // A writer that read the account before the update above lost the race: nothing of its own is saved.
    expect(await repository.update(a.id, a.updatedAt, { bio: "second" }, second.updatedAt, [profileChanged(second)])).toBe("stale");
    expect(await repository.findById(a.id)).toEqual(first);
    expect(await subjectsOf()).toEqual(["chirp.users.user_created", "chirp.users.user_profile_changed"]);
  });

  it("stores roles with the account, changing nothing else and announcing nothing", async () => {
    const a = account();
    await repository.create(a, [created(a)]);
    const pendingBefore = (await outbox.pending(100)).filter((p) => p.ownerId === a.id).length;
    expect(await repository.setRoles(a.id, ["admin"])).toEqual({ ...a, roles: ["admin"] });
    expect(await repository.findById(a.id)).toEqual({ ...a, roles: ["admin"] });
    expect((await repository.findByUsername(a.username))?.roles).toEqual(["admin"]);
    expect((await outbox.pending(100)).filter((p) => p.ownerId === a.id)).toHaveLength(pendingBefore);

    // A profile update keeps them, and an empty list removes them.
    const at = new Date(a.updatedAt.getTime() + 1);
    expect(await repository.update(a.id, a.updatedAt, { bio: "still admin" }, at, [])).toMatchObject({ bio: "still admin", roles: ["admin"] });
    expect(await repository.setRoles(a.id, [])).toMatchObject({ bio: "still admin", roles: [] });
    expect((await repository.findById(a.id))?.roles).toEqual([]);

    expect(await repository.setRoles(newId(), ["admin"])).toBeUndefined();
    expect(await repository.delete(a.id, [])).toBe(true);
    expect(await repository.setRoles(a.id, ["admin"])).toBeUndefined();
  });

  it("records events with the write and hands them to the relay in order", async () => {
    const a = account();
    const creation = created(a);
    await repository.create(a, [creation]);
    expect(await repository.delete(a.id, [deleted(a)])).toBe(true);

    const pending = (await outbox.pending(100)).filter((p) => p.ownerId === a.id);
    expect(pending.map((p) => p.message.subject)).toEqual(["chirp.users.user_created", "chirp.users.user_deleted"]);
    expect(Buffer.from(pending[0]!.message.data)).toEqual(Buffer.from(creation.data));

    await outbox.markPublished(pending[0]!);
    const rest = (await outbox.pending(100)).filter((p) => p.ownerId === a.id);
    expect(rest.map((p) => p.message.id)).toEqual([pending[1]!.message.id]);
    await outbox.markPublished(rest[0]!);
    expect((await outbox.pending(100)).filter((p) => p.ownerId === a.id)).toEqual([]);
  });

  it("hides a deleted account at once, frees its username and email and updates it no more", async () => {
    const a = account();
    await repository.create(a, []);
    expect(await repository.delete(a.id, [deleted(a)])).toBe(true);
    expect(await repository.findById(a.id)).toBeUndefined();
    expect(await repository.findByUsername(a.username)).toBeUndefined();
    expect(await repository.findByIds([a.id])).toEqual([]);
    expect(await repository.listByUsernamePrefix(a.username.toLowerCase(), undefined, 10)).toEqual([]);
    const late = { ...a, bio: "x", updatedAt: new Date(a.updatedAt.getTime() + 1) };
    expect(await repository.update(a.id, a.updatedAt, { bio: "x" }, late.updatedAt, [profileChanged(late)])).toBe("missing");
    expect((await outbox.pending(100)).filter((p) => p.ownerId === a.id).map((p) => p.message.subject)).toEqual(["chirp.users.user_deleted"]);
    expect(await repository.delete(a.id, [deleted(a)])).toBe(false);

    const successor = account({ username: a.username, email: a.email });
    await repository.create(successor, []);
    expect((await repository.findByUsername(a.username))?.id).toBe(successor.id);
  });

  describe("sessions", () => {
    // Whole seconds: MongoDB keeps milliseconds, and the comparison is exact.
    const at = (offsetMs: number) => new Date(Math.floor(Date.now() / 1000) * 1000 + offsetMs);
    const session = (overrides: Partial<Session> = {}): Session => ({
      id: newId(),
      deviceLabel: "phone",
      clientAddress: "203.0.113.9",
      createdAt: at(0),
      lastUsedAt: at(1_000),
      expiresAt: at(86_400_000),
      tokenHash: "h".repeat(43),
      usedHashes: ["u".repeat(43)],
      ...overrides,
    });
    const revoked = (a: Account, ids: string[]) =>
      eventMessage({ $case: "sessionsRevoked", value: { userId: a.id, sessionIds: ids, revokedAt: at(0), accessTokensExpireBy: at(900_000) } });

    it("starts a new account with no sessions, at version 0, and stores them with the account", async () => {
      const a = account();
      await repository.create(a, []);
      expect(await repository.findSessions(a.id)).toEqual({ account: a, sessions: [], version: 0 });
      const s = session();
      expect(await repository.saveSessions(a.id, 0, [s], [])).toBe("saved");
      expect(await repository.findSessions(a.id)).toEqual({ account: a, sessions: [s], version: 1 });
      // Reads of the account are the account alone, as before.
      expect(await repository.findById(a.id)).toEqual(a);
      expect(await repository.findByUsername(a.username)).toEqual(a);
    });

    it("writes only at the version read: a change in between makes the write stale, and nothing is written or recorded", async () => {
      const a = account();
      await repository.create(a, []);
      const first = session();
      expect(await repository.saveSessions(a.id, 0, [first], [])).toBe("saved");
      expect(await repository.saveSessions(a.id, 0, [session()], [revoked(a, [first.id])])).toBe("stale");
      expect((await repository.findSessions(a.id))?.sessions).toEqual([first]);
      expect((await outbox.pending(100)).filter((p) => p.ownerId === a.id)).toEqual([]);
      expect(await repository.saveSessions(a.id, 1, [], [revoked(a, [first.id])])).toBe("saved");
      expect(await repository.findSessions(a.id)).toMatchObject({ sessions: [], version: 2 });
      expect(await repository.saveSessions(newId(), 0, [], [])).toBe("missing");
    });

    it("records the revocation events with the write, and replaces the password hash only when given", async () => {
      const a = account();
      await repository.create(a, [created(a)]);
      const keep = session();
      const other = session();
      expect(await repository.saveSessions(a.id, 0, [keep, other], [])).toBe("saved");
      expect(await repository.saveSessions(a.id, 1, [keep], [revoked(a, [other.id])], "scrypt$4$8$1$bmV3$bmV3")).toBe("saved");
      expect((await repository.findById(a.id))?.passwordHash).toBe("scrypt$4$8$1$bmV3$bmV3");
      expect(await repository.saveSessions(a.id, 2, [keep], [])).toBe("saved");
      expect((await repository.findById(a.id))?.passwordHash).toBe("scrypt$4$8$1$bmV3$bmV3");
      const pending = (await outbox.pending(100)).filter((p) => p.ownerId === a.id);
      expect(pending.map((p) => p.message.subject)).toEqual(["chirp.users.user_created", "chirp.users.sessions_revoked"]);
      // Roles and profile are untouched by session writes, and session writes by them.
      await repository.setRoles(a.id, ["admin"]);
      expect((await repository.findSessions(a.id))?.sessions).toEqual([keep]);
      expect((await repository.findSessions(a.id))?.account.roles).toEqual(["admin"]);
    });

    it("drops the sessions with the account", async () => {
      const a = account();
      await repository.create(a, []);
      expect(await repository.saveSessions(a.id, 0, [session()], [])).toBe("saved");
      expect(await repository.delete(a.id, [deleted(a)])).toBe(true);
      expect(await repository.findSessions(a.id)).toBeUndefined();
      expect(await repository.saveSessions(a.id, 1, [session()], [])).toBe("missing");
    });
  });
}
