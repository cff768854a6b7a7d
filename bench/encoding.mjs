#!/usr/bin/env node
// Encoding benchmark: what one home-timeline page costs to put on the wire, in one process, warm.
//   1. ts-proto's encoding of a 20-item GetHomeTimelineResponse with @bufbuild/protobuf's
//      BinaryWriter against the kit's SingleCopyWriter (the timeline's responses use the latter);
//   2. compressing the same page as the gateway may: gzip and brotli at zlib's defaults (what
//      connect-node uses unless told otherwise) and at the levels the gateway uses;
//   3. gzip level 1 in place (zlib's synchronous call, as the gateway does for answers up to
//      64 KiB) against zlib's asynchronous call (a stream and the thread pool, as connect-node
//      does), in CPU time of the whole process, all threads.
// Figures are µs per page, the median of several rounds, with each line's ratio to the first of its
// group measured in the same run (the machine is noisy; compare ratios).
//
// Usage: npm run bench:encoding [-- --rounds 7 --pages 2000]
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { promisify } from "node:util";
import { brotliCompressSync, constants, gzip, gzipSync } from "node:zlib";

const require = createRequire(import.meta.url);
const { SingleCopyWriter } = require("@chirp/kit/grpc");
const { GetHomeTimelineResponse } = require("@chirp/proto/grpc/chirp/timeline/v1/timeline");

const { values: args } = parseArgs({ options: { rounds: { type: "string", default: "7" }, pages: { type: "string", default: "2000" } } });
const rounds = Number(args.rounds);
const pages = Number(args.pages);

// A page as the timeline renders it: distinct ids, names and texts, some non-ASCII, a few retweets.
const at = (i) => new Date(Date.UTC(2026, 10, 23, 10, 0, i));
const user = (i) => ({
  id: `01JQ${String(i).padStart(22, "0")}`,
  username: `reader_${i}`,
  displayName: i % 4 === 0 ? `Zoë Ångström ${i}` : `Reader ${i}`,
  bio: i % 3 === 0 ? "Writes about distributed systems, birds and coffee." : "",
  avatarUrl: i % 2 === 0 ? `https://cdn.chirp.example/avatars/${i}.png` : "",
  createdAt: at(i),
  updatedAt: at(i + 1),
  email: "",
});
const tweet = (i) => ({
  id: `01JT${String(i).padStart(22, "0")}`,
  authorId: user(i).id,
  text: `Post number ${i}: the fan-out finished in ${i * 7} ms, which is ${i % 2 ? "fine" : "très bien 👍"} #chirp #bench${i % 5}`,
  createdAt: at(100 + i),
  replyToId: "",
  retweetOfId: "",
  tags: ["chirp", `bench${i % 5}`],
  mentions: i % 3 === 0 ? [`reader_${i + 1}`] : [],
  likeCount: String(i * 13),
  retweetCount: String(i % 4),
  replyCount: String(i % 6),
  likedByMe: i % 2 === 0,
  retweetedByMe: false,
  retweetedTweet: undefined,
});
const page = {
  items: Array.from({ length: 20 }, (_, i) => ({
    id: tweet(i).id,
    tweet: tweet(i),
    author: user(i),
    retweetedBy: i % 5 === 0 ? user(i + 50) : undefined,
    createdAt: at(100 + i),
  })),
  nextPageToken: "n".repeat(140),
  sinceToken: "s".repeat(110),
};

/** Median µs per call over the rounds of `count` calls, after a warm-up round. */
function measure(call, count = pages) {
  for (let i = 0; i < count; i++) call();
  const perRound = [];
  for (let r = 0; r < rounds; r++) {
    const started = performance.now();
    for (let i = 0; i < count; i++) call();
    perRound.push(((performance.now() - started) * 1000) / count);
  }
  return perRound.sort((a, b) => a - b)[Math.floor(rounds / 2)];
}

function table(title, rows) {
  console.log(`\n${title}`);
  const first = rows[0][1];
  const lines = rows.map(([name, us, extra = ""]) => [name, us.toFixed(1), (us / first).toFixed(2), extra]);
  const head = ["", "µs per page", "ratio", ""];
  const widths = head.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
  for (const line of [head, ...lines]) console.log(line.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd());
}

const standard = Buffer.from(GetHomeTimelineResponse.encode(page).finish());
const single = Buffer.from(GetHomeTimelineResponse.encode(page, new SingleCopyWriter()).finish());
if (!standard.equals(single)) throw new Error("the two writers disagree: SingleCopyWriter must give the same bytes");

console.log(`one 20-item home-timeline page, ${standard.length} bytes; median of ${rounds} rounds of ${pages} pages`);
table("encoding (ts-proto)", [
  ["BinaryWriter (@bufbuild/protobuf)", measure(() => GetHomeTimelineResponse.encode(page).finish())],
  ["SingleCopyWriter (@chirp/kit)", measure(() => GetHomeTimelineResponse.encode(page, new SingleCopyWriter()).finish())],
]);

const brotli = (quality) => ({ params: { [constants.BROTLI_PARAM_QUALITY]: quality } });
const size = (bytes) => `${bytes.length} bytes`;
// Compression is slower per page than encoding: fewer pages per round, fewer still at quality 11.
const compressed = Math.max(1, Math.floor(pages / 20));
const slowest = Math.max(1, Math.floor(pages / 400));
table("compression of the encoded page (synchronous zlib, CPU per page)", [
  ["gzip, zlib default (level 6)", measure(() => gzipSync(standard), compressed), size(gzipSync(standard))],
  ["gzip level 1 (the gateway)", measure(() => gzipSync(standard, { level: 1 }), compressed), size(gzipSync(standard, { level: 1 }))],
  ["brotli quality 4 (the gateway)", measure(() => brotliCompressSync(standard, brotli(4)), compressed), size(brotliCompressSync(standard, brotli(4)))],
  ["brotli, zlib default (quality 11)", measure(() => brotliCompressSync(standard), slowest), size(brotliCompressSync(standard))],
]);

/** Median CPU µs (user + system, every thread) per page over the rounds, 16 pages in flight for the asynchronous call. */
async function cpuPerPage(compress, count) {
  const perRound = [];
  for (let r = 0; r <= rounds; r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < count; i += 16) await Promise.all(Array.from({ length: Math.min(16, count - i) }, () => compress()));
    const used = process.cpuUsage(before);
    if (r > 0) perRound.push((used.user + used.system) / count);
  }
  return perRound.sort((a, b) => a - b)[Math.floor(rounds / 2)];
}
const gzipAsync = promisify(gzip);
table("gzip level 1: in place or through zlib's thread pool (CPU of every thread, per page)", [
  ["zlib.gzip (stream and thread pool)", await cpuPerPage(() => gzipAsync(standard, { level: 1 }), compressed)],
  ["zlib.gzipSync (in place, the gateway)", await cpuPerPage(async () => gzipSync(standard, { level: 1 }), compressed)],
]);
