import { newId } from "@chirp/kit";
import { eventMessage } from "@chirp/kit/events";
import { describeWith, testDatabase } from "@chirp/kit/testing";
import { MongoUserRepository } from "../src/storage/mongo.js";
import { userRepositoryContract } from "./repository.contract.js";

describeWith(["MONGODB_URI"], "MongoUserRepository", ({ MONGODB_URI }) => {
  const db = testDatabase(MONGODB_URI, "chirp_users_test");

  userRepositoryContract(async () => {
    const store = await MongoUserRepository.open(db());
    return { repository: store, outbox: store.outbox };
  });

  it("creates its indexes idempotently", async () => {
    await MongoUserRepository.open(db());
    const names = (await db().collection("users").indexes()).map((i) => i.name);
    expect(names).toEqual(expect.arrayContaining(["username_unique", "email_unique", "outbox_pending"]));
  });

  it("purges a deleted account's tombstone once its events are relayed", async () => {
    const store = await MongoUserRepository.open(db());
    const id = newId();
    const now = new Date();
    await store.create(
      { id, username: `t_${id.slice(-8)}`, email: `${id}@example.com`, displayName: "T", bio: "", avatarUrl: "", createdAt: now, updatedAt: now, passwordHash: "h", roles: [] },
      [],
    );
    await store.delete(id, [eventMessage({ $case: "userDeleted", value: { userId: id } })]);
    const users = db().collection("users");
    expect(await users.countDocuments({ _id: id } as never)).toBe(1);
    const pending = (await store.outbox.pending(100)).filter((p) => p.ownerId === id);
    expect(pending).toHaveLength(1);
    await store.outbox.markPublished(pending[0]!);
    expect(await users.countDocuments({ _id: id } as never)).toBe(0);
  });

  it("treats an account stored before there were sessions as having none, at version 0", async () => {
    const store = await MongoUserRepository.open(db());
    const id = newId();
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    await db().collection("users").insertOne({
      _id: id,
      username: `o_${id.slice(-8)}`,
      usernameKey: `o_${id.slice(-8)}`.toLowerCase(),
      email: `${id}@example.com`,
      emailKey: `${id}@example.com`.toLowerCase(),
      passwordHash: "h",
      displayName: "O",
      bio: "",
      avatarUrl: "",
      roles: [],
      createdAt: now,
      updatedAt: now,
      outbox: [],
    } as never);
    expect(await store.findSessions(id)).toMatchObject({ sessions: [], version: 0 });
    expect(await store.saveSessions(id, 1, [], [])).toBe("stale");
    expect(await store.saveSessions(id, 0, [], [])).toBe("saved");
    expect(await store.findSessions(id)).toMatchObject({ sessions: [], version: 1 });
  });
});
