const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** NFC-normalised and trimmed: the form user-entered text is validated and stored in. */
export const normalizeText = (value: string): string => value.normalize("NFC").trim();

/** User-perceived characters: an emoji or a letter with combining marks counts once. */
export function graphemeCount(value: string): number {
  let count = 0;
  for (const _ of segmenter.segment(value)) count++;
  return count;
}

/** C0/C1 control characters other than line breaks and tabs have no place in profile text. */
export const hasControlCharacters = (value: string): boolean => /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/.test(value);
