import { resourceExhausted, type Logger } from "@chirp/kit";
import type { HomeTimelines } from "./home.js";
import type { CreatedTweet, Post, TimelineItem } from "./model.js";
import type { TimelineStores, Upstream } from "./ports.js";

export interface LiveSettings {
  /** How far a reader's stream may fall behind before it is ended (the client reloads and reconnects). */
  maxBacklog?: number;
  /** How many new posts are looked up and rendered at once; delivery keeps their order. */
  concurrency?: number;
}

/** The items of one open stream, in order; ends when the reader leaves or the hub closes. */
class Feed<I> implements AsyncIterable<I> {
  private readonly pending: I[] = [];
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly maxBacklog: number,
    private readonly onEnd: () => void,
  ) {}

  push(item: I): void {
    if (this.ended) return;
    if (this.pending.length >= this.maxBacklog) {
      this.end(resourceExhausted("the stream fell too far behind; reload the timeline and reconnect"));
      return;
    }
    this.pending.push(item);
    this.wake?.();
  }

  end(failure?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = failure;
    this.onEnd();
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<I> {
    for (;;) {
      const next = this.pending.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

/**
 * The live side: one hub per process, fed by one subscription to new posts, dispatching each to
 * the open streams of readers who should see it (its author, and their followers by the follows
 * projection). A post costs one lookup among the connected readers and one rendering, however
 * many of them receive it; readers with no stream open cost nothing.
 */
export class LiveTimelines {
  private readonly readers = new Map<string, Set<Feed<TimelineItem>>>();
  private readonly maxBacklog: number;
  private readonly concurrency: number;
  private delivered: Promise<void> = Promise.resolve();
  private preparing = 0;
  private closed = false;

  constructor(
    /** Who follows whom: who of the connected readers receives a post. */
    private readonly stores: Pick<TimelineStores, "follows">,
    private readonly home: HomeTimelines,
    private readonly log: Logger,
    settings: LiveSettings = {},
  ) {
    this.maxBacklog = settings.maxBacklog ?? 100;
    this.concurrency = settings.concurrency ?? 16;
  }

  /** How many streams are open. */
  get streams(): number {
    let count = 0;
    for (const feeds of this.readers.values()) count += feeds.size;
    return count;
  }

  /** The reader's new entries as they are posted, until `signal` aborts or the hub closes. */
  follow(readerId: string, signal: AbortSignal): AsyncIterable<TimelineItem> {
    const feed: Feed<TimelineItem> = new Feed(this.maxBacklog, () => {
      const feeds = this.readers.get(readerId);
      feeds?.delete(feed);
      if (feeds?.size === 0) this.readers.delete(readerId);
    });
    if (this.closed || signal.aborted) {
      feed.end();
      return feed;
    }
    const feeds = this.readers.get(readerId) ?? new Set();
    feeds.add(feed);
    this.readers.set(readerId, feeds);
    signal.addEventListener("abort", () => feed.end(), { once: true });
    return feed;
  }

  /**
   * Offers a post as it is published. Posts are prepared concurrently and delivered in the order
   * they came; this waits only when `concurrency` of them are still being prepared. A post pushed
   * live is rendered once for all its readers, as nobody in particular; `upstream` is asked for
   * what the projections cannot render.
   */
  async tweetCreated(created: CreatedTweet, upstream: Upstream): Promise<void> {
    // Replies are not home timeline entries.
    if (created.replyToId || this.readers.size === 0) return;
    const post: Post = { tweetId: created.tweetId, authorId: created.authorId, ...(created.retweetOfId ? { retweetOfId: created.retweetOfId } : {}) };
    const prepared = this.prepare(post, upstream);
    this.preparing += 1;
    this.delivered = this.delivered.then(async () => {
      this.deliver(await prepared);
      this.preparing -= 1;
    });
    if (this.preparing >= this.concurrency) await this.delivered;
  }

  /** Ends every open stream; new ones end at once. */
  close(): void {
    this.closed = true;
    for (const feeds of [...this.readers.values()]) for (const feed of [...feeds]) feed.end();
  }

  private async prepare(post: Post, upstream: Upstream): Promise<{ readerIds: string[]; item: TimelineItem } | undefined> {
    try {
      const others = [...this.readers.keys()].filter((id) => id !== post.authorId);
      const readerIds = others.length > 0 ? await this.stores.follows.followersAmong(post.authorId, others) : [];
      if (this.readers.has(post.authorId)) readerIds.push(post.authorId);
      if (readerIds.length === 0) return undefined;
      const [item] = await this.home.hydrate([post], undefined, upstream);
      return item ? { readerIds, item } : undefined;
    } catch (error) {
      // A live push is best effort: the post is in the timeline for the next read either way.
      this.log.warn({ err: error, tweetId: post.tweetId }, "could not push a new post to open streams");
      return undefined;
    }
  }

  private deliver(prepared: { readerIds: string[]; item: TimelineItem } | undefined): void {
    if (!prepared) return;
    for (const readerId of prepared.readerIds) for (const feed of this.readers.get(readerId) ?? []) feed.push(prepared.item);
  }
}
