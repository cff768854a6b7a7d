import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { encodeOnce, singleCopyResponses, SingleCopyWriter } from "@chirp/kit/grpc";
import { Event } from "@chirp/proto/grpc/chirp/events/v1/events";
import { GetCountsResponse } from "@chirp/proto/grpc/chirp/graph/v1/graph";
import { GetHomeTimelineRequest, GetHomeTimelineResponse, TimelineServiceService } from "@chirp/proto/grpc/chirp/timeline/v1/timeline";

/** A small deterministic generator, so a failure names a reproducible case. */
function seeded(seed: number) {
  let state = seed;
  const next = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
  return { next, pick };
}

const TEXTS = ["", "a", "plain ascii text", "héllo wörld", "✓ 🐦 emoji, 中文 and a flag 🇫🇷", "lone \ud800 surrogate", "x".repeat(63), "y".repeat(64), "z".repeat(65), "é".repeat(40), "w".repeat(5_000)];
const COUNTS = ["0", "1", "127", "128", "16384", "4294967295", "4294967296", "9007199254740991", "9007199254740993", "9223372036854775807", "-1", "-9223372036854775808", "007"];
const DATES = [new Date(0), new Date(1), new Date("2026-11-23T10:00:00.123Z"), new Date("1969-12-31T23:59:59.999Z"), new Date("1900-01-01T00:00:00Z"), new Date(8.64e15)];

function randomPage(seed: number): GetHomeTimelineResponse {
  const { next, pick } = seeded(seed);
  const user = () => ({
    id: pick(TEXTS),
    username: pick(TEXTS),
    displayName: pick(TEXTS),
    bio: pick(TEXTS),
    avatarUrl: pick(TEXTS),
    createdAt: pick(DATES),
    updatedAt: next() < 0.2 ? undefined : pick(DATES),
    email: pick(TEXTS),
  });
  const tweet = (depth: number): GetHomeTimelineResponse["items"][number]["tweet"] => ({
    id: pick(TEXTS),
    authorId: pick(TEXTS),
    text: pick(TEXTS),
    createdAt: pick(DATES),
    replyToId: pick(TEXTS),
    retweetOfId: pick(TEXTS),
    tags: Array.from({ length: Math.floor(next() * 4) }, () => pick(TEXTS)),
    mentions: Array.from({ length: Math.floor(next() * 3) }, () => pick(TEXTS)),
    likeCount: pick(COUNTS),
    retweetCount: pick(COUNTS),
    replyCount: pick(COUNTS),
    likedByMe: next() < 0.5,
    retweetedByMe: next() < 0.5,
    retweetedTweet: depth > 0 && next() < 0.3 ? tweet(depth - 1) : undefined,
  });
  return {
    items: Array.from({ length: Math.floor(next() * 25) }, () => ({
      id: pick(TEXTS),
      tweet: next() < 0.1 ? undefined : tweet(2),
      author: next() < 0.1 ? undefined : user(),
      retweetedBy: next() < 0.5 ? undefined : user(),
      createdAt: next() < 0.1 ? undefined : pick(DATES),
    })),
    nextPageToken: pick(TEXTS),
    sinceToken: pick(TEXTS),
  };
}

