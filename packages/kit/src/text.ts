import { invalidArgument } from "./errors.js";

/*
 * User-entered text: the one set of rules every service applies to what people type (posts,
 * names, bios, addresses, tags, search terms), with every step linear in the input and the costly
 * ones run only on input already known to be small.
 *
 * Why the order matters: Intl.Segmenter is quadratic in the length of the string it walks on
 * Node 20 (65,000 characters take seconds), and NFC normalisation sorts a run of
 * combining marks in time quadratic in the run's length. So checkText first bounds the length
 * (O(1): UTF-16 code units never outnumber UTF-8 bytes), then the bytes and the longest run of
 * combining marks, and only then normalises; it feeds the segmenter short windows, never the
 * whole text, and none of what most people write. `npm run bench:validation` has the figures.
 */

/**
 * Bytes of UTF-8 a field allows per user-perceived character unless it says otherwise. The
 * longest standard emoji (a kiss or couple with two skin tones) is 10 code points and 35 bytes, so
 * a legitimate text never comes near the bound, while one character swollen with thousands of
 * marks or joined emoji cannot hide behind a character count of 1.
 */
export const MAX_BYTES_PER_CHARACTER = 40;
/** UAX #15's stream-safe text format allows 30 non-starters in a row; no script needs more. */
export const MAX_COMBINING_MARKS = 30;
/** A letter with the most marks allowed fits, so does any standard emoji sequence (10 at most). */
export const MAX_CODE_POINTS_PER_CHARACTER = 32;

export interface TextRules {
  /** The most user-perceived characters (grapheme clusters), counted after NFC normalisation. */
  maxGraphemes: number;
  /** The most bytes of UTF-8, before and after normalisation; maxGraphemes × 40 unless given. */
  maxBytes?: number;
  /** Whether line breaks and tabs are allowed (posts, bios) or refused (names, addresses, tags). */
  multiline?: boolean;
  /** Whether an empty value is refused as "is required"; otherwise "" is returned for it. */
  required?: boolean;
}

/*
 * The fields people type into forms, in one place for the services that refuse what breaks these
 * rules and the web client that counts as people type: gateway/web bundles this file (it needs
 * nothing of Node), so its counter and the services' refusals cannot disagree.
 */
/** A post or a reply (the tweets service). */
export const POST_TEXT: TextRules = { maxGraphemes: 280, multiline: true, required: true };
/** A profile's display name (the users service). */
export const DISPLAY_NAME: TextRules = { maxGraphemes: 50 };
/** A profile's bio (the users service). */
export const BIO: TextRules = { maxGraphemes: 160, multiline: true };

/**
 * Characters refused in every field:
 * - C0 and C1 control characters and DEL (tab, line feed and carriage return are judged below);
 * - the bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which
 *   reorder the text around them ("\u202Eexe.gnp" shows as "png.exe"); the invisible marks
 *   U+200E, U+200F and U+061C stay, right-to-left text needs them;
 * - unpaired surrogates, which are no character at all (in unicode mode, a class of surrogates
 *   matches only those left unpaired); they cannot arrive in protobuf, whose strings the kit
 *   decodes as strict UTF-8 (packages/kit/src/grpc/wire.ts), but a caller in the same process may
 *   pass one;
 * - noncharacters (U+FDD0–U+FDEF and the last two code points of every plane), which Unicode
 *   reserves for a program's internal use and never for interchange.
 * Each pattern is one character class, tried once per position: linear.
 */
const REFUSED_EVERYWHERE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069\uD800-\uDFFF\p{Noncharacter_Code_Point}]/u;
/**
 * Refused in single-line fields besides: line and paragraph breaks and tabs, and the invisible
 * spacing that serves there only to make a name or address look like another one (zero-width
 * space, word joiner and invisible operators, zero-width no-break space, soft hyphen, Mongolian
 * vowel separator, Hangul fillers). Posts and bios keep them: Thai and Khmer use U+200B between
 * words. Zero-width joiner and non-joiner are never refused: emoji sequences and Persian or Indic
 * words need them.
 */
const REFUSED_ON_ONE_LINE =
  /[\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069\uD800-\uDFFF\p{Noncharacter_Code_Point}\u00AD\u180E\u200B\u2060-\u2064\u3164\uFEFF\uFFA0]/u;
/**
 * More than MAX_COMBINING_MARKS marks in a row, which NFC would sort in quadratic time. Tried
 * only where a run of marks begins (the lookbehind), so each mark is read at most twice.
 */
