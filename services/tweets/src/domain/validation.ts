import { checkText, idFloor, invalidArgument, isId, POST_TEXT } from "@chirp/kit";
import type { TweetFilter } from "./model.js";

const MAX_EXPLICIT_TAGS = 10;
/** Entries of `tags` read at all: duplicates are allowed, a request of thousands is not. */
const MAX_TAG_ENTRIES = 100;
export const MAX_TAG_LENGTH = 100;
/** A tag as sent, bounded before it is normalised: a '#' and 100 code points of up to 4 bytes each. */
const TAG_BYTES = 4 * (MAX_TAG_LENGTH + 1);
const TAG_TEXT = { maxGraphemes: TAG_BYTES, maxBytes: TAG_BYTES, required: true };
const MAX_BATCH = 100;
const MAX_IDEMPOTENCY_KEY = 128;

/** Letters, marks and digits of any script, and underscores: what a hashtag is made of. */
export const TAG_CHARACTER = String.raw`[\p{L}\p{M}\p{N}_]`;
const TAG_PATTERN = new RegExp(`^${TAG_CHARACTER}{1,${MAX_TAG_LENGTH}}$`, "u");
const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7E]+$/;

export const required = (field: string) => invalidArgument(field, "is required");

export function tweetId(value: string, field = "id"): string {
  if (value === "") throw required(field);
  if (!isId(value)) throw invalidArgument(field, "is not a valid tweet id");
  return value;
}

export function userId(value: string, field = "user_id"): string {
  if (value === "") throw required(field);
  if (!isId(value)) throw invalidArgument(field, "is not a valid user id");
  return value;
}

/**
 * NFC-normalised and trimmed, then 1 to 280 user-perceived characters in at most 11,200 bytes,
 * with the kit's rules for user text, lines allowed: POST_TEXT in packages/kit/src/text.ts, which
 * the web client's counter applies too.
 */
export const text = (value: string, field = "text"): string =>
  checkText(value, field, POST_TEXT);

/** The form tags are stored and matched in: NFC, lower case, no leading '#'. */
export const tagKey = (value: string): string => value.trim().replace(/^#/, "").normalize("NFC").toLowerCase().normalize("NFC");

export const isTag = (value: string): boolean => TAG_PATTERN.test(value);

export function tag(value: string, field = "tag"): string {
  const key = tagKey(checkText(value, field, TAG_TEXT));
  if (!isTag(key)) throw invalidArgument(field, `must be 1 to ${MAX_TAG_LENGTH} letters, digits or underscores`);
  return key;
}

/** Explicit tags: each checked under its own index, then deduplicated; at most 10 remain. */
export function tags(values: string[], field = "tags"): string[] {
  if (values.length > MAX_TAG_ENTRIES) {
    throw invalidArgument(field, `must hold at most ${MAX_EXPLICIT_TAGS} tags in at most ${MAX_TAG_ENTRIES} entries, got ${values.length}`);
  }
  const unique = [...new Set(values.map((value, i) => tag(value, `${field}[${i}]`)))];
  if (unique.length > MAX_EXPLICIT_TAGS) throw invalidArgument(field, `must hold at most ${MAX_EXPLICIT_TAGS} tags, got ${unique.length}`);
  return unique;
}

/** Empty means none. */
export function idempotencyKey(value: string, field = "idempotency_key"): string | undefined {
  if (value === "") return undefined;
  if (value.length > MAX_IDEMPOTENCY_KEY || !IDEMPOTENCY_KEY_PATTERN.test(value)) {
    throw invalidArgument(field, `must be at most ${MAX_IDEMPOTENCY_KEY} printable ASCII characters without spaces`);
  }
  return value;
}

/** Each id checked under its own index, then deduplicated; at most 100 remain. */
export function idList(ids: string[], field = "ids"): string[] {
  ids.forEach((id, i) => tweetId(id, `${field}[${i}]`));
  const unique = [...new Set(ids)];
  if (unique.length > MAX_BATCH) throw invalidArgument(field, `must hold at most ${MAX_BATCH} ids, got ${unique.length}`);
  return unique;
}

export interface SearchCriteria {
  tag: string;
  authorId: string;
  startTime?: Date;
  endTime?: Date;
}

/** Search and count criteria as a filter; empty strings and absent times mean "any". */
export function filter(criteria: SearchCriteria): TweetFilter {
  const { startTime, endTime } = criteria;
  if (startTime && endTime && startTime.getTime() >= endTime.getTime()) {
    throw invalidArgument("start_time", "must be before end_time");
  }
  return {
    ...(criteria.tag !== "" && { tag: tag(criteria.tag) }),
    ...(criteria.authorId !== "" && { authorId: userId(criteria.authorId, "author_id") }),
    ...(startTime && { fromId: idFloor(startTime) }),
    ...(endTime && { toId: idFloor(endTime) }),
  };
}
