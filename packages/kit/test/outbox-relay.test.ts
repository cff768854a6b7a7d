import { OutboxRelay, PendingOwners, type BusMessage, type EventPublisher, type OutboxStore, type PendingMessage } from "@chirp/kit";
import { InProcessEventBus } from "@chirp/kit/events";
import { eventually, testLogger } from "@chirp/kit/testing";

/** An array-backed outbox: documents in insertion order, each with its own pending messages. */
class ArrayOutboxStore implements OutboxStore {
  readonly docs: Array<{ id: string; outbox: BusMessage[] }> = [];
  readonly published: string[] = [];
  pendingCalls = 0;

  add(ownerId: string, ...messages: BusMessage[]): void {
    const doc = this.docs.find((d) => d.id === ownerId);
    if (doc) doc.outbox.push(...messages);
    else this.docs.push({ id: ownerId, outbox: [...messages] });
  }

  async pending(limit: number): Promise<PendingMessage[]> {
    this.pendingCalls++;
    return this.docs
      .filter((d) => d.outbox.length > 0)
      .slice(0, limit)
      .flatMap((d) => d.outbox.map((message) => ({ ownerId: d.id, message })));
  }

  async markPublished({ ownerId, message }: PendingMessage): Promise<void> {
    // As the contract asks: remove the message only while it is its owner's oldest pending one.
    const doc = this.docs.find((d) => d.id === ownerId);
    if (doc?.outbox[0]?.id !== message.id) return;
    doc.outbox.shift();
    this.published.push(message.id);
  }

  pendingIds(): string[] {
    return this.docs.flatMap((d) => d.outbox.map((m) => m.id));
  }
}

/** A publisher that records, can be made to fail, and can be held mid-publish. */
class FakePublisher implements EventPublisher {
  readonly published: BusMessage[] = [];
  failing = false;
  failAfter = Number.POSITIVE_INFINITY;
  hold: Promise<void> | undefined;
  entered: (() => void) | undefined;

  async publish(message: BusMessage): Promise<void> {
    this.entered?.();
    if (this.hold) await this.hold;
    if (this.failing || this.published.length >= this.failAfter) throw new Error("bus unavailable");
    this.published.push(message);
  }

  ids(): string[] {
    return this.published.map((m) => m.id);
  }
}

