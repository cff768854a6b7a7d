import { DomainError } from "@chirp/kit";
import * as valid from "../src/domain/validation.js";

function rejects(fn: () => unknown, field: string): DomainError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe("INVALID_ARGUMENT");
    expect((error as DomainError).message.startsWith(`${field}: `)).toBe(true);
    return error as DomainError;
  }
  throw new Error(`expected ${field} to be rejected`);
}

describe("account field rules", () => {
  it("accepts usernames of 3 to 15 letters, digits and underscores", () => {
    for (const name of ["abc", "Alice_99", "a".repeat(15), "___"]) expect(valid.username(name)).toBe(name);
  });

  it("refuses other usernames, naming the field", () => {
    for (const name of ["", "ab", "a".repeat(16), "al ice", "alice!", "élise", "alice-b"]) rejects(() => valid.username(name), "username");
  });

  it("checks email addresses loosely but surely", () => {
    expect(valid.email("  Ann@Example.org ")).toBe("Ann@Example.org");
    for (const email of ["", "ann", "ann@", "@example.org", "ann@example", "a b@example.org", `${"a".repeat(250)}@x.io`]) {
      rejects(() => valid.email(email), "email");
    }
  });

  it("wants passwords of at least 8 characters", () => {
    expect(valid.password("12345678")).toBe("12345678");
    rejects(() => valid.password("1234567"), "password");
    rejects(() => valid.password(""), "password");
    rejects(() => valid.password("x".repeat(1025)), "password");
  });

  it("counts display name and bio in user-perceived characters", () => {
    expect(valid.displayName("  Zoë  ")).toBe("Zoë");
    expect(valid.displayName("👩‍👩‍👧‍👦".repeat(50))).toHaveLength("👩‍👩‍👧‍👦".length * 50);
    rejects(() => valid.displayName("x".repeat(51)), "display_name");
    rejects(() => valid.displayName("two\nlines"), "display_name");
    expect(valid.bio("line one\nline two")).toBe("line one\nline two");
    expect(valid.bio("é".repeat(160))).toHaveLength(160);
    rejects(() => valid.bio("x".repeat(161)), "bio");
    rejects(() => valid.bio("bell\u0007"), "bio");
  });

  it("bounds display name and bio by their size before normalising or counting them", () => {
    expect(rejects(() => valid.displayName("x".repeat(65_000)), "display_name").message).toMatch(/^display_name: must be at most \d+ bytes/);
    expect(rejects(() => valid.bio("x".repeat(65_000)), "bio").message).toMatch(/^bio: must be at most \d+ bytes/);
    rejects(() => valid.displayName(`a${"\u0301".repeat(10_000)}`), "display_name");
    rejects(() => valid.bio(Array.from({ length: 100 }, () => "\u{1F600}").join("\u200D")), "bio");
  });

  it("refuses bidirectional overrides, invisible characters and invisible-only text in profiles", () => {
    rejects(() => valid.displayName("\u202EadA\u200B"), "display_name");
    rejects(() => valid.displayName("adA\u200B"), "display_name");
    rejects(() => valid.displayName("A\u2060da"), "display_name");
    rejects(() => valid.displayName("\u200B\u200B"), "display_name");
    rejects(() => valid.displayName("\u2068Ada\u2069"), "display_name");
    rejects(() => valid.bio("\u200D"), "bio");
    rejects(() => valid.bio("about me \u202Dreversed"), "bio");
    rejects(() => valid.bio("broken \uDC00"), "bio");
    expect(valid.displayName("\u{1F469}\u200D\u{1F4BB} Ada")).toBe("\u{1F469}\u200D\u{1F4BB} Ada");
  });

  it("refuses control, bidirectional and invisible characters in email addresses", () => {
    for (const email of ["a\u0000\u0007b@e.com", "\u202Eann@example.org", "ann\u200B@example.org", "ann@exa\u00ADmple.org"]) {
      rejects(() => valid.email(email), "email");
    }
    expect(rejects(() => valid.email(`${"a".repeat(65_000)}@x.io`), "email").message).toMatch(/bytes/);
  });

  it("bounds what a login sends before looking anything up or hashing it", () => {
    expect(valid.login("  Ann@Example.org ")).toBe("Ann@Example.org");
    expect(valid.login("alice")).toBe("alice");
    rejects(() => valid.login(""), "username_or_email");
    rejects(() => valid.login("a".repeat(65_000)), "username_or_email");
    rejects(() => valid.login("ali\u0000ce"), "username_or_email");
    expect(valid.loginPassword("any length is fine")).toBe("any length is fine");
    rejects(() => valid.loginPassword(""), "password");
    rejects(() => valid.loginPassword("x".repeat(65_000)), "password");
  });

  it("allows only https avatar URLs, or none", () => {
    expect(valid.avatarUrl("")).toBe("");
    expect(valid.avatarUrl("https://cdn.example.org/a.png")).toBe("https://cdn.example.org/a.png");
    for (const url of ["http://example.org/a.png", "javascript:alert(1)", "not a url", `https://x.io/${"a".repeat(2048)}`]) {
      rejects(() => valid.avatarUrl(url), "avatar_url");
    }
    expect(rejects(() => valid.avatarUrl(`https://x.io/${"a".repeat(65_000)}`), "avatar_url").message).toMatch(/bytes/);
    rejects(() => valid.avatarUrl("https://x.io/\u202Egnp.exe"), "avatar_url");
    // short as typed, but each of these becomes six characters once percent-encoded
    rejects(() => valid.avatarUrl(`https://x.io/${"é".repeat(1000)}`), "avatar_url");
  });

  it("accepts only editable fields in an update mask", () => {
    expect(valid.updateMask(["bio", "bio", "display_name"])).toEqual(["bio", "display_name"]);
    rejects(() => valid.updateMask([]), "update_mask");
    rejects(() => valid.updateMask(undefined), "update_mask");
    rejects(() => valid.updateMask(["username"]), "update_mask");
    rejects(() => valid.updateMask(["email"]), "update_mask");
  });

  it("bounds and checks id lists, naming the bad element", () => {
    rejects(() => valid.idList(["not-an-id"]), "ids[0]");
    rejects(() => valid.idList(Array.from({ length: 101 }, (_, i) => `01M83VMQVV99P26KZM1TRZB${String(i).padStart(3, "0")}`)), "ids");
  });

  it("refuses username prefixes a username could not start with", () => {
    expect(valid.usernamePrefix("Al")).toBe("al");
    expect(valid.usernamePrefix("")).toBe("");
    rejects(() => valid.usernamePrefix("a%"), "username_prefix");
  });
});
