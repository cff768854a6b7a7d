import { connectMongo, type MongoConnection } from "@chirp/kit/mongo";
import { describeWith, testLogger, uniqueName } from "@chirp/kit/testing";
import { MongoGraphRepository } from "../src/storage/mongo.js";
import { graphRepositoryContract } from "./repository.contract.js";

describeWith(["MONGODB_URI"], "MongoGraphRepository", ({ MONGODB_URI }) => {
  let connection: MongoConnection;

  beforeAll(async () => {
    connection = await connectMongo(MONGODB_URI, uniqueName("chirp_graph_test"), testLogger());
  });

  afterAll(async () => {
    await connection.db.dropDatabase();
    await connection.close();
  });

  graphRepositoryContract(async () => {
    const store = await MongoGraphRepository.open(connection.db);
    return { repository: store, outbox: store.outbox };
  });

  it("creates its indexes idempotently", async () => {
    await MongoGraphRepository.open(connection.db);
    const names = (await connection.db.collection("edges").indexes()).map((i) => i.name);
    expect(names).toEqual(expect.arrayContaining(["followers_newest_first", "following_newest_first", "outbox_pending"]));
  });
});
