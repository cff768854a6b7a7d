import { deadLetterSubject, redeliveryDelayMs, subjectMatches } from "@chirp/kit";

describe("subjectMatches", () => {
  it("matches exact subjects only exactly", () => {
    expect(subjectMatches("chirp.users.user_created", "chirp.users.user_created")).toBe(true);
    expect(subjectMatches("chirp.users.user_created", "chirp.users.user_deleted")).toBe(false);
    expect(subjectMatches("chirp.users", "chirp.users.user_created")).toBe(false);
    expect(subjectMatches("chirp.users.user_created", "chirp.users")).toBe(false);
  });

  it("matches one token with *", () => {
    expect(subjectMatches("chirp.*.user_created", "chirp.users.user_created")).toBe(true);
    expect(subjectMatches("chirp.users.*", "chirp.users.user_created")).toBe(true);
    expect(subjectMatches("chirp.users.*", "chirp.users")).toBe(false);
    expect(subjectMatches("chirp.users.*", "chirp.users.a.b")).toBe(false);
    expect(subjectMatches("chirp.*.user_created", "chirp.tweets.tweet_created")).toBe(false);
    expect(subjectMatches("*", "chirp")).toBe(true);
    expect(subjectMatches("*", "chirp.users")).toBe(false);
  });

  it("matches one or more trailing tokens with >", () => {
    expect(subjectMatches("chirp.>", "chirp.users")).toBe(true);
    expect(subjectMatches("chirp.>", "chirp.users.user_created")).toBe(true);
    expect(subjectMatches("chirp.>", "chirp")).toBe(false);
    expect(subjectMatches("chirp.users.>", "chirp.tweets.tweet_created")).toBe(false);
    expect(subjectMatches(">", "anything.at.all")).toBe(true);
    expect(subjectMatches("chirp.*.>", "chirp.users.x.y")).toBe(true);
    expect(subjectMatches("chirp.*.>", "chirp.users")).toBe(false);
  });
});

describe("redeliveryDelayMs", () => {
  it("doubles from 100 ms", () => {
    expect([1, 2, 3, 4, 5, 6].map(redeliveryDelayMs)).toEqual([100, 200, 400, 800, 1600, 3200]);
  });

  it("never decreases and caps at 5 s", () => {
    let previous = 0;
    for (let attempt = 1; attempt <= 2000; attempt++) {
      const delay = redeliveryDelayMs(attempt);
      expect(delay).toBeGreaterThanOrEqual(previous);
      expect(delay).toBeLessThanOrEqual(5_000);
      previous = delay;
    }
    expect(redeliveryDelayMs(7)).toBe(5_000);
    expect(redeliveryDelayMs(2000)).toBe(5_000);
  });
});

describe("deadLetterSubject", () => {
  it("is one subject per durable under chirp.deadletter", () => {
    expect(deadLetterSubject("timeline")).toBe("chirp.deadletter.timeline");
    expect(subjectMatches("chirp.deadletter.>", deadLetterSubject("x"))).toBe(true);
  });
});