const MARK_PILE = new RegExp(`(?<!\\p{M})\\p{M}{${MAX_COMBINING_MARKS + 1}}`, "u");
/**
 * A character that shows something: anything but white space, the default-ignorable code points
 * (zero-width and other format characters, variation selectors, tag characters, Hangul fillers…)
 * and the blank braille pattern. A text without one is invisible and refused.
 */
const VISIBLE = /[^\p{White_Space}\p{Default_Ignorable_Code_Point}\u2800]/u;

/** NFC-normalised and trimmed: the form user-entered text is validated and stored in. */
export const normalizeText = (value: string): string => value.normalize("NFC").trim();

/**
 * Checks one field of user-entered text and returns it NFC-normalised and trimmed, or throws
 * INVALID_ARGUMENT naming the field. Linear in the input's length, and O(1) on anything longer
 * than the field's byte bound.
 */
export function checkText(value: string, field: string, rules: TextRules): string {
  const maxBytes = rules.maxBytes ?? rules.maxGraphemes * MAX_BYTES_PER_CHARACTER;
  // Each code unit is at least one byte of UTF-8: a longer string is refused unread.
  if (value.length > maxBytes) throw invalidArgument(field, `must be at most ${maxBytes} bytes of UTF-8, got at least ${value.length}`);
  const tooLarge = (bytes: number) => invalidArgument(field, `must be at most ${maxBytes} bytes of UTF-8, got ${bytes}`);
  const received = utf8Length(value);
  if (received > maxBytes) throw tooLarge(received);
  if (MARK_PILE.test(value)) throw invalidArgument(field, `must not stack more than ${MAX_COMBINING_MARKS} combining marks on one character`);
  const text = normalizeText(value);
  const refused = (rules.multiline ? REFUSED_EVERYWHERE : REFUSED_ON_ONE_LINE).exec(text);
  if (refused) throw invalidArgument(field, refusal(refused[0]));
  // NFC lengthens a few characters (U+0958 becomes two of 3 bytes each): the stored form is bounded too.
  const bytes = utf8Length(text);
  if (bytes > maxBytes) throw tooLarge(bytes);
  if (text === "") {
    if (rules.required) throw invalidArgument(field, "is required");
    return text;
  }
  if (!VISIBLE.test(text)) {
    throw invalidArgument(field, rules.required ? "is required (it holds only invisible characters)" : "must be empty or hold a visible character");
  }
  const count = countGraphemes(text, rules.maxGraphemes);
  if (count === TOO_LONG_CHARACTER) {
    throw invalidArgument(field, `must not join more than ${MAX_CODE_POINTS_PER_CHARACTER} code points into one character`);
  }
  if (count > rules.maxGraphemes) throw invalidArgument(field, `must be at most ${rules.maxGraphemes} characters`);
  return text;
}

