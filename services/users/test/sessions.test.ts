import { newId } from "@chirp/kit";
import { decodeEvent } from "@chirp/kit/events";
import { domainFailure } from "@chirp/kit/testing";
import { ADMIN_ROLE } from "../src/domain/roles.js";
import { MAX_SESSIONS } from "../src/domain/sessions.js";
import { THROTTLE } from "../src/domain/throttle.js";
import { domainWithMemory, newUser } from "./fixtures.js";

/** A clock the test moves by hand, starting now (tokens are checked against real time too). */
function manualClock() {
  let now = Date.now();
  return { clock: () => new Date(now), advance: (ms: number) => (now += ms) };
}

const DAY = 24 * 3_600_000;

async function setUp() {
  const time = manualClock();
  const domain = await domainWithMemory({ clock: time.clock, sessions: { refreshTtlMs: 30 * DAY, accessTtlMs: 15 * 60_000 } });
  const input = newUser();
  const user = await domain.users.createUser(input);
  const login = (device = {}) => domain.users.login(input.username, input.password, device);
  /** Every SessionsRevoked recorded so far for the user, as [session ids]. */
  const revocations = async () =>
    (await domain.repository.pending(1000))
      .filter((p) => p.ownerId === user.id && p.message.subject === "chirp.users.sessions_revoked")
      .map((p) => decodeEvent(p.message.data).payload)
      .map((payload) => (payload?.$case === "sessionsRevoked" ? payload.value : undefined)!);
  return { ...domain, ...time, input, user, login, revocations };
}

