import { newId } from "@chirp/kit";
import { testConfigFrom } from "@chirp/kit/testing";
import { schema, type TimelineConfig } from "../src/config.js";
import { FanOut } from "../src/domain/fan-out.js";
import { HomeTimelines } from "../src/domain/home.js";
import { Hydration } from "../src/domain/hydration.js";
import type { FollowChange, Post, ProfileCard, RenderedTweet, TweetCard } from "../src/domain/model.js";
import type { FollowerBatch, FollowerDirectory, TimelineStores, Upstream } from "../src/domain/ports.js";
import { Profiles } from "../src/domain/profiles.js";
import { TweetCards } from "../src/domain/tweet-cards.js";
import { memoryStores } from "../src/storage/memory.js";

export const testConfig = (overrides: Partial<TimelineConfig> = {}): TimelineConfig => ({ ...testConfigFrom(schema), ...overrides });

/** The graph service as fan-out sees it: followers in batches, resumable, able to fail on cue. */
export class FakeGraph implements FollowerDirectory {
  private readonly followersOf = new Map<string, string[]>();
  /** Every listing asked for, with the token it resumed from. */
  readonly listings: Array<{ userId: string; resumeToken: string | undefined }> = [];
  /** When set, the next listing breaks after this many batches. */
  breakAfterBatches: number | undefined;
  /** When set, listings hang after this many batches until aborted or released, like a process that died. */
  stallAfterBatches: number | undefined;
  private readonly stalled = new Set<() => void>();

  constructor(readonly batchSize = 2) {}

  addFollower(followeeId: string, followerId: string): void {
    const followers = this.followersOf.get(followeeId) ?? [];
    if (!followers.includes(followerId)) followers.push(followerId);
    this.followersOf.set(followeeId, followers);
  }

  removeFollower(followeeId: string, followerId: string): void {
    this.followersOf.set(followeeId, (this.followersOf.get(followeeId) ?? []).filter((id) => id !== followerId));
  }

  async followerCount(userId: string): Promise<number> {
    return this.followersOf.get(userId)?.length ?? 0;
  }

  /** Ends every hanging listing with an error. */
  releaseStalled(): void {
    for (const release of this.stalled) release();
  }

  async *followers(userId: string, resumeToken: string | undefined, signal?: AbortSignal): AsyncIterable<FollowerBatch> {
    this.listings.push({ userId, resumeToken });
    const all = [...(this.followersOf.get(userId) ?? [])];
    let sent = 0;
    for (let start = resumeToken ? Number(resumeToken) : 0; start < all.length; start += this.batchSize) {
      if (this.breakAfterBatches !== undefined && sent === this.breakAfterBatches) {
        this.breakAfterBatches = undefined;
        throw new Error("the follower listing broke off");
      }
      if (this.stallAfterBatches !== undefined && sent === this.stallAfterBatches) await this.stall(signal);
      yield { followerIds: all.slice(start, start + this.batchSize), resumeToken: String(start + this.batchSize) };
      sent += 1;
    }
  }

  private stall(signal: AbortSignal | undefined): Promise<never> {
    return new Promise<never>((_, reject) => {
      const release = () => {
        this.stalled.delete(release);
        reject(new Error("the follower listing was cut off"));
      };
      this.stalled.add(release);
      signal?.addEventListener("abort", release, { once: true });
    });
  }
}

/** A tweet as the fake tweets service keeps it. */
export interface FakeTweet {
  id: string;
  authorId: string;
  retweetOfId?: string;
  replyToId?: string;
}

/** The tweets and users services as rendering sees them, counting the calls made. */
export class FakeUpstream implements Upstream {
  private readonly cardsById = new Map<string, TweetCard>();
  private readonly profilesById = new Map<string, ProfileCard>();
  readonly tweetCalls: string[][] = [];
  readonly profileCalls: string[][] = [];

  addUser(username = "someone"): string {
    const userId = newId();
    const at = new Date();
    this.profilesById.set(userId, { userId, username, displayName: username, bio: "", avatarUrl: "", createdAt: at, updatedAt: at });
    return userId;
  }

  removeUser(id: string): void {
    this.profilesById.delete(id);
  }

