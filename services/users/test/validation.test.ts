import { DomainError } from "@chirp/kit";
import * as valid from "../src/domain/validation.js";

function rejects(fn: () => unknown, field: string) {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe("INVALID_ARGUMENT");
    expect((error as DomainError).message.startsWith(`${field}: `)).toBe(true);
    return;
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

  it("allows only https avatar URLs, or none", () => {
    expect(valid.avatarUrl("")).toBe("");
    expect(valid.avatarUrl("https://cdn.example.org/a.png")).toBe("https://cdn.example.org/a.png");
    for (const url of ["http://example.org/a.png", "javascript:alert(1)", "not a url", `https://x.io/${"a".repeat(2048)}`]) {
      rejects(() => valid.avatarUrl(url), "avatar_url");
    }
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
