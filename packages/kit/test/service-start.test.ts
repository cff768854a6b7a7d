import { createServer } from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import type { BusMessage, OutboxStore, PendingMessage } from "@chirp/kit";
import { InProcessEventBus } from "@chirp/kit/events";
import { checkHealth, unary, UserAccounts } from "@chirp/kit/grpc";
import { startService, type ServiceConfig, type ServiceContext } from "@chirp/kit/service";
import { eventually, testChannel, testLogger, testTls } from "@chirp/kit/testing";
import { LoadTestServiceClient, LoadTestServiceService } from "@chirp/proto/grpc/chirp/loadtest/v1/loadtest";

const config: ServiceConfig = { serviceName: "example", host: "127.0.0.1", port: 0, logLevel: "silent", mongo: undefined, natsUrl: undefined, outboxPollMs: 60_000, tls: testTls("example") };
/** The test's client is the gateway (testChannel). */
const peers = { noop: ["gateway"] };
const noFallbacks = { fallbacks: () => [] };

/** An outbox holding messages until the relay marks them published. */
class ListOutbox implements OutboxStore {
  readonly messages: BusMessage[] = [];
  async pending(limit: number): Promise<PendingMessage[]> {
    return this.messages.slice(0, limit).map((message) => ({ ownerId: message.id, message }));
  }
  async markPublished({ message }: PendingMessage): Promise<void> {
    this.messages.splice(this.messages.indexOf(message), 1);
  }
}

const noop = (port: number) => {
  const client = new LoadTestServiceClient(`127.0.0.1:${port}`, testChannel());
  return unary(client, client.noop, { payload: "x" }).finally(() => client.close());
};

/** Whether a TCP port can be bound again: a server that failed to start must let go of it. */
const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