  addTweet(authorId: string, options: { retweetOfId?: string; replyToId?: string; text?: string } = {}): FakeTweet {
    const tweetId = newId();
    const links = { ...(options.retweetOfId ? { retweetOfId: options.retweetOfId } : {}), ...(options.replyToId ? { replyToId: options.replyToId } : {}) };
    this.cardsById.set(tweetId, { tweetId, authorId, text: options.text ?? `tweet ${tweetId}`, createdAt: new Date(), tags: [], mentions: [], ...links });
    return { id: tweetId, authorId, ...links };
  }

  removeTweet(id: string): void {
    this.cardsById.delete(id);
  }

  async tweets(ids: string[]): Promise<RenderedTweet[]> {
    this.tweetCalls.push(ids);
    return ids.flatMap((id) => {
      const card = this.cardsById.get(id);
      return card ? [this.rendered(card)] : [];
    });
  }

  async profiles(ids: string[]): Promise<ProfileCard[]> {
    this.profileCalls.push(ids);
    return ids.flatMap((id) => this.profilesById.get(id) ?? []);
  }

  /** Like the tweets service: a retweet carries its original, when the original still exists. */
  private rendered(card: TweetCard): RenderedTweet {
    const original = card.retweetOfId ? this.cardsById.get(card.retweetOfId) : undefined;
    return {
      card,
      likeCount: 0,
      retweetCount: 0,
      replyCount: 0,
      likedByMe: false,
      retweetedByMe: false,
      retweetedTweet: original && this.rendered(original),
    };
  }
}

/**
 * A timeline service's domain on its stores, with fakes of the graph and of the tweets and users
 * services, and helpers that act as the events would. Tweets are announced to the fan-out only, so
 * pages are rendered by asking the fake services.
 */
export class World {
  readonly graph = new FakeGraph();
  readonly upstream = new FakeUpstream();
  readonly fanOut: FanOut;
  readonly home: HomeTimelines;

  constructor(
    readonly stores: TimelineStores = memoryStores(800),
    settings: { celebrityFollowers?: number; timelineLength?: number } = {},
  ) {
    this.fanOut = new FanOut(stores, { celebrityFollowers: settings.celebrityFollowers ?? 10_000, timelineLength: settings.timelineLength ?? 800 });
    this.home = new HomeTimelines(stores, new Hydration(new TweetCards(stores), new Profiles(stores)));
  }

  user(username?: string): string {
    return this.upstream.addUser(username);
  }

  /** A follow as the graph records it and announces it. */
  async follow(followerId: string, followeeId: string, at = new Date()): Promise<FollowChange> {
    this.graph.addFollower(followeeId, followerId);
    const change = { followerId, followeeId, following: true, at, eventId: newId(at.getTime()) };
    await this.fanOut.followChanged(change);
    return change;
  }

  async unfollow(followerId: string, followeeId: string, at = new Date()): Promise<FollowChange> {
    this.graph.removeFollower(followeeId, followerId);
    const change = { followerId, followeeId, following: false, at, eventId: newId(at.getTime()) };
    await this.fanOut.followChanged(change);
    return change;
  }

  /** A tweet as the tweets service stores it and announces it. */
  async post(authorId: string, options: { retweetOfId?: string; replyToId?: string } = {}): Promise<Post> {
    const tweet = this.upstream.addTweet(authorId, options);
    const created = { tweetId: tweet.id, authorId, ...(options.retweetOfId ? { retweetOfId: options.retweetOfId } : {}), ...(options.replyToId ? { replyToId: options.replyToId } : {}) };
    await this.fanOut.tweetCreated(created, this.graph);
    return created;
  }

  async deleteTweet(tweetId: string): Promise<void> {
    this.upstream.removeTweet(tweetId);
    await this.fanOut.tweetDeleted(tweetId);
  }

  /** The ids the reader's stored timeline holds, newest first. */
  async stored(ownerId: string): Promise<string[]> {
    return (await this.stores.timelines.entries(ownerId, {}, 10_000)).map((e) => e.tweetId);
  }

  /** The ids the reader sees on the first page (at most 100), newest first. */
  async seen(readerId: string, pageSize = 100): Promise<string[]> {
    return (await this.home.page(readerId, { pageSize, pageToken: "" }, this.upstream)).items.map((i) => i.id);
  }
}

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
