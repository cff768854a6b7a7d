import { createHash } from "node:crypto";
import { nanos } from "@nats-io/nats-core";
import { DiscardPolicy, JetStreamApiError, jetstream, RetentionPolicy, StorageType, type JetStreamClient } from "@nats-io/jetstream";
import type { JetStreamBus } from "./jetstream.js";

/**
 * Small values shared by every replica of a process, kept on NATS JetStream the way NATS KV keeps
 * its values: a stream with one message per subject, read by subject, written with compare-and-set
 * (`Nats-Expected-Last-Subject-Sequence`), so two replicas never both act on the same value. This
 * is KV's own mechanism through @nats-io/jetstream, already a dependency; the KV client package
 * would add nothing else. Values lapse after the stream's max age.
 */

const CAS_ATTEMPTS = 8;

interface Stored<T> {
  value: T | undefined;
  /** 0: nothing stored yet. */
  seq: number;
}

/** One value per key with compare-and-set, on a stream. */
export class SharedValues {
  private readonly js: JetStreamClient;

  constructor(
    private readonly bus: JetStreamBus,
    private readonly stream: string,
    private readonly prefix: string,
  ) {
    this.js = jetstream(bus.connection);
  }

  /** Makes the stream unless it exists; `maxAgeMs`: how long a value outlives its last write. */
  static async open(bus: JetStreamBus, options: { stream: string; prefix: string; replicas: number; maxAgeMs: number }): Promise<SharedValues> {
    const { stream, prefix, replicas, maxAgeMs } = options;
    const config = {
      name: stream,
      subjects: [`${prefix}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.Memory,
      max_msgs_per_subject: 1,
      max_age: nanos(maxAgeMs),
      discard: DiscardPolicy.Old,
      num_replicas: replicas,
      allow_direct: true,
    };
    try {
      await bus.manager.streams.info(stream);
    } catch {
      await bus.manager.streams.add(config).catch(async (error: unknown) => {
        // Another replica made it meanwhile.
        if (!(error instanceof JetStreamApiError)) throw error;
        await bus.manager.streams.info(stream);
      });
    }
    return new SharedValues(bus, stream, prefix);
  }

  /** Keys become subject tokens: hashed, so any caller id or address fits. */
  subject(space: string, key: string): string {
    return `${this.prefix}.${space}.${createHash("sha256").update(key).digest("hex").slice(0, 40)}`;
  }

  async read<T>(subject: string): Promise<Stored<T>> {
    const message = await this.bus.manager.direct.getMessage(this.stream, { last_by_subj: subject }).catch(() => null);
    if (!message) return { value: undefined, seq: 0 };
    return { value: message.json<T>(), seq: message.seq };
  }

  /** False when someone wrote after `seq` was read. */
  async write<T>(subject: string, value: T, seq: number): Promise<boolean> {
    try {
      await this.js.publish(subject, JSON.stringify(value), { expect: { lastSubjectSequence: seq } });
      return true;
    } catch (error) {
      if (error instanceof JetStreamApiError && /wrong last sequence/i.test(error.message)) return false;
      throw error;
    }
  }

  /** Reads, changes and writes back until no one else wrote between; `change` answers the new value and a result. */
  async update<T, R>(subject: string, change: (value: T | undefined) => { value: T; result: R } | { result: R }): Promise<R> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const stored = await this.read<T>(subject);
      const next = change(stored.value);
      if (!("value" in next)) return next.result;
      if (await this.write(subject, next.value, stored.seq)) return next.result;
    }
    throw new Error(`${subject}: too many concurrent updates`);
  }
}
