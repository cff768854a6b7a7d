import { deadLetterSubject } from "@chirp/kit";
import { EVENT_SUBJECTS, InProcessEventBus } from "@chirp/kit/events";
import { domainFailure, eventually, testLogger } from "@chirp/kit/testing";
import { consumeUserEvents } from "../src/events.js";
import { domainWithMemory, newUserIds, userCreated, userDeleted } from "./fixtures.js";

describe("the user events consumer", () => {
  const durable = "graph_user_events_test";

  async function running() {
    const bus = new InProcessEventBus(testLogger());
    const { graph } = domainWithMemory();
    const consumer = await consumeUserEvents(bus, durable, graph);
    return { bus, graph, consumer };
  }

  it("makes created users followable and removes deleted ones, however often an event comes", async () => {
    const { bus, graph, consumer } = await running();
    try {
      const [a, b] = newUserIds(2) as [string, string];
      await bus.publish(userCreated(a));
      await bus.publish(userCreated(b));
      await eventually(() => graph.follow(a, b));
      await graph.follow(b, a);

      // The deletion twice, as a redelivery would bring it, then a UserCreated arriving late.
      await bus.publish(userDeleted(b));
      await bus.publish(userDeleted(b));
      await bus.publish(userCreated(b));
      await eventually(async () => expect(await graph.getCounts(a)).toEqual({ followers: 0, following: 0 }));
      const refused = await domainFailure(graph.follow(a, b));
      expect(refused.code).toBe("NOT_FOUND");
      expect(await graph.getCounts(b)).toEqual({ followers: 0, following: 0 });
    } finally {
      await consumer.stop();
    }
  });

  it("dead-letters an event it cannot read instead of blocking the ones behind it", async () => {
    const { bus, graph, consumer } = await running();
    try {
      const [a, b] = newUserIds(2) as [string, string];
      await bus.publish({ id: "not-an-event", subject: EVENT_SUBJECTS.userCreated, data: Uint8Array.from([0xff, 0xff, 0xff]) });
      await bus.publish(userCreated(a));
      await bus.publish(userCreated(b));
      await eventually(() => expect(bus.messages(deadLetterSubject(durable))).toHaveLength(1), 10_000);
      await eventually(() => graph.follow(a, b));
    } finally {
      await consumer.stop();
    }
  });
});