const msg = (id: string): BusMessage => ({ id, subject: `chirp.test.${id}`, data: Buffer.from(id) });

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe("OutboxRelay", () => {
  const log = testLogger();
  let relay: OutboxRelay | undefined;
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
  });

  it("publishes every pending message in order and marks each published", async () => {
    const store = new ArrayOutboxStore();
    store.add("doc-a", msg("a1"), msg("a2"));
    store.add("doc-b", msg("b1"));
    store.add("doc-c", msg("c1"), msg("c2"), msg("c3"));
    const bus = new InProcessEventBus(log);
    relay = new OutboxRelay(store, bus, log);
    await relay.flush();
    expect(bus.messages().map((m) => m.id)).toEqual(["a1", "a2", "b1", "c1", "c2", "c3"]);
    expect(bus.messages().map((m) => Buffer.from(m.data).toString())).toEqual(["a1", "a2", "b1", "c1", "c2", "c3"]);
    expect(store.published).toEqual(["a1", "a2", "b1", "c1", "c2", "c3"]);
    expect(store.pendingIds()).toEqual([]);
  });

  it("goes through more than one batch", async () => {
    const store = new ArrayOutboxStore();
    const ids = Array.from({ length: 7 }, (_, i) => `m${i}`);
    ids.forEach((id) => store.add(`doc-${id}`, msg(id)));
    const publisher = new FakePublisher();
    relay = new OutboxRelay(store, publisher, log, { batchSize: 2 });
    await relay.flush();
    expect(publisher.ids()).toEqual(ids);
    expect(store.pendingIds()).toEqual([]);
    // 4 batches of at most 2, the last one short.
    expect(store.pendingCalls).toBe(4);
  });

  it("keeps messages pending when publishing fails and publishes them later in the same order", async () => {
    const store = new ArrayOutboxStore();
    store.add("doc-a", msg("a1"), msg("a2"));
    store.add("doc-b", msg("b1"));
    const publisher = new FakePublisher();
    publisher.failing = true;
    relay = new OutboxRelay(store, publisher, log);
    await relay.flush();
    expect(publisher.ids()).toEqual([]);
    expect(store.pendingIds()).toEqual(["a1", "a2", "b1"]);

    // A partial outage: the first message goes out, then the bus fails again.
    publisher.failing = false;
    publisher.failAfter = 1;
    await relay.flush();
    expect(publisher.ids()).toEqual(["a1"]);
    expect(store.pendingIds()).toEqual(["a2", "b1"]);

    store.add("doc-c", msg("c1"));
    publisher.failAfter = Number.POSITIVE_INFINITY;
    await relay.flush();
    expect(publisher.ids()).toEqual(["a1", "a2", "b1", "c1"]);
    expect(store.published).toEqual(["a1", "a2", "b1", "c1"]);
    expect(store.pendingIds()).toEqual([]);
  });

  it("runs another pass when notified during a running one", async () => {
    const store = new ArrayOutboxStore();
    store.add("doc-a", msg("a1"));
    const publisher = new FakePublisher();
    const hold = gate();
    const entered = gate();
    publisher.hold = hold.opened;
    publisher.entered = entered.open;
    relay = new OutboxRelay(store, publisher, log);

    relay.notify();
    await entered.opened; // the pass has read [a1] and is publishing it
    expect(store.pendingCalls).toBe(1);
    store.add("doc-b", msg("b1")); // written after the pass looked
    relay.notify();
    relay.notify(); // several notifications fold into one more pass
    hold.open();

    await eventually(() => expect(publisher.ids()).toEqual(["a1", "b1"]), 2_000);
    await relay.flush();
    expect(store.pendingIds()).toEqual([]);
    // first pass, the pass asked for during it, and flush's own pass
    expect(store.pendingCalls).toBe(3);
  });

  it("without a notification, a message written during a pass waits for the next one", async () => {
    const store = new ArrayOutboxStore();
    store.add("doc-a", msg("a1"));
    const publisher = new FakePublisher();
    const hold = gate();
    const entered = gate();
    publisher.hold = hold.opened;
    publisher.entered = entered.open;
    relay = new OutboxRelay(store, publisher, log);

    relay.notify();
    await entered.opened;
    store.add("doc-b", msg("b1"));
    hold.open();
    await eventually(() => expect(publisher.ids()).toEqual(["a1"]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(publisher.ids()).toEqual(["a1"]);
    expect(store.pendingIds()).toEqual(["b1"]);
  });

  it("stop() waits for the in-flight pass, then publishes nothing more", async () => {
    const store = new ArrayOutboxStore();
    store.add("doc-a", msg("a1"), msg("a2"));
    const publisher = new FakePublisher();
    const hold = gate();
    const entered = gate();
    publisher.hold = hold.opened;
    publisher.entered = entered.open;
    relay = new OutboxRelay(store, publisher, log);

    relay.notify();
    await entered.opened;
    let stopped = false;
    const stopping = relay.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(stopped).toBe(false); // a1 is still being published

    hold.open();
    await stopping;
    // The in-flight message finished and was marked; the next one was left for later.
    expect(publisher.ids()).toEqual(["a1"]);
    expect(store.published).toEqual(["a1"]);
    expect(store.pendingIds()).toEqual(["a2"]);

    relay.notify();
    await relay.flush();
    expect(publisher.ids()).toEqual(["a1"]);
  });

  it("polls for messages left behind once started", async () => {
    const store = new ArrayOutboxStore();
    const publisher = new FakePublisher();
    relay = new OutboxRelay(store, publisher, log, { pollIntervalMs: 20 });
    relay.start();
    store.add("doc-a", msg("a1"));
    await eventually(() => expect(publisher.ids()).toEqual(["a1"]), 2_000);
    await relay.stop();
    store.add("doc-b", msg("b1"));
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(publisher.ids()).toEqual(["a1"]);
  });

  it("flush() during a running pass also publishes what was written after that pass looked", async () => {
    const store = new ArrayOutboxStore();
    store.add("doc-a", msg("a1"));
    const publisher = new FakePublisher();
    const hold = gate();
    const entered = gate();
    publisher.hold = hold.opened;
    publisher.entered = entered.open;
    relay = new OutboxRelay(store, publisher, log);

    relay.notify();
    await entered.opened;
    store.add("doc-b", msg("b1"));
    let flushed = false;
    const flushing = relay.flush().then(() => {
      flushed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(flushed).toBe(false);
    hold.open();
    await flushing;
    expect(publisher.ids()).toEqual(["a1", "b1"]);
    expect(store.pendingIds()).toEqual([]);
  });
});

describe("PendingOwners", () => {
  it("lists the owners of lowest rank first, once each, until they are deleted", () => {
    const owners = new PendingOwners<number>();
    owners.add("c", 3);
    owners.add("a", 1);
    owners.add("b", 2);
    owners.add("b2", 2);
    owners.add("a", 9); // already pending: keeps its rank
    expect(owners.first(10)).toEqual(["a", "b", "b2", "c"]);
    expect(owners.first(2)).toEqual(["a", "b"]);
    owners.delete("b2");
    owners.delete("missing");
    expect(owners.first(10)).toEqual(["a", "b", "c"]);
    owners.delete("a");
    owners.add("a", 4);
    expect(owners.first(10)).toEqual(["b", "c", "a"]);
  });

  it("marks an owner's oldest message published, and lets the owner go once its outbox is empty", () => {
    const owners = new PendingOwners<string>();
    const message = (id: string): BusMessage => ({ id, subject: "chirp.test", data: new Uint8Array() });
    const outbox = [message("1"), message("2")];
    owners.add("doc", "doc");
    expect(owners.markPublished("doc", outbox, message("2"))).toBe(false); // not the oldest: nothing changes
    expect(outbox.map((m) => m.id)).toEqual(["1", "2"]);
    expect(owners.markPublished("doc", outbox, message("1"))).toBe(false);
    expect(outbox.map((m) => m.id)).toEqual(["2"]);
    expect(owners.first(10)).toEqual(["doc"]);
    expect(owners.markPublished("doc", outbox, message("2"))).toBe(true);
    expect(outbox).toEqual([]);
    expect(owners.first(10)).toEqual([]);
    expect(owners.markPublished("doc", outbox, message("2"))).toBe(false); // published twice: harmless
  });
});