/** Hex, so a mismatch prints readably and comparing stays cheap for large messages. */
const standard = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("SingleCopyWriter", () => {
  it("encodes generated messages byte for byte as BinaryWriter does", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const page = randomPage(seed);
      expect({ seed, bytes: standard(GetHomeTimelineResponse.encode(page, new SingleCopyWriter()).finish()) }).toEqual({
        seed,
        bytes: standard(GetHomeTimelineResponse.encode(page).finish()),
      });
    }
    const others: [Uint8Array, Uint8Array][] = [
      ...[0, 1, 20, 100, 101, -1, -2_147_483_648, 2_147_483_647].map((pageSize): [Uint8Array, Uint8Array] => [
        GetHomeTimelineRequest.encode({ pageSize, pageToken: "t" }, new SingleCopyWriter()).finish(),
        GetHomeTimelineRequest.encode({ pageSize, pageToken: "t" }).finish(),
      ]),
      ...COUNTS.map((count): [Uint8Array, Uint8Array] => [
        GetCountsResponse.encode({ followersCount: count, followingCount: count }, new SingleCopyWriter()).finish(),
        GetCountsResponse.encode({ followersCount: count, followingCount: count }).finish(),
      ]),
    ];
    const event: Event = { id: "01M84D205G6GQM31SDXPD9QPZF", occurredAt: DATES[2], payload: { $case: "tweetLiked", value: { tweetId: "t", userId: "u", likedAt: DATES[3] } } };
    others.push([Event.encode(event, new SingleCopyWriter()).finish(), Event.encode(event).finish()]);
    for (const [mine, theirs] of others) expect(standard(mine)).toEqual(standard(theirs));
  });

  it("decodes back to the message it encoded", () => {
    const user = { id: "u1", username: "ünïcödé", displayName: "🐦 bird", bio: "", avatarUrl: "https://a.example/x.png", createdAt: DATES[2], updatedAt: DATES[3], email: "" };
    const tweet = GetHomeTimelineResponse.fromPartial({ items: [{ tweet: { id: "t1", text: "héllo #chirp", tags: ["chirp"], likeCount: "9007199254740991", replyCount: "5", createdAt: DATES[4] } }] }).items[0]!.tweet!;
    const message = GetHomeTimelineResponse.fromPartial({ items: [{ id: "t1", tweet, author: user, retweetedBy: user, createdAt: DATES[1] }], nextPageToken: "n", sinceToken: "s" });
    expect(GetHomeTimelineResponse.decode(encodeOnce(GetHomeTimelineResponse, message))).toEqual(message);
  });

  it("writes every BinaryWriter method as the library does, nested and interleaved", () => {
    type Op = (w: BinaryWriter) => BinaryWriter;
    const ops: Op[] = [
      (w) => w.uint32(0).uint32(127).uint32(128).uint32(300).uint32(2 ** 21).uint32(2 ** 28).uint32(0xffffffff),
      (w) => w.int32(0).int32(-1).int32(2_147_483_647).int32(-2_147_483_648),
      (w) => w.bool(true).bool(false),
      (w) => w.tag(1, WireType.Varint).tag(536_870_911, WireType.LengthDelimited),
      (w) => w.string("ascii").string("ünïcödé").string("").string("🐦".repeat(30)),
      (w) => w.bytes(new Uint8Array([1, 2, 3])).bytes(new Uint8Array(0)).raw(new Uint8Array([9, 8])),
      (w) => w.int64("0").int64("-1").int64(5).int64(-5).int64(2n ** 62n).int64("9223372036854775807").int64(" 12"),
      (w) => w.uint64("18446744073709551615").uint64(4_294_967_296).uint64(2n ** 40n).uint64("123"),
      (w) => w.sint32(-1).sint32(1).sint32(-2_147_483_648).sint64("-3").sint64(4n),
      (w) => w.float(1.5).double(-0.1).float(Number.NaN).double(Number.POSITIVE_INFINITY),
      (w) => w.fixed32(0xffffffff).sfixed32(-1).fixed64("18446744073709551615").sfixed64(-2n),
    ];
    const nested: Op = (w) => {
      w.uint32(10).fork();
      for (const op of ops) op(w.uint32(18).fork()).join();
      return w.join().string("after");
    };
    for (const op of [...ops, nested]) {
      expect(standard(op(new SingleCopyWriter()).finish())).toEqual(standard(op(new BinaryWriter()).finish()));
    }
    const reused = new SingleCopyWriter();
    reused.string("first").finish();
    expect(standard(reused.string("second").finish())).toEqual(standard(new BinaryWriter().string("second").finish()));
  });

  it("rejects what BinaryWriter rejects", () => {
    const invalid: ((w: BinaryWriter) => unknown)[] = [(w) => w.uint32(-1), (w) => w.uint32(2 ** 32), (w) => w.uint32(1.5), (w) => w.int32(2 ** 31), (w) => w.int64("12x"), (w) => w.join()];
    for (const write of invalid) {
      expect(() => write(new BinaryWriter())).toThrow();
      expect(() => write(new SingleCopyWriter())).toThrow();
    }
    expect(() => new SingleCopyWriter().fork().finish()).toThrow(/fork/);
  });

  it("overrides every method BinaryWriter has, so none writes into the library's own buffers", () => {
    const methods = Object.getOwnPropertyNames(BinaryWriter.prototype).filter((name) => name !== "constructor");
    expect(methods.length).toBeGreaterThan(15);
    for (const name of methods) expect({ name, own: Object.hasOwn(SingleCopyWriter.prototype, name) }).toEqual({ name, own: true });
  });
});

describe("singleCopyResponses", () => {
  it("swaps the named methods' response serializers for single-copy ones with the same output", () => {
    const served = singleCopyResponses(TimelineServiceService, { getHomeTimeline: GetHomeTimelineResponse });
    const page = randomPage(11);
    expect(standard(served.getHomeTimeline.responseSerialize(page))).toBe(standard(TimelineServiceService.getHomeTimeline.responseSerialize(page)));
    expect(served.getHomeTimeline.responseSerialize).not.toBe(TimelineServiceService.getHomeTimeline.responseSerialize);
    expect(served.getHomeTimelineUpdates).toBe(TimelineServiceService.getHomeTimelineUpdates);
    expect(served.getHomeTimeline.path).toBe(TimelineServiceService.getHomeTimeline.path);
  });

  it("refuses a method the service does not have", () => {
    expect(() => singleCopyResponses(TimelineServiceService, { noSuchMethod: GetHomeTimelineResponse } as never)).toThrow(/noSuchMethod/);
  });
});