describe("startService", () => {
  it("serves the handlers the parts give, and hands back the port, the bus, the relay and the parts' own fields", async () => {
    const bus = new InProcessEventBus(testLogger());
    const app = await startService({
      config,
      schema: noFallbacks,
      overrides: { log: testLogger(), bus },
      service: LoadTestServiceService,
      peers,
      streams: [],
      storage: { memory: () => ({ outbox: new ListOutbox() }), mongo: () => Promise.reject(new Error("not configured")) },
      parts: async () => ({ handlers: { noop: async (request) => ({ payload: request.payload }) }, app: { extra: 42 } }),
    });
    try {
      expect(app.port).toBeGreaterThan(0);
      expect(app.bus).toBe(bus);
      expect(app.extra).toBe(42);
      expect(app.relay).toBeDefined();
      expect((await noop(app.port)).payload).toBe("x");
      expect(await checkHealth(`127.0.0.1:${app.port}`, "", 1_000, { tls: testTls("gateway"), workload: "example" })).toBe("SERVING");
    } finally {
      await app.stop();
    }
  });

  it("has no relay without an outbox", async () => {
    const app = await startService({
      config,
      schema: noFallbacks,
      overrides: { log: testLogger() },
      service: LoadTestServiceService,
      peers,
      streams: [],
      storage: { memory: () => ({}), mongo: () => Promise.reject(new Error("not configured")) },
      parts: async () => ({ handlers: { noop: async () => ({ payload: "" }) } }),
    });
    expect("relay" in app).toBe(false);
    await app.stop();
  });

  it("publishes what the parts record as soon as they say so, not at the next poll", async () => {
    const bus = new InProcessEventBus(testLogger());
    const outbox = new ListOutbox();
    let context!: ServiceContext<ServiceConfig, { outbox: ListOutbox }>;
    const app = await startService({
      config,
      schema: noFallbacks,
      overrides: { log: testLogger(), bus },
      service: LoadTestServiceService,
      peers,
      streams: [],
      storage: { memory: () => ({ outbox }), mongo: () => Promise.reject(new Error("not configured")) },
      parts: async (given) => {
        context = given;
        return { handlers: { noop: async () => ({ payload: "" }) } };
      },
    });
    try {
      const seen: string[] = [];
      const consumer = await bus.consume({ durable: "seen", subjects: ["chirp.test.>"] }, async (d) => void seen.push(d.id));
      outbox.messages.push({ id: "m1", subject: "chirp.test.m1", data: new Uint8Array() });
      context.eventsRecorded();
      // The poll is a minute away: only the notification can have published it.
      await eventually(() => expect(seen).toEqual(["m1"]), 2_000);
      expect(outbox.messages).toEqual([]);
      await consumer.stop();
    } finally {
      await app.stop();
    }
  });

  it("stops what holds streams open before the server drains, and the parts' own resources after it, newest first", async () => {
    const stopped: string[] = [];
    const servingWhen: Record<string, string> = {};
    let port = 0;
    const record = (name: string) => async () => {
      servingWhen[name] = await checkHealth(`127.0.0.1:${port}`, "", 500, { tls: testTls("gateway"), workload: "example" });
      stopped.push(name);
    };
    const app = await startService({
      config,
      schema: noFallbacks,
      overrides: { log: testLogger() },
      service: LoadTestServiceService,
      peers,
      streams: [],
      storage: { memory: () => ({}), mongo: () => Promise.reject(new Error("not configured")) },
      parts: async ({ onStop, beforeDrain, own }) => {
        onStop("first", record("first"));
        own("client", { close: record("client") });
        own("consumer", { stop: record("consumer") });
        beforeDrain("streams", record("streams"));
        return { handlers: { noop: async () => ({ payload: "" }) } };
      },
    });
    port = app.port;
    await app.stop();
    expect(stopped).toEqual(["streams", "consumer", "client", "first"]);
    expect(servingWhen.streams).toBe("SERVING");
    for (const name of ["consumer", "client", "first"]) expect(servingWhen[name]).not.toBe("SERVING");
  });

  it("gives the parts one client of the users service at upstreams.users, and none without that address", async () => {
    let clients: unknown[] = [];
    const app = await startService({
      config: { ...config, upstreams: { users: "127.0.0.1:1" } },
      schema: noFallbacks,
      overrides: { log: testLogger() },
      service: LoadTestServiceService,
      peers,
      streams: [],
      storage: { memory: () => ({}), mongo: () => Promise.reject(new Error("not configured")) },
      parts: async ({ accounts }) => {
        // Nothing listens there: the client connects on first use, so the service starts anyway.
        clients = [accounts(), accounts()];
        return { handlers: { noop: async () => ({ payload: "" }) } };
      },
    });
    await app.stop();
    expect(clients[0]).toBeInstanceOf(UserAccounts);
    expect(clients[1]).toBe(clients[0]);
    const without = startService({
      config,
      schema: noFallbacks,
      overrides: { log: testLogger() },
      service: LoadTestServiceService,
      peers,
      streams: [],
      storage: { memory: () => ({}), mongo: () => Promise.reject(new Error("not configured")) },
      parts: async ({ accounts }) => ({ handlers: { noop: async () => ({ payload: "" }) }, app: { accounts: accounts() } }),
    });
    await expect(without).rejects.toThrow("example has no users service address (upstreams.users)");
  });

  it("logs each development fallback the configuration uses", async () => {
    const lines: string[] = [];
    const log = pino({ level: "warn" }, new Writable({ write: (chunk, _encoding, done) => done(void lines.push(String(chunk))) }));
    const app = await startService({
      config,
      schema: { fallbacks: () => ["MONGODB_URI is not set: kept in memory"] },
      overrides: { log },
      service: LoadTestServiceService,
      peers,
      streams: [],
      storage: { memory: () => ({}), mongo: () => Promise.reject(new Error("not configured")) },
      parts: async () => ({ handlers: { noop: async () => ({ payload: "" }) } }),
    });
    await app.stop();
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(["MONGODB_URI is not set: kept in memory"]);
  });

  it("when its parts fail to start, stops what started, frees its port and rejects with the failure", async () => {
    const port = await freePort();
    const stopped: string[] = [];
    const failing = startService({
      config: { ...config, port },
      schema: noFallbacks,
      overrides: { log: testLogger() },
      service: LoadTestServiceService,
      peers,
      streams: [],
      storage: { memory: () => ({ outbox: new ListOutbox() }), mongo: () => Promise.reject(new Error("not configured")) },
      parts: async ({ own }) => {
        own("consumer", { stop: () => void stopped.push("consumer") });
        throw new Error("the users service refused");
      },
    });
    await expect(failing).rejects.toThrow("the users service refused");
    expect(stopped).toEqual(["consumer"]);
    expect(await portIsFree(port)).toBe(true);
  });
});
