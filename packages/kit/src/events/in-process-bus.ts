import {
  DEFAULT_MAX_DELIVER,
  deadLetterSubject,
  redeliveryDelayMs,
  subjectMatches,
  type BusMessage,
  type Consumer,
  type ConsumerSpec,
  type EventBus,
  type EventHandler,
  type LiveHandler,
  type LiveOptions,
  type LiveSubscriber,
  type LiveSubscription,
} from "../bus.js";
import type { Logger } from "../logger.js";

interface Cursor {
  position: number;
  active: boolean;
  wake?: () => void;
}

interface LiveFeed {
  subjects: string[];
  handler: LiveHandler;
  /** The feed's deliveries run one after another, in publish order, without holding up the publisher. */
  tail: Promise<void>;
}

/**
 * The event bus inside one process, for the embedded mesh and unit tests. It mirrors the
 * JetStream semantics the services rely on: an append-only log, durable consumers that resume
 * from their last acknowledged message, duplicate publishes dropped by id, failed deliveries
 * retried with backoff and dead-lettered after `maxDeliver` attempts, and live subscriptions that
 * see only what is published after they start. Nothing survives a restart.
 */
export class InProcessEventBus implements EventBus, LiveSubscriber {
  private readonly log: BusMessage[] = [];
  /** When each message of `log` was published (ms since the epoch), for live subscriptions that replay. */
  private readonly publishedAt: number[] = [];
  private readonly seenIds = new Set<string>();
  private readonly cursors = new Map<string, Cursor>();
  private readonly waiters = new Set<() => void>();
  private readonly feeds = new Set<LiveFeed>();

  constructor(private readonly logger: Logger) {}

  async publish(message: BusMessage): Promise<void> {
    if (this.seenIds.has(message.id)) return;
    this.seenIds.add(message.id);
    this.log.push({ ...message, data: Uint8Array.from(message.data) });
    this.publishedAt.push(Date.now());
    for (const wake of this.waiters) wake();
    for (const feed of this.feeds) {
      if (!feed.subjects.some((filter) => subjectMatches(filter, message.subject))) continue;
      const copy = { ...message, data: Uint8Array.from(message.data) };
      feed.tail = feed.tail
        .then(() => feed.handler(copy))
        .catch((error: unknown) => this.logger.warn({ err: error, eventId: message.id, subject: message.subject }, "live subscriber failed; message dropped"));
    }
  }

  async subscribe(subjects: string[], handler: LiveHandler, options: LiveOptions = {}): Promise<LiveSubscription> {
    const feed: LiveFeed = { subjects, handler, tail: Promise.resolve() };
    if (options.replayMs !== undefined) {
      const since = Date.now() - options.replayMs;
      for (const [i, message] of this.log.entries()) {
        if (this.publishedAt[i]! < since || !subjects.some((filter) => subjectMatches(filter, message.subject))) continue;
        const copy = { ...message, data: Uint8Array.from(message.data) };
        feed.tail = feed.tail
          .then(() => handler(copy))
          .catch((error: unknown) => this.logger.warn({ err: error, eventId: message.id, subject: message.subject }, "live subscriber failed; message dropped"));
      }
    }
    this.feeds.add(feed);
    return {
      stop: async () => {
        this.feeds.delete(feed);
        await feed.tail;
      },
    };
  }

  /** Everything published so far, for tests and diagnostics. */
  messages(subjectFilter = ">"): BusMessage[] {
    return this.log.filter((m) => subjectMatches(subjectFilter, m.subject));
  }

  async consume(spec: ConsumerSpec, handler: EventHandler): Promise<Consumer> {
    const existing = this.cursors.get(spec.durable);
    if (existing?.active) throw new Error(`consumer ${spec.durable} is already running in this process`);
    const cursor: Cursor = existing ?? { position: spec.startAt === "new" ? this.log.length : 0, active: true };
    cursor.active = true;
    this.cursors.set(spec.durable, cursor);
    const done = this.run(spec, handler, cursor);
    return {
      stop: async () => {
        cursor.active = false;
        cursor.wake?.();
        await done;
      },
    };
  }

  private async run(spec: ConsumerSpec, handler: EventHandler, cursor: Cursor): Promise<void> {
    const maxDeliver = spec.maxDeliver ?? DEFAULT_MAX_DELIVER;
    while (cursor.active) {
      const message = this.log[cursor.position];
      if (!message) {
        await this.waitForMessage(cursor);
        continue;
      }
      if (spec.subjects.some((filter) => subjectMatches(filter, message.subject))) {
        const settled = await this.deliver(spec.durable, message, handler, maxDeliver, cursor);
        if (!settled) return;
      }
      cursor.position += 1;
    }
  }

  /** True once the message is handled or dead-lettered; false if the consumer stopped first. */
  private async deliver(durable: string, message: BusMessage, handler: EventHandler, maxDeliver: number, cursor: Cursor): Promise<boolean> {
    for (let attempt = 1; cursor.active; attempt++) {
      try {
        await handler({ ...message, attempt });
        return true;
      } catch (error) {
        if (attempt >= maxDeliver) {
          this.logger.error({ err: error, durable, eventId: message.id, subject: message.subject }, "event dead-lettered");
          await this.publish({ id: `${durable}:${message.id}`, subject: deadLetterSubject(durable), data: message.data });
          return true;
        }
        this.logger.warn({ err: error, durable, eventId: message.id, attempt }, "event handler failed; will redeliver");
        await this.sleep(redeliveryDelayMs(attempt), cursor);
      }
    }
    return false;
  }

  private waitForMessage(cursor: Cursor): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.waiters.delete(wake);
        cursor.wake = undefined;
        resolve();
      };
      cursor.wake = wake;
      this.waiters.add(wake);
    });
  }

  private sleep(ms: number, cursor: Cursor): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        cursor.wake = undefined;
        resolve();
      }, ms);
      cursor.wake = () => {
        clearTimeout(timer);
        cursor.wake = undefined;
        resolve();
      };
    });
  }
}
