import { followVersion, inRange, newestFirst, unique, type Celebrity, type Entry, type FollowChange, type IdRange, type Post } from "../domain/model.js";
import type { TimelineStore } from "../domain/ports.js";

interface FollowRecord {
  following: boolean;
  version: string;
}

const pairKey = (followerId: string, followeeId: string) => `${followerId}:${followeeId}`;
const copy = <T extends Post>(post: T): T => ({ ...post });

/**
 * Timelines in process memory, for the embedded mesh and fast tests. Same contract as the MongoDB
 * store; timelines are trimmed to their exact length on every insert.
 */
export class InMemoryTimelineStore implements TimelineStore {
  private readonly posts = new Map<string, Post>();
  /** Owner → tweet id → entry. */
  private readonly timelines = new Map<string, Map<string, Entry>>();
  private readonly follows = new Map<string, FollowRecord>();
  private readonly celebrities = new Map<string, Celebrity>();
  /** "tweet:<id>" or "user:<id>" → when deleted. */
  private readonly tombstones = new Map<string, Date>();
  private readonly progress = new Map<string, { resumeToken: string; at: Date }>();

  constructor(private readonly timelineLength: number) {}

  async savePost(post: Post): Promise<void> {
    if (!this.posts.has(post.tweetId)) this.posts.set(post.tweetId, copy(post));
  }

  async postsBy(authorIds: string[], range: IdRange, limit: number): Promise<Post[]> {
    const authors = new Set(authorIds);
    return [...this.posts.values()]
      .filter((p) => authors.has(p.authorId) && inRange(p.tweetId, range))
      .sort(newestFirst)
      .slice(0, limit)
      .map(copy);
  }

  async retweetsOf(tweetIds: string[]): Promise<string[]> {
    const originals = new Set(tweetIds);
    return [...this.posts.values()].filter((p) => p.retweetOfId !== undefined && originals.has(p.retweetOfId)).map((p) => p.tweetId);
  }

  async removePosts(tweetIds: string[]): Promise<void> {
    for (const id of tweetIds) this.posts.delete(id);
  }

  async removePostsBy(authorId: string): Promise<string[]> {
    const ids = [...this.posts.values()].filter((p) => p.authorId === authorId).map((p) => p.tweetId);
    await this.removePosts(ids);
    return ids;
  }

  async trimPosts(authorId: string, keep: number): Promise<void> {
    const all = await this.postsBy([authorId], {}, Number.MAX_SAFE_INTEGER);
    await this.removePosts(all.slice(keep).map((p) => p.tweetId));
  }

  async addEntries(entries: Entry[]): Promise<void> {
    const grown = new Set<string>();
    for (const entry of entries) {
      const timeline = this.timelines.get(entry.ownerId) ?? new Map<string, Entry>();
      this.timelines.set(entry.ownerId, timeline);
      if (timeline.has(entry.tweetId)) continue;
      timeline.set(entry.tweetId, copy(entry));
      grown.add(entry.ownerId);
    }
    for (const ownerId of grown) {
      const timeline = this.timelines.get(ownerId)!;
      if (timeline.size <= this.timelineLength) continue;
      const oldest = [...timeline.values()].sort(newestFirst).slice(this.timelineLength);
      for (const entry of oldest) timeline.delete(entry.tweetId);
    }
  }

  async entries(ownerId: string, range: IdRange, limit: number): Promise<Entry[]> {
    return [...(this.timelines.get(ownerId)?.values() ?? [])]
      .filter((e) => inRange(e.tweetId, range))
      .sort(newestFirst)
      .slice(0, limit)
      .map(copy);
  }

  async removeEntriesOf(tweetIds: string[]): Promise<void> {
    for (const timeline of this.timelines.values()) for (const id of tweetIds) timeline.delete(id);
  }

  async removeEntriesBy(authorId: string, ownerId?: string): Promise<void> {
    const timelines = ownerId === undefined ? [...this.timelines.values()] : [this.timelines.get(ownerId) ?? new Map<string, Entry>()];
    for (const timeline of timelines) {
      for (const entry of [...timeline.values()]) if (entry.authorId === authorId) timeline.delete(entry.tweetId);
    }
  }

  async removeTimeline(ownerId: string): Promise<void> {
    this.timelines.delete(ownerId);
  }

  async applyFollow(change: FollowChange): Promise<boolean> {
    const key = pairKey(change.followerId, change.followeeId);
    const version = followVersion(change);
    const recorded = this.follows.get(key);
    if (recorded && recorded.version > version) return false;
    this.follows.set(key, { following: change.following, version });
    return true;
  }

  async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
    return this.follows.get(pairKey(followerId, followeeId))?.following === true;
  }

  async followees(followerId: string): Promise<string[]> {
    const prefix = `${followerId}:`;
    return [...this.follows.entries()].filter(([key, r]) => r.following && key.startsWith(prefix)).map(([key]) => key.slice(prefix.length));
  }

  async followersAmong(followeeId: string, candidateIds: string[]): Promise<string[]> {
    return unique(candidateIds).filter((id) => this.follows.get(pairKey(id, followeeId))?.following === true);
  }

  async removeFollowsOf(userId: string): Promise<void> {
    for (const key of [...this.follows.keys()]) {
      const [followerId, followeeId] = key.split(":");
      if (followerId === userId || followeeId === userId) this.follows.delete(key);
    }
  }

  async celebrity(authorId: string): Promise<Celebrity | undefined> {
    const found = this.celebrities.get(authorId);
    return found && { ...found };
  }

  async markCelebrity(authorId: string, since: string): Promise<void> {
    const existing = this.celebrities.get(authorId);
    if (!existing || since < existing.since) this.celebrities.set(authorId, { authorId, since });
  }

  async unmarkCelebrity(authorId: string): Promise<void> {
    this.celebrities.delete(authorId);
  }

  async celebritiesAmong(authorIds: string[]): Promise<string[]> {
    return unique(authorIds).filter((id) => this.celebrities.has(id));
  }

  async markTweetsDeleted(tweetIds: string[], at: Date): Promise<void> {
    for (const id of tweetIds) if (!this.tombstones.has(`tweet:${id}`)) this.tombstones.set(`tweet:${id}`, at);
  }

  async markUserDeleted(userId: string, at: Date): Promise<void> {
    if (!this.tombstones.has(`user:${userId}`)) this.tombstones.set(`user:${userId}`, at);
  }

  async findTombstones(ids: { tweetIds: string[]; userIds: string[] }) {
    return {
      tweetIds: unique(ids.tweetIds).filter((id) => this.tombstones.has(`tweet:${id}`)),
      userIds: unique(ids.userIds).filter((id) => this.tombstones.has(`user:${id}`)),
    };
  }

  async fanOutProgress(tweetId: string): Promise<string | undefined> {
    return this.progress.get(tweetId)?.resumeToken;
  }

  async saveFanOutProgress(tweetId: string, resumeToken: string, at: Date): Promise<void> {
    this.progress.set(tweetId, { resumeToken, at });
  }

  async clearFanOutProgress(tweetIds: string[]): Promise<void> {
    for (const id of tweetIds) this.progress.delete(id);
  }

  async forgetBefore(cutoff: Date): Promise<void> {
    for (const [key, at] of [...this.tombstones]) if (at < cutoff) this.tombstones.delete(key);
    for (const [id, { at }] of [...this.progress]) if (at < cutoff) this.progress.delete(id);
  }
}
