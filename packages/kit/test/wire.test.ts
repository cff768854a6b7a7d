import { getTextEncoding } from "@bufbuild/protobuf/wire";
import { Tweet } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import "@chirp/kit/grpc";

describe("protobuf strings encoded with Buffer (loaded with @chirp/kit/grpc)", () => {
  const samples = ["", "plain ascii", "héllo wörld", "✓ 🐦 emoji and 中文", "lone \ud800 surrogate", "x".repeat(10_000)];

  it("gives the bytes TextEncoder gives, lone surrogates included", () => {
    expect(Buffer.isBuffer(getTextEncoding().encodeUtf8("installed"))).toBe(true);
    const standard = new TextEncoder();
    for (const text of samples) expect(Buffer.from(getTextEncoding().encodeUtf8(text)).equals(Buffer.from(standard.encode(text)))).toBe(true);
  });

  it("takes what is not a string as TextEncoder does: undefined as empty, anything else as its string form", () => {
    const standard = new TextEncoder();
    for (const value of [undefined, null, 42]) {
      const encoded = getTextEncoding().encodeUtf8(value as unknown as string);
      expect(Buffer.from(encoded).equals(Buffer.from(standard.encode(value as unknown as string)))).toBe(true);
    }
  });

  it("round-trips messages through the generated code", () => {
    for (const text of samples.filter((s) => !s.includes("\ud800"))) {
      const tweet = Tweet.fromPartial({ id: "01M84D205G6GQM31SDXPD9QPZF", text, tags: [text, "chirp"], likeCount: "3" });
      expect(Tweet.decode(Tweet.encode(tweet).finish())).toEqual(tweet);
    }
  });
});
