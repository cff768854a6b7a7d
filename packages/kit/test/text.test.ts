import {
  checkText,
  DomainError,
  graphemeCount,
  MAX_BYTES_PER_CHARACTER,
  MAX_CODE_POINTS_PER_CHARACTER,
  MAX_COMBINING_MARKS,
  normalizeText,
  type TextRules,
} from "@chirp/kit";

describe("graphemeCount", () => {
  it("counts plain characters", () => {
    expect(graphemeCount("")).toBe(0);
    expect(graphemeCount("hello")).toBe(5);
  });

  it("counts an emoji with a skin tone once", () => {
    const wave = "\u{1F44B}\u{1F3FD}";
    expect(wave.length).toBe(4);
    expect(graphemeCount(wave)).toBe(1);
  });

  it("counts a ZWJ family once", () => {
    const family = "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}\u200D\u{1F466}";
    expect(family.length).toBe(11);
    expect(graphemeCount(family)).toBe(1);
    expect(graphemeCount(`hi ${family}!`)).toBe(5);
  });

  it("counts a letter with a combining mark once", () => {
    const decomposed = "e\u0301";
    expect(decomposed.length).toBe(2);
    expect(graphemeCount(decomposed)).toBe(1);
    expect(graphemeCount("cafe\u0301")).toBe(4);
  });

  it("counts a flag once", () => {
    expect(graphemeCount("\u{1F1EB}\u{1F1F7}")).toBe(1);
  });

  it("counts CR LF once and a lone CR or LF once each", () => {
    expect(graphemeCount("a\r\nb")).toBe(3);
    expect(graphemeCount("a\n\rb")).toBe(4);
  });

  // graphemeCount skips the segmenter for runs of characters that always stand alone and feeds it
  // the rest in windows; on any text it must agree with one pass of Intl.Segmenter over the whole.
  it("agrees with Intl.Segmenter on random mixes of simple and combining text, across window edges", () => {
    const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
    const reference = (value: string) => [...segmenter.segment(value)].length;
    const alphabet = [
      "a", "Z", " ", ".", "\n", "\r", "\t", "é", "ß", "ő", "ǅ", "中", "文", "#", "0", "\u00A0", "\u00AD",
      "α", "я", "\u0483", "あ", "カ", "\u3099", "—", "…", "“", // Greek, Cyrillic and its combining mark, kana and theirs, punctuation
      "\u0301", "\u0316", "\u200D", "\u200C", "\uFE0F", "\u20E3", // combining marks, joiners, selectors
      "\u{1F468}", "\u{1F469}", "\u{1F3FD}", "\u2764", "\u00A9", // emoji and pictographs (© is one)
      "\u{1F1EB}", "\u{1F1F7}", // regional indicators
      "\u1100", "\u1161", "\u11A8", "\uAC00", "\uAC01", // Hangul L, V, T, LV, LVT
      "\u0600", "\u0903", "\u0915", "\u094D", "\u0937", // Prepend, SpacingMark, consonant, virama
      "\u0E33", "\u{E0067}", "\u{E007F}", "\u{1F3F4}", // Thai sara am, tag characters, black flag
    ];
    let seed = 42; // xorshift32: the same strings on every run
    const random = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    for (let round = 0; round < 400; round++) {
      const length = random(round < 300 ? 40 : 900);
      let value = "";
      for (let i = 0; i < length; i++) value += alphabet[random(alphabet.length)];
      expect([value, graphemeCount(value)]).toEqual([value, reference(value)]);
    }
  });

  it("agrees with Intl.Segmenter on every BMP character, alone and between others", () => {
    const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
    const reference = (value: string) => [...segmenter.segment(value)].length;
    const wrong: string[] = [];
    for (let unit = 0; unit <= 0xffff; unit++) {
      if (unit >= 0xd800 && unit <= 0xdfff) continue;
      const c = String.fromCharCode(unit);
      // joins to what precedes it, to what follows it, or to itself
      const value = `a${c}${c}a`;
      if (graphemeCount(value) !== reference(value)) wrong.push(`U+${unit.toString(16)}`);
    }
    expect(wrong).toEqual([]);
  });

  it("counts long runs of characters the segmenter must see, window after window", () => {
    const hangul = "\u1100\u1161\u11A8".repeat(500);
    expect(graphemeCount(hangul)).toBe(500);
    const accents = "e\u0301\u0316".repeat(1000);
    expect(graphemeCount(accents)).toBe(1000);
    const flags = "\u{1F1EB}\u{1F1F7}".repeat(301);
    expect(graphemeCount(flags)).toBe(301);
    // one character longer than a window, then more
    expect(graphemeCount(`x${"\u0301".repeat(600)}y\u0301z`)).toBe(3);
    expect(graphemeCount(`${"\u{1F468}\u200D".repeat(200)}\u{1F468}!`)).toBe(2);
  });
});

