import { createPrivateKey } from "node:crypto";
import { create, fromBinary, toBinary, type DescMethodServerStreaming, type DescMethodUnary, type Message } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { EmptySchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { generateSigningKeyPair, invalidArgument, parseVerificationKey, resourceExhausted, TokenSigner } from "@chirp/kit";
import { bindService, GrpcServer, type ServiceHandlers } from "@chirp/kit/grpc";
import {
  GetHomeTimelineResponseSchema,
  GetHomeTimelineUpdatesResponseSchema,
  StreamHomeTimelineResponseSchema,
  TimelineService,
} from "@chirp/proto/es/chirp/timeline/v1/timeline_pb";
import {
  TimelineServiceService,
  type GetHomeTimelineResponse,
  type GetHomeTimelineUpdatesResponse,
  type StreamHomeTimelineResponse,
  type TimelineItem,
} from "@chirp/proto/grpc/chirp/timeline/v1/timeline";
import type { Tweet } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import type { User } from "@chirp/proto/grpc/chirp/users/v1/users";
import { testLogger } from "@chirp/kit/testing";
import { startGateway, type GatewayApp } from "../src/app.js";
import { answersInBinary } from "../src/routes.js";
import { gatewayConfig, upstreamGuard } from "./fixtures.js";

const ALICE = "01M83VMQVV99P26KZM1TRZB034";
const BOB = "01M83VMQVV99P26KZM1TRZB035";
/** A caller whose timeline stream breaks after its first entry. */
const UNLUCKY = "01M83VMQVV99P26KZM1TRZB036";

// Rich on purpose: nested messages three deep, repeated fields, timestamps, an int64 beyond
// 2^53 and a negative one, and text well outside ASCII.
const alice: User = {
  id: ALICE,
  username: "alice",
  displayName: "Alice Ångström 🌸",
  bio: "Grüße aus Köln — 日本語も話せます",
  avatarUrl: "https://cdn.chirp.test/alice.png",
  createdAt: new Date("2020-01-01T00:00:00.000Z"),
  updatedAt: new Date("2024-02-29T12:34:56.789Z"),
  email: "",
};
const bob: User = { ...alice, id: BOB, username: "bob", displayName: "Bøb", bio: "", updatedAt: undefined };
const original: Tweet = {
  id: "01M83VMQVV99P26KZM1TRZB100",
  authorId: ALICE,
  text: "Ça va? 👋🏽 naïve café, 東京 #日本",
  createdAt: new Date("2024-02-29T23:59:58.123Z"),
  replyToId: "",
  retweetOfId: "",
  tags: ["日本", "café"],
  mentions: ["bob", "zoë"],
  likeCount: "9007199254740993",
  retweetCount: "-3",
  replyCount: "0",
  likedByMe: true,
  retweetedByMe: false,
  retweetedTweet: undefined,
};
const retweet: Tweet = {
  ...original,
  id: "01M83VMQVV99P26KZM1TRZB101",
  authorId: BOB,
  text: "",
  retweetOfId: original.id,
  tags: [],
  mentions: [],
  likeCount: "0",
  retweetCount: "0",
  likedByMe: false,
  retweetedByMe: true,
  retweetedTweet: original,
};
const items: TimelineItem[] = [
  { id: "e2", tweet: retweet, author: alice, retweetedBy: bob, createdAt: new Date("2024-03-01T00:00:01.001Z") },
  { id: "e1", tweet: original, author: alice, retweetedBy: undefined, createdAt: original.createdAt },
];
const page: GetHomeTimelineResponse = { items, nextPageToken: "next→2", sinceToken: "since:e2" };
const updates: GetHomeTimelineUpdatesResponse = { items: [items[0]!], sinceToken: "since:e2", hasMore: true };

/** A field the gateway's schema does not have, as a newer upstream would send. */
const NEWER_FIELD = 99;
const NEWER_VALUE = "from a newer schema ✓";
const newerField = new BinaryWriter().tag(NEWER_FIELD, WireType.LengthDelimited).string(NEWER_VALUE).finish();
/**
 * Put first, where protobuf-es never writes unknown fields (it writes them last), so an answer
 * decoded and encoded again differs from the upstream's bytes; only a pass-through keeps them.
 */
const withNewerField = (bytes: Buffer) => Buffer.concat([newerField, bytes]);

/** The real timeline service's definition, except that two of its answers carry the newer field. */
const definition = {
  ...TimelineServiceService,
  getHomeTimelineUpdates: {
    ...TimelineServiceService.getHomeTimelineUpdates,
    responseSerialize: (value: GetHomeTimelineUpdatesResponse) => withNewerField(TimelineServiceService.getHomeTimelineUpdates.responseSerialize(value)),
  },
  streamHomeTimeline: {
    ...TimelineServiceService.streamHomeTimeline,
    responseSerialize: (value: StreamHomeTimelineResponse) => withNewerField(TimelineServiceService.streamHomeTimeline.responseSerialize(value)),
  },
};
const upstreamBytes = {
  page: TimelineServiceService.getHomeTimeline.responseSerialize(page),
  updates: definition.getHomeTimelineUpdates.responseSerialize(updates),
  streamed: items.map((item) => definition.streamHomeTimeline.responseSerialize({ item })),
};

/** The values of the newer field on a decoded message: kept as an unknown field, or gone. */
const newerFieldOf = (message: Message) =>
  (message.$unknown ?? []).filter((field) => field.no === NEWER_FIELD).map((field) => new BinaryReader(field.data).string());
/** The message's known fields only. */
const known = <M extends Message>(message: M): M => ({ ...message, $unknown: undefined });
/** The gateway's first message on every stream: no item, only "the stream is open". */
const opening = () => create(StreamHomeTimelineResponseSchema);

/**
 * What a binary client received, byte for byte: read as Empty, every field of an answer stays
 * raw and in its order, and toBinary writes them out again as they came.
 */
async function rawUnary(transport: Transport, method: DescMethodUnary, headers: Record<string, string>): Promise<Buffer> {
  const opaque = { ...method, output: EmptySchema } as DescMethodUnary<DescMethodUnary["input"], typeof EmptySchema>;
  const { message } = await transport.unary(opaque, undefined, undefined, headers, {});
  return Buffer.from(toBinary(EmptySchema, message));
}

async function rawStream(transport: Transport, method: DescMethodServerStreaming, headers: Record<string, string>): Promise<Buffer[]> {
  const opaque = { ...method, output: EmptySchema } as DescMethodServerStreaming<DescMethodServerStreaming["input"], typeof EmptySchema>;
  const response = await transport.stream(opaque, undefined, undefined, headers, (async function* () { yield {}; })());
  const received: Buffer[] = [];
  for await (const message of response.message) received.push(Buffer.from(toBinary(EmptySchema, message)));
  return received;
}

/** Splits a Connect streaming body into its envelopes. */
function envelopes(body: Uint8Array): { flags: number; data: Uint8Array }[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const found: { flags: number; data: Uint8Array }[] = [];
  for (let at = 0; at < body.byteLength; ) {
    const length = view.getUint32(at + 1);
    found.push({ flags: body[at]!, data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return found;
}

describe("responses the gateway passes through", () => {
  let upstream: GrpcServer;
  let gateway: GatewayApp;
  let base: string;
  const clients = new Map<string, { client: Client<typeof TimelineService>; transport: Transport; binary: boolean }>();
  const keys = generateSigningKeyPair();
  const signer = new TokenSigner(createPrivateKey(keys.privateKeyPem), { issuer: "chirp", audience: "chirp", ttlSeconds: 900 });
  const as = (id: string) => ({ authorization: `Bearer ${signer.sign(id).token}` });

  const CLIENTS = ["Connect binary", "Connect binary GET", "gRPC", "gRPC-Web", "Connect JSON", "Connect JSON GET", "gRPC JSON", "gRPC-Web JSON"];
  const BINARY_CLIENTS = CLIENTS.filter((name) => !name.includes("JSON"));
  const JSON_CLIENTS = CLIENTS.filter((name) => name.includes("JSON"));

  beforeAll(async () => {
    const log = testLogger();
    const handlers: ServiceHandlers<typeof definition> = {
      async getHomeTimeline(req) {
        if (req.pageToken === "stale") throw invalidArgument("page_token", "has expired; start from the top");
        return page;
      },
      async getHomeTimelineUpdates() {
        return updates;
      },
      async streamHomeTimeline(_req, ctx, send) {
        for (const item of items) {
          await send({ item });
          if (ctx.callerId === UNLUCKY) throw resourceExhausted("too many open streams");
        }
      },
    };
    upstream = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [definition], log });
    upstream.activate(definition, bindService(definition, handlers, log, undefined, upstreamGuard(definition, keys.publicKeyPem)));
    gateway = await startGateway(gatewayConfig({ upstreams: { timeline: `127.0.0.1:${upstream.port}` } }), {
      log,
      publicKeys: [parseVerificationKey(keys.publicKeyPem)],
    });
    base = `http://127.0.0.1:${gateway.httpPort}`;
    const http2 = `http://127.0.0.1:${gateway.http2Port}`;
    const transports: Record<string, Transport> = {
      "Connect binary": createConnectTransport({ baseUrl: base, httpVersion: "1.1", useBinaryFormat: true }),
      "Connect binary GET": createConnectTransport({ baseUrl: base, httpVersion: "1.1", useBinaryFormat: true, useHttpGet: true }),
      gRPC: createGrpcTransport({ baseUrl: http2, useBinaryFormat: true }),
      "gRPC-Web": createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1", useBinaryFormat: true }),
      "Connect JSON": createConnectTransport({ baseUrl: base, httpVersion: "1.1", useBinaryFormat: false }),
      "Connect JSON GET": createConnectTransport({ baseUrl: base, httpVersion: "1.1", useBinaryFormat: false, useHttpGet: true }),
      "gRPC JSON": createGrpcTransport({ baseUrl: http2, useBinaryFormat: false }),
      "gRPC-Web JSON": createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1", useBinaryFormat: false }),
    };
    for (const name of CLIENTS) {
      const transport = transports[name]!;
      clients.set(name, { client: createClient(TimelineService, transport), transport, binary: BINARY_CLIENTS.includes(name) });
    }
  });

  afterAll(async () => {
    await gateway.stop();
    await upstream.shutdown();
  });

  const client = (name: string) => clients.get(name)!.client;

  it("gives the schema what the tests below compare with", () => {
    const expected = fromBinary(GetHomeTimelineResponseSchema, upstreamBytes.page);
    const [entry] = expected.items;
    expect(entry!.tweet!.retweetedTweet!.likeCount).toBe(9007199254740993n);
    expect(entry!.tweet!.retweetedTweet!.retweetCount).toBe(-3n);
    expect(entry!.tweet!.retweetedTweet!.text).toBe("Ça va? 👋🏽 naïve café, 東京 #日本");
    expect(entry!.tweet!.retweetedTweet!.tags).toEqual(["日本", "café"]);
    expect(entry!.retweetedBy!.displayName).toBe("Bøb");
    expect(entry!.author!.updatedAt).toEqual(timestampFromDate(new Date("2024-02-29T12:34:56.789Z")));
    expect(expected.nextPageToken).toBe("next→2");
    expect(expected.$unknown).toBeUndefined();
  });

  it.each(CLIENTS)("answers %s with the upstream's message, field for field", async (name) => {
    const received = await client(name).getHomeTimeline({ pageSize: 2 }, { headers: as(ALICE) });
    expect(received).toEqual(fromBinary(GetHomeTimelineResponseSchema, upstreamBytes.page));
    expect(toBinary(GetHomeTimelineResponseSchema, received)).toEqual(new Uint8Array(upstreamBytes.page));
  });

  it.each(BINARY_CLIENTS)("keeps a field the gateway does not know for %s", async (name) => {
    const received = await client(name).getHomeTimelineUpdates({ sinceToken: "since:e1" }, { headers: as(ALICE) });
    expect(known(received)).toEqual(fromBinary(GetHomeTimelineUpdatesResponseSchema, upstreamBytes.updates, { readUnknownFields: false }));
    expect(newerFieldOf(received)).toEqual([NEWER_VALUE]);
  });

  it.each(JSON_CLIENTS)("drops a field the gateway does not know for %s (JSON needs the schema)", async (name) => {
    const received = await client(name).getHomeTimelineUpdates({ sinceToken: "since:e1" }, { headers: as(ALICE) });
    expect(received).toEqual(fromBinary(GetHomeTimelineUpdatesResponseSchema, upstreamBytes.updates, { readUnknownFields: false }));
    expect(newerFieldOf(received)).toEqual([]);
  });

  it.each(BINARY_CLIENTS)("sends %s the upstream's bytes unchanged, unary and streamed", async (name) => {
    const { transport } = clients.get(name)!;
    const unary = await rawUnary(transport, TimelineService.method.getHomeTimelineUpdates, as(ALICE));
    expect(unary.equals(upstreamBytes.updates)).toBe(true);
    const [open, ...streamed] = await rawStream(transport, TimelineService.method.streamHomeTimeline, as(ALICE));
    expect(open!.length).toBe(0); // the gateway's own: the stream is open (see streams.test.ts)
    expect(streamed.map((bytes, i) => bytes.equals(upstreamBytes.streamed[i]!))).toEqual([true, true]);
  });

  it("sends the upstream's bytes over plain HTTP too, not a re-encoding", async () => {
    const response = await fetch(`${base}/chirp.timeline.v1.TimelineService/GetHomeTimelineUpdates`, {
      method: "POST",
      headers: { ...as(ALICE), "content-type": "application/proto" },
      body: new Uint8Array(0),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/proto");
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.equals(upstreamBytes.updates)).toBe(true);
    // What a gateway that decodes and encodes again would have sent: the same message, other bytes.
    const reencoded = toBinary(GetHomeTimelineUpdatesResponseSchema, fromBinary(GetHomeTimelineUpdatesResponseSchema, upstreamBytes.updates));
    expect(Buffer.from(reencoded).equals(upstreamBytes.updates)).toBe(false);
  });

  it("sends a Connect GET with encoding=proto the upstream's bytes unchanged", async () => {
    const response = await fetch(`${base}/chirp.timeline.v1.TimelineService/GetHomeTimelineUpdates?connect=v1&encoding=proto&message=`, {
      headers: as(ALICE),
    });
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(upstreamBytes.updates)).toBe(true);
  });

  it("passes each message of a server stream through in binary", async () => {
    const response = await fetch(`${base}/chirp.timeline.v1.TimelineService/StreamHomeTimeline`, {
      method: "POST",
      headers: { ...as(ALICE), "content-type": "application/connect+proto" },
      body: new Uint8Array(5), // one envelope holding the empty request
    });
    expect(response.status).toBe(200);
    const [open, first, second, end] = envelopes(new Uint8Array(await response.arrayBuffer()));
    expect([open!.flags, first!.flags, second!.flags, end!.flags]).toEqual([0, 0, 0, 2]);
    expect(open!.data.length).toBe(0);
    expect(Buffer.from(first!.data).equals(upstreamBytes.streamed[0]!)).toBe(true);
    expect(Buffer.from(second!.data).equals(upstreamBytes.streamed[1]!)).toBe(true);
    expect(JSON.parse(new TextDecoder().decode(end!.data))).toEqual({});

    for (const name of CLIENTS) {
      const received: Message[] = [];
      for await (const message of client(name).streamHomeTimeline({}, { headers: as(ALICE) })) received.push(message);
      const expected = upstreamBytes.streamed.map((bytes) => fromBinary(StreamHomeTimelineResponseSchema, bytes, { readUnknownFields: false }));
      expect([name, received.map(known)]).toEqual([name, [opening(), ...expected]]);
      expect([name, received.map(newerFieldOf)]).toEqual([name, clients.get(name)!.binary ? [[], [NEWER_VALUE], [NEWER_VALUE]] : [[], [], []]]);
    }
  });

  it.each(CLIENTS)("passes an upstream error to %s with its code and message", async (name) => {
    const error = await client(name)
      .getHomeTimeline({ pageToken: "stale" }, { headers: as(ALICE) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect([(error as ConnectError).code, (error as ConnectError).rawMessage]).toEqual([Code.InvalidArgument, "page_token: has expired; start from the top"]);
  });

  it.each(CLIENTS)("ends a stream that fails upstream with its code for %s, after what came before", async (name) => {
    const received: Message[] = [];
    const error = await (async () => {
      for await (const message of client(name).streamHomeTimeline({}, { headers: as(UNLUCKY) })) received.push(message);
    })().catch((e: unknown) => e);
    expect(received.map(known)).toEqual([opening(), fromBinary(StreamHomeTimelineResponseSchema, upstreamBytes.streamed[0]!, { readUnknownFields: false })]);
    expect(error).toBeInstanceOf(ConnectError);
    expect([(error as ConnectError).code, (error as ConnectError).rawMessage]).toEqual([Code.ResourceExhausted, "too many open streams"]);
  });
});

describe("answersInBinary", () => {
  const call = (contentType: string | undefined, protocolName: string, requestMethod = "POST", query = "") => ({
    protocolName,
    requestMethod,
    url: `http://gateway.test/chirp.timeline.v1.TimelineService/GetHomeTimeline${query}`,
    requestHeader: new Headers(contentType === undefined ? {} : { "content-type": contentType }),
  });

  it.each([
    ["application/proto", "connect"],
    ["APPLICATION/PROTO", "connect"],
    ["application/connect+proto", "connect"],
    ["application/grpc", "grpc"],
    ["application/grpc+proto", "grpc"],
    ["application/grpc-web", "grpc-web"],
    ["application/grpc-web+proto", "grpc-web"],
  ])("says binary for %s (%s)", (contentType, protocol) => {
    expect(answersInBinary(call(contentType, protocol))).toBe(true);
  });

  it.each([
    ["application/json", "connect"],
    ["application/json; charset=utf-8", "connect"],
    ["application/connect+json", "connect"],
    ["application/grpc+json", "grpc"],
    ["application/grpc-web+json", "grpc-web"],
    ["application/grpc-web-text", "grpc-web"],
    ["application/proto; charset=utf-8", "connect"],
    ["application/x-protobuf", "connect"],
    ["text/plain", "connect"],
    [undefined, "connect"],
  ])("says not binary for %s (%s)", (contentType, protocol) => {
    expect(answersInBinary(call(contentType, protocol))).toBe(false);
  });

  it("reads a Connect GET's encoding from its query, not a content type", () => {
    expect(answersInBinary(call(undefined, "connect", "GET", "?connect=v1&encoding=proto&message=CAI"))).toBe(true);
    expect(answersInBinary(call(undefined, "connect", "GET", "?connect=v1&encoding=json&message=%7B%7D"))).toBe(false);
    expect(answersInBinary(call("application/proto", "connect", "GET", "?connect=v1&encoding=json&message=%7B%7D"))).toBe(false);
    expect(answersInBinary(call(undefined, "connect", "GET", "?connect=v1&message=CAI"))).toBe(false);
    expect(answersInBinary(call(undefined, "connect", "POST", "?encoding=proto"))).toBe(false);
  });
});
