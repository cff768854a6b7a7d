import { firstAtOrAbove } from "@chirp/kit";
import type { Entry, IdRange } from "../../domain/model.js";
import type { TimelineEntries } from "../../domain/ports.js";

const asIs = (id: string) => id;

/** One owner's timeline, its tweet ids kept sorted so that neither reads nor trims sort it. */
class Timeline {
  private readonly byId = new Map<string, Entry>();
  /** Oldest first; new tweets mostly go last. */
  private ids: string[] = [];

  add(entry: Entry): boolean {
    if (this.byId.has(entry.tweetId)) return false;
    this.byId.set(entry.tweetId, { ...entry });
    this.ids.splice(firstAtOrAbove(this.ids, entry.tweetId, asIs), 0, entry.tweetId);
    return true;
  }

  delete(tweetId: string): void {
    if (this.byId.delete(tweetId)) this.ids.splice(firstAtOrAbove(this.ids, tweetId, asIs), 1);
  }

  deleteWhere(drop: (entry: Entry) => boolean): void {
    this.ids = this.ids.filter((id) => {
      const gone = drop(this.byId.get(id)!);
      if (gone) this.byId.delete(id);
      return !gone;
    });
  }

  /** Keeps only the newest `length` entries. */
  trim(length: number): void {
    if (this.ids.length <= length) return;
    for (const id of this.ids.splice(0, this.ids.length - length)) this.byId.delete(id);
  }

  /** Within the range, newest first, at most `limit`. */
  newest(range: IdRange, limit: number): Entry[] {
    const found: Entry[] = [];
    const end = range.before === undefined ? this.ids.length : firstAtOrAbove(this.ids, range.before, asIs);
    for (let i = end - 1; i >= 0 && found.length < limit; i--) {
      const id = this.ids[i]!;
      if (range.after !== undefined && id <= range.after) break;
      found.push({ ...this.byId.get(id)! });
    }
    return found;
  }
}

/** Home timelines in process memory, trimmed to their exact length on every insert. */
export class InMemoryTimelineEntries implements TimelineEntries {
  private readonly timelines = new Map<string, Timeline>();

  constructor(private readonly timelineLength: number) {}

  async addEntries(entries: Entry[]): Promise<void> {
    for (const entry of entries) {
      let timeline = this.timelines.get(entry.ownerId);
      if (!timeline) this.timelines.set(entry.ownerId, (timeline = new Timeline()));
      // Ids are sorted, so trimming on every insert costs no more than trimming once at the end.
      if (timeline.add(entry)) timeline.trim(this.timelineLength);
    }
  }

  async entries(ownerId: string, range: IdRange, limit: number): Promise<Entry[]> {
    return this.timelines.get(ownerId)?.newest(range, limit) ?? [];
  }

  async removeEntriesOf(tweetIds: string[]): Promise<void> {
    for (const timeline of this.timelines.values()) for (const id of tweetIds) timeline.delete(id);
  }

  async removeEntriesBy(authorId: string, ownerId?: string): Promise<void> {
    const timelines = ownerId === undefined ? [...this.timelines.values()] : [this.timelines.get(ownerId) ?? new Timeline()];
    for (const timeline of timelines) timeline.deleteWhere((entry) => entry.authorId === authorId);
  }

  async removeTimeline(ownerId: string): Promise<void> {
    this.timelines.delete(ownerId);
  }
}
