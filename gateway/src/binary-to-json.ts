import { fromBinary, toJson, toJsonString, ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { isScalarZeroValue, scalarZeroValue } from "@bufbuild/protobuf/reflect";
import { base64Encode, BinaryReader, getTextEncoding, WireType } from "@bufbuild/protobuf/wire";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";

/**
 * A service's binary answer written as protobuf's JSON mapping in one pass over its bytes, for
 * Connect JSON clients on the direct path (direct.ts). It writes what
 * `toJsonString(schema, fromBinary(schema, bytes))` writes, byte for byte, without the message
 * objects and the reflection between them, which cost about 0.25 ms for a 20-item timeline page,
 * as much again as the rest of the call (bench/RESULTS.md).
 *
 * What one pass cannot write as protobuf-es would (a message field sent twice, which merges; a
 * wire type other than the field's; a closed enum's unknown value; nesting past the recursion
 * limit; bytes that do not parse) is handed to protobuf-es whole, which writes it or throws as
 * before. Well-known types other than Timestamp are written by protobuf-es too, from their bytes.
 */
export function binaryToJson(schema: DescMessage, bytes: Uint8Array): string {
  try {
    return onePass(schema, bytes);
  } catch {
    return toJsonString(schema, fromBinary(schema, bytes));
  }
}

/** The one pass alone: throws where binaryToJson hands the bytes to protobuf-es. */
export function onePass(schema: DescMessage, bytes: Uint8Array): string {
  return JSON.stringify(writeMessage(planOf(schema), new Reader(bytes), bytes.byteLength, 1));
}

// The enums' members as plain constants: each `ScalarType.X` read through the CommonJS re-export is a getter call.
const { BOOL, BYTES, DOUBLE, FIXED32, FIXED64, FLOAT, INT32, INT64, SFIXED32, SFIXED64, SINT32, SINT64, STRING, UINT32, UINT64 } = ScalarType;
const WIRE_BIT32 = WireType.Bit32;
const WIRE_BIT64 = WireType.Bit64;
const WIRE_DELIMITED = WireType.LengthDelimited;
const WIRE_VARINT = WireType.Varint;

/** protobuf-es's reader, with a quicker way to strings of ASCII and a lend of its bytes for the well-known types. */
class Reader extends BinaryReader {
  /** The same bytes as a Buffer, which makes a string of ASCII with no decoder call. */
  private readonly latin1: Buffer;

  constructor(bytes: Uint8Array) {
    super(bytes);
    this.latin1 = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  slice(start: number, end: number): Uint8Array {
    return this.buf.subarray(start, end);
  }

  /** A string field: ASCII as it is, anything else through protobuf-es's decoder (strict where the field validates UTF-8). */
  text(strict: boolean): string {
    const length = this.uint32();
    const start = this.pos;
    const end = start + length;
    if (end > this.len) throw NOT_HERE;
    this.pos = end;
    const buf = this.buf;
    for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return textEncoding.decodeUtf8(buf.subarray(start, end), strict);
    return this.latin1.toString("latin1", start, end);
  }
}

const textEncoding = getTextEncoding();

/** Thrown where one pass cannot follow protobuf-es: binaryToJson starts again the reflective way. */
const NOT_HERE = new Error("not transcodable in one pass");

/** protobuf-es's recursion limit for reading. */
const MAX_DEPTH = 100;

/** What the reader and writer know of a message: its fields by number, its JSON keys, in number order. */
interface Plan {
  desc: DescMessage;
  /** Custom JSON (well-known types): "timestamp", protobuf-es's own writer, or none. */
  special: "timestamp" | "reflect" | undefined;
  /** Fields in number order, as protobuf-es writes them. */
  fields: FieldPlan[];
  /** Index into `fields` by field number (sparse). */
  byNumber: (number | undefined)[];
  /** Indexes of proto2 required fields, which protobuf-es refuses to write unset. */
  required: number[];
}

interface FieldPlan {
  field: DescField;
  /** Written even when zero: explicit presence (proto3 optional, oneof members, proto2). */
  explicit: boolean;
  /** Indexes of the other members of its oneof, which a value of this one clears. */
  others: number[];
}

const plans = new Map<DescMessage, Plan>();

function planOf(desc: DescMessage): Plan {
  let plan = plans.get(desc);
  if (plan) return plan;
  const sorted = [...desc.fields].sort((a, b) => a.number - b.number);
  const fields: FieldPlan[] = sorted.map((field) => ({
    field,
    explicit: field.presence !== IMPLICIT,
    others: [],
  }));
  const byNumber: (number | undefined)[] = [];
  fields.forEach((f, i) => (byNumber[f.field.number] = i));
  for (const f of fields) {
    const oneof = f.field.oneof;
    if (oneof) f.others = oneof.fields.filter((o) => o !== f.field).map((o) => byNumber[o.number]!);
  }
  const required = fields.flatMap((f, i) => (f.field.presence === LEGACY_REQUIRED ? [i] : []));
  plan = { desc, special: specialOf(desc), fields, byNumber, required };
  plans.set(desc, plan);
  return plan;
}

/** protobuf-es's FeatureSet_FieldPresence: IMPLICIT, LEGACY_REQUIRED. */
const IMPLICIT = 2;
const LEGACY_REQUIRED = 3;

const CUSTOM_JSON = new Set(["google.protobuf.Any", "google.protobuf.Duration", "google.protobuf.FieldMask", "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"]);

function specialOf(desc: DescMessage): Plan["special"] {
  if (desc.typeName === "google.protobuf.Timestamp") return "timestamp";
  return CUSTOM_JSON.has(desc.typeName) || isWrapperDesc(desc) ? "reflect" : undefined;
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * One message, from the reader's position to `end`, as the JSON value protobuf-es's toJson
 * makes: the one JSON.stringify at the end escapes and joins faster than strings built here.
 */
function writeMessage(plan: Plan, reader: Reader, end: number, depth: number): Json {
  if (depth > MAX_DEPTH) throw NOT_HERE;
  if (plan.special === "timestamp") return writeTimestamp(reader, end);
  if (plan.special === "reflect") {
    const start = reader.pos;
    reader.pos = end;
    // Read as the reflective path reads it at this depth, within the same recursion limit.
    const message = fromBinary(plan.desc, reader.slice(start, end), { recursionLimit: MAX_DEPTH - depth + 1 });
    return toJson(plan.desc, message) as Json;
  }
  // Each field's value (a list's items, a map's entries) by the field's index: a scalar sent
  // again replaces the value before it, as a parser's last-one-wins does.
  const values: (Json | undefined)[] = new Array(plan.fields.length);
  while (reader.pos < end) {
    const [number, wireType] = reader.tag();
    const index = plan.byNumber[number];
    if (index === undefined) {
      reader.skip(wireType, number, MAX_DEPTH - depth);
      continue;
    }
    const f = plan.fields[index]!;
    const field = f.field;
    switch (field.fieldKind) {
      case "scalar": {
        if (wireType !== wireTypeOf(field.scalar)) throw NOT_HERE;
        const value = readScalar(reader, field.scalar, field.utf8Validation);
        values[index] = f.explicit || !isScalarZeroValue(field.scalar, value) ? scalarJson(field.scalar, value) : undefined;
        break;
      }
      case "enum": {
        if (wireType !== WIRE_VARINT) throw NOT_HERE;
        const value = reader.int32();
        if (!field.enum.open && !field.enum.values.some((v) => v.number === value)) throw NOT_HERE;
        values[index] = f.explicit || value !== field.enum.values[0]!.number ? enumJson(field.enum, value) : undefined;
        break;
      }
      case "message": {
        if (wireType !== WIRE_DELIMITED || field.delimitedEncoding || values[index] !== undefined) throw NOT_HERE;
        values[index] = readMessageField(planOf(field.message), reader, depth);
        break;
      }
      case "list": {
        const items = (values[index] as Json[] | undefined) ?? (values[index] = []);
        readListItems(field, reader, wireType, items, depth);
        break;
      }
      case "map": {
        if (wireType !== WIRE_DELIMITED) throw NOT_HERE;
        const entries = (values[index] as Record<string, Json> | undefined) ?? (values[index] = {});
        readMapEntry(field, reader, entries, depth);
        break;
      }
    }
    for (const other of f.others) values[other] = undefined;
  }
  if (reader.pos !== end) throw NOT_HERE;
  for (const i of plan.required) if (values[i] === undefined) throw NOT_HERE;
  const json: Record<string, Json> = {};
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === undefined) continue;
    const { field } = plan.fields[i]!;
    if (field.fieldKind === "list" && (value as Json[]).length === 0) continue;
    if (field.fieldKind === "map" && Object.keys(value as object).length === 0) continue;
    json[field.jsonName] = value;
  }
  return json;
}

function readMessageField(plan: Plan, reader: Reader, depth: number): Json {
  const length = reader.uint32();
  const end = reader.pos + length;
  if (end > reader.len) throw NOT_HERE;
  return writeMessage(plan, reader, end, depth + 1);
}

function readListItems(field: DescField & { fieldKind: "list" }, reader: Reader, wireType: WireType, items: Json[], depth: number): void {
  if (field.listKind === "message") {
    if (wireType !== WIRE_DELIMITED || field.delimitedEncoding) throw NOT_HERE;
    items.push(readMessageField(planOf(field.message), reader, depth));
    return;
  }
  const scalar = field.listKind === "enum" ? INT32 : field.scalar;
  const one = () => {
    const value = readScalar(reader, scalar, field.utf8Validation);
    // protobuf-es keeps a closed enum's unknown values in a list (not in a singular field).
    items.push(field.listKind === "enum" ? enumJson(field.enum, value as number) : scalarJson(scalar, value));
  };
  const itemWireType = wireTypeOf(scalar);
  if (wireType === WIRE_DELIMITED && itemWireType !== WIRE_DELIMITED) {
    const end = reader.uint32() + reader.pos;
    if (end > reader.len) throw NOT_HERE;
    while (reader.pos < end) one();
    if (reader.pos !== end) throw NOT_HERE;
    return;
  }
  if (wireType !== itemWireType) throw NOT_HERE;
  one();
}

/**
 * A map entry (key 1, value 2) set on the map's object under its key's text, as protobuf-es
 * sets it (so integer-like keys come first when written); a key sent again replaces its value.
 */
function readMapEntry(field: DescField & { fieldKind: "map" }, reader: Reader, entries: Record<string, Json>, depth: number): void {
  const end = reader.uint32() + reader.pos;
  if (end > reader.len) throw NOT_HERE;
  let key: unknown;
  let value: Json | undefined;
  while (reader.pos < end) {
    const [number, wireType] = reader.tag();
    if (number === 1) {
      if (wireType !== wireTypeOf(field.mapKey)) throw NOT_HERE;
      key = readScalar(reader, field.mapKey, field.utf8Validation);
    } else if (number === 2) {
      if (field.mapKind === "message") {
        if (wireType !== WIRE_DELIMITED || value !== undefined) throw NOT_HERE;
        value = readMessageField(planOf(field.message), reader, depth);
      } else if (field.mapKind === "enum") {
        if (wireType !== WIRE_VARINT) throw NOT_HERE;
        value = enumJson(field.enum, reader.int32());
      } else {
        if (wireType !== wireTypeOf(field.scalar)) throw NOT_HERE;
        value = scalarJson(field.scalar, readScalar(reader, field.scalar, field.utf8Validation));
      }
    } else {
      throw NOT_HERE;
    }
  }
  if (reader.pos !== end) throw NOT_HERE;
  if (value === undefined) {
    if (field.mapKind === "message") value = writeMessage(planOf(field.message), reader, reader.pos, depth + 1);
    else if (field.mapKind === "enum") value = enumJson(field.enum, field.enum.values[0]!.number);
    else value = scalarJson(field.scalar, scalarZeroValue(field.scalar, false));
  }
  entries[String(key ?? scalarZeroValue(field.mapKey, false))] = value;
}

/** A Timestamp's RFC 3339 text, as protobuf-es writes it (and refuses it out of range). */
function writeTimestamp(reader: Reader, end: number): string {
  let seconds: bigint = 0n;
  let nanos = 0;
  while (reader.pos < end) {
    const [number, wireType] = reader.tag();
    if (number === 1) {
      if (wireType !== WIRE_VARINT) throw NOT_HERE;
      seconds = BigInt(reader.int64());
    } else if (number === 2) {
      if (wireType !== WIRE_VARINT) throw NOT_HERE;
      nanos = reader.int32();
    } else {
      reader.skip(wireType, number);
    }
  }
  if (reader.pos !== end) throw NOT_HERE;
  const ms = Number(seconds) * 1000;
  if (ms < MIN_TIMESTAMP_MS || ms > MAX_TIMESTAMP_MS || nanos < 0 || nanos > 999_999_999) throw NOT_HERE;
  let z = "Z";
  if (nanos > 0) {
    const digits = (nanos + 1_000_000_000).toString().substring(1);
    if (digits.endsWith("000000")) z = `.${digits.substring(0, 3)}Z`;
    else if (digits.endsWith("000")) z = `.${digits.substring(0, 6)}Z`;
    else z = `.${digits}Z`;
  }
  return `${dateTime(Number(seconds))}${z}`;
}

/**
 * `YYYY-MM-DDTHH:MM:SS` of a time in seconds since the epoch (years 1 to 9999), as Date's
 * toISOString writes it, by arithmetic: a Date per timestamp was most of a page's writing.
 */
function dateTime(seconds: number): string {
  const days = Math.floor(seconds / 86_400);
  const inDay = seconds - days * 86_400;
  // Days to a civil date (proleptic Gregorian), in eras of 400 years from 0000-03-01.
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1_460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(inDay / 3_600);
  const minute = Math.floor((inDay % 3_600) / 60);
  const second = inDay % 60;
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}`;
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0");

const MIN_TIMESTAMP_MS = Date.parse("0001-01-01T00:00:00Z");
const MAX_TIMESTAMP_MS = Date.parse("9999-12-31T23:59:59Z");

function wireTypeOf(type: ScalarType): WireType {
  switch (type) {
    case STRING:
    case BYTES:
      return WIRE_DELIMITED;
    case DOUBLE:
    case FIXED64:
    case SFIXED64:
      return WIRE_BIT64;
    case FLOAT:
    case FIXED32:
    case SFIXED32:
      return WIRE_BIT32;
    default:
      return WIRE_VARINT;
  }
}

function readScalar(reader: Reader, type: ScalarType, strictUtf8: boolean): unknown {
  switch (type) {
    case STRING:
      return reader.text(strictUtf8);
    case BOOL:
      return reader.bool();
    case DOUBLE:
      return reader.double();
    case FLOAT:
      return reader.float();
    case INT32:
      return reader.int32();
    case INT64:
      return reader.int64();
    case UINT64:
      return reader.uint64();
    case FIXED64:
      return reader.fixed64();
    case BYTES:
      return reader.bytes();
    case FIXED32:
      return reader.fixed32();
    case SFIXED32:
      return reader.sfixed32();
    case SFIXED64:
      return reader.sfixed64();
    case SINT64:
      return reader.sint64();
    case UINT32:
      return reader.uint32();
    case SINT32:
      return reader.sint32();
  }
}

function scalarJson(type: ScalarType, value: unknown): Json {
  switch (type) {
    case STRING:
    case BOOL:
      return value as Json;
    case BYTES:
      return base64Encode(value as Uint8Array);
    case DOUBLE:
    case FLOAT: {
      const n = value as number;
      if (Number.isNaN(n)) return "NaN";
      if (n === Infinity) return "Infinity";
      if (n === -Infinity) return "-Infinity";
      return n;
    }
    case INT64:
    case UINT64:
    case SINT64:
    case FIXED64:
    case SFIXED64:
      return String(value);
    default:
      return value as number;
  }
}

function enumJson(desc: DescEnum, value: number): Json {
  if (desc.typeName === "google.protobuf.NullValue") return null;
  return desc.value[value]?.name ?? value;
}
