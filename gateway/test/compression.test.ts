import { randomBytes } from "node:crypto";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { fastBrotli, fastGzip, RESPONSE_COMPRESSIONS } from "../src/compression.js";

describe("the gateway's response compressions", () => {
  // Half random, half repetitive: compressible, yet not trivially.
  const body = (size: number) => Buffer.concat([randomBytes(size / 2), Buffer.alloc(size / 2, "chirp ")]);

  it("offer gzip and then brotli under their standard names", () => {
    expect(RESPONSE_COMPRESSIONS.map((c) => c.name)).toEqual(["gzip", "br"]);
  });

  it.each([
    ["small, compressed in place", 6 * 1024],
    ["large, compressed on zlib's thread pool", 200 * 1024],
  ])("give what standard decoders restore, for an answer %s", async (_, size) => {
    const input = body(size);
    expect(gunzipSync(await fastGzip.compress(input)).equals(input)).toBe(true);
    expect(brotliDecompressSync(await fastBrotli.compress(input)).equals(input)).toBe(true);
  });

  it("decompress requests as connect-node does, within the size limit", async () => {
    const input = body(8 * 1024);
    expect(Buffer.from(await fastGzip.decompress(await fastGzip.compress(input), 64 * 1024)).equals(input)).toBe(true);
    await expect(fastBrotli.decompress(await fastBrotli.compress(input), 1024)).rejects.toThrow();
  });
});
