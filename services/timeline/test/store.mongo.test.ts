import { newId } from "@chirp/kit";
import { describeWith, testDatabase } from "@chirp/kit/testing";
import { openMongoStores } from "../src/storage/mongo.js";
import { MongoCardStore } from "../src/storage/mongo/cards.js";
import { MongoCelebrityStore } from "../src/storage/mongo/celebrities.js";
import { MongoFollowStore } from "../src/storage/mongo/follows.js";
import { MongoLikeStore } from "../src/storage/mongo/likes.js";
import { MongoPostStore } from "../src/storage/mongo/posts.js";
import { MongoProfileStore } from "../src/storage/mongo/profiles.js";
import { MongoFanOutProgressStore } from "../src/storage/mongo/progress.js";
import { MongoTimelineEntries } from "../src/storage/mongo/timelines.js";
import { MongoTombstoneStore } from "../src/storage/mongo/tombstones.js";
import { CONTRACT_TIMELINE_LENGTH, timelineStoresContract } from "./store.contract.js";

describeWith(["MONGODB_URI"], "the MongoDB stores", ({ MONGODB_URI }) => {
  const db = testDatabase(MONGODB_URI, "chirp_timeline_test");

  timelineStoresContract({
    timelines: () => MongoTimelineEntries.open(db(), CONTRACT_TIMELINE_LENGTH),
    posts: () => MongoPostStore.open(db()),
    follows: () => MongoFollowStore.open(db()),
    celebrities: () => MongoCelebrityStore.open(db()),
    cards: () => MongoCardStore.open(db()),
    likes: () => MongoLikeStore.open(db()),
    profiles: () => MongoProfileStore.open(db()),
    tombstones: () => MongoTombstoneStore.open(db()),
    progress: () => MongoFanOutProgressStore.open(db()),
  });

  it("create their indexes idempotently", async () => {
    await openMongoStores(db(), CONTRACT_TIMELINE_LENGTH);
    await openMongoStores(db(), CONTRACT_TIMELINE_LENGTH);
    const names = async (collection: string) => (await db().collection(collection).indexes()).map((i) => i.name);
    expect(await names("entries")).toEqual(expect.arrayContaining(["entries_by_owner", "entries_by_tweet", "entries_by_author"]));
    expect(await names("posts")).toEqual(expect.arrayContaining(["posts_by_author", "posts_by_original"]));
    expect(await names("follows")).toEqual(expect.arrayContaining(["follows_by_follower", "follows_by_followee"]));
    expect(await names("cards")).toEqual(expect.arrayContaining(["cards_by_original", "cards_by_parent"]));
    expect(await names("likes")).toEqual(expect.arrayContaining(["likes_by_tweet", "likes_by_user"]));
    expect(await names("tombstones")).toEqual(expect.arrayContaining(["tombstones_by_age"]));
    expect(await names("fanout_progress")).toEqual(expect.arrayContaining(["fanout_progress_by_age"]));
  });

  it("trims a timeline in steps, recounting when deletions left its count too high", async () => {
    const store = await MongoTimelineEntries.open(db(), CONTRACT_TIMELINE_LENGTH);
    const [owner, author] = [newId(), newId()];
    const sizes = db().collection<{ _id: string; size: number }>("timeline_sizes");
    const posts = Array.from({ length: CONTRACT_TIMELINE_LENGTH + 3 }, () => ({ tweetId: newId(), authorId: author, ownerId: owner }));
    await store.addEntries(posts);
    expect((await sizes.findOne({ _id: owner }))?.size).toBe(CONTRACT_TIMELINE_LENGTH);
    expect(await store.entries(owner, {}, 100)).toHaveLength(CONTRACT_TIMELINE_LENGTH);

    // Deleted entries leave the count high; the next trim finds less to cut and recounts.
    await store.removeEntriesOf(posts.slice(-10).map((p) => p.tweetId));
    await store.addEntries(Array.from({ length: 3 }, () => ({ tweetId: newId(), authorId: author, ownerId: owner })));
    expect((await sizes.findOne({ _id: owner }))?.size).toBe(CONTRACT_TIMELINE_LENGTH - 10 + 3);
  });
});
