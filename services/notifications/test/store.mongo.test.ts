import { describeWith, testDatabase } from "@chirp/kit/testing";
import { openMongoStores } from "../src/storage/mongo.js";
import { notificationStoresContract } from "./store.contract.js";

describeWith(["MONGODB_URI"], "the MongoDB stores", ({ MONGODB_URI }) => {
  const db = testDatabase(MONGODB_URI, "chirp_notifications_test");

  notificationStoresContract(() => openMongoStores(db()));

  it("create their indexes idempotently", async () => {
    await openMongoStores(db());
    await openMongoStores(db());
    const names = (await db().collection("activities").indexes()).map((index) => index.name);
    expect(names).toEqual(expect.arrayContaining(["activities_by_recipient", "activities_by_row", "activities_by_tweet", "activities_by_actor", "activities_by_state"]));
  });
});
