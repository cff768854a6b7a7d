import { firstAtOrAbove, SetIndex } from "@chirp/kit";
import { changeVersion, inRange, newestFirst, unique, type Celebrity, type Engagement, type Entry, type FollowChange, type IdRange, type LikeChange, type Post, type ProfileCard, type TweetCard } from "../domain/model.js";
import type { TimelineStore } from "../domain/ports.js";

const pairKey = (followerId: string, followeeId: string) => `${followerId}:${followeeId}`;
const likeKey = (tweetId: string, userId: string) => `${tweetId}:${userId}`;
const copyCard = (card: TweetCard): TweetCard => ({ ...card, tags: [...card.tags], mentions: [...card.mentions] });
const copy = <T extends Post>(post: T): T => ({ ...post });
const asIs = (id: string) => id;

/** One owner's timeline, its tweet ids kept sorted so that neither reads nor trims sort it. */
class Timeline {
  private readonly byId = new Map<string, Entry>();
  /** Oldest first; new tweets mostly go last. */
  private ids: string[] = [];

  add(entry: Entry): boolean {
    if (this.byId.has(entry.tweetId)) return false;
    this.byId.set(entry.tweetId, copy(entry));
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
      found.push(copy(this.byId.get(id)!));
    }
    return found;
  }
}

/**
 * Timelines in process memory, for the embedded mesh and fast tests. Same contract as the MongoDB
 * store; timelines are trimmed to their exact length on every insert.
 */
export class InMemoryTimelineStore implements TimelineStore {
  private readonly posts = new Map<string, Post>();
  /** Post ids by author and by the original they retweet, so neither reads every post. */
  private readonly postsByAuthor = new SetIndex();
  private readonly retweetsByOriginal = new SetIndex();
  private readonly timelines = new Map<string, Timeline>();
  /** The `changeVersion` of each (follower, followee) pair's latest follow or unfollow; who follows whom now is `activeFollowees`. */
  private readonly followVersions = new Map<string, string>();
  /**
   * Whom each user has a follow record with, either way and whatever its state, so forgetting a
   * user looks only at that user's records.
   */
  private readonly recordedFollowees = new SetIndex();
  private readonly recordedFollowers = new SetIndex();
  /** Whom each user follows now: every page read asks. */
  private readonly activeFollowees = new SetIndex();
  private readonly celebrities = new Map<string, Celebrity>();
  /** "tweet:<id>" or "user:<id>" → when deleted. */
  private readonly tombstones = new Map<string, Date>();
  private readonly progress = new Map<string, { resumeToken: string; at: Date }>();
  private readonly cardsById = new Map<string, TweetCard>();
  /** Card ids by the tweet they retweet or reply to, and retweet entries by author and original. */
  private readonly retweetEntries = new SetIndex();
  private readonly replies = new SetIndex();
  private readonly retweetsByAuthor = new SetIndex();
  /** The `changeVersion` of each (tweet, user) pair's latest like or unlike; who likes what now is `likers`. */
  private readonly likeVersions = new Map<string, string>();
  /** Who has a like record of each tweet, and which tweets each user has records of, whatever their state. */
  private readonly likeRecordsByTweet = new SetIndex();
  private readonly likeRecordsByUser = new SetIndex();
  /** Who likes each tweet now: counts without reading every record. */
  private readonly likers = new SetIndex();
  private readonly profilesById = new Map<string, ProfileCard>();

  constructor(private readonly timelineLength: number) {}

  async savePost(post: Post): Promise<void> {
    if (this.posts.has(post.tweetId)) return;
    this.posts.set(post.tweetId, copy(post));
    this.postsByAuthor.add(post.authorId, post.tweetId);
    if (post.retweetOfId !== undefined) this.retweetsByOriginal.add(post.retweetOfId, post.tweetId);
  }

  async postsBy(authorIds: string[], range: IdRange, limit: number): Promise<Post[]> {
    return unique(authorIds)
      .flatMap((authorId) => [...(this.postsByAuthor.get(authorId) ?? [])])
      .filter((id) => inRange(id, range))
      .map((id) => this.posts.get(id)!)
      .sort(newestFirst)
      .slice(0, limit)
      .map(copy);
  }

  async retweetsOf(tweetIds: string[]): Promise<string[]> {
    return unique(tweetIds).flatMap((id) => [...(this.retweetsByOriginal.get(id) ?? [])]);
  }

  async removePosts(tweetIds: string[]): Promise<void> {
    for (const id of tweetIds) {
      const post = this.posts.get(id);
      if (!post) continue;
      this.posts.delete(id);
      this.postsByAuthor.delete(post.authorId, id);
      if (post.retweetOfId !== undefined) this.retweetsByOriginal.delete(post.retweetOfId, id);
    }
  }

  async removePostsBy(authorId: string): Promise<string[]> {
    const ids = [...(this.postsByAuthor.get(authorId) ?? [])];
    await this.removePosts(ids);
    return ids;
  }

  async trimPosts(authorId: string, keep: number): Promise<void> {
    const all = await this.postsBy([authorId], {}, Number.MAX_SAFE_INTEGER);
    await this.removePosts(all.slice(keep).map((p) => p.tweetId));
  }

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

