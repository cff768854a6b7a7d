#!/usr/bin/env node
// Validation benchmark: what checking one field of hostile text costs, in one process, warm.
// For every user-visible string field of the users and tweets services it times the domain's own
// validator on the worst inputs we know of: the longest text each bound lets through to the costly
// steps (normalisation, grapheme segmentation), text just over the bound, and far over it (65,000
// characters, as a caller may send through the gateway's 64 KiB body limit; 4 MiB for a password,
// the most a service's gRPC server accepts). Each line says whether the input was accepted or which
// rule refused it, and the time per call: the median of several rounds, in µs.
//
// The claim it checks: every check is linear in its input, and bounded by the field's byte limit
// before any costly step, so no input costs more than the worst one at the bound.
//
// Usage: npm run bench:validation [-- --rounds 5 --ms 100 --baseline]
//   --baseline also times, once each, the unbounded check this replaced (NFC, then
//   Intl.Segmenter over the whole text) on 10,000 and 65,000 characters.
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

const require = createRequire(import.meta.url);
const tweets = require("../services/tweets/dist/domain/validation.js");
const users = require("../services/users/dist/domain/validation.js");

const { values: args } = parseArgs({
  options: { rounds: { type: "string", default: "5" }, ms: { type: "string", default: "100" }, baseline: { type: "boolean", default: false } },
});
const rounds = Number(args.rounds);
const budgetMs = Number(args.ms);

const repeatTo = (unit, bytes) => unit.repeat(Math.floor(bytes / Buffer.byteLength(unit)));
const zwjChain = (n) => Array.from({ length: n }, () => "\u{1F468}").join("\u200D");
// woman, skin tone, ZWJ, heart, VS16, ZWJ, kiss mark, ZWJ, man, skin tone: the longest standard emoji, 35 bytes
const KISS = "\u{1F469}\u{1F3FB}\u200D\u2764\uFE0F\u200D\u{1F48B}\u200D\u{1F468}\u{1F3FC}";
// 30 marks of two combining classes in the wrong order: the most sorting NFC can be made to do
const STACK = `q${"\u0301\u0316".repeat(15)}`;
const HANGUL = "\u1100\u1161\u11A8"; // one syllable as three jamo: every character goes to the segmenter
const HUGE = 65_000;

/** [group, case, validator, input] */
function cases() {
  const text = (v) => tweets.text(v);
  const textBytes = 280 * 40;
  const name = (v) => users.displayName(v);
  const nameBytes = 50 * 40;
  const bio = (v) => users.bio(v);
  const bioBytes = 160 * 40;
  const tag = (v) => tweets.tag(v);
  const search = (v) => tweets.filter({ tag: v, authorId: "" });
  return [
    ["tweet text", "280 ASCII characters", text, "x".repeat(280)],
    ["tweet text", "280 of the longest emoji (9,800 bytes)", text, KISS.repeat(280)],
    ["tweet text", "183 letters with 30 unsorted marks each (at the byte bound)", text, repeatTo(STACK, textBytes)],
    ["tweet text", "ASCII at the byte bound (11,200)", text, "x".repeat(textBytes)],
    ["tweet text", "Hangul jamo at the byte bound", text, repeatTo(HANGUL, textBytes)],
    ["tweet text", "regional indicators at the byte bound", text, repeatTo("\u{1F1EB}", textBytes)],
    ["tweet text", "one ZWJ chain at the byte bound", text, zwjChain(1600)],
    ["tweet text", "combining marks on one letter at the byte bound", text, `a${repeatTo("\u0301\u0316", textBytes - 1)}`],
    ["tweet text", "zero-width spaces at the byte bound", text, repeatTo("\u200B", textBytes)],
    ["tweet text", "a bidi override after 11,199 ASCII", text, `${"x".repeat(textBytes - 3)}\u202E`],
    ["tweet text", "ASCII one byte over the bound", text, "x".repeat(textBytes + 1)],
    ["tweet text", "65,000 ASCII", text, "x".repeat(HUGE)],
    ["tweet text", "a + 10,000 combining marks", text, `a${"\u0301".repeat(10_000)}`],
    ["tweet text", "ZWJ chain of 3,001 emoji", text, zwjChain(3001)],
    ["display name", "50 characters", name, "Ada Lovelace ".repeat(4).slice(0, 50)],
    ["display name", "ASCII at the byte bound (2,000)", name, "x".repeat(nameBytes)],
    ["display name", "Hangul jamo at the byte bound", name, repeatTo(HANGUL, nameBytes)],
    ["display name", "letters with 30 marks at the byte bound", name, repeatTo(STACK, nameBytes)],
    ["display name", "ASCII one byte over the bound", name, "x".repeat(nameBytes + 1)],
    ["display name", "65,000 ASCII", name, "x".repeat(HUGE)],
    ["bio", "160 characters on 4 lines", bio, "A line of forty characters, more or less\n".repeat(4).slice(0, 160)],
    ["bio", "ASCII at the byte bound (6,400)", bio, "x".repeat(bioBytes)],
    ["bio", "Hangul jamo at the byte bound", bio, repeatTo(HANGUL, bioBytes)],
    ["bio", "65,000 ASCII", bio, "x".repeat(HUGE)],
    ["username", "15 characters", (v) => users.username(v), "a".repeat(15)],
    ["username", "65,000 characters", (v) => users.username(v), "a".repeat(HUGE)],
    ["username prefix", "65,000 characters", (v) => users.usernamePrefix(v), "a".repeat(HUGE)],
    ["email", "254 bytes", (v) => users.email(v), `${"a".repeat(64)}@${"b".repeat(185)}.org`],
    ["email", "255 bytes", (v) => users.email(v), `${"a".repeat(64)}@${"b".repeat(186)}.org`],
    ["email", "65,000 characters", (v) => users.email(v), `${"a".repeat(HUGE)}@x.io`],
    ["login name", "65,000 characters", (v) => users.login(v), "a".repeat(HUGE)],
    ["password", "1,024 characters", (v) => users.password(v), "p".repeat(1024)],
    ["password", "2,049 code units", (v) => users.password(v), "p".repeat(2049)],
    ["password", "4 MiB", (v) => users.password(v), "p".repeat(4 * 1024 * 1024)],
    ["avatar url", "2,048 characters", (v) => users.avatarUrl(v), `https://cdn.example.org/${"a".repeat(2048 - 24)}`],
    ["avatar url", "1,000 letters that percent-encoding makes 6,000", (v) => users.avatarUrl(v), `https://x.io/${"é".repeat(1000)}`],
    ["avatar url", "65,000 characters", (v) => users.avatarUrl(v), `https://x.io/${"a".repeat(HUGE)}`],
    ["tag", "100 letters", tag, "x".repeat(100)],
    ["tag", "at the byte bound (404)", tag, "x".repeat(404)],
    ["tag", "65,000 characters", tag, "x".repeat(HUGE)],
    ["tags", "100 entries of 100 letters", (v) => tweets.tags(v), Array.from({ length: 100 }, (_, i) => `${"x".repeat(97)}${i % 10}`)],
    ["tags", "10,000 entries", (v) => tweets.tags(v), Array.from({ length: 10_000 }, () => "x")],
    ["search tag", "at the byte bound (404)", search, "#".repeat(404)],
    ["search tag", "65,000 characters", search, "#".repeat(HUGE)],
  ];
}

