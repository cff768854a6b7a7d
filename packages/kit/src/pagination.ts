import { hash } from "node:crypto";
import { invalidArgument } from "./errors.js";

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
/** Far above any token this kit issues (an id cursor and a fingerprint: under 150 characters). */
export const MAX_PAGE_TOKEN_LENGTH = 1_024;

/** Applies the API's page-size rule: 0 means the default, above the maximum is capped, below 0 is an error. */
export function pageSize(requested: number, field = "page_size", max = MAX_PAGE_SIZE, fallback = DEFAULT_PAGE_SIZE): number {
  if (!Number.isInteger(requested) || requested < 0) {
    throw invalidArgument(field, "must be zero or a positive integer");
  }
  if (requested === 0) return fallback;
  return Math.min(requested, max);
}

/**
 * Page tokens are opaque to clients: base64url JSON of the cursor plus a fingerprint of the query
 * it belongs to, so a token replayed against a different query is refused instead of answering
 * with a silently wrong page.
 */
export function encodePageToken(cursor: unknown, query: unknown = null): string {
  return Buffer.from(JSON.stringify({ c: cursor, q: fingerprint(query) })).toString("base64url");
}

export function decodePageToken<T>(
  token: string,
  isCursor: (value: unknown) => value is T,
  query: unknown = null,
  field = "page_token",
): T | undefined {
  if (token === "") return undefined;
  // Bounded before base64 and JSON decoding, which cost in proportion to what a caller sends.
  if (token.length > MAX_PAGE_TOKEN_LENGTH) throw invalidArgument(field, `is not a token this service issued (longer than ${MAX_PAGE_TOKEN_LENGTH} characters)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidArgument(field, "is not a token this service issued");
  }
  if (typeof parsed !== "object" || parsed === null || !("c" in parsed) || !isCursor(parsed.c)) {
    throw invalidArgument(field, "is not a token this service issued");
  }
  if (!("q" in parsed) || parsed.q !== fingerprint(query)) {
    throw invalidArgument(field, "belongs to a different query; keep the other parameters unchanged between pages");
  }
  return parsed.c;
}

/** Fingerprints of recent queries: a reader's pages and updates ask for the same few again and again. */
const FINGERPRINTS = new Map<string, string>();
const MAX_FINGERPRINTS = 10_000;

/** The query's fingerprint: hashing it was a measurable part of rendering a page, so recent ones are kept. */
function fingerprint(query: unknown): string {
  const text = JSON.stringify(query) ?? "null";
  let found = FINGERPRINTS.get(text);
  if (found === undefined) {
    // Bounded: past the limit the memory starts over (the next calls hash again).
    if (FINGERPRINTS.size >= MAX_FINGERPRINTS) FINGERPRINTS.clear();
    found = hash("sha256", text, "base64url").slice(0, 12);
    FINGERPRINTS.set(text, found);
  }
  return found;
}

/** Splits one extra fetched item off a page: its presence is what tells that another page exists. */
export function takePage<T>(items: T[], size: number): { page: T[]; more: boolean } {
  return items.length > size ? { page: items.slice(0, size), more: true } : { page: items, more: false };
}

/** A page request as every list RPC takes it. */
export interface PageRequest {
  pageSize: number;
  pageToken: string;
}

/**
 * One page of a cursor-paged list, the way every list reads one: the page-size rule, the token
 * decoded against the query it was issued for, one item more than the page fetched (its presence
 * is what tells that another page exists), and the next token made from the last item shown.
 */
export async function readPage<T, C>(
  request: PageRequest,
  list: {
    query: unknown;
    isCursor: (value: unknown) => value is C;
    fetch: (cursor: C | undefined, limit: number) => Promise<T[]>;
    cursorOf: (last: T) => C;
  },
): Promise<{ items: T[]; nextPageToken: string }> {
  const size = pageSize(request.pageSize);
  const cursor = decodePageToken(request.pageToken, list.isCursor, list.query);
  const { page, more } = takePage(await list.fetch(cursor, size + 1), size);
  const last = page.at(-1);
  return { items: page, nextPageToken: more && last !== undefined ? encodePageToken(list.cursorOf(last), list.query) : "" };
}
