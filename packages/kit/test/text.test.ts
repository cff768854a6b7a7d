import { graphemeCount, hasControlCharacters, normalizeText } from "@chirp/kit";

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

describe("hasControlCharacters", () => {
  it("allows ordinary text, tabs and line breaks", () => {
    expect(hasControlCharacters("hello, world")).toBe(false);
    expect(hasControlCharacters("line one\nline two\r\n\tindented")).toBe(false);
    expect(hasControlCharacters("caf\u00E9 \u{1F44B}")).toBe(false);
  });

  it.each(["\u0000", "\u0007", "\u0008", "\u000B", "\u000C", "\u001B", "\u001F", "\u007F", "\u0085", "\u009F"])(
    "finds control character %j",
    (ch) => {
      expect(hasControlCharacters(`a${ch}b`)).toBe(true);
    },
  );
});
