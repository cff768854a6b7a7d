import { deadLetterSubject, type BusMessage, type Consumer, type Delivery } from "@chirp/kit";
import { STREAMS } from "@chirp/kit/events";
import { JetStreamBus } from "@chirp/kit/nats";
import { describeWith, eventually, testLogger, uniqueName } from "@chirp/kit/testing";

const text = (data: Uint8Array) => Buffer.from(data).toString("utf8");

describeWith(["NATS_URL"], "JetStreamBus", ({ NATS_URL }) => {
  const log = testLogger();
  const prefix = uniqueName("kittest");
  const stream = { name: prefix.toUpperCase(), subjects: [`${prefix}.>`], maxAgeMs: 3_600_000 };
  const consumers: Consumer[] = [];
  const deadLetterConsumers: string[] = [];
  const deadLetterSubjects: string[] = [];
  let bus: JetStreamBus;
  let seq = 0;

  const message = (subject: string, body: string, id = `${prefix}-${++seq}`): BusMessage => ({
    id,
    subject: `${prefix}.${subject}`,
    data: new Uint8Array(Buffer.from(body)),
  });
  const durable = (name: string) => `${prefix}_${name}`;

  async function consume(name: string, subjects: string[], handler: (d: Delivery) => Promise<void>, maxDeliver?: number) {
    const consumer = await bus.consume({ durable: name, subjects, maxDeliver }, handler);
    consumers.push(consumer);
    return consumer;
  }

  beforeAll(async () => {
    bus = await JetStreamBus.connect(NATS_URL, "kit-jetstream-test", log);
    await bus.ensureStreams([stream, STREAMS.deadLetters]);
  });

  afterAll(async () => {
    if (!bus) return;
    await Promise.all(consumers.splice(0).map((c) => c.stop()));
    for (const name of deadLetterConsumers) await bus.manager.consumers.delete(STREAMS.deadLetters.name, name).catch(() => false);
    for (const subject of deadLetterSubjects) await bus.manager.streams.purge(STREAMS.deadLetters.name, { filter: subject }).catch(() => undefined);
    await bus.manager.streams.delete(stream.name).catch(() => false);
    await bus.close();
  });

  it("ensures streams idempotently, keeping their messages", async () => {
    await bus.publish(message("ensure", "kept"));
    const before = await bus.manager.streams.info(stream.name);
    expect(before.config.subjects).toEqual(stream.subjects);
    expect(before.config.max_age).toBe(3_600_000 * 1_000_000);
    expect(before.state.messages).toBe(1);

    await expect(bus.ensureStreams([stream])).resolves.toBeUndefined();
    await expect(bus.ensureStreams([stream, STREAMS.deadLetters])).resolves.toBeUndefined();
    const after = await bus.manager.streams.info(stream.name);
    expect(after.config.subjects).toEqual(stream.subjects);
    // Streams others rebuild their records from keep everything, also once they exist already.
    await bus.ensureStreams([STREAMS.users]);
    expect((await bus.manager.streams.info(STREAMS.users.name)).config.max_age).toBe(0);
    expect(after.state.messages).toBe(1);
    expect(after.state.first_seq).toBe(before.state.first_seq);
    expect(after.created).toEqual(before.created);
    expect(await bus.manager.streams.find(`${prefix}.anything`)).toBe(stream.name);
  });

  it("delivers to a durable consumer with the published id and attempt 1", async () => {
    const seen: Delivery[] = [];
    const a = message("plain", "first");
    const b = message("plain", "second");
    await bus.publish(a);
    await bus.publish(b);
    await consume(durable("plain"), [`${prefix}.plain`], async (d) => void seen.push(d));
    await eventually(() => expect(seen).toHaveLength(2));
    expect(seen.map((d) => [d.id, d.subject, text(d.data), d.attempt])).toEqual([
      [a.id, a.subject, "first", 1],
      [b.id, b.subject, "second", 1],
    ]);
  });

  it("stores a message published twice with the same id once", async () => {
    const seen: string[] = [];
    const dup = message("dedup", "once");
    await bus.publish(dup);
    await bus.publish({ ...dup, data: new Uint8Array(Buffer.from("twice")) });
    const sentinel = message("dedup", "sentinel");
    await bus.publish(sentinel);
    await consume(durable("dedup"), [`${prefix}.dedup`], async (d) => void seen.push(`${d.id}:${text(d.data)}`));
    await eventually(() => expect(seen).toContain(`${sentinel.id}:sentinel`));
    expect(seen).toEqual([`${dup.id}:once`, `${sentinel.id}:sentinel`]);
  });

  it("resumes a restarted durable consumer after what it acknowledged", async () => {
    const seen: string[] = [];
    const handler = async (d: Delivery) => void seen.push(text(d.data));
    const first = await bus.consume({ durable: durable("resume"), subjects: [`${prefix}.resume`] }, handler);
    await bus.publish(message("resume", "r1"));
    await eventually(() => expect(seen).toEqual(["r1"]));
    await first.stop();
    await bus.publish(message("resume", "r2"));
    await consume(durable("resume"), [`${prefix}.resume`], handler);
    await eventually(() => expect(seen).toEqual(["r1", "r2"]));
  });

  it("redelivers after a failure with the next attempt number", async () => {
    const attempts: number[] = [];
    const flaky = message("flaky", "try me");
    await consume(durable("flaky"), [`${prefix}.flaky`], async (d) => {
      attempts.push(d.attempt);
      expect(d.id).toBe(flaky.id);
      if (d.attempt === 1) throw new Error("first attempt fails");
    });
    await bus.publish(flaky);
    await eventually(() => expect(attempts).toEqual([1, 2]));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(attempts).toEqual([1, 2]);
  });

  it("dead-letters a message that fails maxDeliver times and moves on", async () => {
    const name = durable("poison");
    const dlSubject = deadLetterSubject(name);
    deadLetterSubjects.push(dlSubject);
    const attempts: number[] = [];
    const handled: string[] = [];
    const poison = message("poison", "poison-body");
    const healthy = message("poison", "healthy-body");
    await consume(
      name,
      [`${prefix}.poison`],
      async (d) => {
        if (d.id !== poison.id) return void handled.push(d.id);
        attempts.push(d.attempt);
        throw new Error("cannot handle this");
      },
      2,
    );
    await bus.publish(poison);
    await bus.publish(healthy);

    const dead: Delivery[] = [];
    const dlDurable = durable("deadletters");
    deadLetterConsumers.push(dlDurable);
    await consume(dlDurable, [dlSubject], async (d) => void dead.push(d));

    await eventually(() => expect(dead).toHaveLength(1), 5_000);
    expect(dead[0]!.subject).toBe(dlSubject);
    expect(dead[0]!.id).toBe(`${name}:${poison.id}`);
    expect(text(dead[0]!.data)).toBe("poison-body");
    expect(attempts).toEqual([1, 2]);
    await eventually(() => expect(handled).toEqual([healthy.id]));

    // Terminated, not redelivered again.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(attempts).toEqual([1, 2]);
    const msg = await bus.manager.streams.getMessage(STREAMS.deadLetters.name, { last_by_subj: dlSubject });
    expect(msg?.header.get("Chirp-Original-Subject")).toBe(poison.subject);
    expect(msg?.header.get("Chirp-Error")).toBe("cannot handle this");
  });
});
