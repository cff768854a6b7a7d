import type { BusMessage, EventBus, LiveSubscriber, LiveSubscription } from "@chirp/kit";
import { InProcessEventBus } from "@chirp/kit/events";
import { JetStreamBus } from "@chirp/kit/nats";
import { describeWith, eventually, testLogger, uniqueName } from "@chirp/kit/testing";

const text = (data: Uint8Array) => Buffer.from(data).toString("utf8");
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface BusUnderTest {
  bus: EventBus & LiveSubscriber;
  /** Subjects under this prefix belong to this suite alone. */
  prefix: string;
}

/** What every live subscription must do, whichever bus provides it. */
function liveSubscriptionContract(open: () => BusUnderTest) {
  let bus: EventBus & LiveSubscriber;
  let prefix: string;
  let serial = 0;
  const subscriptions: LiveSubscription[] = [];
  const message = (subject: string, body: string): BusMessage => ({
    id: `${prefix}-${++serial}`,
    subject: `${prefix}.${subject}`,
    data: new Uint8Array(Buffer.from(body)),
  });

  async function subscribe(subjects: string[], handler: (m: BusMessage) => Promise<void>) {
    const subscription = await bus.subscribe(subjects.map((s) => `${prefix}.${s}`), handler);
    subscriptions.push(subscription);
    return subscription;
  }

  beforeAll(() => {
    ({ bus, prefix } = open());
  });

  afterEach(async () => {
    await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
  });

  it("delivers only what is published after subscribing, in order, with the published ids", async () => {
    await bus.publish(message("news.a", "before"));
    const seen: BusMessage[] = [];
    await subscribe(["news.*"], async (m) => void seen.push(m));
    const first = message("news.a", "one");
    const second = message("news.b", "two");
    await bus.publish(first);
    await bus.publish(second);
    await eventually(() => expect(seen.map((m) => text(m.data))).toEqual(["one", "two"]));
    expect(seen.map((m) => [m.id, m.subject])).toEqual([
      [first.id, first.subject],
      [second.id, second.subject],
    ]);
  });

  it("delivers only subjects matching the filters", async () => {
    const seen: string[] = [];
    await subscribe(["filtered.wanted"], async (m) => void seen.push(text(m.data)));
    await bus.publish(message("filtered.other", "no"));
    await bus.publish(message("filtered.wanted", "yes"));
    await eventually(() => expect(seen).toEqual(["yes"]));
    await pause(100);
    expect(seen).toEqual(["yes"]);
  });

  it("gives every subscription its own copy of each message", async () => {
    const a: string[] = [];
    const b: string[] = [];
    await subscribe(["shared"], async (m) => void a.push(text(m.data)));
    await subscribe(["shared"], async (m) => void b.push(text(m.data)));
    await bus.publish(message("shared", "both"));
    await eventually(() => {
      expect(a).toEqual(["both"]);
      expect(b).toEqual(["both"]);
    });
  });

  it("drops a message its handler fails on and goes on with the next, without redelivery", async () => {
    const attempts: string[] = [];
    await subscribe(["flaky"], async (m) => {
      attempts.push(text(m.data));
      if (text(m.data) === "bad") throw new Error("cannot handle");
    });
    await bus.publish(message("flaky", "bad"));
    await bus.publish(message("flaky", "good"));
    await eventually(() => expect(attempts).toEqual(["bad", "good"]));
    await pause(300);
    expect(attempts).toEqual(["bad", "good"]);
  });

  it("delivers nothing after stop, and stop waits for the message in hand", async () => {
    const seen: string[] = [];
    let finishHandling!: () => void;
    const handling = new Promise<void>((resolve) => (finishHandling = resolve));
    let started!: () => void;
    const inHandler = new Promise<void>((resolve) => (started = resolve));
    let finished = false;
    const subscription = await bus.subscribe([`${prefix}.stopping`], async (m) => {
      seen.push(text(m.data));
      started();
      await handling;
      finished = true;
    });
    await bus.publish(message("stopping", "in hand"));
    await inHandler;
    const stopped = subscription.stop();
    finishHandling();
    await stopped;
    expect(finished).toBe(true);
    await bus.publish(message("stopping", "too late"));
    await pause(200);
    expect(seen).toEqual(["in hand"]);
  });
}

