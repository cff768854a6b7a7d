import type { TimelineStores } from "../domain/ports.js";
import { InMemoryCardStore } from "./memory/cards.js";
import { InMemoryCelebrityStore } from "./memory/celebrities.js";
import { InMemoryFollowStore } from "./memory/follows.js";
import { InMemoryLikeStore } from "./memory/likes.js";
import { InMemoryPostStore } from "./memory/posts.js";
import { InMemoryProfileStore } from "./memory/profiles.js";
import { InMemoryFanOutProgressStore } from "./memory/progress.js";
import { InMemoryTimelineEntries } from "./memory/timelines.js";
import { InMemoryTombstoneStore } from "./memory/tombstones.js";

/**
 * Every store in process memory, for the embedded mesh and fast tests. Same contracts as the
 * MongoDB stores; timelines are trimmed to their exact length on every insert.
 */
export function memoryStores(timelineLength: number): TimelineStores {
  return {
    timelines: new InMemoryTimelineEntries(timelineLength),
    posts: new InMemoryPostStore(),
    follows: new InMemoryFollowStore(),
    celebrities: new InMemoryCelebrityStore(),
    cards: new InMemoryCardStore(),
    likes: new InMemoryLikeStore(),
    profiles: new InMemoryProfileStore(),
    tombstones: new InMemoryTombstoneStore(),
    progress: new InMemoryFanOutProgressStore(),
  };
}
