import type { Db } from "mongodb";
import type { TimelineStores } from "../domain/ports.js";
import { MongoCardStore } from "./mongo/cards.js";
import { MongoCelebrityStore } from "./mongo/celebrities.js";
import { MongoFollowStore } from "./mongo/follows.js";
import { MongoLikeStore } from "./mongo/likes.js";
import { MongoPostStore } from "./mongo/posts.js";
import { MongoProfileStore } from "./mongo/profiles.js";
import { MongoFanOutProgressStore } from "./mongo/progress.js";
import { MongoTimelineEntries } from "./mongo/timelines.js";
import { MongoTombstoneStore } from "./mongo/tombstones.js";

/**
 * Every store in the timeline service's database, their indexes created (idempotently). Each store
 * keeps its own collections, and says which indexes read them: `entries` and `timeline_sizes`
 * (timelines), `posts`, `follows`, `celebrities`, `cards`, `likes`, `profiles`, `tombstones` and
 * `fanout_progress`.
 */
export async function openMongoStores(db: Db, timelineLength: number): Promise<TimelineStores> {
  return {
    timelines: await MongoTimelineEntries.open(db, timelineLength),
    posts: await MongoPostStore.open(db),
    follows: await MongoFollowStore.open(db),
    celebrities: await MongoCelebrityStore.open(db),
    cards: await MongoCardStore.open(db),
    likes: await MongoLikeStore.open(db),
    profiles: await MongoProfileStore.open(db),
    tombstones: await MongoTombstoneStore.open(db),
    progress: await MongoFanOutProgressStore.open(db),
  };
}
