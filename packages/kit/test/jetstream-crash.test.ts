import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_ACK_WAIT_MS, type Consumer, type Delivery } from "@chirp/kit";
import { JetStreamBus } from "@chirp/kit/nats";
import { describeWith, eventually, launchService, testLogger, uniqueName, waitFor, type ServiceProcess } from "@chirp/kit/testing";

/**
 * What a consuming process had in hand when it died comes back within the ack wait (well inside
 * 30 s), while a long handling in a live process keeps its message by progress acknowledgements.
 */
describeWith(["NATS_URL"], "JetStream consumers across a crash", ({ NATS_URL }) => {
  const log = testLogger();
  const prefix = uniqueName("crashtest");
  const stream = { name: prefix.toUpperCase(), subjects: [`${prefix}.>`], maxAgeMs: 3_600_000 };
  const scratch = mkdtempSync(join(tmpdir(), "chirp-crash-"));
  const children: ServiceProcess[] = [];
  let bus: JetStreamBus;

  beforeAll(async () => {
    bus = await JetStreamBus.connect(NATS_URL, "kit-crash-test", log);
    await bus.ensureStreams([stream]);
  });

  afterAll(async () => {
    for (const child of children) if (child.running()) child.child.kill("SIGKILL");
    await Promise.all(children.map((c) => c.exited));
    await bus?.manager.streams.delete(stream.name).catch(() => false);
    await bus?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const publish = async (subject: string, count: number) => {
    const ids = Array.from({ length: count }, (_, i) => `${prefix}-${subject}-${i}`);
    for (const id of ids) await bus.publish({ id, subject: `${prefix}.${subject}`, data: new Uint8Array(Buffer.from(id)) });
    return ids;
  };

  it("keeps a message whose handling outlasts the ack wait while the handler works, and delivers it once", async () => {
    const [id] = await publish("long", 1);
    const seen: Delivery[] = [];
    const ackWaitMs = 1_000;
    let consumer: Consumer | undefined;
    try {
      consumer = await bus.consume({ durable: `${prefix}_long`, subjects: [`${prefix}.long`], ackWaitMs }, async (d) => {
        seen.push(d);
        await new Promise((resolve) => setTimeout(resolve, 3.5 * ackWaitMs));
      });
      await eventually(() => expect(seen).toHaveLength(1));
      // Three and a half ack waits of handling, then two more of quiet: no redelivery at any point.
      await new Promise((resolve) => setTimeout(resolve, 5.5 * ackWaitMs));
      expect(seen.map((d) => [d.id, d.attempt])).toEqual([[id, 1]]);
    } finally {
      await consumer?.stop();
    }
  }, 20_000);

  it("redelivers what a process killed mid-handling held within the ack wait: nothing lost, nothing done twice", async () => {
    const ids = await publish("work", 6);
    const env = {
      NATS_URL,
      DURABLE: `${prefix}_work`,
      SUBJECT: `${prefix}.work`,
      HANDLE_MS: "1000",
      DONE_FILE: join(scratch, "done"),
    };
    const main = join(__dirname, "fixtures", "slow-consumer.mjs");
    const first = launchService(main, env);
    children.push(first);
    // Killed while the second message is in hand (and the third fetched ahead).
    await waitFor("the first process to start the second message", () => first.lines.find((l) => l.msg === "start" && l.id === ids[1]), 20_000);
    first.child.kill("SIGKILL");
    const killedAt = Date.now();
    await first.exited;

    const second = launchService(main, env);
    children.push(second);
    const doneIds = () => readFileSync(env.DONE_FILE, "utf8").split("\n").filter(Boolean);
    await waitFor("every message's work to be done", () => (doneIds().length >= ids.length ? true : undefined), 40_000);
    const resumed = second.lines.find((l) => l.msg === "start" && l.id === ids[1]);
    expect(resumed).toBeDefined();
    const resumedAfterMs = (resumed!.at as number) - killedAt;
    expect(resumedAfterMs).toBeLessThan(DEFAULT_ACK_WAIT_MS + 5_000);
    expect(resumedAfterMs).toBeLessThan(30_000);
    expect(resumed!.attempt).toBe(2);

    // Every message's work was done exactly once, by one process or the other.
    expect(doneIds().sort()).toEqual([...ids].sort());
    const firstDone = first.lines.filter((l) => l.msg === "done").map((l) => l.id);
    expect(firstDone).toEqual([ids[0]]);
    process.stdout.write(`delivery resumed ${resumedAfterMs} ms after the kill (ack wait ${DEFAULT_ACK_WAIT_MS} ms)\n`);
  }, 60_000);
});
