import { createPrivateKey, createPublicKey } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { generateSigningKeyPair, TokenSigner } from "@chirp/kit";
import { JetStreamBus, SharedValues } from "@chirp/kit/nats";
import { TweetsService } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { describeWith, testLogger, uniqueName } from "@chirp/kit/testing";
import { startGateway, type GatewayApp } from "../src/app";
import { RateLimiter } from "../src/rate-limit";
import { SharedRateLimiter, SharedStreamSlots } from "../src/shared-limits";
import { gatewayConfig } from "./fixtures";

/** Budgets held by two gateway replicas together, on the real NATS JetStream. */
describeWith(["NATS_URL"], "limits shared by gateway replicas", ({ NATS_URL }) => {
  const keys = generateSigningKeyPair();
  const signer = new TokenSigner(createPrivateKey(keys.privateKeyPem), { issuer: "chirp", audience: "chirp", ttlSeconds: 900 });
  const gateways: GatewayApp[] = [];

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
  });

  it("lets a caller spend one write budget across two gateways, not one each", async () => {
    for (let i = 0; i < 2; i++) {
      gateways.push(
        await startGateway(gatewayConfig({ natsUrl: NATS_URL, writeBurst: 10, writesPerMinute: 1 }), { log: testLogger(), publicKeys: [createPublicKey(keys.publicKeyPem)] }),
      );
    }
    const clients = gateways.map((g) => createClient(TweetsService, createConnectTransport({ baseUrl: `http://127.0.0.1:${g.httpPort}`, httpVersion: "1.1" })));
    const caller = uniqueName("limited");
    const headers = { authorization: `Bearer ${signer.sign(caller).token}` };
    const outcomes: Code[] = [];
    // Alternating between the gateways. The tweets service is not running: an allowed write gets
    // as far as it (UNAVAILABLE), a refused one is RESOURCE_EXHAUSTED.
    for (let i = 0; i < 30; i++) {
      const error = await clients[i % 2]!.createTweet({ text: "hello" }, { headers }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      outcomes.push(error?.code ?? Code.Unknown);
    }
    expect(outcomes.filter((c) => c !== Code.ResourceExhausted)).toHaveLength(10);
    expect(outcomes.filter((c) => c === Code.Unavailable)).toHaveLength(10);
    // Another caller's budget is its own.
    const other = { authorization: `Bearer ${signer.sign(uniqueName("other")).token}` };
    await expect(clients[1]!.createTweet({ text: "hello" }, { headers: other })).rejects.toMatchObject({ code: Code.Unavailable });
  });

  /** Shared values on a stream of their own, as two replicas see them, and how to remove both. */
  async function twoReplicas(name: string, log: ReturnType<typeof testLogger>) {
    const buses = await Promise.all([0, 1].map((i) => JetStreamBus.connect(NATS_URL, `${name}-${i}`, log)));
    const prefix = uniqueName(name.replace(/-/g, ""));
    const options = { stream: prefix.toUpperCase(), prefix, replicas: 1, maxAgeMs: 60_000 };
    const [a, b] = await Promise.all(buses.map((bus) => SharedValues.open(bus, options)));
    const close = async () => {
      await buses[0]!.manager.streams.delete(options.stream).catch(() => false);
      await Promise.all(buses.map((bus) => bus.close()));
    };
    return { a: a!, b: b!, close };
  }

  it("counts a caller's open streams across replicas", async () => {
    const log = testLogger();
    const { a, b, close } = await twoReplicas("limits-test", log);
    const slots = [new SharedStreamSlots(a, 3, log), new SharedStreamSlots(b, 3, log)];
    try {
      const caller = uniqueName("streamer");
      const first = await slots[0]!.take(caller);
      const second = await slots[1]!.take(caller);
      const third = await slots[0]!.take(caller);
      expect([first, second, third].every((r) => typeof r === "function")).toBe(true);
      expect(await slots[1]!.take(caller)).toBeUndefined();
      expect(await slots[0]!.take(caller)).toBeUndefined();
      // Another caller is not counted with this one.
      expect(await slots[1]!.take(uniqueName("someone-else"))).toBeDefined();
      second!();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await slots[0]!.take(caller)).toBeDefined();
    } finally {
      slots.forEach((s) => s.close());
      await close();
    }
  });

  it("serves a burst of one caller's concurrent calls from one renewal at a time, and takes from the shared bucket only what it leases", async () => {
    const log = testLogger();
    const { a, b, close } = await twoReplicas("lease-test", log);
    try {
      // A budget of 100 that does not refill within the test; leases of 10.
      let renewals = 0;
      const counted = new Proxy(a, { get: (target, name) => (name === "update" ? (...args: Parameters<SharedValues["update"]>) => (renewals++, target.update(...args)) : Reflect.get(target, name, target)) });
      const first = new SharedRateLimiter(counted, "reads", 1, 100, new RateLimiter(1, 100), log);
      const second = new SharedRateLimiter(b, "reads", 1, 100, new RateLimiter(1, 100), log);
      const caller = uniqueName("bursty");
      // 64 calls at once, as a client's concurrent streams arrive: all within the budget.
      const waits = await Promise.all(Array.from({ length: 64 }, () => first.take(caller)));
      expect(waits.filter((w) => w === 0)).toHaveLength(64);
      // Seven leases of 10 serve 64 calls, renewed one after another.
      expect(renewals).toBe(7);
      // The other replica finds what those leases left in the shared bucket: 30 tokens.
      const others: number[] = [];
      for (let i = 0; i < 35; i++) others.push(await second.take(caller));
      expect(others.filter((w) => w === 0)).toHaveLength(30);
      expect(others.slice(30).every((w) => w > 0)).toBe(true);
    } finally {
      await close();
    }
  });
});
