import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

// connect-node compresses with zlib's defaults: gzip level 6, and brotli quality 11, which is
// meant for static files. A client that lists "br" first would cost the gateway about 10 ms of
// CPU per 5 KB timeline page. For answers made per request, the fastest levels keep nearly all
// of the saving for a fraction of the CPU (bench/RESULTS.md): gzip level 1 (as nginx's default),
// brotli quality 4. Decompressing requests, with its size limit, stays connect-node's own.
const GZIP_LEVEL = 1;
const BROTLI_QUALITY = 4;

const asArrayBuffer = (bytes: Buffer): Uint8Array<ArrayBuffer> => (bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes));

export const fastGzip: typeof compressionGzip = {
  ...compressionGzip,
  compress: async (bytes) => asArrayBuffer(await gzipAsync(bytes, { level: GZIP_LEVEL })),
};

export const fastBrotli: typeof compressionBrotli = {
  ...compressionBrotli,
  compress: async (bytes) => asArrayBuffer(await brotliAsync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY } })),
};

/** What the gateway offers; among those a client accepts, the first the client lists is used. */
export const RESPONSE_COMPRESSIONS = [fastGzip, fastBrotli];
