import { createPrivateKey } from "node:crypto";
import { connect as connectHttp2 } from "node:http2";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { generateSigningKeyPair, parseVerificationKey, resourceExhausted, TokenSigner } from "@chirp/kit";
import { bindService, GrpcServer, type ServiceHandlers } from "@chirp/kit/grpc";
import { TimelineItem, TimelineServiceService } from "@chirp/proto/grpc/chirp/timeline/v1/timeline";
import { TimelineService } from "@chirp/proto/es/chirp/timeline/v1/timeline_pb";
import { eventually, testLogger } from "@chirp/kit/testing";
import { startGateway, type GatewayApp } from "../src/app.js";
import type { GatewayConfig } from "../src/config.js";
import { gatewayConfig, upstreamGuard } from "./fixtures.js";

const ALICE = "01M83VMQVV99P26KZM1TRZB034";
const BOB = "01M83VMQVV99P26KZM1TRZB035";
/** The upstream fails this reader's streams once they are open. */
const UNLUCKY = "01M83VMQVV99P26KZM1TRZB036";

/** A timeline service whose streams stay open until the caller leaves, pushing what the test publishes. */
function fakeTimeline() {
  const feeds = new Map<string, Set<(item: TimelineItem) => void>>();
  const notUsed = async (): Promise<never> => {
    throw new Error("not used in this test");
  };
  const handlers: ServiceHandlers<typeof TimelineServiceService> = {
    getHomeTimeline: notUsed,
    getHomeTimelineUpdates: notUsed,
    async streamHomeTimeline(_req, ctx, send) {
      const reader = ctx.requireCaller();
      if (reader === UNLUCKY) throw resourceExhausted("the stream fell too far behind; reload the timeline and reconnect");
      await new Promise<void>((resolve) => {
        const push = (item: TimelineItem) => void send({ item }).catch(() => undefined);
        const mine = feeds.get(reader) ?? new Set();
        mine.add(push);
        feeds.set(reader, mine);
        ctx.signal.addEventListener(
          "abort",
          () => {
            mine.delete(push);
            resolve();
          },
          { once: true },
        );
      });
    },
  };
  return {
    handlers,
    open: (reader: string) => feeds.get(reader)?.size ?? 0,
    publish: (reader: string, id: string) => {
      for (const push of feeds.get(reader) ?? []) push(TimelineItem.fromPartial({ id }));
    },
  };
}

interface Watched {
  /** Each message as it came: the item's id, or undefined for a message without an item. */
  messages: { item: string | undefined; at: number }[];
  /** Settles when the stream ends: with the error it ended with, if any. */
  ended: Promise<{ error: ConnectError | undefined; at: number }>;
  started: number;
  leave(): void;
}

