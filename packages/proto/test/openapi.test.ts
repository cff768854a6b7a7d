import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  create,
  createFileRegistry,
  equals,
  fromBinary,
  fromJson,
  toJson,
  ScalarType,
  type DescField,
  type DescMessage,
  type JsonValue,
  type Registry,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, isWrapperDesc } from "@bufbuild/protobuf/wkt";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { descriptorSet } from "@chirp/proto/descriptor-set";

/**
 * The OpenAPI document scripts/generate.mjs writes, held to protobuf's JSON mapping as
 * @bufbuild/protobuf implements it: for every message of the contracts, values made from its
 * descriptor are written with toJson, validated against the message's schema in the document by a
 * JSON Schema 2020-12 validator, and read back with fromJson to an equal message.
 */
const document = JSON.parse(readFileSync(join(__dirname, "../src/openapi.json"), "utf8"));
const registry: Registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
const contractMessages = [...registry]
  .filter((t): t is DescMessage => t.kind === "message" && t.typeName.startsWith("chirp."))
  .sort((a, b) => a.typeName.localeCompare(b.typeName));

/** A JSON Schema 2020-12 validator of the schemas of `doc`, by message or enum name. */
function validators(doc: { components: unknown }) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const format of ["uint32", "uint64"]) ajv.addFormat(format, true);
  ajv.addSchema({ $id: "openapi.json", components: doc.components });
  const of = (typeName: string) => {
    const validate = ajv.getSchema(`openapi.json#/components/schemas/${typeName}`);
    if (!validate) throw new Error(`no schema for ${typeName}`);
    return validate;
  };
  return { of, errorsText: (errors: Parameters<typeof ajv.errorsText>[0]) => ajv.errorsText(errors) };
}
const contractSchemas = validators(document);
const validatorOf = contractSchemas.of;

/** A small seeded generator (mulberry32), so that a failure comes back on the next run. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]! };
}
type Random = ReturnType<typeof random>;

const WELL_KNOWN_SAMPLES: Record<string, JsonValue[]> = {
  "google.protobuf.Duration": ["1.5s", "-0.000000001s", "315576000000s", "0s"],
  "google.protobuf.Struct": [{}, { a: 1, b: "two", c: [true, null], d: { e: {} } }],
  "google.protobuf.Value": [null, 1.5, "text", false, [1, "x"], { k: [] }],
  "google.protobuf.ListValue": [[], [1, "two", null, { three: 3 }]],
  "google.protobuf.Empty": [{}],
};

const TEXTS = ["a", "alice", "Hello, Chirp! #firstpost", "naïve café ☕ 🐦", "\"quoted\" \\ back\nline", "01HZX3J6T4V1N8Q2W5E7R9A0BC"];

function scalarValue(type: ScalarType, r: Random): unknown {
  switch (type) {
    case ScalarType.STRING:
      return r.pick(TEXTS);
    case ScalarType.BOOL:
      return true;
    case ScalarType.BYTES:
      return Uint8Array.from({ length: 1 + r.int(9) }, () => r.int(256));
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return r.pick([1, -1, 2147483647, -2147483648, r.int(1000) + 1]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return r.pick([1, 4294967295, r.int(1000) + 1]);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return r.pick([1n, -1n, 9223372036854775807n, -9223372036854775808n, 9007199254740993n, BigInt(r.int(1_000_000) + 1)]);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return r.pick([1n, 18446744073709551615n, BigInt(r.int(1_000_000) + 1)]);
    case ScalarType.FLOAT:
      return r.pick([1.5, -0.25, Infinity, -Infinity]);
    case ScalarType.DOUBLE:
      return r.pick([1.5, -1e300, Infinity, -Infinity]);
  }
}

/** A message of `schema` with every field set (one member per oneof), nested messages to `depth`. */
function messageValue(schema: DescMessage, r: Random, depth: number): unknown {
  if (schema.typeName === "google.protobuf.Timestamp") {
    const seconds = r.pick([-62135596800n, 253402300799n, 0n, BigInt(1_700_000_000 + r.int(100_000_000))]);
    return create(schema, { seconds, nanos: r.pick([0, 1_000_000, 1_000, 1, 999_999_999]) } as never);
  }
  if (schema.typeName === "google.protobuf.FieldMask") {
    return create(schema, { paths: r.pick([["display_name"], ["display_name", "bio", "avatar_url"], ["user.display_name"]]) } as never);
  }
  // The other well-known types with a JSON form of their own, made from JSON samples.
  const samples = WELL_KNOWN_SAMPLES[schema.typeName];
  if (samples) return fromJson(schema, r.pick(samples));
  const init: Record<string, unknown> = {};
  for (const oneof of schema.oneofs) {
    const member = r.pick(oneof.fields);
    const value = fieldValue(member, member.fieldKind as "scalar" | "enum" | "message", r, depth);
    if (value !== undefined) init[oneof.localName] = { case: member.localName, value };
  }
  for (const field of schema.fields) {
    if (field.oneof) continue;
    if (field.fieldKind === "list") {
      const items = Array.from({ length: 1 + r.int(3) }, () => fieldValue(field, field.listKind, r, depth)).filter((v) => v !== undefined);
      init[field.localName] = items;
    } else if (field.fieldKind === "map") {
      const map: Record<string, unknown> = {};
      for (let i = 0; i < 1 + r.int(3); i++) {
        const value = fieldValue(field, field.mapKind, r, depth);
        if (value !== undefined) map[mapKey(field.mapKey, r)] = value;
      }
      init[field.localName] = map;
    } else {
      const value = fieldValue(field, field.fieldKind, r, depth);
      if (value !== undefined) init[field.localName] = value;
    }
  }
  return create(schema, init as never);
}

