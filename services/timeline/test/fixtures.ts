import { newId } from "@chirp/kit";
import type { TimelineConfig } from "../src/config.js";
import { FanOut } from "../src/domain/fan-out.js";
import { HomeTimelines } from "../src/domain/home.js";
import type { FollowChange, Post, ProfileView, TweetView } from "../src/domain/model.js";
import type { FollowerBatch, FollowerDirectory, Hydration, TimelineStore } from "../src/domain/ports.js";
import { InMemoryTimelineStore } from "../src/storage/memory.js";

export function testConfig(overrides: Partial<TimelineConfig> = {}): TimelineConfig {
  return {
    serviceName: "timeline",
    host: "127.0.0.1",
    port: 0,
    logLevel: "silent",
    mongo: undefined,
    natsUrl: undefined,
    upstreams: { users: "127.0.0.1:1", tweets: "127.0.0.1:1", graph: "127.0.0.1:1" },
    consumerName: "timeline",
    celebrityFollowers: 10_000,
    timelineLength: 800,
    profileCacheMs: 10_000,
    shutdownDeadlineMs: 5_000,
    ...overrides,
  };
}

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

export interface FakeTweet extends TweetView {
  text: string;
  retweetedTweet?: FakeTweet;
}

export interface FakeProfile extends ProfileView {
  username: string;
}

/** The tweets and users services as rendering sees them, counting the calls made. */
export class FakeHydration implements Hydration<FakeTweet, FakeProfile> {
  private readonly tweetsById = new Map<string, FakeTweet>();
  private readonly profilesById = new Map<string, FakeProfile>();
  readonly tweetCalls: string[][] = [];
  readonly profileCalls: string[][] = [];

  addUser(username = "someone"): string {
    const id = newId();
    this.profilesById.set(id, { id, username });
    return id;
  }

  removeUser(id: string): void {
    this.profilesById.delete(id);
  }

  addTweet(authorId: string, options: { retweetOfId?: string; replyToId?: string; text?: string } = {}): FakeTweet & { replyToId?: string } {
    const id = newId();
    const tweet = { id, authorId, text: options.text ?? `tweet ${id}`, createdAt: new Date(), retweetOfId: options.retweetOfId ?? "", replyToId: options.replyToId };
    this.tweetsById.set(id, tweet);
    return tweet;
  }

  removeTweet(id: string): void {
    this.tweetsById.delete(id);
  }

  async tweets(ids: string[]): Promise<FakeTweet[]> {
    this.tweetCalls.push(ids);
    return ids.flatMap((id) => {
      const tweet = this.tweetsById.get(id);
      if (!tweet) return [];
      // Like the tweets service: a retweet carries its original, when the original still exists.
      return [tweet.retweetOfId ? { ...tweet, retweetedTweet: this.tweetsById.get(tweet.retweetOfId) } : tweet];
    });
  }

  async profiles(ids: string[]): Promise<FakeProfile[]> {
    this.profileCalls.push(ids);
    return ids.flatMap((id) => this.profilesById.get(id) ?? []);
  }
}

/** A timeline service's domain on a store, with fakes of the graph and of rendering, and helpers that act as the events would. */
export class World {
  readonly graph = new FakeGraph();
  readonly hydration = new FakeHydration();
  readonly fanOut: FanOut;
  readonly home: HomeTimelines<FakeTweet, FakeProfile>;

  constructor(
    readonly store: TimelineStore = new InMemoryTimelineStore(800),
    settings: { celebrityFollowers?: number; timelineLength?: number } = {},
  ) {
    this.fanOut = new FanOut(store, { celebrityFollowers: settings.celebrityFollowers ?? 10_000, timelineLength: settings.timelineLength ?? 800 });
    this.home = new HomeTimelines(store);
  }

  user(username?: string): string {
    return this.hydration.addUser(username);
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
    const tweet = this.hydration.addTweet(authorId, options);
    const created = { tweetId: tweet.id, authorId, ...(options.retweetOfId ? { retweetOfId: options.retweetOfId } : {}), ...(options.replyToId ? { replyToId: options.replyToId } : {}) };
    await this.fanOut.tweetCreated(created, this.graph);
    return created;
  }

  async deleteTweet(tweetId: string): Promise<void> {
    this.hydration.removeTweet(tweetId);
    await this.fanOut.tweetDeleted(tweetId);
  }

  /** The ids the reader's stored timeline holds, newest first. */
  async stored(ownerId: string): Promise<string[]> {
    return (await this.store.entries(ownerId, {}, 10_000)).map((e) => e.tweetId);
  }

  /** The ids the reader sees on the first page (at most 100), newest first. */
  async seen(readerId: string, pageSize = 100): Promise<string[]> {
    return (await this.home.page(readerId, { pageSize, pageToken: "" }, this.hydration)).items.map((i) => i.id);
  }
}

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
