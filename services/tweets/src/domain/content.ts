import { isTag, tagKey, TAG_CHARACTER } from "./validation.js";

/** `#tag` where the '#' does not follow a tag character ("C#" and "a#b" hold no tag). */
const HASHTAG = new RegExp(`(?<!${TAG_CHARACTER})#(${TAG_CHARACTER}+)`, "gu");
/** `@name` with a username's characters, not inside a word, an email address or a longer name. */
const MENTION = /(?<![A-Za-z0-9_@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@])/g;

export interface Content {
  tags: string[];
  mentions: string[];
}

const uniqueBy = (values: string[], key: (value: string) => string): string[] => {
  const seen = new Map<string, string>();
  for (const value of values) if (!seen.has(key(value))) seen.set(key(value), value);
  return [...seen.values()];
};

/**
 * The hashtags (lower-cased, without '#') and mentions (as written, without '@') of a normalised
 * text, each once, in order of first appearance. Usernames ignore case, so mentions do too.
 * A hashtag too long to be a tag is not one.
 */
export function parseContent(text: string): Content {
  const tags = [...text.matchAll(HASHTAG)].map((m) => tagKey(m[1]!)).filter(isTag);
  const mentions = [...text.matchAll(MENTION)].map((m) => m[1]!);
  return { tags: [...new Set(tags)], mentions: uniqueBy(mentions, (name) => name.toLowerCase()) };
}
