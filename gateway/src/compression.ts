import { promisify } from "node:util";
import { brotliCompress, brotliCompressSync, constants, gzip, gzipSync } from "node:zlib";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

// connect-node compresses with zlib's defaults: gzip level 6, and brotli quality 11, which is
// meant for static files. A client that lists "br" first would cost the gateway 10 ms or more of
// CPU per 7 KB timeline page, a hundred times gzip's. For answers made per request the gateway
// uses gzip level 1 (as nginx's default) and brotli quality 4, whose output is within 5 and 15%
// of the defaults' (npm run bench:encoding). Decompressing requests, with its size limit, stays
// connect-node's.
const GZIP_OPTIONS = { level: 1 };
const BROTLI_OPTIONS = { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } };

// zlib's asynchronous calls run each input through a stream and the thread pool: for a page of a
// few kilobytes that machinery costs several times the compression itself (bench:encoding), so
// answers up to this size are compressed in place; a longer one would hold the event loop too long.
const COMPRESS_IN_PLACE_BYTES = 64 * 1024;

const asArrayBuffer = (bytes: Buffer): Uint8Array<ArrayBuffer> => (bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes));

export const fastGzip: typeof compressionGzip = {
  ...compressionGzip,
  compress: async (bytes) => asArrayBuffer(bytes.length <= COMPRESS_IN_PLACE_BYTES ? gzipSync(bytes, GZIP_OPTIONS) : await gzipAsync(bytes, GZIP_OPTIONS)),
};

export const fastBrotli: typeof compressionBrotli = {
  ...compressionBrotli,
  compress: async (bytes) =>
    asArrayBuffer(bytes.length <= COMPRESS_IN_PLACE_BYTES ? brotliCompressSync(bytes, BROTLI_OPTIONS) : await brotliAsync(bytes, BROTLI_OPTIONS)),
};

/** What the gateway offers; among those a client accepts, the first the client lists is used. */
export const RESPONSE_COMPRESSIONS = [fastGzip, fastBrotli];
