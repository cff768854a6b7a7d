import { BinaryWriter } from "@bufbuild/protobuf/wire";

// @bufbuild/protobuf's BinaryWriter, which ts-proto's generated code writes with, copies each
// nested message once per level of nesting (every join() concatenates the fork into a new array)
// and keeps a separate chunk for every string. A timeline page nests strings three or four levels
// deep, so most of its encoding time went to copying. This writer only records what to write and
// how long each part is, then writes everything once into a single buffer in finish(): about
// three times faster on a 20-item page (bench/RESULTS.md), and byte for byte the same output.

const VARINT = 0;
const STRING = 1;
const BYTES = 2;
/** A non-negative integer above 2^32 (an int64 count or time): written with float arithmetic. */
const LARGE = 3;

/** Strings up to this long are measured and copied in JavaScript; native calls cost more for short ones. */
const SHORT_STRING = 64;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const uint32Size = (value: number): number => (value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5);

function largeSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** The UTF-8 length: what Buffer.byteLength gives (lone surrogates count as U+FFFD), fast for ASCII. */
function utf8Length(text: string): number {
  if (text.length > SHORT_STRING) return Buffer.byteLength(text, "utf8");
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return Buffer.byteLength(text, "utf8");
  return text.length;
}

function checkUint32(value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`invalid uint32: ${value}`);
}

/** A non-negative int64 that a double holds exactly, or undefined when the value needs the general path. */
function safeUnsigned(value: string | number | bigint): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value === "string") {
    // Digits only (no sign, exponent or spaces), short enough to stay below 2^53.
    if (value.length === 0 || value.length > 15) return undefined;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
    }
    return Number(value);
  }
  return value >= 0n && value <= MAX_SAFE ? Number(value) : undefined;
}

/**
 * A drop-in BinaryWriter for generated `encode(message, writer)` functions that copies every byte
 * once. Hot methods are written here; rarely used ones (floats, fixed-width and zig-zag integers,
 * negative or huge 64-bit values) are encoded by the library's own writer and spliced in as raw
 * bytes, so their encoding and validation are exactly the library's.
 */
export class SingleCopyWriter extends BinaryWriter {
  private kinds: number[] = [];
  private values: (number | string | Uint8Array)[] = [];
  /** Bytes written since the innermost open fork (or the start). */
  private size = 0;
  /** For each open fork: where its length goes in `values`, and the size outside it. */
  private forks: number[] = [];

  override finish(): Uint8Array<ArrayBuffer> {
    if (this.forks.length > 0) throw new Error("invalid state, fork stack not empty");
    const out = Buffer.allocUnsafe(this.size);
    const { kinds, values } = this;
    let pos = 0;
    for (let i = 0; i < kinds.length; i++) {
      const kind = kinds[i];
      if (kind === VARINT) {
        let value = values[i] as number;
        while (value > 0x7f) {
          out[pos++] = (value & 0x7f) | 0x80;
          value >>>= 7;
        }
        out[pos++] = value;
      } else if (kind === STRING) {
        const text = values[i] as string;
        // The length written just before this string is its byte length; equal to its length, it is ASCII.
        if (text.length <= SHORT_STRING && values[i - 1] === text.length) {
          for (let j = 0; j < text.length; j++) out[pos++] = text.charCodeAt(j);
        } else {
          pos += out.write(text, pos, "utf8");
        }
      } else if (kind === LARGE) {
        let value = values[i] as number;
        while (value >= 0x80) {
          out[pos++] = (value % 0x80) | 0x80;
          value = Math.floor(value / 0x80);
        }
        out[pos++] = value;
      } else {
        const bytes = values[i] as Uint8Array;
        out.set(bytes, pos);
        pos += bytes.length;
      }
    }
    this.kinds = [];
    this.values = [];
    this.size = 0;
    return out;
  }

  override fork(): this {
    // The fork's length is not known yet: it goes in a placeholder filled in by join().
    this.forks.push(this.values.length, this.size);
    this.kinds.push(VARINT);
    this.values.push(0);
    this.size = 0;
    return this;
  }

  override join(): this {
    const outside = this.forks.pop();
    const at = this.forks.pop();
    if (outside === undefined || at === undefined) throw new Error("invalid state, fork stack empty");
    const inside = this.size;
    this.values[at] = inside;
    this.size = outside + uint32Size(inside) + inside;
    return this;
  }

