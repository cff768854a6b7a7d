import { idFloor, idTime, newId } from "@chirp/kit";
import { parseContent } from "../src/domain/content.js";
import * as valid from "../src/domain/validation.js";
import { E_ACUTE_DECOMPOSED, FAMILY, FLAG, Q_ACUTE } from "./fixtures.js";
import { invalidArgument } from "@chirp/kit/testing";

describe("tweet text", () => {
  it.each([
    ["ASCII letters", "x"],
    ["a family emoji of seven code points", FAMILY],
    ["a flag of two regional indicators", FLAG],
    ["e with a combining accent", E_ACUTE_DECOMPOSED],
    ["q with a combining accent, which has no precomposed form", Q_ACUTE],
  ])("takes 280 and refuses 281 user-perceived characters made of %s", (_, character) => {
    expect(valid.text(character.repeat(280))).toBe(character.repeat(280).normalize("NFC"));
    expect(invalidArgument(() => valid.text(character.repeat(281)), "text").message).toBe("text: must be at most 280 characters");
  });

  it("counts after NFC normalisation and trimming", () => {
    const text = valid.text(`  ${E_ACUTE_DECOMPOSED}\n`);
    expect(text).toBe("é");
    expect(text).toHaveLength(1);
    expect(valid.text(`${" ".repeat(10)}${"x".repeat(280)}${" ".repeat(10)}`)).toHaveLength(280);
  });

  it("refuses empty, blank and control-character text", () => {
    invalidArgument(() => valid.text(""), "text");
    invalidArgument(() => valid.text(" \n\t "), "text");
    invalidArgument(() => valid.text("bell\u0007"), "text");
    expect(valid.text("two\nlines")).toBe("two\nlines");
  });

  it("bounds the text by its size before normalising or counting it", () => {
    expect(invalidArgument(() => valid.text("a".repeat(65_000)), "text").message).toMatch(/^text: must be at most \d+ bytes of UTF-8, got at least 65000$/);
  });

  it("refuses one character swollen with combining marks or a long ZWJ chain", () => {
    invalidArgument(() => valid.text(`a${"\u0301".repeat(10_000)}`), "text");
    invalidArgument(() => valid.text(`a${"\u0301".repeat(31)}`), "text");
    invalidArgument(() => valid.text(Array.from({ length: 3001 }, () => "\u{1F600}").join("\u200D")), "text");
    invalidArgument(() => valid.text(Array.from({ length: 300 }, () => "\u{1F600}").join("\u200D")), "text");
  });

  it("refuses text with nothing visible, bidirectional overrides and unpaired surrogates", () => {
    expect(invalidArgument(() => valid.text("\u200B\u200B\u200B"), "text").message).toMatch(/^text: is required/);
    expect(invalidArgument(() => valid.text("\u200D \u2060\uFEFF"), "text").message).toMatch(/^text: is required/);
    invalidArgument(() => valid.text("pay \u202Eexe.gnp"), "text");
    invalidArgument(() => valid.text("isolated \u2067text\u2069"), "text");
    invalidArgument(() => valid.text("broken \uD83D emoji"), "text");
    invalidArgument(() => valid.text("not a character \uFFFF"), "text");
  });

  it("keeps zero-width joiners inside emoji and zero-width spaces inside words", () => {
    expect(valid.text(`family ${FAMILY}`)).toBe(`family ${FAMILY}`);
    expect(valid.text("\u0E20\u0E32\u0E29\u0E32\u200B\u0E44\u0E17\u0E22")).toBe("\u0E20\u0E32\u0E29\u0E32\u200B\u0E44\u0E17\u0E22");
  });
});

describe("hashtags and mentions", () => {
  it("finds hashtags lower-cased without '#', and mentions without '@', each once", () => {
    expect(parseContent("Hi @Ann and @bob_2! #Launch day #launch #Café #日本 @ann")).toEqual({
      tags: ["launch", "café", "日本"],
      mentions: ["Ann", "bob_2"],
    });
  });

  it("ignores what only looks like a hashtag or mention", () => {
    const { tags, mentions } = parseContent("C# a#b ## # mail me at ann@example.org, @sixteen_chars_xx, @ alone, @@x");
    expect(tags).toEqual([]);
    expect(mentions).toEqual([]);
  });

  it("takes a mention of exactly 15 characters and stops a hashtag at punctuation", () => {
    expect(parseContent("@fifteen_chars_x, #end. #a-b").mentions).toEqual(["fifteen_chars_x"]);
    expect(parseContent("@fifteen_chars_x, #end. #a-b").tags).toEqual(["end", "a"]);
  });

  it("skips a hashtag too long to be a tag", () => {
    expect(parseContent(`#${"x".repeat(valid.MAX_TAG_LENGTH + 1)} #ok`).tags).toEqual(["ok"]);
  });
});

