import { randomBytes } from "node:crypto";

/**
 * ULIDs: 26 Crockford base32 characters, 48 bits of milliseconds then 80 random bits. They sort by
 * creation time as plain strings, which is what cursor pagination and "newest first" indexes need.
 * Ids made in the same millisecond by one process still sort in creation order.
 */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const RANDOM_CHARS = 16;

let lastTime = -1;
let lastRandom: number[] = [];

function randomDigits(): number[] {
  const bytes = randomBytes(RANDOM_CHARS);
  return Array.from(bytes, (b) => b & 31);
}

function increment(digits: number[]): number[] | undefined {
  const next = digits.slice();
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i]! < 31) {
      next[i]! += 1;
      return next;
    }
    next[i] = 0;
  }
  return undefined;
}

/** ULIDs hold 48 bits of milliseconds. */
const MAX_TIME = 2 ** 48 - 1;

function encodeTime(ms: number): string {
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

export function newId(now: number = Date.now()): string {
  let time = now;
  let random: number[] | undefined;
  if (time <= lastTime) {
    time = lastTime;
    random = increment(lastRandom);
    if (!random) {
      // 80 bits exhausted within one millisecond: borrow the next one.
      time += 1;
      random = randomDigits();
    }
  } else {
    random = randomDigits();
  }
  lastTime = time;
  lastRandom = random;
  return encodeTime(time) + random.map((d) => ALPHABET[d]).join("");
}

export const isId = (value: string): boolean => ID_PATTERN.test(value);

/**
 * The smallest id of a given millisecond: every id made at or after `time` sorts at or above it,
 * every earlier one below, so `[idFloor(start), idFloor(end))` is exactly the ids of `[start, end)`.
 * (newId cannot serve: it never goes back in time.)
 */
export function idFloor(time: Date): string {
  return encodeTime(Math.min(Math.max(time.getTime(), 0), MAX_TIME)) + "0".repeat(RANDOM_CHARS);
}

/** The creation time encoded in an id. */
export function idTime(id: string): Date {
  let ms = 0;
  for (const ch of id.slice(0, 10)) ms = ms * 32 + ALPHABET.indexOf(ch);
  return new Date(ms);
}
