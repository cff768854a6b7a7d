import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import type { JetStreamBus } from "@chirp/kit/nats";

/**
 * Creates a durable consumer as the kit would, but starting at the end of the streams instead of
 * their beginning: the shared test server's streams hold every earlier run's events, which a new
 * durable consumer would otherwise replay first. Answers a function that deletes it again.
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
