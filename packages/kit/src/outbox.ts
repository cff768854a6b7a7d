import type { BusMessage, EventPublisher } from "./bus.js";
import { idTime } from "./ids.js";
import type { Logger } from "./logger.js";
import { firstAtOrAbove } from "./sorted.js";
import { kitMetrics } from "./telemetry/metrics.js";

/**
 * The transactional outbox. A write that must announce itself stores its bus messages in the same
 * document, in the same single-document atomic update, so the change and its events are saved
 * together or not at all. The relay then publishes what is pending and only afterwards marks it
 * published. A crash between the two republishes with the same message id: JetStream drops the
 * duplicate inside its window and consumers are idempotent beyond it. No event is lost.
 */
export interface PendingMessage {
  /** The document that holds the message. */
  ownerId: string;
  message: BusMessage;
}

export interface OutboxStore {
  /** Unpublished messages, each owner's in the order they were recorded. */
  pending(limit: number): Promise<PendingMessage[]>;
  /** Removes the message if it is still its owner's oldest pending one; otherwise does nothing. */
  markPublished(pending: PendingMessage): Promise<void>;
}

/**
 * For stores that keep their documents in process memory: the owners whose outbox holds messages,
 * so `pending` looks at those alone instead of at every document. Owners come out lowest rank
 * first; the rank is the store's document order (an id, or when the document was added), so the
 * order does not depend on when an owner's messages were recorded.
 */
export class PendingOwners<Rank extends string | number> {
  private readonly ranks = new Map<string, Rank>();
  /** The same owners, sorted by rank: new owners mostly rank last, so inserts are cheap. */
  private readonly queue: { ownerId: string; rank: Rank }[] = [];

  /** Call when the owner's outbox gains messages; adding an owner already here changes nothing. */
  add(ownerId: string, rank: Rank): void {
    if (this.ranks.has(ownerId)) return;
    this.ranks.set(ownerId, rank);
    let index = firstAtOrAbove(this.queue, rank, (owner) => owner.rank);
    while (this.queue[index]?.rank === rank) index++; // equal ranks keep the order they came in
    this.queue.splice(index, 0, { ownerId, rank });
  }

  /** Call when the owner's outbox is empty, or the owner is gone. */
  delete(ownerId: string): void {
    const rank = this.ranks.get(ownerId);
    if (rank === undefined) return;
    this.ranks.delete(ownerId);
    let index = firstAtOrAbove(this.queue, rank, (owner) => owner.rank);
    while (this.queue[index]!.ownerId !== ownerId) index++; // past owners of equal rank
    this.queue.splice(index, 1);
  }

  /** The `limit` owners of lowest rank. */
  first(limit: number): string[] {
    return this.queue.slice(0, limit).map((o) => o.ownerId);
  }

  /**
   * The store's `markPublished` for one owner's outbox: takes the message off only if it is the
   * oldest there. True when that emptied the outbox (the owner then leaves this set): the moment a
   * store purges a tombstone that was kept for its events.
   */
  markPublished(ownerId: string, outbox: BusMessage[], message: BusMessage): boolean {
    if (outbox[0]?.id !== message.id) return false;
    outbox.shift();
    if (outbox.length > 0) return false;
    this.delete(ownerId);
    return true;
  }
}

export interface OutboxRelayOptions {
  /** How often to look for messages left behind, e.g. by a crash or a bus outage. */
  pollIntervalMs?: number;
  batchSize?: number;
  /** The service whose outbox this is: its pending events and their age go in the metrics under this name. */
  service?: string;
}

export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  /** What the last look found and is not yet published: how many, and when the oldest was recorded. */
  private unpublished = 0;
  private oldestAt: number | undefined;
  private readonly unmeasure: Array<() => void> = [];

  constructor(
    private readonly store: OutboxStore,
    private readonly publisher: EventPublisher,
    private readonly log: Logger,
    options: OutboxRelayOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.batchSize = options.batchSize ?? 100;
    if (options.service) {
      const labels = { service: options.service };
      const metrics = kitMetrics();
      this.unmeasure.push(
        metrics.outboxPending.source(labels, () => this.unpublished),
        metrics.outboxOldestAge.source(labels, () => (this.oldestAt === undefined ? 0 : Math.max(0, Date.now() - this.oldestAt) / 1000)),
      );
    }
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.notify(), this.pollIntervalMs);
    this.timer.unref();
    this.notify();
  }

  /** Asks for a pass soon; calls while a pass runs fold into one more pass. */
  notify(): void {
    if (this.stopped) return;
    this.again = true;
    this.running ??= this.loop();
  }

  /** Publishes until nothing is pending (or publishing fails); resolves when done. */
  async flush(): Promise<void> {
    this.notify();
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    for (const unmeasure of this.unmeasure.splice(0)) unmeasure();
  }

  private async loop(): Promise<void> {
    try {
      // No await between the last check of `again` and clearing `running`, so a notify() can
      // never land in between and go unanswered until the next poll.
      while (this.again && !this.stopped) {
        this.again = false;
        try {
          await this.publishPending();
        } catch (error) {
          // The messages stay pending; the next poll retries them in the same order.
          this.log.warn({ err: error }, "outbox relay could not publish; will retry");
          return;
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  private async publishPending(): Promise<void> {
    for (;;) {
      const batch = await this.store.pending(this.batchSize);
      this.counted(batch);
      for (const [index, pending] of batch.entries()) {
        if (this.stopped) return;
        await this.publisher.publish(pending.message);
        await this.store.markPublished(pending);
        // The oldest is re-read at the next look: within a pass only the count moves.
        this.unpublished = batch.length - index - 1;
        this.log.debug({ eventId: pending.message.id, subject: pending.message.subject }, "event published");
      }
      if (batch.length < this.batchSize) return this.counted([]);
    }
  }

  /** Keeps the metrics' view of what waits: the messages left and the oldest's recording time (its id's). */
  private counted(left: PendingMessage[]): void {
    this.unpublished = left.length;
    let oldest: number | undefined;
    for (const { message } of left) {
      const at = idTime(message.id).getTime();
      if (Number.isFinite(at) && (oldest === undefined || at < oldest)) oldest = at;
    }
    this.oldestAt = oldest;
  }
}
