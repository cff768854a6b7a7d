import { MongoServerError, type Collection } from "mongodb";
import type { BusMessage } from "@chirp/kit";
import {
  MongoOutboxStore,
  OUTBOX_INDEX,
  connectMongo,
  countBy,
  duplicateKeyIndex,
  ensureIndexes,
  storedMessages,
  type MongoConnection,
  type WithOutbox,
} from "@chirp/kit/mongo";
import { describeWith, testLogger, uniqueName } from "@chirp/kit/testing";

interface Doc extends WithOutbox {
  name: string;
  deletedAt?: Date;
}

const msg = (id: string, body = `body-${id}`): BusMessage => ({ id, subject: `chirp.test.${id}`, data: new Uint8Array(Buffer.from(body)) });

describeWith(["MONGODB_URI"], "MongoDB helpers", ({ MONGODB_URI }) => {
  const log = testLogger();
  let mongo: MongoConnection;

  beforeAll(async () => {
    mongo = await connectMongo(MONGODB_URI, uniqueName("kit_test"), log);
  });

  afterAll(async () => {
    await mongo?.db.dropDatabase();
    await mongo?.close();
  });

  it("connects to the named database", async () => {
    expect(mongo.db.databaseName).toMatch(/^kit_test_/);
    await expect(mongo.db.command({ ping: 1 })).resolves.toMatchObject({ ok: 1 });
  });

  describe("ensureIndexes", () => {
    it("creates missing indexes and is idempotent", async () => {
      const collection = mongo.db.collection<Doc>("indexed");
      const indexes = [
        { key: { name: 1 }, name: "name_unique", unique: true },
        OUTBOX_INDEX,
      ];
      await ensureIndexes(collection, indexes);
      const names = (await collection.listIndexes().toArray()).map((i) => i.name as string);
      expect(names).toEqual(expect.arrayContaining(["name_unique", "outbox_pending"]));

      const create = jest.spyOn(collection, "createIndexes");
      try {
        await expect(ensureIndexes(collection, indexes)).resolves.toBeUndefined();
        expect(create).not.toHaveBeenCalled();
      } finally {
        create.mockRestore();
      }
      const again = (await collection.listIndexes().toArray()).map((i) => i.name as string);
      expect(again.sort()).toEqual(names.sort());
    });

    it("adds only the indexes that are new", async () => {
      const collection = mongo.db.collection<Doc>("grown");
      await ensureIndexes(collection, [{ key: { name: 1 }, name: "by_name" }]);
      const create = jest.spyOn(collection, "createIndexes");
      try {
        await ensureIndexes(collection, [{ key: { name: 1 }, name: "by_name" }, { key: { deletedAt: 1 }, name: "by_deleted" }]);
        expect(create).toHaveBeenCalledTimes(1);
        expect(create.mock.calls[0]![0]).toEqual([{ key: { deletedAt: 1 }, name: "by_deleted" }]);
      } finally {
        create.mockRestore();
      }
      const names = (await collection.listIndexes().toArray()).map((i) => i.name as string);
      expect(names).toEqual(expect.arrayContaining(["by_name", "by_deleted"]));
    });

    it("refuses an index without a name", async () => {
      await expect(ensureIndexes(mongo.db.collection("unnamed"), [{ key: { a: 1 } }])).rejects.toThrow(/needs a name/);
    });
  });

  describe("duplicateKeyIndex", () => {
    it("names (or blanks) the index of a unique-index violation", async () => {
      const collection = mongo.db.collection<Doc>("unique");
      await ensureIndexes(collection, [{ key: { name: 1 }, name: "name_unique", unique: true }]);
      await collection.insertOne({ _id: "a", name: "alice" });
      const error = await collection.insertOne({ _id: "b", name: "alice" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(MongoServerError);
      const index = duplicateKeyIndex(error);
      expect(typeof index).toBe("string");
      // MongoDB names the index; FerretDB does not say.
      expect(["name_unique", ""]).toContain(index);
    });

    it("is undefined for other errors", async () => {
      const serverError = await mongo.db.command({ noSuchCommandAtAll: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(serverError).toBeInstanceOf(MongoServerError);
      expect(duplicateKeyIndex(serverError)).toBeUndefined();
      expect(duplicateKeyIndex(new Error("E11000 duplicate key error index: x"))).toBeUndefined();
      expect(duplicateKeyIndex(undefined)).toBeUndefined();
    });
  });

  describe("countBy", () => {
    it("counts the matching documents per value of a field, leaving out values nobody holds", async () => {
      const collection = mongo.db.collection<{ tweetId: string; live: boolean }>(uniqueName("counted"));
      await collection.insertMany([
        { tweetId: "a", live: true },
        { tweetId: "a", live: true },
        { tweetId: "a", live: false },
        { tweetId: "b", live: true },
        { tweetId: "c", live: true },
      ]);
      expect(await countBy(collection, "tweetId", ["a", "b", "z"], { live: true })).toEqual(new Map([["a", 2], ["b", 1]]));
      expect(await countBy(collection, "tweetId", ["a"])).toEqual(new Map([["a", 3]]));
      expect(await countBy(collection, "tweetId", [])).toEqual(new Map());
    });
  });

  describe("MongoOutboxStore", () => {
    let collection: Collection<Doc>;
    beforeEach(async () => {
      collection = mongo.db.collection<Doc>(uniqueName("outbox"));
      await ensureIndexes(collection, [OUTBOX_INDEX]);
    });

    it("lists pending messages with their bytes and removes published ones", async () => {
      await collection.insertMany([
        { _id: "doc-1", name: "one", outbox: storedMessages([msg("m1"), msg("m2")]) },
        { _id: "doc-2", name: "two", outbox: storedMessages([msg("m3")]) },
        { _id: "doc-3", name: "three" },
      ]);
      const store = new MongoOutboxStore(collection);
      const pending = await store.pending(10);
      expect(pending.map((p) => [p.ownerId, p.message.id, p.message.subject])).toEqual([
        ["doc-1", "m1", "chirp.test.m1"],
        ["doc-1", "m2", "chirp.test.m2"],
        ["doc-2", "m3", "chirp.test.m3"],
      ]);
      for (const p of pending) expect(Buffer.from(p.message.data).toString()).toBe(`body-${p.message.id}`);
      expect(Buffer.from(pending[0]!.message.data).equals(Buffer.from(msg("m1").data))).toBe(true);

      await store.markPublished(pending[0]!);
      expect((await store.pending(10)).map((p) => p.message.id)).toEqual(["m2", "m3"]);
      const doc1 = await collection.findOne({ _id: "doc-1" });
      expect(doc1?.name).toBe("one");
      expect(doc1?.outbox?.map((m) => m.id)).toEqual(["m2"]);
    });

    it("limits by documents and keeps each owner's order", async () => {
      await collection.insertMany([
        { _id: "b", name: "b", outbox: storedMessages([msg("b1")]) },
        { _id: "a", name: "a", outbox: storedMessages([msg("a1"), msg("a2"), msg("a3")]) },
      ]);
      const store = new MongoOutboxStore(collection);
      expect((await store.pending(1)).map((p) => p.message.id)).toEqual(["a1", "a2", "a3"]);
      expect((await store.pending(2)).map((p) => p.message.id)).toEqual(["a1", "a2", "a3", "b1"]);
    });

    it("publishing twice is harmless, and only the oldest message is removed", async () => {
      await collection.insertOne({ _id: "doc", name: "d", outbox: storedMessages([msg("x1"), msg("x2")]) });
      const store = new MongoOutboxStore(collection);
      const [first, second] = await store.pending(10);
      // Out of order: x2 is not the oldest yet, so nothing changes.
      await store.markPublished(second!);
      expect((await store.pending(10)).map((p) => p.message.id)).toEqual(["x1", "x2"]);
      await store.markPublished(first!);
      await store.markPublished(first!);
      expect((await store.pending(10)).map((p) => p.message.id)).toEqual(["x2"]);
      await store.markPublished(second!);
      expect(await store.pending(10)).toEqual([]);
      expect(await collection.findOne({ _id: "doc" })).toMatchObject({ _id: "doc", name: "d" });
    });

    it("never loses a change written in turn with marking the document's messages published", async () => {
      // An unlike arriving just as its like is marked published, 40 times over: on FerretDB,
      // without turns, about a third of these changes vanished with their event.
      const store = new MongoOutboxStore(collection);
      const owners = Array.from({ length: 40 }, (_, i) => `like-${i}`);
      await collection.insertMany(owners.map((_id) => ({ _id, name: "liked", outbox: storedMessages([msg(`${_id}-liked`)]) })));
      const pending = await store.pending(owners.length);
      await Promise.all(
        pending.flatMap((published) => [
          store.markPublished(published),
          store.exclusive(published.ownerId, () =>
            collection.updateOne({ _id: published.ownerId }, { $set: { name: "unliked" }, $push: { outbox: { $each: storedMessages([msg(`${published.ownerId}-unliked`)]) } } }),
          ),
        ]),
      );
      const docs = await collection.find({}).sort({ _id: 1 }).toArray();
      expect(docs.map((doc) => [doc._id, doc.name, doc.outbox?.map((m) => m.id)])).toEqual(
        owners.sort().map((_id) => [_id, "unliked", [`${_id}-unliked`]]),
      );
    });

    it("purges a drained tombstone but keeps a live document", async () => {
      await collection.insertMany([
        { _id: "live", name: "live", outbox: storedMessages([msg("l1")]) },
        { _id: "tomb", name: "tomb", deletedAt: new Date(), outbox: storedMessages([msg("t1"), msg("t2")]) },
      ]);
      const store = new MongoOutboxStore(collection, { deletedAt: { $exists: true } });
      const pending = await store.pending(10);
      expect(pending.map((p) => p.message.id)).toEqual(["l1", "t1", "t2"]);

      await store.markPublished(pending[0]!);
      expect(await collection.findOne({ _id: "live" })).toMatchObject({ name: "live" });

      await store.markPublished(pending[1]!);
      // One message still pending: the tombstone stays until its last one is out.
      expect(await collection.findOne({ _id: "tomb" })).toMatchObject({ name: "tomb" });

      await store.markPublished(pending[2]!);
      expect(await collection.findOne({ _id: "tomb" })).toBeNull();
      expect(await collection.findOne({ _id: "live" })).toMatchObject({ name: "live" });
      expect(await store.pending(10)).toEqual([]);
    });
  });
});