describe("sessions", () => {
  it("login starts a session: an access token naming it as sid, and an opaque refresh token stored only as a hash", async () => {
    const { users, repository, keys, user, login } = await setUp();
    const result = await login({ deviceLabel: "  Firefox on a laptop ", clientAddress: "203.0.113.7" });
    expect(result.refreshToken).toMatch(/^[0-9A-Z]{26}\.[0-9A-Z]{26}\.[A-Za-z0-9_-]{43}$/);
    expect(result.refreshToken.startsWith(`${user.id}.${result.sessionId}.`)).toBe(true);
    const claims = keys.verifier.verify(result.accessToken);
    expect([claims.sub, claims.sid]).toEqual([user.id, result.sessionId]);
    expect(result.refreshExpiresAt.getTime() - Date.now()).toBeGreaterThan(29 * DAY);

    const stored = await repository.findSessions(user.id);
    expect(stored?.sessions).toHaveLength(1);
    const session = stored!.sessions[0]!;
    expect(session).toMatchObject({ id: result.sessionId, deviceLabel: "Firefox on a laptop", clientAddress: "203.0.113.7", usedHashes: [] });
    expect(JSON.stringify(stored)).not.toContain(result.refreshToken.split(".")[2]);

    expect(await users.listSessions(user.id, result.sessionId)).toEqual([
      expect.objectContaining({ id: result.sessionId, deviceLabel: "Firefox on a laptop", clientAddress: "203.0.113.7", current: true }),
    ]);
  });

  it("rotates: a refresh token gives a new pair once, and the session lives on with the new one", async () => {
    const { users, keys, login, advance } = await setUp();
    const first = await login();
    advance(1_000);
    const second = await users.refreshSession(first.refreshToken, { clientAddress: "198.51.100.1" });
    expect(second.sessionId).toBe(first.sessionId);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(keys.verifier.verify(second.accessToken).sid).toBe(first.sessionId);
    const third = await users.refreshSession(second.refreshToken);
    expect(third.sessionId).toBe(first.sessionId);
    const [listed] = await users.listSessions(third.user.id, undefined);
    expect(listed).toMatchObject({ id: first.sessionId, clientAddress: "198.51.100.1", current: false });
  });

  it("treats a used refresh token coming back as theft: the whole session ends, announced, for the thief and the owner alike", async () => {
    const { users, login, revocations, user } = await setUp();
    const other = await login();
    const stolen = await login();
    const rotated = await users.refreshSession(stolen.refreshToken);

    const reuse = await domainFailure(users.refreshSession(stolen.refreshToken));
    expect([reuse.code, reuse.message]).toEqual(["UNAUTHENTICATED", expect.stringMatching(/^refresh_token: was already used/)]);
    // The newest token of the family is dead too: whoever held it must sign in again.
    const after = await domainFailure(users.refreshSession(rotated.refreshToken));
    expect([after.code, after.message]).toEqual(["UNAUTHENTICATED", expect.stringMatching(/session has ended/)]);
    expect((await revocations()).map((r) => r.sessionIds)).toEqual([[stolen.sessionId]]);
    // Other sessions are not touched.
    expect((await users.listSessions(user.id, undefined)).map((s) => s.id)).toEqual([other.sessionId]);
    await expect(users.refreshSession(other.refreshToken)).resolves.toMatchObject({ sessionId: other.sessionId });
  });

  it("refuses forged refresh tokens without ending anyone's session: a wrong secret, another user's ids, garbage and oversized input", async () => {
    const { users, login, revocations, input } = await setUp();
    const mine = await login();
    const [userId, sessionId] = mine.refreshToken.split(".");
    const forged = `${userId}.${sessionId}.${"A".repeat(43)}`;
    const wrongSecret = await domainFailure(users.refreshSession(forged));
    expect([wrongSecret.code, wrongSecret.message]).toEqual(["UNAUTHENTICATED", "refresh_token: is not valid"]);
    // A session id under another account's id finds nothing.
    const elsewhere = await domainFailure(users.refreshSession(`${newId()}.${sessionId}.${mine.refreshToken.split(".")[2]}`));
    expect(elsewhere.code).toBe("UNAUTHENTICATED");

    for (const token of ["", "x", `${userId}.${sessionId}`, `${userId}.${sessionId}.${"A".repeat(43)}.x`, `${userId}.${sessionId}.${"A".repeat(10_000_000)}`, `../${userId}.${sessionId}.${"A".repeat(43)}`]) {
      const started = performance.now();
      const failure = await domainFailure(users.refreshSession(token));
      expect([failure.code, failure.field]).toEqual(["INVALID_ARGUMENT", "refresh_token"]);
      expect(performance.now() - started).toBeLessThan(50);
    }
    expect(await revocations()).toEqual([]);
    await expect(users.refreshSession(mine.refreshToken)).resolves.toMatchObject({ sessionId: mine.sessionId });
    void input;
  });

  it("logout ends the session of the access token, and is done all the same when it has already ended", async () => {
    const { users, login, user, revocations } = await setUp();
    const a = await login();
    const b = await login();
    await users.logout(user.id, a.sessionId);
    expect((await domainFailure(users.refreshSession(a.refreshToken))).code).toBe("UNAUTHENTICATED");
    await users.logout(user.id, a.sessionId);
    expect((await users.listSessions(user.id, b.sessionId)).map((s) => s.id)).toEqual([b.sessionId]);
    expect((await revocations()).map((r) => r.sessionIds)).toEqual([[a.sessionId]]);
    expect((await domainFailure(users.logout(user.id, undefined))).code).toBe("FAILED_PRECONDITION");
  });

  it("revokes only the caller's own sessions: another user's session id is NOT_FOUND, and stays alive", async () => {
    const { users, login, user } = await setUp();
    const mine = await login();
    const mallory = newUser();
    const malloryUser = await users.createUser(mallory);
    const failure = await domainFailure(users.revokeSession(malloryUser.id, mine.sessionId));
    expect([failure.code, failure.field]).toEqual(["NOT_FOUND", "session_id"]);
    expect((await domainFailure(users.revokeSession(user.id, "../etc"))).code).toBe("INVALID_ARGUMENT");
    expect((await domainFailure(users.revokeSession(user.id, ""))).code).toBe("INVALID_ARGUMENT");
    await expect(users.refreshSession(mine.refreshToken)).resolves.toBeDefined();
    await users.revokeSession(user.id, mine.sessionId);
    expect((await users.listSessions(user.id, undefined))).toEqual([]);
  });

  it("changing the password needs the current one, keeps the caller's session and ends every other", async () => {
    const { users, login, user, input, revocations } = await setUp();
    const here = await login();
    const there = await login();
    const elsewhere = await login();
    const wrong = await domainFailure(users.changePassword(user.id, here.sessionId, "not the password", "a new password"));
    expect([wrong.code, wrong.message]).toEqual(["PERMISSION_DENIED", "current_password: is incorrect"]);
    expect((await domainFailure(users.changePassword(user.id, here.sessionId, input.password, "short"))).field).toBe("new_password");

    expect(await users.changePassword(user.id, here.sessionId, input.password, "a new password")).toBe(2);
    expect((await users.listSessions(user.id, here.sessionId)).map((s) => s.id)).toEqual([here.sessionId]);
    expect((await domainFailure(users.refreshSession(there.refreshToken))).code).toBe("UNAUTHENTICATED");
    expect((await domainFailure(users.refreshSession(elsewhere.refreshToken))).code).toBe("UNAUTHENTICATED");
    await expect(users.refreshSession(here.refreshToken)).resolves.toBeDefined();
    expect((await revocations()).map((r) => [...r.sessionIds].sort())).toEqual([[there.sessionId, elsewhere.sessionId].sort()]);
    expect((await domainFailure(users.login(input.username, input.password))).code).toBe("UNAUTHENTICATED");
    await expect(users.login(input.username, "a new password")).resolves.toBeDefined();
  });

  it("announces revocations with the time by which every access token of the session has expired", async () => {
    const { users, login, user, revocations } = await setUp();
    const a = await login();
    await users.revokeSession(user.id, a.sessionId);
    const [event] = await revocations();
    expect(event!.userId).toBe(user.id);
    // The access-token lifetime (15 minutes here) and the gateway's 30 s of clock tolerance.
    expect(event!.accessTokensExpireBy!.getTime() - event!.revokedAt!.getTime()).toBe(15 * 60_000 + 30_000);
  });

  it("puts the account's roles as they are now into the next refresh's access token", async () => {
    const { users, keys, login, user } = await setUp();
    const first = await login();
    expect(keys.verifier.verify(first.accessToken).roles).toEqual([]);
    const admin = await users.createUser(newUser());
    await users.setUserRoles([ADMIN_ROLE], user.id, [ADMIN_ROLE]);
    const refreshed = await users.refreshSession(first.refreshToken);
    expect(keys.verifier.verify(refreshed.accessToken).roles).toEqual([ADMIN_ROLE]);
    await users.setUserRoles([ADMIN_ROLE], user.id, []);
    expect(keys.verifier.verify((await users.refreshSession(refreshed.refreshToken)).accessToken).roles).toEqual([]);
    void admin;
  });

  it("lets an admin end every session of a user, and nobody else", async () => {
    const { users, login, user, revocations } = await setUp();
    const a = await login();
    const b = await login();
    expect((await domainFailure(users.revokeUserSessions([], user.id))).code).toBe("PERMISSION_DENIED");
    expect(await users.revokeUserSessions([ADMIN_ROLE], user.id)).toBe(2);
    for (const s of [a, b]) expect((await domainFailure(users.refreshSession(s.refreshToken))).code).toBe("UNAUTHENTICATED");
    expect((await revocations()).map((r) => [...r.sessionIds].sort())).toEqual([[a.sessionId, b.sessionId].sort()]);
    expect((await domainFailure(users.revokeUserSessions([ADMIN_ROLE], "nope"))).code).toBe("INVALID_ARGUMENT");
  });

  it("ends with the account: a deleted account's refresh tokens work no more", async () => {
    const { users, repository, login, user } = await setUp();
    const a = await login();
    await users.deleteUser(user.id, user.id);
    const failure = await domainFailure(users.refreshSession(a.refreshToken));
    expect(failure.code).toBe("UNAUTHENTICATED");
    expect(await repository.findSessions(user.id)).toBeUndefined();
  });

  it("ends a session not refreshed within its lifetime, and each refresh starts the lifetime again", async () => {
    const { users, login, advance } = await setUp();
    const a = await login();
    advance(29 * DAY);
    const b = await users.refreshSession(a.refreshToken);
    advance(29 * DAY);
    const c = await users.refreshSession(b.refreshToken);
    advance(30 * DAY + 1);
    expect((await domainFailure(users.refreshSession(c.refreshToken))).message).toMatch(/session has ended/);
    expect(await users.listSessions(c.user.id, undefined)).toEqual([]);
  });

  it(`holds at most ${MAX_SESSIONS} sessions per account: a new login ends the least recently used, announced`, async () => {
    const { users, login, advance, revocations, user } = await setUp();
    const first = await login();
    for (let i = 1; i < MAX_SESSIONS; i++) {
      advance(1_000);
      await login();
    }
    advance(1_000);
    await users.refreshSession(first.refreshToken); // now the most recently used
    const sessions = await users.listSessions(user.id, undefined);
    const leastRecent = sessions.at(-1)!.id;
    advance(1_000);
    await login();
    const after = (await users.listSessions(user.id, undefined)).map((s) => s.id);
    expect(after).toHaveLength(MAX_SESSIONS);
    expect(after).not.toContain(leastRecent);
    expect(after).toContain(first.sessionId);
    expect((await revocations()).map((r) => r.sessionIds)).toEqual([[leastRecent]]);
  });

  it("bounds the device label", async () => {
    const { login } = await setUp();
    expect((await domainFailure(login({ deviceLabel: "x".repeat(65) }))).field).toBe("device_label");
    expect((await domainFailure(login({ deviceLabel: "x".repeat(5_000_000) }))).field).toBe("device_label");
    expect((await domainFailure(login({ deviceLabel: "a\nb" }))).field).toBe("device_label");
  });
});

