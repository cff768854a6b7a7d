#!/usr/bin/env node
// `npm run bench:json`: what the gateway spends writing a service's binary answer as Connect JSON,
// per 20-item home timeline page, the reflective way (protobuf-es's fromBinary, then
// toJsonString) and in one pass (gateway/src/binary-to-json.ts), side by side in one process,
// alternating rounds so that the machine's noise falls on both alike. Needs a build.
import { createRequire } from "node:module";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { create, toBinary, fromBinary, toJsonString } = require("@bufbuild/protobuf");
const { timestampFromMs } = require("@bufbuild/protobuf/wkt");
const { GetHomeTimelineResponseSchema: Page } = require("@chirp/proto/es/chirp/timeline/v1/timeline_pb");
const { binaryToJson } = require(join(root, "gateway/dist/binary-to-json.js"));

// A page as the timeline renders one: each item a post, its author's profile and three timestamps.
const user = (i) => ({ id: `01M94F3YH1AR02Z21D23RX1Q${i % 10}`, username: `user${i}`, displayName: `User Number ${i}`, bio: "Posts about birds, code and the weather", createdAt: timestampFromMs(1.7e12 + i) });
const tweet = (i) => ({
  id: `01M94F3YH1AR02Z21D23RX1T${i % 10}`,
  authorId: `01M94F3YH1AR02Z21D23RX1Q${i % 10}`,
  text: `Post number ${i}: a line of ordinary length with a #tag and a mention of @someone, and an émoji 🐦`,
  createdAt: timestampFromMs(1.7e12 + i * 1_000 + 123),
  tags: ["tag"],
  mentions: ["someone"],
  likeCount: BigInt(i * 3),
  retweetCount: 2n,
  likedByMe: i % 2 === 0,
});
const page = create(Page, { items: Array.from({ length: 20 }, (_, i) => ({ id: `entry-${i}`, tweet: tweet(i), author: user(i), createdAt: timestampFromMs(1.7e12 + i * 1_000) })), nextPageToken: "next-page", sinceToken: "since" });
const bytes = Buffer.from(toBinary(Page, page));
const reflective = () => toJsonString(Page, fromBinary(Page, bytes));
const onePass = () => binaryToJson(Page, bytes);
if (reflective() !== onePass()) throw new Error("the two ways wrote different JSON");

const ROUNDS = 10;
const PER_ROUND_MS = 300;
const round = (fn) => {
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < PER_ROUND_MS) for (let i = 0; i < 50; i++, n++) fn();
  return ((performance.now() - start) * 1000) / n;
};
for (let i = 0; i < 3; i++) round(reflective), round(onePass); // warm-up
const times = { reflective: [], onePass: [] };
for (let i = 0; i < ROUNDS; i++) {
  times.reflective.push(round(reflective));
  times.onePass.push(round(onePass));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`bench:json ${new Date().toISOString()}; Node ${process.version}; a 20-item page: ${bytes.byteLength} bytes binary, ${onePass().length} characters of JSON`);
console.log("| writer | µs per page (median of 10 rounds) | range |");
console.log("|---|---|---|");
for (const [name, label] of [["reflective", "fromBinary + toJsonString (protobuf-es)"], ["onePass", "binaryToJson (one pass)"]]) {
  const xs = times[name];
  console.log(`| ${label} | ${median(xs).toFixed(1)} | ${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)} |`);
}
console.log(`one pass / reflective: ${(median(times.onePass) / median(times.reflective)).toFixed(2)}`);