function refusal(character: string): string {
  const code = character.codePointAt(0)!;
  const name = `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  if (code >= 0xd800 && code <= 0xdfff) return `must not contain unpaired surrogates (${name})`;
  if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)) {
    return `must not contain bidirectional formatting characters (${name})`;
  }
  if ((code >= 0xfdd0 && code <= 0xfdef) || (code & 0xfffe) === 0xfffe) return `must not contain noncharacters (${name})`;
  if (code === 0x09 || code === 0x0a || code === 0x0d || code === 0x2028 || code === 0x2029) return `must be a single line (${name})`;
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `must not contain control characters (${name})`;
  return `must not contain invisible characters (${name})`;
}

/** Bytes of UTF-8, counted without encoding; an unpaired surrogate counts 2, not the 3 of U+FFFD. */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // One unit of 2 bytes, one of 3, or a surrogate pair (2 units) of 4.
    if (unit >= 0x80) bytes += unit < 0x800 || (unit >= 0xd800 && unit <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}

/**
 * The characters checkText counts against maxGraphemes: those of the normalised, trimmed text.
 * Bounded by the caller: meant for text already known to be within a field's byte bound.
 */
export const characterCount = (value: string): number => graphemeCount(normalizeText(value));

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** User-perceived characters: an emoji or a letter with combining marks counts once. Linear. */
export function graphemeCount(value: string): number {
  return countGraphemes(value, Infinity, Infinity);
}

/** What countGraphemes answers for a character of more than its code-point limit. */
const TOO_LONG_CHARACTER = -1;
/**
 * How many code units the segmenter walks at a time. Its cost grows with the square of the
 * string it walks on Node 20, so it sees windows this short; a window must hold at least two of
 * the longest characters allowed (2 × 32 code points of up to 2 units).
 */
const WINDOW = 256;

/**
 * Code units that are a grapheme cluster of their own between two of them (UAX #29): none of
 * them is a control other than tab and line feed (carriage return joins a line feed), an extender,
 * a spacing mark, a prepended mark, a joiner, a regional indicator or a Hangul jamo or syllable.
 * Printable ASCII, Latin-1 but the soft hyphen, Latin Extended-A and -B, Greek, Cyrillic but its
 * combining marks, dashes, quotation marks and the ellipsis, kana but its combining sound marks,
 * and the CJK ideographs: most of what people write, which then needs no segmenter. A test holds
 * every BMP character against Intl.Segmenter.
 */
function standsAlone(unit: number): boolean {
  if (unit < 0x7f) return unit >= 0x20 || unit === 0x09 || unit === 0x0a;
  if (unit <= 0x24f) return unit >= 0xa0 && unit !== 0xad;
  if (unit <= 0x4ff) return unit >= 0x370 && (unit <= 0x482 || unit >= 0x48a);
  if (unit <= 0x2027) return unit >= 0x2010;
  if (unit <= 0x30ff) return (unit >= 0x3041 && unit <= 0x3096) || (unit >= 0x30a1 && unit <= 0x30fa);
  return unit >= 0x4e00 && unit <= 0x9fff;
}

/**
 * Grapheme clusters in `text`, stopping once past `stopAfter`; TOO_LONG_CHARACTER when one holds
 * more than `maxCodePoints` code points. Between two code units that stand alone there is always
 * a boundary, so the text splits there into pieces; a piece of one such unit is one character and
 * the others go to the segmenter, in windows.
 */
function countGraphemes(text: string, stopAfter: number, maxCodePoints = MAX_CODE_POINTS_PER_CHARACTER): number {
  let count = 0;
  let start = 0;
  while (start < text.length && count <= stopAfter) {
    let end = start + 1;
    if (standsAlone(text.charCodeAt(start)) && (end === text.length || standsAlone(text.charCodeAt(end)))) {
      count++;
    } else {
      while (end < text.length && !(standsAlone(text.charCodeAt(end - 1)) && standsAlone(text.charCodeAt(end)))) end++;
      const counted = segmentPiece(text, start, end, stopAfter - count, maxCodePoints);
      if (counted === TOO_LONG_CHARACTER) return TOO_LONG_CHARACTER;
      count += counted;
    }
    start = end;
  }
  return count;
}

/**
 * Grapheme clusters of text[start, end), which begins and ends on a boundary, through windows
 * of the segmenter. A boundary depends only on the characters before it within the same cluster
 * and on the one after it, so a window that ends between two code points finds every boundary
 * but its last right; the next window starts at the last boundary found, re-reading the cluster
 * the window may have cut. A window that holds one cluster alone is grown, unless that cluster is
 * already longer than any character allowed.
 */
function segmentPiece(text: string, start: number, end: number, stopAfter: number, maxCodePoints: number): number {
  let count = 0;
  let at = start;
  let size = WINDOW;
  while (at < end && count <= stopAfter) {
    let windowEnd = Math.min(end, at + size);
    // Never between the two halves of a surrogate pair: the segmenter would see half a character.
    if (windowEnd < end && isHighSurrogate(text.charCodeAt(windowEnd - 1))) windowEnd--;
    const window = text.slice(at, windowEnd);
    let clusterStart = 0;
    for (const { index } of segmenter.segment(window)) {
      if (index === 0) continue;
      if (codePoints(window, clusterStart, index) > maxCodePoints) return TOO_LONG_CHARACTER;
      if (++count > stopAfter) return count;
      clusterStart = index;
    }
    if (windowEnd === end) {
      if (codePoints(window, clusterStart, window.length) > maxCodePoints) return TOO_LONG_CHARACTER;
      return count + 1;
    }
    if (clusterStart === 0) {
      // At least WINDOW / 2 code points: far more than any character allowed.
      if (maxCodePoints !== Infinity) return TOO_LONG_CHARACTER;
      size *= 2;
    } else {
      at += clusterStart;
      size = WINDOW;
    }
  }
  return count;
}

const isHighSurrogate = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;

function codePoints(text: string, start: number, end: number): number {
  let count = end - start;
  for (let i = start; i < end; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xdc00 && unit <= 0xdfff && i > start && isHighSurrogate(text.charCodeAt(i - 1))) count--;
  }
  return count;
}
