import { InMemoryCardStore } from "../src/storage/memory/cards.js";
import { InMemoryCelebrityStore } from "../src/storage/memory/celebrities.js";
import { InMemoryFollowStore } from "../src/storage/memory/follows.js";
import { InMemoryLikeStore } from "../src/storage/memory/likes.js";
import { InMemoryPostStore } from "../src/storage/memory/posts.js";
import { InMemoryProfileStore } from "../src/storage/memory/profiles.js";
import { InMemoryFanOutProgressStore } from "../src/storage/memory/progress.js";
import { InMemoryTimelineEntries } from "../src/storage/memory/timelines.js";
import { InMemoryTombstoneStore } from "../src/storage/memory/tombstones.js";
import { CONTRACT_TIMELINE_LENGTH, timelineStoresContract } from "./store.contract.js";

describe("the in-memory stores", () => {
  timelineStoresContract({
    timelines: async () => new InMemoryTimelineEntries(CONTRACT_TIMELINE_LENGTH),
    posts: async () => new InMemoryPostStore(),
    follows: async () => new InMemoryFollowStore(),
    celebrities: async () => new InMemoryCelebrityStore(),
    cards: async () => new InMemoryCardStore(),
    likes: async () => new InMemoryLikeStore(),
    profiles: async () => new InMemoryProfileStore(),
    tombstones: async () => new InMemoryTombstoneStore(),
    progress: async () => new InMemoryFanOutProgressStore(),
  });
});