/** A map key as protobuf-es holds it: the key's text (numbers and booleans as their text). */
function mapKey(type: ScalarType, r: Random): string {
  if (type === ScalarType.STRING) return r.pick(TEXTS);
  if (type === ScalarType.BOOL) return r.pick(["true", "false"]);
  return String(scalarValue(type, r));
}

function fieldValue(field: DescField, kind: "scalar" | "enum" | "message", r: Random, depth: number): unknown {
  if (kind === "scalar") return scalarValue((field as { scalar: ScalarType }).scalar, r);
  if (kind === "enum") {
    const values = (field as { enum: { values: { number: number }[] } }).enum.values;
    return r.pick(values).number;
  }
  if (depth <= 0) return undefined;
  const message = (field as { message: DescMessage }).message;
  // protobuf-es holds a wrapper field as the value it wraps.
  if (isWrapperDesc(message)) return scalarValue((message.fields[0] as { scalar: ScalarType }).scalar, r);
  return messageValue(message, r, depth - 1);
}

const ROUNDS = 8;

/**
 * Values of `schema` (the zero message, then ROUNDS with every field set) written with toJson must
 * validate against its schema and read back equal with fromJson.
 */
function roundTrip(schema: DescMessage, types: Registry, schemas: ReturnType<typeof validators>) {
  const validate = schemas.of(schema.typeName);
  const r = random([...schema.typeName].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261));
  const values = [create(schema), ...Array.from({ length: ROUNDS }, (_, round) => messageValue(schema, r, 1 + (round % 3)))];
  for (const value of values) {
    const json = toJson(schema, value as never, { registry: types }) as JsonValue;
    if (!validate(json)) throw new Error(`${schema.typeName}: ${JSON.stringify(json)} does not validate: ${schemas.errorsText(validate.errors)}`);
    const back = fromJson(schema, json, { registry: types });
    expect(equals(schema, back, value as never)).toBe(true);
  }
  // The zero message is written as {}: every default is left out.
  expect(toJson(schema, create(schema))).toEqual({});
}

describe("the OpenAPI document of the contracts", () => {
  it("is OpenAPI 3.1 with a schema for every message of the contracts", () => {
    expect(document.openapi).toBe("3.1.0");
    expect(contractMessages.length).toBeGreaterThan(40);
    for (const message of contractMessages) expect(Object.keys(document.components.schemas)).toContain(message.typeName);
  });

  it("has one POST operation per unary RPC and none for streaming ones, which the services' descriptions cover", () => {
    const services = [...registry].filter((t) => t.kind === "service" && t.typeName.startsWith("chirp."));
    const unary = services.flatMap((s) => s.kind === "service" ? s.methods.filter((m) => m.methodKind === "unary").map((m) => `/${s.typeName}/${m.name}`) : []);
    expect(Object.keys(document.paths).sort()).toEqual(unary.sort());
    const streams = document.tags.flatMap((t: { "x-chirp-streaming"?: { method: string }[] }) => (t["x-chirp-streaming"] ?? []).map((s) => s.method));
    expect(streams.sort()).toEqual(["ListFollowerIds", "StreamHomeTimeline", "StreamNotifications"]);
    expect(document.paths["/chirp.users.v1.UsersService/Login"].post.description).toBe(
      "Exchanges credentials for a short-lived access token and a long-lived, single-use refresh\n" +
        "token, starting a session. Needs no caller. Repeated failures for one username or email slow\n" +
        "down (RESOURCE_EXHAUSTED with a retry-after), alike for accounts that exist and those that do not.",
    );
  });

  it("states what a missing field means, as the mapping leaves defaults out", () => {
    const tweet = document.components.schemas["chirp.tweets.v1.Tweet"];
    expect(tweet.properties.likeCount).toMatchObject({ type: "string", default: "0", pattern: expect.any(String) });
    expect(tweet.properties.likeCount.description).toMatch(/Left out when "0"/);
    expect(tweet.properties.tags).toMatchObject({ type: "array", default: [] });
    expect(tweet.properties.likedByMe).toMatchObject({ type: "boolean", default: false });
    expect(tweet.properties.retweetedTweet.$ref).toBe("#/components/schemas/chirp.tweets.v1.Tweet");
    expect(tweet.properties.createdAt.description).toMatch(/Left out when not set/);
    expect(document.components.schemas["chirp.users.v1.User"].properties.displayName.description).toMatch(/^Up to 50 characters/);
  });

  it.each(contractMessages.map((m) => [m.typeName, m] as const))("%s: toJson validates against its schema and fromJson reads it back equal", (_, schema) => {
    roundTrip(schema, registry, contractSchemas);
  });

  it("refuses JSON that is not in the mapping: numbers for 64-bit integers, unknown fields, bad timestamps", () => {
    const tweet = validatorOf("chirp.tweets.v1.Tweet");
    expect(tweet({ likeCount: "12" })).toBe(true);
    expect(tweet({ likeCount: 12 })).toBe(false);
    expect(tweet({ likeCount: "1.5" })).toBe(false);
    expect(tweet({ like_count: "1" })).toBe(false);
    expect(tweet({ createdAt: "2026-01-02T15:04:05Z" })).toBe(true);
    expect(tweet({ createdAt: "yesterday" })).toBe(false);
    expect(tweet({ retweetedTweet: { text: "nested", likeCount: 3 } })).toBe(false);
    const update = validatorOf("chirp.users.v1.UpdateUserRequest");
    expect(update({ updateMask: "displayName,bio" })).toBe(true);
    expect(update({ updateMask: ["displayName"] })).toBe(false);
    const event = validatorOf("chirp.events.v1.Event");
    expect(event({ userDeleted: { userId: "u" } })).toBe(true);
    expect(event({ userDeleted: { userId: "u" }, userCreated: { userId: "u" } })).toBe(false);
  });
});

