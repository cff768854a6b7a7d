import { deadLetterSubject, type BusMessage, type Consumer, type Delivery } from "@chirp/kit";
import { InProcessEventBus } from "@chirp/kit/events";
import { eventually, testLogger } from "@chirp/kit/testing";

const text = (data: Uint8Array) => Buffer.from(data).toString("utf8");
const message = (id: string, subject = "chirp.test.created", body = id): BusMessage => ({ id, subject, data: Buffer.from(body) });

/** A promise the test resolves by hand, to hold a handler mid-delivery. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe("InProcessEventBus", () => {
  let bus: InProcessEventBus;
  const consumers: Consumer[] = [];
  beforeEach(() => {
    bus = new InProcessEventBus(testLogger());
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((c) => c.stop()));
  });

  async function consume(durable: string, subjects: string[], handler: (d: Delivery) => Promise<void>, maxDeliver?: number) {
    const consumer = await bus.consume({ durable, subjects, maxDeliver }, handler);
    consumers.push(consumer);
    return consumer;
  }

  it("delivers what was published before and after consuming, in order", async () => {
    await bus.publish(message("1"));
    await bus.publish(message("2"));
    const seen: Delivery[] = [];
    await consume("ordered", ["chirp.test.>"], async (d) => void seen.push(d));
    await bus.publish(message("3"));
    await bus.publish(message("4"));
    await eventually(() => expect(seen.map((d) => d.id)).toEqual(["1", "2", "3", "4"]));
    expect(seen.map((d) => text(d.data))).toEqual(["1", "2", "3", "4"]);
    expect(seen.every((d) => d.attempt === 1 && d.subject === "chirp.test.created")).toBe(true);
  });

  it("keeps its own copy of the published bytes", async () => {
    const data = Buffer.from("original");
    await bus.publish({ id: "copy", subject: "chirp.test.created", data });
    data.write("mutated!");
    expect(text(bus.messages()[0]!.data)).toBe("original");
  });

  it("stores a message id published twice once", async () => {
    await bus.publish(message("dup", "chirp.test.created", "first"));
    await bus.publish(message("dup", "chirp.test.created", "second"));
    await bus.publish(message("other"));
    const seen: string[] = [];
    await consume("dedup", [">"], async (d) => void seen.push(`${d.id}:${text(d.data)}`));
    await eventually(() => expect(seen).toEqual(["dup:first", "other:other"]));
    expect(bus.messages()).toHaveLength(2);
  });

  it("delivers only subjects matching the consumer's filters", async () => {
    const seen: string[] = [];
    await consume("filtered", ["chirp.users.*", "chirp.graph.user_followed"], async (d) => void seen.push(d.id));
    await bus.publish(message("u1", "chirp.users.user_created"));
    await bus.publish(message("t1", "chirp.tweets.tweet_created"));
    await bus.publish(message("g1", "chirp.graph.user_followed"));
    await bus.publish(message("g2", "chirp.graph.user_unfollowed"));
    await bus.publish(message("u2", "chirp.users.user_deleted"));
    await bus.publish(message("deep", "chirp.users.a.b"));
    await bus.publish(message("last", "chirp.users.user_created"));
    await eventually(() => expect(seen).toEqual(["u1", "g1", "u2", "last"]));
    expect(bus.messages("chirp.graph.>").map((m) => m.id)).toEqual(["g1", "g2"]);
  });

  it("gives every durable consumer its own position", async () => {
    const a: string[] = [];
    const b: string[] = [];
    await bus.publish(message("1"));
    await consume("a", [">"], async (d) => void a.push(d.id));
    await consume("b", [">"], async (d) => void b.push(d.id));
    await bus.publish(message("2"));
    await eventually(() => {
      expect(a).toEqual(["1", "2"]);
      expect(b).toEqual(["1", "2"]);
    });
  });

  it("refuses a second running consumer with the same durable name", async () => {
    await consume("single", [">"], async () => undefined);
    await expect(bus.consume({ durable: "single", subjects: [">"] }, async () => undefined)).rejects.toThrow(/already running/);
  });

  it("resumes a restarted durable consumer after the last handled message", async () => {
    const seen: string[] = [];
    const handler = async (d: Delivery) => void seen.push(d.id);
    const first = await bus.consume({ durable: "resume", subjects: [">"] }, handler);
    await bus.publish(message("1"));
    await bus.publish(message("2"));
    await eventually(() => expect(seen).toEqual(["1", "2"]));
    await first.stop();

    await bus.publish(message("3"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toEqual(["1", "2"]);

    await consume("resume", [">"], handler);
    await bus.publish(message("4"));
    await eventually(() => expect(seen).toEqual(["1", "2", "3", "4"]));
  });

  it("does not redeliver a message handled successfully while the consumer was stopping", async () => {
    const seen: string[] = [];
    const hold = gate();
    const started = gate();
    const first = await bus.consume({ durable: "graceful", subjects: [">"] }, async (d) => {
      seen.push(d.id);
      started.open();
      await hold.opened;
    });
    await bus.publish(message("1"));
    await started.opened;
    const stopping = first.stop();
    hold.open(); // the handler finishes successfully: message 1 is handled
    await stopping;
    expect(seen).toEqual(["1"]);

    await bus.publish(message("2"));
    await consume("graceful", [">"], async (d) => void seen.push(d.id));
    await eventually(() => expect(seen).toContain("2"));
    expect(seen).toEqual(["1", "2"]);
  });

  it("redelivers a failed message with a growing attempt number", async () => {
    const attempts: number[] = [];
    const times: number[] = [];
    const seen: string[] = [];
    await consume(
      "flaky",
      [">"],
      async (d) => {
        if (d.id === "flaky") {
          attempts.push(d.attempt);
          times.push(Date.now());
          if (d.attempt < 3) throw new Error(`fail ${d.attempt}`);
        }
        seen.push(d.id);
      },
      5,
    );
    await bus.publish(message("flaky"));
    await bus.publish(message("next"));
    await eventually(() => expect(seen).toEqual(["flaky", "next"]));
    expect(attempts).toEqual([1, 2, 3]);
    // Backoff: about 100 ms before the second attempt and 200 ms before the third.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(90);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(190);
    expect(bus.messages("chirp.deadletter.>")).toEqual([]);
  });

  it("dead-letters a message after maxDeliver failures and moves on", async () => {
    const attempts: number[] = [];
    const handled: string[] = [];
    await consume(
      "poisoned",
      ["chirp.test.>"],
      async (d) => {
        if (d.id === "poison") {
          attempts.push(d.attempt);
          throw new Error("cannot handle");
        }
        handled.push(d.id);
      },
      2,
    );
    await bus.publish(message("poison", "chirp.test.created", "poison-body"));
    await bus.publish(message("healthy"));
    await eventually(() => expect(handled).toEqual(["healthy"]));
    expect(attempts).toEqual([1, 2]);
    const dead = bus.messages("chirp.deadletter.>");
    expect(dead).toHaveLength(1);
    expect(dead[0]!.subject).toBe(deadLetterSubject("poisoned"));
    expect(dead[0]!.id).toContain("poison");
    expect(text(dead[0]!.data)).toBe("poison-body");
  });

  it("stops while waiting to redeliver without another attempt", async () => {
    let calls = 0;
    const consumer = await bus.consume({ durable: "stopper", subjects: [">"], maxDeliver: 50 }, async () => {
      calls++;
      throw new Error("always");
    });
    await bus.publish(message("x"));
    await eventually(() => expect(calls).toBe(1));
    await consumer.stop();
    // The pending 100 ms redelivery is cancelled: no attempt happens after stop().
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(calls).toBe(1);
  });
});
