import { create, createFileRegistry, fromBinary, toBinary, toJsonString, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import * as wkt from "@bufbuild/protobuf/wkt";
import * as events from "@chirp/proto/es/chirp/events/v1/events_pb";
import * as graph from "@chirp/proto/es/chirp/graph/v1/graph_pb";
import * as loadtest from "@chirp/proto/es/chirp/loadtest/v1/loadtest_pb";
import * as notifications from "@chirp/proto/es/chirp/notifications/v1/notifications_pb";
import * as timeline from "@chirp/proto/es/chirp/timeline/v1/timeline_pb";
import * as tweets from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import * as users from "@chirp/proto/es/chirp/users/v1/users_pb";
import { binaryToJson, onePass } from "../src/binary-to-json.js";

/** Every message of the project's protos, the well-known types and descriptor.proto's (proto2: closed enums, required fields, groups' neighbours). */
const SCHEMAS: DescMessage[] = [events, graph, loadtest, notifications, timeline, tweets, users, wkt]
  .flatMap((module) => Object.values(module))
  .filter((value): value is DescMessage => typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "message");

/** What the reflective path writes, or the error it throws. */
function reflective(schema: DescMessage, bytes: Uint8Array): { json?: string; error?: string } {
  try {
    return { json: toJsonString(schema, fromBinary(schema, bytes)) };
  } catch (error) {
    return { error: String(error) };
  }
}

function transcoded(schema: DescMessage, bytes: Uint8Array): { json?: string; error?: string } {
  try {
    return { json: binaryToJson(schema, bytes) };
  } catch (error) {
    return { error: String(error) };
  }
}

function expectSame(schema: DescMessage, bytes: Uint8Array): void {
  expect(transcoded(schema, bytes)).toEqual(reflective(schema, bytes));
}

/** A small deterministic generator (mulberry32), so that a failure can be run again. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick };
}

const STRINGS = ["", "a", "plain ascii text", "ünïcödé", "emoji 🐦 and \u2028 line separator", 'quote " backslash \\ tab \t nul \u0000', "x".repeat(300)];

/** A random message of `schema`: each field set or left at random, zero values and extremes included. */
function randomMessage(schema: DescMessage, rnd: ReturnType<typeof random>, depth = 0): ReflectMessage {
  const message = reflect(schema);
  for (const field of schema.fields) {
    if (rnd.next() < 0.35) continue;
    if (field.oneof && field.oneof.fields.some((f) => f !== field && message.isSet(f))) continue;
    setRandom(message, field, rnd, depth);
  }
  return message;
}

function setRandom(message: ReflectMessage, field: DescField, rnd: ReturnType<typeof random>, depth: number): void {
  switch (field.fieldKind) {
    case "scalar":
      message.set(field, scalarValue(field.scalar, rnd) as never);
      return;
    case "enum":
      message.set(field, enumValue(field.enum, rnd) as never);
      return;
    case "message":
      if (depth > 3) return;
      message.set(field, validWkt(randomMessage(field.message, rnd, depth + 1), rnd) as never);
      return;
    case "list": {
      const list = message.get(field);
      const n = rnd.int(4);
      for (let i = 0; i < n; i++) {
        if (field.listKind === "message") {
          if (depth > 3) break;
          list.add(validWkt(randomMessage(field.message, rnd, depth + 1), rnd) as never);
        } else if (field.listKind === "enum") list.add(enumValue(field.enum, rnd) as never);
        else list.add(scalarValue(field.scalar, rnd) as never);
      }
      return;
    }
    case "map": {
      const map = message.get(field);
      const n = rnd.int(4);
      for (let i = 0; i < n; i++) {
        const key = scalarValue(field.mapKey, rnd);
        if (field.mapKind === "message") {
          if (depth > 3) break;
          map.set(key as never, validWkt(randomMessage(field.message, rnd, depth + 1), rnd) as never);
        } else if (field.mapKind === "enum") map.set(key as never, enumValue(field.enum, rnd) as never);
        else map.set(key as never, scalarValue(field.scalar, rnd) as never);
      }
    }
  }
}

/** Timestamps mostly within their JSON range (sometimes not, where both paths must refuse alike). */
function validWkt(message: ReflectMessage, rnd: ReturnType<typeof random>): ReflectMessage {
  if (message.desc.typeName === "google.protobuf.Timestamp" && rnd.next() < 0.9) {
    const ts = message.message as unknown as { seconds: bigint; nanos: number };
    ts.seconds = BigInt(rnd.int(253402300800 + 62135596800) - 62135596800);
    ts.nanos = rnd.pick([0, 1, 5_000_000, 123_456_000, 999_999_999, rnd.int(1_000_000_000)]);
  }
  return message;
}

function scalarValue(type: number, rnd: ReturnType<typeof random>): unknown {
  switch (type) {
    case 9: // string
      return rnd.pick(STRINGS);
    case 8: // bool
      return rnd.next() < 0.5;
    case 12: // bytes
      return new Uint8Array(rnd.int(5)).map(() => rnd.int(256));
    case 1: // double
      return rnd.pick([0, -0, 1.5, -2.25e300, Number.NaN, Infinity, -Infinity, rnd.next()]);
    case 2: // float
      return Math.fround(rnd.pick([0, -0, 1.5, 0.1, Number.NaN, Infinity, -Infinity, rnd.next()]));
    case 3: // int64
    case 16: // sfixed64
    case 18: // sint64
      return rnd.pick([0n, 1n, -1n, 9007199254740993n, -9223372036854775808n, 9223372036854775807n]);
    case 4: // uint64
    case 6: // fixed64
      return rnd.pick([0n, 1n, 18446744073709551615n, 9007199254740993n]);
    case 13: // uint32
    case 7: // fixed32
      return rnd.pick([0, 1, 4294967295, rnd.int(1000)]);
    default: // int32, sint32, sfixed32
      return rnd.pick([0, 1, -1, 2147483647, -2147483648, rnd.int(1000)]);
  }
}

function enumValue(desc: { values: { number: number }[]; open: boolean }, rnd: ReturnType<typeof random>): number {
  // Open enums may carry numbers they do not name.
  return desc.open && rnd.next() < 0.1 ? 77 : rnd.pick(desc.values).number;
}

describe("binaryToJson writes what protobuf-es's fromBinary and toJsonString write", () => {
  it("covers the project's messages, the well-known types and descriptor.proto's", () => {
    const names = SCHEMAS.map((s) => s.typeName);
    expect(names).toEqual(expect.arrayContaining(["chirp.timeline.v1.GetHomeTimelineResponse", "chirp.events.v1.Event", "google.protobuf.Struct", "google.protobuf.FileDescriptorProto", "google.protobuf.UninterpretedOption.NamePart"]));
    expect(SCHEMAS.length).toBeGreaterThan(150);
  });

  it("for random messages of every type, byte for byte (or the same refusal)", () => {
    let compared = 0;
    let refused = 0;
    for (const schema of SCHEMAS) {
      const rnd = random(schema.typeName.length * 7919);
      for (let i = 0; i < 30; i++) {
        let bytes: Uint8Array;
        try {
          bytes = toBinary(schema, randomMessage(schema, rnd).message);
        } catch {
          continue; // a message protobuf-es will not encode (a required field left unset)
        }
        const expected = reflective(schema, bytes);
        expect(transcoded(schema, bytes)).toEqual(expected);
        // What protobuf-es writes, the one pass writes itself: it hands nothing on but refusals.
        if (expected.json !== undefined) expect(onePass(schema, bytes)).toBe(expected.json);
        else expect(() => onePass(schema, bytes)).toThrow();
        compared++;
        if (expected.error) refused++;
      }
    }
    expect(compared).toBeGreaterThan(SCHEMAS.length * 20);
    // Some timestamps are out of range on purpose, and Any has no registry here: both refuse them.
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThan(compared / 4);
  });

  it("for a 20-item home timeline page", () => {
    const page = create(timeline.GetHomeTimelineResponseSchema, {
      items: Array.from({ length: 20 }, (_, i) => ({
        id: `entry-${i}`,
        tweet: { id: `t${i}`, authorId: `u${i}`, text: `post ${i} #tag`, tags: ["tag"], likeCount: BigInt(i), createdAt: wkt.timestampFromMs(1_700_000_000_123 + i) },
        author: { id: `u${i}`, username: `user${i}`, displayName: `User ${i}`, createdAt: wkt.timestampFromMs(1_600_000_000_000) },
        createdAt: wkt.timestampFromMs(1_700_000_000_000 + i * 1000),
      })),
      nextPageToken: "next",
    });
    const bytes = toBinary(timeline.GetHomeTimelineResponseSchema, page);
    expect(onePass(timeline.GetHomeTimelineResponseSchema, bytes)).toBe(toJsonString(timeline.GetHomeTimelineResponseSchema, page));
  });

  it("for doubles and floats with implicit presence: negative zero is written (as 0, as JSON.stringify writes it), positive zero left out", () => {
    // No message of the project has such a field: one is described here, as a proto3 file would.
    const { FieldDescriptorProto_Label: Label, FieldDescriptorProto_Type: Type, FileDescriptorProtoSchema } = wkt;
    const field = (name: string, number: number, type: wkt.FieldDescriptorProto_Type) => ({ name, number, type, label: Label.OPTIONAL, jsonName: name });
    const file = create(FileDescriptorProtoSchema, {
      name: "reading.proto",
      package: "test.v1",
      syntax: "proto3",
      messageType: [{ name: "Reading", field: [field("celsius", 1, Type.DOUBLE), field("ratio", 2, Type.FLOAT)] }],
    });
    const Reading = createFileRegistry(file, () => undefined).getMessage("test.v1.Reading")!;
    const bytesOf = (celsius: number, ratio: number) => new BinaryWriter().tag(1, WireType.Bit64).double(celsius).tag(2, WireType.Bit32).float(ratio).finish();
    const written = [-0, 0, 1.5, -Infinity, NaN].map((value) => {
      const bytes = bytesOf(value, value);
      expectSame(Reading, bytes);
      expect(onePass(Reading, bytes)).toBe(reflective(Reading, bytes).json);
      return onePass(Reading, bytes);
    });
    expect(written).toEqual(['{"celsius":0,"ratio":0}', "{}", '{"celsius":1.5,"ratio":1.5}', '{"celsius":"-Infinity","ratio":"-Infinity"}', '{"celsius":"NaN","ratio":"NaN"}']);
  });

  it("for timestamps across their whole range, and refuses the same ones", () => {
    const schema = wkt.TimestampSchema;
    const rnd = random(42);
    const seconds = [-62135596800n, -62135596801n, 253402300799n, 253402300800n, 0n, -1n, 951782400n /* 2000-02-29 */, 4107542400n /* 2100-02-28 */, 1709164800n /* 2024-02-29 */];
    for (let i = 0; i < 2000; i++) seconds.push(BigInt(rnd.int(253402300800 + 62135596800) - 62135596800));
    for (const s of seconds) {
      for (const nanos of [0, 1, 10, 100, 1_000, 1_000_000, 123_456_700, 999_999_999, -1, 1_000_000_000]) {
        const bytes = toBinary(schema, create(schema, { seconds: s, nanos }));
        expectSame(schema, bytes);
        const expected = reflective(schema, bytes);
        if (expected.json !== undefined) expect(onePass(schema, bytes)).toBe(expected.json);
      }
    }
  });

  describe("bytes that one pass cannot follow", () => {
    const Tweet = tweets.TweetSchema;
    const tweet = create(Tweet, { id: "t1", text: "first", tags: ["a"], retweetedTweet: { id: "r1", text: "inner", likeCount: 3n }, createdAt: { seconds: 10n } });
    const other = create(Tweet, { id: "t2", tags: ["b", "c"], retweetedTweet: { authorId: "u9", replyCount: 4n }, createdAt: { nanos: 5 } });

    it("merges a message field sent twice (two encodings one after the other)", () => {
      const bytes = new Uint8Array([...toBinary(Tweet, tweet), ...toBinary(Tweet, other)]);
      expectSame(Tweet, bytes);
      const merged = JSON.parse(binaryToJson(Tweet, bytes));
      expect(merged).toMatchObject({ id: "t2", text: "first", tags: ["a", "b", "c"], retweetedTweet: { id: "r1", authorId: "u9", text: "inner", likeCount: "3", replyCount: "4" } });
    });

    it("lets the last of a scalar sent twice win, and drops one that comes back to zero", () => {
      const w = new BinaryWriter();
      w.tag(1, WireType.LengthDelimited).string("first");
      w.tag(3, WireType.LengthDelimited).string("text");
      w.tag(1, WireType.LengthDelimited).string("second");
      w.tag(3, WireType.LengthDelimited).string("");
      w.tag(9, WireType.Varint).int64(0n);
      const bytes = w.finish();
      expectSame(Tweet, bytes);
      expect(JSON.parse(binaryToJson(Tweet, bytes))).toEqual({ id: "second" });
    });

    it("skips unknown fields of every wire type, groups included", () => {
      const w = new BinaryWriter();
      w.tag(1, WireType.LengthDelimited).string("t1");
      w.tag(99, WireType.Varint).uint64(123n);
      w.tag(100, WireType.Bit64).fixed64(1n);
      w.tag(101, WireType.Bit32).fixed32(1);
      w.tag(102, WireType.LengthDelimited).bytes(new Uint8Array([1, 2, 3]));
      w.tag(103, WireType.StartGroup).tag(1, WireType.Varint).int32(5).tag(103, WireType.EndGroup);
      w.tag(3, WireType.LengthDelimited).string("after");
      expectSame(Tweet, w.finish());
    });

    it("reads repeated numbers packed and unpacked, and items of a list that come apart", () => {
      const schema = wkt.FieldDescriptorProtoSchema;
      const List = wkt.SourceCodeInfo_LocationSchema; // repeated int32 path = 1 (packed), span = 2
      const w = new BinaryWriter();
      w.tag(1, WireType.LengthDelimited).fork().int32(1).int32(-2).int32(300).join();
      w.tag(2, WireType.Varint).int32(7);
      w.tag(1, WireType.Varint).int32(4);
      w.tag(3, WireType.LengthDelimited).string("comment");
      w.tag(2, WireType.LengthDelimited).fork().int32(8).join();
      expectSame(List, w.finish());
      expect(JSON.parse(binaryToJson(List, w.finish()))).toEqual({});
      const again = new BinaryWriter();
      again.tag(1, WireType.LengthDelimited).fork().int32(1).int32(-2).join();
      again.tag(1, WireType.Varint).int32(4);
      expect(JSON.parse(binaryToJson(List, again.finish()))).toEqual({ path: [1, -2, 4] });
      expectSame(schema, toBinary(schema, create(schema, { name: "f", number: 3 })));
    });

    it("keeps the last member of a oneof set", () => {
      const Value = wkt.ValueSchema;
      const w = new BinaryWriter();
      w.tag(3, WireType.LengthDelimited).string("text");
      w.tag(4, WireType.Varint).bool(false);
      expectSame(Value, w.finish());
      const Event = events.EventSchema;
      const created = create(Event, { id: "e1", payload: { case: "userCreated", value: { userId: "u1" } } } as never);
      const deleted = create(Event, { payload: { case: "tweetDeleted", value: {} } } as never);
      const bytes = new Uint8Array([...toBinary(Event, created), ...toBinary(Event, deleted)]);
      expect(onePass(Event, bytes)).toBe(toJsonString(Event, fromBinary(Event, bytes)));
      expect(Object.keys(JSON.parse(onePass(Event, bytes)))).toEqual(["id", "tweetDeleted"]);
    });

    it("answers a wire type other than the field's, a closed enum's unknown value, a missing required field and bytes that are not UTF-8 as protobuf-es does", () => {
      const w = new BinaryWriter();
      w.tag(1, WireType.Varint).int32(5); // id is a string
      expectSame(Tweet, w.finish());
      const Field = wkt.FieldDescriptorProtoSchema;
      const closed = new BinaryWriter();
      closed.tag(4, WireType.Varint).int32(99); // label: a closed enum, 99 unknown
      closed.tag(1, WireType.LengthDelimited).string("name");
      expectSame(Field, closed.finish());
      const NamePart = wkt.UninterpretedOption_NamePartSchema; // both fields required
      const part = new BinaryWriter();
      part.tag(1, WireType.LengthDelimited).string("only the name");
      expectSame(NamePart, part.finish());
      expect(transcoded(NamePart, part.finish()).error).toBeDefined();
      const bad = new BinaryWriter();
      bad.tag(1, WireType.LengthDelimited).bytes(new Uint8Array([0x68, 0xff, 0x69]));
      expectSame(Tweet, bad.finish());
      const loose = new BinaryWriter();
      loose.tag(1, WireType.LengthDelimited).bytes(new Uint8Array([0x68, 0xff, 0xc3, 0x69]));
      expectSame(Field, loose.finish());
    });

    it("refuses what is cut short, as protobuf-es does", () => {
      const bytes = toBinary(Tweet, tweet);
      for (let cut = 1; cut < bytes.length; cut++) expectSame(Tweet, bytes.subarray(0, cut));
    });

    it("refuses nesting past protobuf-es's recursion limit alike", () => {
      const Value = wkt.ValueSchema;
      for (const depth of [40, 49, 50, 51, 60]) {
        let value = create(Value, { kind: { case: "stringValue", value: "deep" } });
        for (let i = 0; i < depth; i++) value = create(Value, { kind: { case: "listValue", value: { values: [value] } } });
        const Struct = wkt.StructSchema;
        const bytes = toBinary(Struct, create(Struct, { fields: { key: value } }));
        expectSame(Struct, bytes);
      }
    });
  });
});