function outcome(validate, input) {
  try {
    validate(input);
    return "accepted";
  } catch (error) {
    if (error?.code !== "INVALID_ARGUMENT") throw error;
    return error.message.replace(/^[^:]+: /, "").replace(/ ?\(U\+[0-9A-F]+\)/, "").slice(0, 72);
  }
}

/** Median µs per call over the rounds; each round calls as often as fits in the budget. */
function time(validate, input) {
  const perCall = [];
  for (let round = 0; round < rounds; round++) {
    let calls = 0;
    const started = performance.now();
    let elapsed = 0;
    do {
      try {
        validate(input);
      } catch {
        // refusals are what is being timed
      }
      calls++;
      elapsed = performance.now() - started;
    } while (elapsed < budgetMs);
    perCall.push((elapsed * 1000) / calls);
  }
  perCall.sort((a, b) => a - b);
  return perCall[Math.floor(perCall.length / 2)];
}

const format = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(us < 10 ? 2 : 1)} µs`);
const pad = (s, n) => (s.length >= n ? s : s + " ".repeat(n - s.length));
const size = (input) => (Array.isArray(input) ? `${input.length} entries` : `${Buffer.byteLength(input)} B`);

console.log(`Node ${process.version}; median of ${rounds} rounds of ${budgetMs} ms each\n`);
console.log(`${pad("field", 17)}${pad("input", 62)}${pad("size", 14)}${pad("per call", 12)}outcome`);
for (const [group, name, validate, input] of cases()) {
  const result = outcome(validate, input);
  console.log(`${pad(group, 17)}${pad(name, 62)}${pad(size(input), 14)}${pad(format(time(validate, input)), 12)}${result}`);
}

if (args.baseline) {
  // What the services did before: normalise, then walk the whole text with Intl.Segmenter.
  const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
  const unbounded = (value) => {
    let count = 0;
    for (const _ of segmenter.segment(value.normalize("NFC").trim())) count++;
    return count;
  };
  console.log("\nthe unbounded check it replaced (one call each):");
  for (const n of [10_000, HUGE]) {
    const input = "x".repeat(n);
    const started = performance.now();
    unbounded(input);
    console.log(`  ${pad(`${n} ASCII characters`, 40)}${format((performance.now() - started) * 1000)}`);
  }
}