describe("explicit tags", () => {
  it("lower-cases, strips a leading '#' and deduplicates", () => {
    expect(valid.tags(["News", "#news", "Tech_2"])).toEqual(["news", "tech_2"]);
  });

  it("names the bad element by its index in the request", () => {
    invalidArgument(() => valid.tags(["ok", "not ok"]), "tags[1]");
    invalidArgument(() => valid.tags(["ok", ""]), "tags[1]");
    invalidArgument(() => valid.tags(["x".repeat(valid.MAX_TAG_LENGTH + 1)]), "tags[0]");
  });

  it("bounds each tag's size before normalising it, and the number of entries before checking each", () => {
    expect(invalidArgument(() => valid.tags(["x".repeat(65_000)]), "tags[0]").message).toMatch(/bytes/);
    const many = Array.from({ length: 200 }, (_, i) => (i === 150 ? "not ok" : `t${i % 5}`));
    invalidArgument(() => valid.tags(many), "tags");
    invalidArgument(() => valid.tags(["ok", "\u202Eko"]), "tags[1]");
  });

  it("allows at most 10 distinct tags", () => {
    const ten = Array.from({ length: 10 }, (_, i) => `t${i}`);
    expect(valid.tags([...ten, "T0"])).toEqual(ten);
    invalidArgument(() => valid.tags([...ten, "t10"]), "tags");
  });
});

describe("other fields", () => {
  it("checks ids and names the field", () => {
    const id = newId();
    expect(valid.tweetId(id)).toBe(id);
    invalidArgument(() => valid.tweetId(""), "id");
    invalidArgument(() => valid.tweetId("nope", "reply_to_id"), "reply_to_id");
    invalidArgument(() => valid.userId("nope"), "user_id");
  });

  it("bounds id lists and names the bad element by its request index", () => {
    const id = newId();
    expect(valid.idList([id, id])).toEqual([id]);
    invalidArgument(() => valid.idList([id, "nope"]), "ids[1]");
    invalidArgument(() => valid.idList(Array.from({ length: 101 }, () => newId())), "ids");
  });

  it("accepts printable idempotency keys up to 128 characters", () => {
    expect(valid.idempotencyKey("")).toBeUndefined();
    expect(valid.idempotencyKey("retry-1f3a")).toBe("retry-1f3a");
    invalidArgument(() => valid.idempotencyKey("has space"), "idempotency_key");
    invalidArgument(() => valid.idempotencyKey("k".repeat(129)), "idempotency_key");
  });

  it("turns search criteria into a filter, refusing an empty or reversed time range", () => {
    const start = new Date("2026-01-01T00:00:00Z");
    const end = new Date("2026-01-02T00:00:00Z");
    const authorId = newId();
    expect(valid.filter({ tag: "#News", authorId, startTime: start, endTime: end })).toEqual({
      tag: "news",
      authorId,
      fromId: idFloor(start),
      toId: idFloor(end),
    });
    expect(valid.filter({ tag: "", authorId: "" })).toEqual({});
    invalidArgument(() => valid.filter({ tag: "", authorId: "", startTime: end, endTime: start }), "start_time");
    invalidArgument(() => valid.filter({ tag: "", authorId: "", startTime: start, endTime: start }), "start_time");
    invalidArgument(() => valid.filter({ tag: "a b", authorId: "" }), "tag");
    invalidArgument(() => valid.filter({ tag: "", authorId: "x" }), "author_id");
    expect(invalidArgument(() => valid.filter({ tag: "#".repeat(65_000), authorId: "" }), "tag").message).toMatch(/bytes/);
  });
});

describe("time ranges as id ranges", () => {
  it("puts every id made at a millisecond at or above that millisecond's floor and below the next one's", () => {
    const id = newId();
    const at = idTime(id);
    expect(idTime(idFloor(at))).toEqual(at);
    expect(idFloor(at) <= id).toBe(true);
    expect(id < idFloor(new Date(at.getTime() + 1))).toBe(true);
    expect(idFloor(new Date(at.getTime() - 1)) < idFloor(at)).toBe(true);
  });

  it("clamps times before 1970 and beyond what an id can hold", () => {
    expect(idFloor(new Date(-5_000))).toBe("0".repeat(26));
    expect(idFloor(new Date(8.64e15))).toBe(`7ZZZZZZZZZ${"0".repeat(16)}`);
  });
});
