import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import type { JetStreamBus } from "./jetstream.js";

/**
 * Creates a durable consumer as `JetStreamBus.consume` would, but starting at the end of the
 * streams instead of their beginning. A run sharing its servers with others (a test suite, a
 * benchmark) makes its consumers this way before its services start: a new durable consumer would
 * otherwise first replay every earlier run's events still in the streams. The service then finds
 * the consumer and takes it over. Answers a function that deletes it again.
 */
export async function durableFromNow(bus: JetStreamBus, durable: string, subjects: string[]): Promise<() => Promise<void>> {
  const byStream = new Map<string, string[]>();
  for (const subject of subjects) {
    const stream = await bus.manager.streams.find(subject);
    byStream.set(stream, [...(byStream.get(stream) ?? []), subject]);
  }
  for (const [stream, filters] of byStream) {
    await bus.manager.consumers.add(stream, {
      durable_name: durable,
      filter_subjects: filters,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.New,
      max_deliver: -1,
    });
  }
  return async () => {
    for (const stream of byStream.keys()) await bus.manager.consumers.delete(stream, durable).catch(() => false);
  };
}