describe("server streams through the gateway", () => {
  const log = testLogger();
  const keys = generateSigningKeyPair();
  const signer = new TokenSigner(createPrivateKey(keys.privateKeyPem), { issuer: "chirp", audience: "chirp", ttlSeconds: 900 });
  const as = (id: string) => ({ authorization: `Bearer ${signer.sign(id).token}` });
  const timeline = fakeTimeline();
  let upstream: GrpcServer;
  const gateways: GatewayApp[] = [];

  beforeAll(async () => {
    upstream = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [TimelineServiceService], log });
    upstream.activate(TimelineServiceService, bindService(TimelineServiceService, timeline.handlers, log, undefined, upstreamGuard(TimelineServiceService, keys.publicKeyPem)));
  });

  afterAll(async () => {
    for (const gateway of gateways) await gateway.stop();
    await upstream.shutdown();
  });

  async function gatewayWith(settings: Partial<GatewayConfig>) {
    const gateway = await startGateway(gatewayConfig({ upstreams: { timeline: `127.0.0.1:${upstream.port}` }, ...settings }), {
      log,
      publicKeys: [parseVerificationKey(keys.publicKeyPem)],
    });
    gateways.push(gateway);
    const clients: Record<"Connect" | "gRPC", Client<typeof TimelineService>> = {
      Connect: createClient(TimelineService, createConnectTransport({ baseUrl: `http://127.0.0.1:${gateway.httpPort}`, httpVersion: "1.1" }) as Transport),
      gRPC: createClient(TimelineService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${gateway.http2Port}` })),
    };
    /** Opens a stream as `reader` and records what arrives, without waiting for any of it. */
    const watch = (reader: string, protocol: "Connect" | "gRPC" = "Connect", options: { timeoutMs?: number } = {}): Watched => {
      const abort = new AbortController();
      const messages: Watched["messages"] = [];
      const started = Date.now();
      const ended = (async () => {
        try {
          for await (const message of clients[protocol].streamHomeTimeline({}, { headers: as(reader), signal: abort.signal, ...options })) {
            messages.push({ item: message.item?.id, at: Date.now() });
          }
          return { error: undefined, at: Date.now() };
        } catch (error) {
          return { error: ConnectError.from(error), at: Date.now() };
        }
      })();
      return { messages, ended, started, leave: () => abort.abort() };
    };
    return { gateway, watch };
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const settled = <T>(promise: Promise<T>) => Promise.race([promise.then(() => true), sleep(0).then(() => false)]);

  describe("with no lifetime or heartbeat in sight", () => {
    let watch: Awaited<ReturnType<typeof gatewayWith>>["watch"];

    beforeAll(async () => {
      // The unary default deadline is short, the stream settings long: only the latter may govern streams.
      ({ watch } = await gatewayWith({ defaultTimeoutMs: 300, streamMaxLifetimeMs: 60_000, keepaliveMs: 60_000, maxStreamsPerCaller: 2 }));
    });

    it.each(["Connect", "gRPC"] as const)("keeps a %s stream open past UPSTREAM_TIMEOUT_MS and delivers what comes later", async (protocol) => {
      const stream = watch(BOB, protocol);
      await sleep(1_000);
      expect(await settled(stream.ended)).toBe(false);
      timeline.publish(BOB, "01M83VMQVV99P26KZM1TRZB0A1");
      await eventually(() => expect(stream.messages.map((m) => m.item)).toContain("01M83VMQVV99P26KZM1TRZB0A1"));
      expect(await settled(stream.ended)).toBe(false);
      stream.leave();
      await stream.ended;
      await eventually(() => expect(timeline.open(BOB)).toBe(0));
    });

    it("opens with an empty message, sent once the upstream stream is in place", async () => {
      let openUpstream = -1;
      const stream = watch(BOB);
      await eventually(() => expect(stream.messages.length).toBeGreaterThan(0));
      openUpstream = timeline.open(BOB);
      expect(stream.messages[0]!.item).toBeUndefined();
      expect(stream.messages[0]!.at - stream.started).toBeLessThan(5_000);
      // Whatever is published from now on reaches this stream: its subscription exists.
      expect(openUpstream).toBe(1);
      timeline.publish(BOB, "01M83VMQVV99P26KZM1TRZB0A2");
      await eventually(() => expect(stream.messages.map((m) => m.item)).toEqual([undefined, "01M83VMQVV99P26KZM1TRZB0A2"]));
      stream.leave();
      await stream.ended;
    });

    it("lets the client's own deadline end a stream", async () => {
      const stream = watch(BOB, "Connect", { timeoutMs: 600 });
      const { error, at } = await stream.ended;
      expect(error?.code).toBe(Code.DeadlineExceeded);
      expect(at - stream.started).toBeGreaterThanOrEqual(550);
      await eventually(() => expect(timeline.open(BOB)).toBe(0));
    });

    it("caps each caller's open streams, across protocols, and frees a slot when a stream closes", async () => {
      const first = watch(ALICE, "Connect");
      const second = watch(ALICE, "gRPC");
      await eventually(() => expect(timeline.open(ALICE)).toBe(2));

      for (const protocol of ["Connect", "gRPC"] as const) {
        const refused = await watch(ALICE, protocol).ended;
        expect([protocol, refused.error?.code, refused.error?.rawMessage]).toEqual([
          protocol,
          Code.ResourceExhausted,
          "too many open streams: at most 2 StreamHomeTimeline streams per caller; close one to open another",
        ]);
      }
      expect(timeline.open(ALICE)).toBe(2);

      // Someone else is not affected.
      const bob = watch(BOB);
      await eventually(() => expect(timeline.open(BOB)).toBe(1));

      first.leave();
      // The client's own library reports its abort (as INTERNAL, wrapping the AbortError).
      expect((await first.ended).error).toBeDefined();
      const third = await eventually(async () => {
        const attempt = watch(ALICE);
        await eventually(() => expect(attempt.messages.length).toBeGreaterThan(0), 2_000);
        return attempt;
      });
      expect(await settled(third.ended)).toBe(false);
      expect(timeline.open(ALICE)).toBe(2);

      for (const stream of [second, third, bob]) stream.leave();
      await Promise.all([second, third, bob].map((s) => s.ended));
      await eventually(() => expect(timeline.open(ALICE) + timeline.open(BOB)).toBe(0));
    });

    it("frees the slot of a stream the upstream ended with an error", async () => {
      for (let i = 0; i < 4; i++) {
        const { error } = await watch(UNLUCKY).ended;
        expect([error?.code, error?.rawMessage]).toEqual([Code.ResourceExhausted, "the stream fell too far behind; reload the timeline and reconnect"]);
      }
    });
  });

  describe("with a short lifetime and keep-alive", () => {
    let gateway: GatewayApp;
    let watch: Awaited<ReturnType<typeof gatewayWith>>["watch"];

    beforeAll(async () => {
      ({ gateway, watch } = await gatewayWith({ defaultTimeoutMs: 300, streamMaxLifetimeMs: 2_000, keepaliveMs: 250, maxStreamsPerCaller: 2 }));
    });

    it("sends an empty message on an idle stream every KEEPALIVE_MS", async () => {
      const stream = watch(BOB);
      await sleep(1_200);
      const empty = stream.messages.filter((m) => m.item === undefined);
      // The opening message and a heartbeat about every 250 ms after it.
      expect(empty.length).toBeGreaterThanOrEqual(3);
      expect(await settled(stream.ended)).toBe(false);
      stream.leave();
      await stream.ended;
    });

    it("ends streams cleanly at STREAM_MAX_LIFETIME_MS, cancels them upstream and frees their slots", async () => {
      await eventually(() => expect(timeline.open(ALICE)).toBe(0));
      const streams = [watch(ALICE, "Connect"), watch(ALICE, "gRPC")];
      await eventually(() => expect(timeline.open(ALICE)).toBe(2));
      for (const stream of streams) {
        const { error, at } = await stream.ended;
        expect(error).toBeUndefined();
        expect(at - stream.started).toBeGreaterThanOrEqual(1_900);
        expect(at - stream.started).toBeLessThan(5_000);
      }
      // The upstream calls were cancelled, not left open behind the ended streams.
      await eventually(() => expect(timeline.open(ALICE)).toBe(0));

      const again = [watch(ALICE), watch(ALICE)];
      await eventually(() => expect(again.every((s) => s.messages.length > 0)).toBe(true));
      for (const stream of again) stream.leave();
      await Promise.all(again.map((s) => s.ended));
    });

    it("ends open streams as CANCELED when the gateway shuts down, and cancels them upstream", async () => {
      const closing = await gatewayWith({ streamMaxLifetimeMs: 60_000, keepaliveMs: 60_000 });
      const streams = [closing.watch(ALICE, "Connect"), closing.watch(ALICE, "gRPC")];
      await eventually(() => expect(streams.every((s) => s.messages.length > 0)).toBe(true));
      await closing.gateway.stop();
      for (const stream of streams) {
        const { error } = await stream.ended;
        expect([error?.code, error?.rawMessage]).toEqual([Code.Canceled, "the stream was closed: the client left or the gateway is shutting down"]);
      }
      await eventually(() => expect(timeline.open(ALICE)).toBe(0));
    });

    it("PINGs HTTP/2 clients every KEEPALIVE_MS", async () => {
      const session = connectHttp2(`http://127.0.0.1:${gateway.http2Port}`);
      let pings = 0;
      session.on("ping", () => (pings += 1));
      await sleep(1_000);
      session.close();
      expect(pings).toBeGreaterThanOrEqual(2);
    });
  });
});