/**
 * The generator on a file of every kind of field the mapping writes in its own way (maps, every
 * scalar, optional, oneofs, wrappers, Duration, Struct and Value, Empty), beyond what the contracts
 * use today, so that a contract that starts using one is covered already.
 */
describe("the OpenAPI generator on every kind of field", () => {
  const scratch = mkdtempSync(join(tmpdir(), "chirp-mapping-"));
  const set = join(scratch, "mapping.binpb");
  const root = join(__dirname, "../../..");
  execFileSync(join(root, "node_modules/.bin/buf"), ["build", join(__dirname, "mapping"), "-o", set], { cwd: root });
  const generator = pathToFileURL(join(root, "scripts/openapi.mjs")).href;
  const generated = JSON.parse(
    execFileSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { openApiDocument } from ${JSON.stringify(generator)}; import { readFileSync } from "node:fs";
         process.stdout.write(JSON.stringify(openApiDocument(readFileSync(process.argv[1]), { packagePrefix: "mapping." })));`,
        set,
      ],
      { encoding: "utf8" },
    ),
  );
  const types = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(set)));
  rmSync(scratch, { recursive: true, force: true });
  const everything = types.getMessage("mapping.v1.Everything")!;
  const schemas = validators(generated);
  const properties = generated.components.schemas["mapping.v1.Everything"].properties;

  it("writes each kind as the mapping does", () => {
    expect(properties.fInt64).toMatchObject({ type: "string", default: "0" });
    expect(properties.fUint32).toMatchObject({ type: "integer", minimum: 0, maximum: 4294967295 });
    expect(properties.fBytes).toMatchObject({ type: "string", contentEncoding: "base64", default: "" });
    expect(properties.color).toMatchObject({ $ref: "#/components/schemas/mapping.v1.Everything.Color", default: "COLOR_UNSPECIFIED" });
    expect(generated.components.schemas["mapping.v1.Everything.Color"].description).toContain("`COLOR_RED`: Documented value.");
    expect(properties.byNumber).toMatchObject({ type: "object", propertyNames: { pattern: "^-?[0-9]+$" }, default: {} });
    expect(properties.byFlag.propertyNames).toEqual({ pattern: "^(true|false)$" });
    expect(properties.maybe.default).toBeUndefined();
    expect(properties.maybe.description).toMatch(/written when set, even to its zero value/);
    expect(properties.wInt64.$ref).toBe("#/components/schemas/google.protobuf.Int64Value");
    expect(generated.components.schemas["google.protobuf.Int64Value"]).toMatchObject({ type: "string", pattern: expect.any(String) });
  });

  it("round-trips values with every field set through toJson, the schema and fromJson", () => {
    roundTrip(everything, types, schemas);
  });

  it("holds a oneof to one member, and proto3 optional fields to presence", () => {
    const validate = schemas.of("mapping.v1.Everything");
    expect(validate({ choiceText: "a" })).toBe(true);
    expect(validate({ choiceText: "a", choiceNumber: "1" })).toBe(false);
    expect(validate({ maybe: 0 })).toBe(true);
    expect(toJson(everything, create(everything, { maybe: 0 } as never))).toEqual({ maybe: 0 });
    expect(validate({ byNumber: { x: {} } })).toBe(false);
    expect(validate({ wBool: false, took: "1.5s", fValue: null, fStruct: { any: ["json"] } })).toBe(true);
  });
});
