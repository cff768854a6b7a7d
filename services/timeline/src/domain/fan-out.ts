import { unique, type Celebrity, type CreatedTweet, type Entry, type FollowChange, type Post } from "./model.js";
import { UNOBSERVED, type FollowerDirectory, type TimelineObserver, type TimelineStores } from "./ports.js";

/** How many of a followee's newest posts a new follow copies into the follower's timeline. */
export const BACKFILL_POSTS = 50;

/** What the fan-out writes and reads: the timelines and everything they are kept in step with. */
export type FanOutStores = Pick<TimelineStores, "timelines" | "posts" | "follows" | "celebrities" | "tombstones" | "progress">;

export interface FanOutSettings {
  /** Authors with more followers than this are celebrities: their posts are merged in at read time. */
  celebrityFollowers: number;
  /** How many posts per author are kept: no timeline shows more of one author than its own length. */
  timelineLength: number;
  clock?: () => Date;
  observer?: TimelineObserver;
}

/**
 * The write side: keeps the materialised home timelines and the projections they are read with in
 * step with the events. Every handler is idempotent and safe against redelivery, duplicates and
 * out-of-order delivery:
 *
 * - entries are keyed by owner and tweet, so writing one twice leaves one;
 * - deletions record a tombstone before they remove anything, and every write checks the
 *   tombstones before it starts and again after it wrote: a write that raced a deletion either
 *   landed before the removal (and was removed) or is undone by its own check;
 * - follow changes are applied by event time, so a late UserFollowed cannot undo a newer
 *   UserUnfollowed, and a backfill re-checks the follow after writing.
 */
export class FanOut {
  private readonly clock: () => Date;
  private readonly observer: TimelineObserver;

  constructor(
    private readonly stores: FanOutStores,
    private readonly settings: FanOutSettings,
  ) {
    this.clock = settings.clock ?? (() => new Date());
    this.observer = settings.observer ?? UNOBSERVED;
  }

  /**
   * A new post goes into its author's own timeline and every follower's, in batches as the graph
   * streams the followers, unless the author is a celebrity: then readers merge it in. An
   * interrupted fan-out resumes after the last batch it finished; `signal` interrupts it between
   * batches (shutdown), leaving the event to be delivered again.
   */
  async tweetCreated(created: CreatedTweet, graph: FollowerDirectory, signal?: AbortSignal): Promise<void> {
    // Replies belong under the tweet they answer, not in home timelines.
    if (created.replyToId) return;
    const post: Post = { tweetId: created.tweetId, authorId: created.authorId, ...(created.retweetOfId ? { retweetOfId: created.retweetOfId } : {}) };
    if (await this.isDeleted(post)) return;
    await this.stores.posts.savePost(post);
    if (!(await this.observer.fanOutBatch(1, () => this.write([{ ...post, ownerId: post.authorId }], post)))) return;

    const celebrity = await this.stores.celebrities.celebrity(post.authorId);
    if ((await graph.followerCount(post.authorId)) > this.settings.celebrityFollowers) {
      await this.stores.celebrities.markCelebrity(post.authorId, post.tweetId);
    } else {
      // An author who is no longer a celebrity gets the posts readers were merging in fanned out
      // with this one, before the mark goes, so readers never miss them.
      const posts = celebrity ? await this.postsSince(celebrity, post) : [post];
      if (!(await this.fanOut(post, posts, graph, signal))) return;
      if (celebrity) await this.stores.celebrities.unmarkCelebrity(post.authorId);
    }
    await this.stores.posts.trimPosts(post.authorId, this.settings.timelineLength);
  }

  /** The tweet, and every retweet of it, leaves every timeline. */
  async tweetDeleted(tweetId: string): Promise<void> {
    await this.stores.tombstones.markTweetsDeleted([tweetId], this.clock());
    await this.eraseTweets([tweetId]);
  }

  /** A follow backfills the followee's recent posts; an unfollow removes them. */
  async followChanged(change: FollowChange): Promise<void> {
    const { followerId, followeeId } = change;
    const { userIds: deletedUsers } = await this.stores.tombstones.findTombstones({ tweetIds: [], userIds: [followerId, followeeId] });
    if (deletedUsers.length > 0) return;
    // False when a later change of this pair is already recorded: this one is stale.
    if (!(await this.stores.follows.applyFollow(change))) return;
    if (!change.following) {
      await this.stores.timelines.removeEntriesBy(followeeId, followerId);
      await this.settle([], [followerId, followeeId]);
      return;
    }
    const posts = await this.stores.posts.postsBy([followeeId], {}, BACKFILL_POSTS);
    const entries = posts.map((post) => ({ ...post, ownerId: followerId }));
    await this.stores.timelines.addEntries(entries);
    // An unfollow recorded while the backfill was being written wins over it.
    if (!(await this.stores.follows.isFollowing(followerId, followeeId))) await this.stores.timelines.removeEntriesBy(followeeId, followerId);
    await this.settle(entries, [followerId, followeeId]);
  }

