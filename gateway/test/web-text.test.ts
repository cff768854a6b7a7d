import { Code, ConnectError } from "@connectrpc/connect";
import { BIO, DISPLAY_NAME, POST_TEXT } from "@chirp/kit";
import { text as tweetText } from "../../services/tweets/src/domain/validation";
import { bio, displayName } from "../../services/users/src/domain/validation";
import { explain, problemWith } from "../web/words";

/** Words people must never read in the web client's messages: field names, codes, ids. */
const RAW = /\b[a-z]+_[a-z_]+\b|\[[a-z_0-9]+\]|INVALID|NOT_FOUND|UNAUTHENTICATED|\b[a-z]+Id\b|\b[0-9A-HJKMNP-TV-Z]{26}\b/;

const accepts = (check: (value: string) => unknown, value: string) => {
  try {
    check(value);
    return true;
  } catch {
    return false;
  }
};

describe("the web client's counters and the services agree", () => {
  const samples = [
    "a".repeat(280),
    "a".repeat(281),
    `  ${"b".repeat(280)}  `,
    "e\u0301".repeat(280),
    "e\u0301".repeat(281),
    "👩‍👩‍👧‍👦".repeat(280),
    "👩‍👩‍👧‍👦".repeat(281),
    "🇫🇷".repeat(280),
    "🇫🇷".repeat(281),
    "क्षि".repeat(140),
    "\u200b",
    "",
    "a\u0000b",
    "\u202egnp.exe",
    "a".repeat(11_201),
    `x${"\u0301".repeat(31)}`,
  ];

  it.each(samples.map((s) => [s.length, s]))("a post of %i code units: refused by the page exactly when the tweets service refuses it", (_, value) => {
    expect(problemWith(value, "text", POST_TEXT) === "").toBe(accepts(tweetText, value));
  });

  it.each(samples.map((s) => [s.length, s]))("a display name and a bio of %i code units: the same for the users service", (_, value) => {
    expect(problemWith(value, "display_name", DISPLAY_NAME) === "").toBe(accepts(displayName, value));
    expect(problemWith(value, "bio", BIO) === "").toBe(accepts(bio, value));
  });

  it("says what is wrong in words, never naming a field", () => {
    expect(problemWith("a".repeat(281), "text", POST_TEXT)).toBe("Your post must be at most 280 characters.");
    expect(problemWith("", "text", POST_TEXT)).toBe("Your post is required.");
    expect(problemWith("B".repeat(51), "display_name", DISPLAY_NAME)).toBe("The display name must be at most 50 characters.");
    for (const value of samples) expect(problemWith(value, "display_name", DISPLAY_NAME)).not.toMatch(RAW);
  });
});

describe("the web client's messages for failed calls", () => {
  const said = (message: string, code: Code, about = {}) => explain(new ConnectError(message, code), about);

  it("turns a field error into a sentence", () => {
    expect(said("username: must be 3 to 15 letters, digits or underscores", Code.InvalidArgument)).toBe("The username must be 3 to 15 letters, digits or underscores.");
    expect(said("tags[3]: must be 1 to 100 letters, digits or underscores", Code.InvalidArgument)).toBe("The tags must be 1 to 100 letters, digits or underscores.");
    expect(said("start_time: must be before end_time", Code.InvalidArgument)).toBe("The start time must be before end time.");
  });

  it("says what each code means for the person, in the call's own terms where it has them", () => {
    expect(said('username: "ada" is already taken', Code.AlreadyExists)).toBe("That username is taken. Please choose another.");
    expect(said("email: is already registered", Code.AlreadyExists)).toBe("An account already uses that email address.");
    expect(said("username_or_email or password is incorrect", Code.Unauthenticated, { unauthenticated: "No match." })).toBe("No match.");
    expect(said("authorization: a bearer access token is required", Code.Unauthenticated)).toBe("Your session has ended. Please log in again.");
    expect(said('tweet_id: no tweet has id "01J00000000000000000000000"', Code.NotFound, { notFound: "That post has been deleted." })).toBe("That post has been deleted.");
    expect(said("id: you can only delete your own tweets", Code.PermissionDenied)).toBe("You are not allowed to do that.");
    expect(said("too many writes: retry after 7 s", Code.ResourceExhausted)).toBe("You are doing that too often. Please wait 7 seconds and try again.");
    expect(said("upstream unavailable", Code.Unavailable)).toMatch(/cannot be reached/);
    expect(said("internal error (request id 5f2c)", Code.Internal)).toBe("Something went wrong on our side. Please try again.");
    expect(explain(new Error("boom"))).toBe("Something went wrong on this page. Please reload it.");
  });

  it("never shows a field name, a code or an id, whatever the service said", () => {
    const messages: [string, Code][] = [
      ['followee_id: no user has id "01J00000000000000000000000"', Code.NotFound],
      ["followee_id: you cannot follow yourself", Code.InvalidArgument],
      ["user.id: you can only update your own profile", Code.PermissionDenied],
      ["refresh_token: was already used, so the session has been ended for safety; sign in again", Code.Unauthenticated],
      ['update_mask: "email" cannot be updated; allowed: display_name, bio, avatar_url', Code.InvalidArgument],
      ["current_password: is incorrect", Code.PermissionDenied],
    ];
    for (const [message, code] of messages) expect(said(message, code)).not.toMatch(RAW);
  });
});
