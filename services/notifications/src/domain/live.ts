import { resourceExhausted, type Logger } from "@chirp/kit";
import type { Activity, NotificationView } from "./model.js";
import type { Notifications } from "./notifications.js";
import type { ActivityStore, People } from "./ports.js";

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
      this.end(resourceExhausted("the stream fell too far behind; list the notifications again and reconnect"));
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
 * What an event may have added, for the live side to look for once the durable consumer (on this
 * replica or another) has recorded it: the activities by id, written at the event's time, or the
 * mentions and reply a new post made.
 */
export type Expected = { ids: string[]; at: Date; recipientId?: string } | { postId: string };

export interface LiveSettings {
  /** How far a reader's stream may fall behind before it is ended (the client lists again and reconnects). */
  maxBacklog?: number;
  /** The waits between looks for what an event recorded; after the last, it is given up on (the next list shows it). */
  retryDelaysMs?: readonly number[];
  /** Events being looked for at once; past this, new ones are not pushed live. */
  maxPending?: number;
}

const DEFAULT_DELAYS_MS = [25, 50, 100, 200, 400, 800, 1_600, 3_200];

/**
 * The live side: one hub per process, fed by a live subscription to the events that add
 * notifications. The durable consumer records each event on one replica, while its recipient's
 * stream may be open on any: so each replica, told of the event live, looks in the shared store
 * for what it recorded (a few times, waiting longer each time) and pushes the notification as it
 * then stands to its recipient's open streams. Best effort: whatever is missed is in the next list.
 * Readers with no stream open cost nothing; an event costs nothing when no stream is open.
 */
export class LiveNotifications {
  private readonly readers = new Map<string, Set<Feed<NotificationView>>>();
  private readonly maxBacklog: number;
  private readonly delays: readonly number[];
  private readonly maxPending: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private pending = 0;
  private closed = false;

  constructor(
    private readonly activities: Pick<ActivityStore, "get" | "byTweet">,
    private readonly notifications: Pick<Notifications, "notification">,
    private readonly log: Logger,
    settings: LiveSettings = {},
  ) {
    this.maxBacklog = settings.maxBacklog ?? 100;
    this.delays = settings.retryDelaysMs ?? DEFAULT_DELAYS_MS;
    this.maxPending = settings.maxPending ?? 1_000;
  }

  /** How many streams are open. */
  get streams(): number {
    let count = 0;
    for (const feeds of this.readers.values()) count += feeds.size;
    return count;
  }

  /** The reader's new or grown notifications as they come, until `signal` aborts or the hub closes. */
  follow(readerId: string, signal: AbortSignal): AsyncIterable<NotificationView> {
    const feed: Feed<NotificationView> = new Feed(this.maxBacklog, () => {
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

  /** Looks for what an event recorded, in the background: the live subscription is not held up. */
  offer(expected: Expected, people: People): void {
    if (this.closed || this.readers.size === 0) return;
    if ("recipientId" in expected && expected.recipientId && !this.readers.has(expected.recipientId)) return;
    if (this.pending >= this.maxPending) {
      this.log.warn({ pending: this.pending }, "too many events waiting to be pushed live; this one is not");
      return;
    }
    this.pending += 1;
    this.look(expected, people, 0);
  }

  /** Ends every open stream and stops looking; new streams end at once. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const feeds of [...this.readers.values()]) for (const feed of [...feeds]) feed.end();
  }

  private look(expected: Expected, people: People, attempt: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.find(expected)
        .then(async (found) => {
          if (found.length === 0 && attempt + 1 < this.delays.length && !this.closed) return this.look(expected, people, attempt + 1);
          this.pending -= 1;
          await this.push(found, people);
        })
        .catch((error: unknown) => {
          this.pending -= 1;
          this.log.warn({ err: error }, "could not push a notification to open streams");
        });
    }, this.delays[attempt]);
    this.timers.add(timer);
  }

  private async find(expected: Expected): Promise<Activity[]> {
    if ("postId" in expected) return this.activities.byTweet(expected.postId, ["mention", "reply"]);
    const rows = await Promise.all(expected.ids.map((id) => this.activities.get(id)));
    return rows.filter((row): row is Activity & { on: boolean } => row !== undefined && row.on && row.at.getTime() === expected.at.getTime());
  }

  private async push(found: Activity[], people: People): Promise<void> {
    for (const activity of found) {
      if (!this.readers.has(activity.recipientId)) continue;
      const view = await this.notifications.notification(activity.recipientId, activity.groupKey, people);
      if (view) for (const feed of this.readers.get(activity.recipientId) ?? []) feed.push(view);
    }
  }
}