  /** The user leaves every timeline, with their posts, follows and own timeline. */
  async userDeleted(userId: string): Promise<void> {
    await this.stores.tombstones.markUserDeleted(userId, this.clock());
    await this.eraseUser(userId);
  }

  /**
   * Drops tombstones and abandoned fan-out progress older than the cutoff: once no event that
   * could need them can still be delivered, they only take space.
   */
  async forgetBefore(cutoff: Date): Promise<void> {
    await this.stores.tombstones.forgetBefore(cutoff);
    await this.stores.progress.forgetBefore(cutoff);
  }

  private async fanOut(post: Post, posts: Post[], graph: FollowerDirectory, signal: AbortSignal | undefined): Promise<boolean> {
    const resumeToken = await this.stores.progress.fanOutProgress(post.tweetId);
    for await (const batch of graph.followers(post.authorId, resumeToken, signal)) {
      signal?.throwIfAborted();
      const entries = batch.followerIds.flatMap((ownerId) => posts.map((p) => ({ ...p, ownerId })));
      if (!(await this.observer.fanOutBatch(entries.length, () => this.write(entries, post)))) return false;
      await this.stores.progress.saveFanOutProgress(post.tweetId, batch.resumeToken, this.clock());
    }
    await this.stores.progress.clearFanOutProgress([post.tweetId]);
    this.observer.fannedOut(post.tweetId);
    return true;
  }

  /** Writes the entries and settles them; false when `post` itself turned out to be deleted. */
  private async write(entries: Entry[], post: Post): Promise<boolean> {
    await this.stores.timelines.addEntries(entries);
    const deleted = await this.settle(entries, []);
    return !(deleted.tweetIds.has(post.tweetId) || deleted.tweetIds.has(post.retweetOfId ?? "") || deleted.userIds.has(post.authorId));
  }

  /**
   * Removes what was just written if a deletion was recorded meanwhile: of one of the tweets (or
   * the original a retweet points to), of an author, an owner or another user involved.
   */
  private async settle(written: Entry[], userIds: string[]): Promise<{ tweetIds: Set<string>; userIds: Set<string> }> {
    const tombstones = await this.stores.tombstones.findTombstones({
      tweetIds: unique(written.flatMap((e) => (e.retweetOfId ? [e.tweetId, e.retweetOfId] : [e.tweetId]))),
      userIds: unique([...userIds, ...written.flatMap((e) => [e.authorId, e.ownerId])]),
    });
    if (tombstones.tweetIds.length > 0) await this.eraseTweets(tombstones.tweetIds);
    for (const userId of tombstones.userIds) await this.eraseUser(userId);
    return { tweetIds: new Set(tombstones.tweetIds), userIds: new Set(tombstones.userIds) };
  }

  private async isDeleted(post: Post): Promise<boolean> {
    const tombstones = await this.stores.tombstones.findTombstones({
      tweetIds: post.retweetOfId ? [post.tweetId, post.retweetOfId] : [post.tweetId],
      userIds: [post.authorId],
    });
    return tombstones.tweetIds.length > 0 || tombstones.userIds.length > 0;
  }

  /** The author's posts not fanned out since they became a celebrity, with the new one. */
  private async postsSince(celebrity: Celebrity, post: Post): Promise<Post[]> {
    const recent = await this.stores.posts.postsBy([post.authorId], {}, BACKFILL_POSTS);
    return [post, ...recent.filter((p) => p.tweetId >= celebrity.since && p.tweetId !== post.tweetId)];
  }

  /** Removes the tweets and every retweet of them from posts and timelines. */
  private async eraseTweets(tweetIds: string[]): Promise<void> {
    const all = unique([...tweetIds, ...(await this.stores.posts.retweetsOf(tweetIds))]);
    await this.stores.timelines.removeEntriesOf(all);
    await this.stores.posts.removePosts(all);
    await this.stores.progress.clearFanOutProgress(all);
  }

  private async eraseUser(userId: string): Promise<void> {
    // Follows first: reads filter entries by them, so the user's posts stop showing at once.
    await this.stores.follows.removeFollowsOf(userId);
    await this.stores.timelines.removeTimeline(userId);
    await this.stores.timelines.removeEntriesBy(userId);
    // With the user's posts go other people's retweets of them.
    await this.eraseTweets(await this.stores.posts.removePostsBy(userId));
    await this.stores.celebrities.unmarkCelebrity(userId);
  }
}
