import { describeWith, testDatabase } from "@chirp/kit/testing";
import { MongoGraphRepository } from "../src/storage/mongo.js";
import { graphRepositoryContract } from "./repository.contract.js";

describeWith(["MONGODB_URI"], "MongoGraphRepository", ({ MONGODB_URI }) => {
  const db = testDatabase(MONGODB_URI, "chirp_graph_test");

  graphRepositoryContract(async () => {
    const store = await MongoGraphRepository.open(db());
    return { repository: store, outbox: store.outbox };
  });

  it("creates its indexes idempotently", async () => {
    await MongoGraphRepository.open(db());
    const names = (await db().collection("edges").indexes()).map((i) => i.name);
    expect(names).toEqual(expect.arrayContaining(["followers_newest_first", "following_newest_first", "outbox_pending"]));
  });
});
