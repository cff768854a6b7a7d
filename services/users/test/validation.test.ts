import * as valid from "../src/domain/validation.js";
import { invalidArgument } from "@chirp/kit/testing";

describe("account field rules", () => {
  it("accepts usernames of 3 to 15 letters, digits and underscores", () => {
    for (const name of ["abc", "Alice_99", "a".repeat(15), "___"]) expect(valid.username(name)).toBe(name);
  });

  it("refuses other usernames, naming the field", () => {
    for (const name of ["", "ab", "a".repeat(16), "al ice", "alice!", "élise", "alice-b"]) invalidArgument(() => valid.username(name), "username");
  });

  it("checks email addresses loosely but surely", () => {
    expect(valid.email("  Ann@Example.org ")).toBe("Ann@Example.org");
    for (const email of ["", "ann", "ann@", "@example.org", "ann@example", "a b@example.org", `${"a".repeat(250)}@x.io`]) {
      invalidArgument(() => valid.email(email), "email");
    }
  });

  it("wants passwords of at least 8 characters", () => {
    expect(valid.password("12345678")).toBe("12345678");
    invalidArgument(() => valid.password("1234567"), "password");
    invalidArgument(() => valid.password(""), "password");
    invalidArgument(() => valid.password("x".repeat(1025)), "password");
  });

  it("counts display name and bio in user-perceived characters", () => {
    expect(valid.displayName("  Zoë  ")).toBe("Zoë");
    expect(valid.displayName("👩‍👩‍👧‍👦".repeat(50))).toHaveLength("👩‍👩‍👧‍👦".length * 50);
    invalidArgument(() => valid.displayName("x".repeat(51)), "display_name");
    invalidArgument(() => valid.displayName("two\nlines"), "display_name");
    expect(valid.bio("line one\nline two")).toBe("line one\nline two");
    expect(valid.bio("é".repeat(160))).toHaveLength(160);
    invalidArgument(() => valid.bio("x".repeat(161)), "bio");
    invalidArgument(() => valid.bio("bell\u0007"), "bio");
  });

  it("bounds display name and bio by their size before normalising or counting them", () => {
    expect(invalidArgument(() => valid.displayName("x".repeat(65_000)), "display_name").message).toMatch(/^display_name: must be at most \d+ bytes/);
    expect(invalidArgument(() => valid.bio("x".repeat(65_000)), "bio").message).toMatch(/^bio: must be at most \d+ bytes/);
    invalidArgument(() => valid.displayName(`a${"\u0301".repeat(10_000)}`), "display_name");
    invalidArgument(() => valid.bio(Array.from({ length: 100 }, () => "\u{1F600}").join("\u200D")), "bio");
  });

  it("refuses bidirectional overrides, invisible characters and invisible-only text in profiles", () => {
    invalidArgument(() => valid.displayName("\u202EadA\u200B"), "display_name");
    invalidArgument(() => valid.displayName("adA\u200B"), "display_name");
    invalidArgument(() => valid.displayName("A\u2060da"), "display_name");
    invalidArgument(() => valid.displayName("\u200B\u200B"), "display_name");
    invalidArgument(() => valid.displayName("\u2068Ada\u2069"), "display_name");
    invalidArgument(() => valid.bio("\u200D"), "bio");
    invalidArgument(() => valid.bio("about me \u202Dreversed"), "bio");
    invalidArgument(() => valid.bio("broken \uDC00"), "bio");
    expect(valid.displayName("\u{1F469}\u200D\u{1F4BB} Ada")).toBe("\u{1F469}\u200D\u{1F4BB} Ada");
  });

  it("refuses control, bidirectional and invisible characters in email addresses", () => {
    for (const email of ["a\u0000\u0007b@e.com", "\u202Eann@example.org", "ann\u200B@example.org", "ann@exa\u00ADmple.org"]) {
      invalidArgument(() => valid.email(email), "email");
    }
    expect(invalidArgument(() => valid.email(`${"a".repeat(65_000)}@x.io`), "email").message).toMatch(/bytes/);
  });

  it("bounds what a login sends before looking anything up or hashing it", () => {
    expect(valid.login("  Ann@Example.org ")).toBe("Ann@Example.org");
    expect(valid.login("alice")).toBe("alice");
    invalidArgument(() => valid.login(""), "username_or_email");
    invalidArgument(() => valid.login("a".repeat(65_000)), "username_or_email");
    invalidArgument(() => valid.login("ali\u0000ce"), "username_or_email");
    expect(valid.loginPassword("any length is fine")).toBe("any length is fine");
    invalidArgument(() => valid.loginPassword(""), "password");
    invalidArgument(() => valid.loginPassword("x".repeat(65_000)), "password");
  });

  it("allows only https avatar URLs, or none", () => {
    expect(valid.avatarUrl("")).toBe("");
    expect(valid.avatarUrl("https://cdn.example.org/a.png")).toBe("https://cdn.example.org/a.png");
    for (const url of ["http://example.org/a.png", "javascript:alert(1)", "not a url", `https://x.io/${"a".repeat(2048)}`]) {
      invalidArgument(() => valid.avatarUrl(url), "avatar_url");
    }
    expect(invalidArgument(() => valid.avatarUrl(`https://x.io/${"a".repeat(65_000)}`), "avatar_url").message).toMatch(/bytes/);
    invalidArgument(() => valid.avatarUrl("https://x.io/\u202Egnp.exe"), "avatar_url");
    // short as typed, but each of these becomes six characters once percent-encoded
    invalidArgument(() => valid.avatarUrl(`https://x.io/${"é".repeat(1000)}`), "avatar_url");
  });

  it("accepts only editable fields in an update mask", () => {
    expect(valid.updateMask(["bio", "bio", "display_name"])).toEqual(["bio", "display_name"]);
    invalidArgument(() => valid.updateMask([]), "update_mask");
    invalidArgument(() => valid.updateMask(undefined), "update_mask");
    invalidArgument(() => valid.updateMask(["username"]), "update_mask");
    invalidArgument(() => valid.updateMask(["email"]), "update_mask");
  });

  it("bounds and checks id lists, naming the bad element", () => {
    invalidArgument(() => valid.idList(["not-an-id"]), "ids[0]");
    invalidArgument(() => valid.idList(Array.from({ length: 101 }, (_, i) => `01M83VMQVV99P26KZM1TRZB${String(i).padStart(3, "0")}`)), "ids");
  });

  it("refuses username prefixes a username could not start with", () => {
    expect(valid.usernamePrefix("Al")).toBe("al");
    expect(valid.usernamePrefix("")).toBe("");
    invalidArgument(() => valid.usernamePrefix("a%"), "username_prefix");
  });
});