describe("login throttling per account", () => {
  it("slows repeated failures for one name down, alike for an account that exists and one that does not", async () => {
    const { users, input, advance } = await setUp();
    const attempt = (name: string, password = "not the password") => domainFailure(users.login(name, password));
    for (const name of [input.username, "nobody_at_all"]) {
      for (let i = 0; i < THROTTLE.FREE_FAILURES; i++) expect((await attempt(name)).code).toBe("UNAUTHENTICATED");
      const throttled = await attempt(name);
      expect([throttled.code, throttled.message]).toEqual(["RESOURCE_EXHAUSTED", "username_or_email: too many failed attempts for this account; retry in 1 s"]);
    }
    // While it waits, even the right password is refused, before any work: nothing tells the two apart.
    expect((await attempt(input.username, input.password)).code).toBe("RESOURCE_EXHAUSTED");
    // Each failure past the free ones doubles the wait.
    advance(1_000);
    expect((await attempt(input.username)).code).toBe("UNAUTHENTICATED");
    expect((await attempt(input.username)).message).toMatch(/retry in 2 s$/);
    advance(2_000);
    // Another name, or the same in other letters, counts with it (the key is the lower-cased name).
    expect((await attempt(input.username.toUpperCase())).code).toBe("UNAUTHENTICATED");
    expect((await attempt(input.username)).message).toMatch(/retry in 4 s$/);
    advance(4_000);
    await expect(users.login(input.username, input.password)).resolves.toBeDefined();
    // A success starts over.
    expect((await attempt(input.username)).code).toBe("UNAUTHENTICATED");
    expect((await attempt(input.username)).code).toBe("UNAUTHENTICATED");
    // Failures are forgotten after a quiet while.
    advance(THROTTLE.FORGET_AFTER_MS + 1);
    for (let i = 0; i < THROTTLE.FREE_FAILURES; i++) expect((await attempt("nobody_at_all")).code).toBe("UNAUTHENTICATED");
  });

  it("throttles wrong current passwords in a password change too", async () => {
    const { users, login, user } = await setUp();
    const a = await login();
    for (let i = 0; i < THROTTLE.FREE_FAILURES; i++) {
      expect((await domainFailure(users.changePassword(user.id, a.sessionId, "wrong password", "a new password"))).code).toBe("PERMISSION_DENIED");
    }
    expect((await domainFailure(users.changePassword(user.id, a.sessionId, "wrong password", "a new password"))).code).toBe("RESOURCE_EXHAUSTED");
  });
});
