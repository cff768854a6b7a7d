import { Binary, type Collection, type Document, type Filter, type IndexDescription } from "mongodb";
import type { BusMessage } from "../bus.js";
import type { OutboxStore, PendingMessage } from "../outbox.js";
import { Turns } from "../turns.js";

/** How outbox messages are stored inside the document whose change they announce. */
export interface StoredMessage {
  id: string;
  subject: string;
  data: Binary;
  /** The trace context it was recorded in (W3C `traceparent`, `tracestate`). */
  trace?: Record<string, string>;
}

export interface WithOutbox {
  _id: string;
  outbox?: StoredMessage[];
}

export const storedMessages = (messages: BusMessage[]): StoredMessage[] =>
  messages.map((m) => ({ id: m.id, subject: m.subject, data: new Binary(m.data), ...(m.headers ? { trace: m.headers } : {}) }));

/** Only the trace headers, as strings of a sane length: the document may have been edited by hand. */
function storedTrace(trace: unknown): Record<string, string> | undefined {
  if (typeof trace !== "object" || trace === null) return undefined;
  const kept = Object.entries(trace).filter(([key, value]) => (key === "traceparent" || key === "tracestate") && typeof value === "string" && value.length <= 512);
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

const withTrace = (headers: Record<string, string> | undefined) => (headers ? { headers } : {});

/** The index that finds documents with pending messages (sparse: drained documents drop out). */
export const OUTBOX_INDEX: IndexDescription = { key: { "outbox.id": 1 }, name: "outbox_pending", sparse: true };

/**
 * The outbox of one collection. `purgeWhenDrained`, if given, selects documents to delete once
 * their last message is published: tombstones kept only until their deletion was announced.
 */
export class MongoOutboxStore<T extends WithOutbox> implements OutboxStore {
  private readonly turns = new Turns();

  constructor(
    private readonly collection: Collection<T>,
    private readonly purgeWhenDrained?: Filter<T>,
  ) {}

  /**
   * Runs a write to one document of the collection in turn with this process's relay marking that
   * document's messages published. MongoDB applies concurrent updates of one document atomically
   * and needs no such turn; FerretDB v1, which the tests and `npm start` may run on, reads and
   * rewrites the whole document, so the relay's `$pop` racing a change (an unlike written just as
   * its like is marked published) would erase the change and its event. Costs a map lookup per
   * write; replicas of one service still race each other on FerretDB.
   */
  exclusive<R>(ownerId: string, write: () => Promise<R>): Promise<R> {
    return this.turns.run(ownerId, write);
  }

  async pending(limit: number): Promise<PendingMessage[]> {
    const docs = await this.collection
      .find({ "outbox.id": { $exists: true } } as Filter<T>, { projection: { outbox: 1 } })
      .sort({ _id: 1 })
      .limit(limit)
      .toArray();
    return docs.flatMap((doc) =>
      (doc.outbox ?? []).map((m) => ({
        ownerId: doc._id,
        message: { id: m.id, subject: m.subject, data: m.data.read(0, m.data.length()), ...withTrace(storedTrace(m.trace)) },
      })),
    );
  }

  markPublished(pending: PendingMessage): Promise<void> {
    return this.exclusive(pending.ownerId, () => this.pop(pending));
  }

  private async pop({ ownerId, message }: PendingMessage): Promise<void> {
    // Pop the head only if it is this message: atomic, idempotent, and untouched by concurrent
    // appends. ($pull with a condition would read better, but FerretDB matches only whole values.)
    await this.collection.updateOne({ _id: ownerId, "outbox.0.id": message.id } as unknown as Filter<T>, { $pop: { outbox: -1 } } as Document);
    if (this.purgeWhenDrained) {
      await this.collection.deleteOne({ $and: [{ _id: ownerId }, this.purgeWhenDrained, { "outbox.id": { $exists: false } }] } as Filter<T>);
    }
  }
}