  async applyFollow(change: FollowChange): Promise<boolean> {
    const key = pairKey(change.followerId, change.followeeId);
    const version = changeVersion(change);
    const recorded = this.followVersions.get(key);
    if (recorded !== undefined && recorded > version) return false;
    this.followVersions.set(key, version);
    if (change.following) this.activeFollowees.add(change.followerId, change.followeeId);
    else this.activeFollowees.delete(change.followerId, change.followeeId);
    this.recordedFollowees.add(change.followerId, change.followeeId);
    this.recordedFollowers.add(change.followeeId, change.followerId);
    return true;
  }

  async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
    return this.activeFollowees.get(followerId)?.has(followeeId) === true;
  }

  async followees(followerId: string): Promise<string[]> {
    return [...(this.activeFollowees.get(followerId) ?? [])];
  }

  async followersAmong(followeeId: string, candidateIds: string[]): Promise<string[]> {
    return unique(candidateIds).filter((id) => this.activeFollowees.get(id)?.has(followeeId) === true);
  }

  async removeFollowsOf(userId: string): Promise<void> {
    for (const followeeId of this.recordedFollowees.get(userId) ?? []) {
      this.followVersions.delete(pairKey(userId, followeeId));
      this.recordedFollowers.delete(followeeId, userId);
    }
    for (const followerId of this.recordedFollowers.get(userId) ?? []) {
      this.followVersions.delete(pairKey(followerId, userId));
      this.recordedFollowees.delete(followerId, userId);
      this.activeFollowees.delete(followerId, userId);
    }
    this.recordedFollowees.deleteKey(userId);
    this.activeFollowees.deleteKey(userId);
    this.recordedFollowers.deleteKey(userId);
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

  async saveCard(card: TweetCard): Promise<void> {
    if (this.cardsById.has(card.tweetId)) return;
    this.cardsById.set(card.tweetId, copyCard(card));
    if (card.retweetOfId) {
      this.retweetEntries.add(card.retweetOfId, card.tweetId);
      this.retweetsByAuthor.add(card.authorId, card.retweetOfId);
    }
    if (card.replyToId) this.replies.add(card.replyToId, card.tweetId);
  }

  async cards(tweetIds: string[]): Promise<TweetCard[]> {
    return unique(tweetIds).flatMap((id) => {
      const card = this.cardsById.get(id);
      return card ? [copyCard(card)] : [];
    });
  }

  async removeCards(tweetIds: string[]): Promise<void> {
    for (const id of unique(tweetIds)) {
      const card = this.cardsById.get(id);
      if (card) {
        this.cardsById.delete(id);
        if (card.retweetOfId) {
          this.retweetEntries.delete(card.retweetOfId, id);
          this.retweetsByAuthor.delete(card.authorId, card.retweetOfId);
        }
        if (card.replyToId) this.replies.delete(card.replyToId, id);
      }
      for (const userId of this.likeRecordsByTweet.get(id) ?? []) {
        this.likeVersions.delete(likeKey(id, userId));
        this.likeRecordsByUser.delete(userId, id);
      }
      this.likeRecordsByTweet.deleteKey(id);
      this.likers.deleteKey(id);
    }
  }

  async applyLike(change: LikeChange): Promise<void> {
    const key = likeKey(change.tweetId, change.userId);
    const version = changeVersion(change);
    const recorded = this.likeVersions.get(key);
    if (recorded !== undefined && recorded > version) return;
    this.likeVersions.set(key, version);
    this.likeRecordsByTweet.add(change.tweetId, change.userId);
    this.likeRecordsByUser.add(change.userId, change.tweetId);
    if (change.liking) this.likers.add(change.tweetId, change.userId);
    else this.likers.delete(change.tweetId, change.userId);
  }

  async removeLikesBy(userId: string): Promise<void> {
    for (const tweetId of this.likeRecordsByUser.get(userId) ?? []) {
      this.likeVersions.delete(likeKey(tweetId, userId));
      this.likeRecordsByTweet.delete(tweetId, userId);
      this.likers.delete(tweetId, userId);
    }
    this.likeRecordsByUser.deleteKey(userId);
  }

  async engagement(tweetIds: string[]): Promise<Map<string, Engagement>> {
    return new Map(
      unique(tweetIds).map((id) => [
        id,
        { likeCount: this.likers.get(id)?.size ?? 0, retweetCount: this.retweetEntries.get(id)?.size ?? 0, replyCount: this.replies.get(id)?.size ?? 0 },
      ]),
    );
  }

  async reactionsOf(userId: string, tweetIds: string[]) {
    const ids = unique(tweetIds);
    return {
      liked: new Set(ids.filter((id) => this.likers.get(id)?.has(userId) === true)),
      retweeted: new Set(ids.filter((id) => this.retweetsByAuthor.get(userId)?.has(id) === true)),
    };
  }

  async saveProfile(profile: ProfileCard): Promise<void> {
    const kept = this.profilesById.get(profile.userId);
    if (kept && kept.updatedAt.getTime() > profile.updatedAt.getTime()) return;
    this.profilesById.set(profile.userId, { ...profile, createdAt: kept?.createdAt ?? profile.createdAt });
  }

  async profiles(userIds: string[]): Promise<ProfileCard[]> {
    return unique(userIds).flatMap((id) => {
      const profile = this.profilesById.get(id);
      return profile ? [{ ...profile }] : [];
    });
  }

  async removeProfile(userId: string): Promise<void> {
    this.profilesById.delete(userId);
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