  override tag(fieldNo: number, type: number): this {
    return this.uint32(((fieldNo << 3) | type) >>> 0);
  }

  override raw(chunk: Uint8Array): this {
    this.kinds.push(BYTES);
    this.values.push(chunk);
    this.size += chunk.length;
    return this;
  }

  override uint32(value: number): this {
    checkUint32(value);
    this.kinds.push(VARINT);
    this.values.push(value);
    this.size += uint32Size(value);
    return this;
  }

  override int32(value: number): this {
    if (Number.isInteger(value) && value >= 0 && value <= 0x7fffffff) return this.uint32(value);
    return this.raw(new BinaryWriter().int32(value).finish());
  }

  override bool(value: boolean): this {
    return this.uint32(value ? 1 : 0);
  }

  override bytes(value: Uint8Array): this {
    return this.uint32(value.byteLength).raw(value);
  }

  override string(value: string): this {
    // As the text hook (wire.ts) and TextEncoder do: undefined is "", anything else its string form.
    const text = typeof value === "string" ? value : value === undefined ? "" : String(value);
    const length = utf8Length(text);
    this.uint32(length);
    this.kinds.push(STRING);
    this.values.push(text);
    this.size += length;
    return this;
  }

  override int64(value: string | number | bigint): this {
    return this.unsignedOr(value, () => new BinaryWriter().int64(value));
  }

  override uint64(value: string | number | bigint): this {
    return this.unsignedOr(value, () => new BinaryWriter().uint64(value));
  }

  override sint64(value: string | number | bigint): this {
    return this.raw(new BinaryWriter().sint64(value).finish());
  }

  override sint32(value: number): this {
    return this.raw(new BinaryWriter().sint32(value).finish());
  }

  override float(value: number): this {
    return this.raw(new BinaryWriter().float(value).finish());
  }

  override double(value: number): this {
    return this.raw(new BinaryWriter().double(value).finish());
  }

  override fixed32(value: number): this {
    return this.raw(new BinaryWriter().fixed32(value).finish());
  }

  override sfixed32(value: number): this {
    return this.raw(new BinaryWriter().sfixed32(value).finish());
  }

  override fixed64(value: string | number | bigint): this {
    return this.raw(new BinaryWriter().fixed64(value).finish());
  }

  override sfixed64(value: string | number | bigint): this {
    return this.raw(new BinaryWriter().sfixed64(value).finish());
  }

  private unsignedOr(value: string | number | bigint, general: () => BinaryWriter): this {
    const unsigned = safeUnsigned(value);
    if (unsigned === undefined) return this.raw(general().finish());
    if (unsigned <= 0xffffffff) return this.uint32(unsigned);
    this.kinds.push(LARGE);
    this.values.push(unsigned);
    this.size += largeSize(unsigned);
    return this;
  }
}

/** What ts-proto generates for each message: an encoder that takes the writer to use. */
export interface MessageEncoder<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
}

/** Encodes a ts-proto message with the single-copy writer. */
export function encodeOnce<T>(type: MessageEncoder<T>, message: T): Buffer {
  return type.encode(message, new SingleCopyWriter()).finish() as Buffer;
}

type ResponseOf<M> = M extends { responseSerialize: (value: infer R) => Buffer } ? R : never;

/**
 * The service definition with the named methods' responses encoded by the single-copy writer:
 * for methods that return pages, whose encoding is a real part of their cost. Pass the result to
 * the server (GrpcServer.start), which takes each method's serializer from the definition.
 */
export function singleCopyResponses<D extends Record<string, { responseSerialize: (value: never) => Buffer }>>(
  definition: D,
  responses: { [K in keyof D]?: MessageEncoder<ResponseOf<D[K]>> },
): D {
  const copy: Record<string, unknown> = { ...definition };
  for (const [name, type] of Object.entries(responses) as [string, MessageEncoder<unknown> | undefined][]) {
    if (!(name in definition)) throw new Error(`the service has no method "${name}"`);
    if (type) copy[name] = { ...definition[name], responseSerialize: (value: unknown) => encodeOnce(type, value) };
  }
  return copy as D;
}
