import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";

// Every string ts-proto and protobuf-es encode goes through this hook. Node's Buffer.from takes
// short strings from a preallocated pool where TextEncoder allocates a new array for each, and a
// timeline page writes hundreds of strings: encoding one got about a quarter faster
// (bench/RESULTS.md). The bytes are the same; decoding is unchanged. Like TextEncoder, it takes
// what is not a string as its string form, and undefined as "": generated code writes a string
// field left undefined in a partial message, and callers rely on that.
//
// Decoding is strict: bytes that are not UTF-8 throw, where the default decoder (which ts-proto's
// generated code uses) would quietly put U+FFFD in their place. proto3 requires string fields to
// be UTF-8, and a service refuses a request that breaks that as INVALID_ARGUMENT (see
// UnreadableRequest) rather than acting on text its caller never sent.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
configureTextEncoding({
  ...getTextEncoding(),
  encodeUtf8: (text) => Buffer.from(text === undefined ? "" : String(text), "utf8"),
  decodeUtf8: (bytes) => strictUtf8.decode(bytes),
});