describe("normalizeText", () => {
  it("composes to NFC", () => {
    const out = normalizeText("cafe\u0301");
    expect(out).toBe("caf\u00E9");
    expect(out.length).toBe(4);
  });

  it("trims surrounding whitespace but keeps inner whitespace", () => {
    expect(normalizeText("  \t hello  world \n")).toBe("hello  world");
    expect(normalizeText("   ")).toBe("");
  });
});

/** The error checkText throws, asserting it is INVALID_ARGUMENT about `field`. */
function refusal(value: string, rules: TextRules, field = "text"): string {
  try {
    checkText(value, field, rules);
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe("INVALID_ARGUMENT");
    expect((error as DomainError).field).toBe(field);
    expect((error as DomainError).message.startsWith(`${field}: `)).toBe(true);
    return (error as DomainError).message;
  }
  throw new Error(`expected ${JSON.stringify(value.slice(0, 40))} to be refused`);
}

const post: TextRules = { maxGraphemes: 280, multiline: true, required: true };
const name: TextRules = { maxGraphemes: 50 };

describe("checkText", () => {
  it("returns the text NFC-normalised and trimmed", () => {
    expect(checkText("  cafe\u0301 \n", "text", post)).toBe("caf\u00E9");
    expect(checkText("line one\r\nline two\n\tindented", "text", post)).toBe("line one\r\nline two\n\tindented");
  });

  it("says a required field is required when it is empty or blank, and lets an optional one be empty", () => {
    expect(refusal("", post)).toBe("text: is required");
    expect(refusal(" \n\t ", post)).toBe("text: is required");
    expect(refusal("\u00A0\u3000", post)).toBe("text: is required");
    expect(checkText("", "display_name", name)).toBe("");
    expect(checkText("   ", "display_name", name)).toBe("");
  });

  it("takes the most characters allowed and refuses one more, naming the count", () => {
    expect(checkText("x".repeat(280), "text", post)).toHaveLength(280);
    expect(refusal("x".repeat(281), post)).toBe("text: must be at most 280 characters");
    expect(checkText("\u{1F44B}\u{1F3FD}".repeat(280), "text", post)).toHaveLength(4 * 280);
  });

  describe("bounds what it reads before any costly work", () => {
    it("refuses text longer than the byte bound on its length alone", () => {
      const bound = 280 * MAX_BYTES_PER_CHARACTER;
      expect(refusal("a".repeat(65_000), post)).toBe(`text: must be at most ${bound} bytes of UTF-8, got at least 65000`);
      expect(refusal("a".repeat(bound + 1), post)).toMatch(/^text: must be at most \d+ bytes/);
      expect(refusal("a".repeat(100), { maxGraphemes: 280, maxBytes: 99 })).toBe("text: must be at most 99 bytes of UTF-8, got at least 100");
    });

    it("counts bytes of UTF-8, not UTF-16 code units", () => {
      // 100 characters of 3 bytes each: 100 code units, 300 bytes
      expect(checkText("中".repeat(100), "text", { maxGraphemes: 100, maxBytes: 300 })).toHaveLength(100);
      expect(refusal("中".repeat(100), { maxGraphemes: 100, maxBytes: 299 })).toBe("text: must be at most 299 bytes of UTF-8, got 300");
      // U+0958 has no NFC form of its own: it becomes U+0915 U+093C, twice the bytes
      expect(refusal("\u0958".repeat(100), { maxGraphemes: 100, maxBytes: 300 })).toBe("text: must be at most 300 bytes of UTF-8, got 600");
    });

    it("refuses a pile of combining marks on one letter, which NFC would sort in quadratic time", () => {
      expect(refusal(`a${"\u0301".repeat(10_000)}`, post)).toBe(`text: must be at most ${280 * MAX_BYTES_PER_CHARACTER} bytes of UTF-8, got 20001`);
      expect(refusal(`a${"\u0301".repeat(5_000)}`, post)).toMatch(/combining marks/);
      expect(refusal(`a${"\u0301\u0316".repeat(500)}`, post)).toBe(
        `text: must not stack more than ${MAX_COMBINING_MARKS} combining marks on one character`,
      );
      expect(refusal(`a${"\u0301".repeat(MAX_COMBINING_MARKS + 1)}`, post)).toMatch(/combining marks/);
      expect(checkText(`q${"\u0301".repeat(MAX_COMBINING_MARKS)}`, "text", post)).toHaveLength(MAX_COMBINING_MARKS + 1);
    });

    it("refuses one character made of too many code points, such as a long ZWJ chain", () => {
      const chain = (n: number) => Array.from({ length: n }, () => "\u{1F468}").join("\u200D");
      expect(refusal(chain(3001), post)).toMatch(/^text: must be at most \d+ bytes/);
      expect(refusal(chain(1500), post)).toBe(`text: must not join more than ${MAX_CODE_POINTS_PER_CHARACTER} code points into one character`);
      expect(refusal(`hi ${chain(17)}`, post)).toMatch(/code points into one character$/);
      expect(checkText(`hi ${chain(16)}`, "text", post)).toBe(`hi ${chain(16)}`);
    });

    it("lets a post of 280 of the longest standard emoji through", () => {
      // woman, skin tone, ZWJ, heart, VS16, ZWJ, kiss mark, ZWJ, man, skin tone: 10 code points, 35 bytes
      const kiss = "\u{1F469}\u{1F3FB}\u200D\u2764\uFE0F\u200D\u{1F48B}\u200D\u{1F468}\u{1F3FC}";
      expect(Buffer.byteLength(kiss)).toBe(35);
      expect(checkText(kiss.repeat(280), "text", post)).toBe(kiss.repeat(280));
      expect(refusal(kiss.repeat(281), post)).toBe("text: must be at most 280 characters");
    });
  });

  describe("refuses characters that have no place in user text", () => {
    it.each(["\u0000", "\u0007", "\u0008", "\u000B", "\u000C", "\u001B", "\u001F", "\u007F", "\u0085", "\u009F"])(
      "control character %j",
      (ch) => {
        expect(refusal(`a${ch}b`, post)).toBe(`text: must not contain control characters (U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")})`);
      },
    );

    it.each(["\u202A", "\u202B", "\u202C", "\u202D", "\u202E", "\u2066", "\u2067", "\u2068", "\u2069"])(
      "bidirectional embedding, override or isolate %j",
      (ch) => {
        expect(refusal(`abc${ch}def`, post)).toMatch(/^text: must not contain bidirectional formatting characters \(U\+20[26]/);
        refusal(`${ch}adA`, name, "display_name");
      },
    );

    it.each([
      ["a lone high surrogate", "a\uD83D"],
      ["a lone low surrogate", "\uDC4Bb"],
      ["a pair in the wrong order", "a\uDC4B\uD83Db"],
      ["a high surrogate before a letter", "\uD83Dx"],
    ])("%s", (_, value) => {
      expect(refusal(value, post)).toMatch(/^text: must not contain unpaired surrogates \(U\+D[89A-F][0-9A-F]{2}\)$/);
    });

    it.each(["\uFDD0", "\uFDEF", "\uFFFE", "\uFFFF", "\u{1FFFE}", "\u{10FFFF}"])("noncharacter %j", (ch) => {
      expect(refusal(`a${ch}b`, post)).toMatch(/^text: must not contain noncharacters \(U\+/);
    });

    it("refuses line breaks and tabs in single-line fields only", () => {
      for (const ch of ["\n", "\r", "\t", "\u2028", "\u2029"]) {
        expect(refusal(`two${ch}lines`, name, "display_name")).toMatch(/^display_name: must be a single line \(U\+/);
      }
      expect(checkText("two\nlines\u2028and\ta tab", "bio", { maxGraphemes: 160, multiline: true })).toBe("two\nlines\u2028and\ta tab");
      expect(checkText(" Ada \n", "display_name", name)).toBe("Ada");
    });

    it("refuses invisible spacing in single-line fields, where it only serves to make lookalikes", () => {
      for (const ch of ["\u200B", "\u2060", "\uFEFF", "\u00AD", "\u180E", "\u3164", "\uFFA0", "\u2061"]) {
        expect(refusal(`Ad${ch}a`, name, "display_name")).toMatch(/^display_name: must not contain invisible characters \(U\+/);
      }
      refusal("\u202EadA\u200B", name, "display_name");
      expect(checkText("Thai\u200Bword", "text", post)).toBe("Thai\u200Bword");
    });
  });

  describe("refuses text with nothing visible in it", () => {
    it.each([
      ["zero-width spaces", "\u200B\u200B\u200B"],
      ["a zero-width joiner", "\u200D"],
      ["a word joiner between spaces", " \u2060 "],
      ["variation selectors", "\uFE0F\uFE0F"],
      ["a Hangul filler", "\u3164"],
      ["a braille blank", "\u2800"],
      ["tag characters", "\u{E0067}\u{E0062}"],
    ])("%s", (_, value) => {
      expect(refusal(value, post)).toBe("text: is required (it holds only invisible characters)");
    });

    it("refuses it in an optional field too, which may be empty instead", () => {
      expect(refusal("\u200D\u200C", { maxGraphemes: 160, multiline: true }, "bio")).toBe("bio: must be empty or hold a visible character");
    });
  });

  it("keeps what legitimate text needs: joiners in emoji and words, selectors, tag flags, bidi marks", () => {
    for (const value of [
      "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}", // family
      "\u{1F3F3}\uFE0F\u200D\u{1F308}", // rainbow flag
      "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}", // England's flag
      "#\uFE0F\u20E3", // keycap
      "\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645", // Persian with a ZWNJ
      "\u05E9\u05DC\u05D5\u05DD\u200F!", // Hebrew with a right-to-left mark
      "\u0915\u094D\u0937", // Devanagari conjunct
    ]) {
      expect(checkText(value, "display_name", name)).toBe(value.normalize("NFC"));
    }
  });
});