describe("InProcessEventBus live subscriptions", () => {
  liveSubscriptionContract(() => ({ bus: new InProcessEventBus(testLogger()), prefix: "chirp.livetest" }));

  it("holds up neither the publisher nor durable consumers while a live handler is slow", async () => {
    const bus = new InProcessEventBus(testLogger());
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const live = await bus.subscribe(["chirp.slow.>"], () => slow);
    const durable: string[] = [];
    const consumer = await bus.consume({ durable: "fast", subjects: ["chirp.slow.>"] }, async (d) => void durable.push(d.id));
    await bus.publish({ id: "1", subject: "chirp.slow.x", data: new Uint8Array() });
    await bus.publish({ id: "2", subject: "chirp.slow.x", data: new Uint8Array() });
    await eventually(() => expect(durable).toEqual(["1", "2"]));
    release();
    await live.stop();
    await consumer.stop();
  });
});

describeWith(["NATS_URL"], "JetStreamBus live subscriptions", ({ NATS_URL }) => {
  const prefix = uniqueName("livetest");
  const stream = { name: prefix.toUpperCase(), subjects: [`${prefix}.>`], maxAgeMs: 3_600_000 };
  const secondStream = { name: `${prefix.toUpperCase()}_2`, subjects: [`${prefix}2.>`], maxAgeMs: 3_600_000 };
  let bus: JetStreamBus;

  beforeAll(async () => {
    bus = await JetStreamBus.connect(NATS_URL, "kit-live-test", testLogger());
    await bus.ensureStreams([stream, secondStream]);
  });

  afterAll(async () => {
    if (!bus) return;
    await bus.manager.streams.delete(stream.name).catch(() => false);
    await bus.manager.streams.delete(secondStream.name).catch(() => false);
    await bus.close();
  });

  liveSubscriptionContract(() => ({ bus, prefix }));

  it("subscribes across streams, and leaves no consumer behind after stop", async () => {
    const seen: string[] = [];
    const subscription = await bus.subscribe([`${prefix}.across`, `${prefix}2.across`], async (m) => void seen.push(m.subject));
    await bus.publish({ id: `${prefix}-across-1`, subject: `${prefix}.across`, data: new Uint8Array() });
    await bus.publish({ id: `${prefix}-across-2`, subject: `${prefix}2.across`, data: new Uint8Array() });
    await eventually(() => expect(seen.sort()).toEqual([`${prefix}.across`, `${prefix}2.across`]));
    await subscription.stop();
    const consumers = async (name: string) => (await bus.manager.streams.info(name)).state.consumer_count;
    await eventually(async () => {
      expect(await consumers(stream.name)).toBe(0);
      expect(await consumers(secondStream.name)).toBe(0);
    });
  });

  it("runs beside a durable consumer of the same subjects without taking its messages", async () => {
    const durableSeen: string[] = [];
    const liveSeen: string[] = [];
    await bus.publish({ id: `${prefix}-both-0`, subject: `${prefix}.both`, data: new Uint8Array() });
    const consumer = await bus.consume({ durable: `${prefix}_durable`, subjects: [`${prefix}.both`] }, async (d) => void durableSeen.push(d.id));
    const live = await bus.subscribe([`${prefix}.both`], async (m) => void liveSeen.push(m.id));
    await bus.publish({ id: `${prefix}-both-1`, subject: `${prefix}.both`, data: new Uint8Array() });
    await eventually(() => {
      expect(durableSeen).toEqual([`${prefix}-both-0`, `${prefix}-both-1`]);
      expect(liveSeen).toEqual([`${prefix}-both-1`]);
    });
    await live.stop();
    await consumer.stop();
  });
});
