import { randomUUID } from "node:crypto";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { GraphService } from "@chirp/proto/es/chirp/graph/v1/graph_pb";
import { TimelineService } from "@chirp/proto/es/chirp/timeline/v1/timeline_pb";
import { TweetsService } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";

/**
 * A client of the public API for the fault tests: a few users following each other, posts (each
 * with an idempotency key, sent again with the same key until acknowledged, as a careful client
 * does) and home-timeline reads, spread over every gateway given; then a check of every home
 * timeline against what was acknowledged.
 */

interface Gateway {
  users: Client<typeof UsersService>;
  tweets: Client<typeof TweetsService>;
  graph: Client<typeof GraphService>;
  timeline: Client<typeof TimelineService>;
}

export interface User {
  id: string;
  token: string;
  followers: string[];
}

export interface Counts {
  acknowledgedPosts: number;
  /** Calls that failed as the client saw them (each attempt counts). */
  clientErrors: number;
  reads: number;
  /** Posts never acknowledged after every attempt (the client gave up). */
  abandonedPosts: number;
}

export interface Delivery {
  expected: number;
  lost: number;
  duplicated: number;
  /** Entries of posts that were stored although their acknowledgement never arrived. */
  unacknowledgedDelivered: number;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` }, timeoutMs: 10_000 });

export class Workload {
  private readonly gateways: Gateway[];
  private next = 0;
  users: User[] = [];
  /** Acknowledged posts: tweet id → author id. */
  readonly posts = new Map<string, string>();
  readonly counts: Counts = { acknowledgedPosts: 0, clientErrors: 0, reads: 0, abandonedPosts: 0 };
  /** Errors by message, for the report. */
  readonly errors = new Map<string, number>();
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(gatewayUrls: string[], private readonly run: string) {
    this.gateways = gatewayUrls.map((baseUrl) => {
      const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true });
      return { users: createClient(UsersService, transport), tweets: createClient(TweetsService, transport), graph: createClient(GraphService, transport), timeline: createClient(TimelineService, transport) };
    });
  }

  private gateway(): Gateway {
    const g = this.gateways[this.next % this.gateways.length]!;
    this.next += 1;
    return g;
  }

  private failed(error: unknown) {
    this.counts.clientErrors += 1;
    const key = String((error as Error)?.message ?? error).slice(0, 80);
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  /** Tries on the next gateway until it succeeds or `attempts` run out. */
  private async attempt<T>(call: (g: Gateway) => Promise<T>, attempts = 40, gapMs = 500): Promise<T | undefined> {
    for (let i = 0; i < attempts; i++) {
      try {
        return await call(this.gateway());
      } catch (error) {
        this.failed(error);
        await pause(gapMs);
      }
    }
    return undefined;
  }

  /** `count` users, user i followed by the next `followers` users (mod count). */
  async setUp(count: number, followers: number): Promise<void> {
    const password = "fault-test-password";
    for (let i = 0; i < count; i++) {
      const username = `f${this.run}${i}`.slice(0, 30);
      await this.attempt((g) => g.users.createUser({ username, email: `${username}@faults.test`, password, displayName: `Fault ${i}` }, { timeoutMs: 10_000 }));
      const login = await this.attempt((g) => g.users.login({ usernameOrEmail: username, password }, { timeoutMs: 10_000 }));
      if (!login?.user) throw new Error(`could not log in ${username}`);
      this.users.push({ id: login.user.id, token: login.accessToken, followers: [] });
    }
    for (let i = 0; i < count; i++) {
      for (let k = 1; k <= followers; k++) {
        const follower = this.users[(i + k) % count]!;
        const followee = this.users[i]!;
        const done = await this.attempt((g) => g.graph.follow({ followeeId: followee.id }, auth(follower.token)));
        if (!done) throw new Error("could not follow");
        followee.followers.push(follower.id);
      }
    }
    // Follows reach the timeline's projection through events; posts made before would not be fanned out to them.
    await pause(3_000);
  }

  /** One post, sent again with the same key until acknowledged (at most ~30 s). */
  async post(author: User): Promise<void> {
    const key = randomUUID();
    const text = `fault test ${key.slice(0, 8)}`;
    const created = await this.attempt((g) => g.tweets.createTweet({ text, idempotencyKey: key }, auth(author.token)), 60, 500);
    if (created?.tweet) {
      this.posts.set(created.tweet.id, author.id);
      this.counts.acknowledgedPosts += 1;
    } else this.counts.abandonedPosts += 1;
  }

  /** `workers` loops of: a post by someone, a home-timeline read of someone, a pause. */
  start(workers: number, gapMs: number): void {
    this.running = true;
    let turn = 0;
    this.loops = Array.from({ length: workers }, async () => {
      while (this.running) {
        const author = this.users[turn++ % this.users.length]!;
        await this.post(author);
        const reader = this.users[(turn * 7) % this.users.length]!;
        try {
          await this.gateway().timeline.getHomeTimeline({ pageSize: 20 }, auth(reader.token));
          this.counts.reads += 1;
        } catch (error) {
          this.failed(error);
        }
        await pause(gapMs);
      }
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Every home timeline, read whole: tweet ids with how often each appears. */
  private async timelines(): Promise<Map<string, Map<string, number>>> {
    const all = new Map<string, Map<string, number>>();
    for (const user of this.users) {
      const seen = new Map<string, number>();
      let pageToken = "";
      for (let page = 0; page < 100; page++) {
        const response = await this.attempt((g) => g.timeline.getHomeTimeline({ pageSize: 100, pageToken }, auth(user.token)), 10, 1_000);
        if (!response) throw new Error("home timeline unreadable");
        for (const item of response.items) if (item.tweet) seen.set(item.tweet.id, (seen.get(item.tweet.id) ?? 0) + 1);
        if (!response.nextPageToken) break;
        pageToken = response.nextPageToken;
      }
      all.set(user.id, seen);
    }
    return all;
  }

  /** Compares every timeline with the acknowledged posts: each in its author's and every follower's, once. */
  async check(): Promise<Delivery> {
    const timelines = await this.timelines();
    const byId = new Map(this.users.map((u) => [u.id, u]));
    let expected = 0;
    let lost = 0;
    let duplicated = 0;
    for (const [tweetId, authorId] of this.posts) {
      for (const owner of [authorId, ...(byId.get(authorId)?.followers ?? [])]) {
        expected += 1;
        if (!timelines.get(owner)?.has(tweetId)) lost += 1;
      }
    }
    let unacknowledgedDelivered = 0;
    for (const seen of timelines.values()) {
      for (const [tweetId, times] of seen) {
        if (times > 1) duplicated += times - 1;
        if (!this.posts.has(tweetId)) unacknowledgedDelivered += 1;
      }
    }
    return { expected, lost, duplicated, unacknowledgedDelivered };
  }

  /** Checks until nothing is missing or the time runs out; the time it took. */
  async settle(timeoutMs: number): Promise<{ delivery: Delivery; settledMs: number | undefined }> {
    const started = Date.now();
    let delivery = await this.check();
    while (delivery.lost > 0 && Date.now() - started < timeoutMs) {
      await pause(2_000);
      delivery = await this.check();
    }
    return { delivery, settledMs: delivery.lost === 0 ? Date.now() - started : undefined };
  }
}
