import type { KeyObject } from "node:crypto";
import { createLogger } from "@chirp/kit";
import { describeWith, eventually, uniqueName } from "@chirp/kit/testing";
import { startGateway, type GatewayApp } from "@chirp/gateway";
import { loadConfig as gatewayConfig } from "@chirp/gateway/config";
import { startMesh, type Mesh } from "../src/mesh.js";

/**
 * The most a revoked session's access tokens are still accepted at the gateway after the revoking
 * call has answered, as services/users/README.md states it: the users service relays the
 * SessionsRevoked (or UserDeleted) event at once and every gateway follows them live.
 */
const REVOCATION_DELAY_MS = 5_000;
const USERS = "chirp.users.v1.UsersService";

type Answer = { status: number; body: Record<string, any>; headers: Headers };

/**
 * Sessions through the public entry, as a client sees them, on the embedded mesh (in-process bus)
 * and on MongoDB + JetStream: the delays measured are printed for the README's figures.
 */
function sessionsStory(start: () => Promise<Mesh>) {
  let mesh: Mesh;
  let api: string;
  const delays: number[] = [];

  beforeAll(async () => {
    mesh = await start();
    api = `http://127.0.0.1:${mesh.gateway.httpPort}`;
  }, 60_000);

  afterAll(async () => {
    await mesh?.stop();
    if (delays.length > 0) process.stdout.write(`revocation delays at the gateway (ms): ${delays.map((d) => d.toFixed(1)).join(", ")}\n`);
  });

  async function call(method: string, body: object, token?: string, headers: Record<string, string> = {}): Promise<Answer> {
    const response = await fetch(`${api}/${method.includes("/") ? method : `${USERS}/${method}`}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }), ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any>, headers: response.headers };
  }

  async function register(name: string) {
    const username = `${name}_${Math.random().toString(36).slice(2, 8)}`;
    const created = await call("CreateUser", { username, email: `${username}@example.org`, password: "correct horse" });
    expect(created.status).toBe(200);
    return { id: created.body.user.id as string, username };
  }

  async function login(username: string, password = "correct horse", deviceLabel = "test") {
    const answer = await call("Login", { usernameOrEmail: username, password, deviceLabel });
    expect(answer.status).toBe(200);
    return answer.body as { accessToken: string; refreshToken: string; sessionId: string; user: { id: string } };
  }

  /** How long after now the gateway first refuses the token, polling a read every few ms. */
  async function refusedWithin(token: string, userId: string): Promise<number> {
    const started = performance.now();
    for (;;) {
      const answer = await call("GetUser", { id: userId }, token);
      const elapsed = performance.now() - started;
      if (answer.status === 401) {
        expect(answer.body.message).toBe("authorization: the session has ended; sign in again");
        delays.push(elapsed);
        return elapsed;
      }
      // Let through by the gateway: the service answers (404 for an account already deleted).
      expect([200, 404]).toContain(answer.status);
      if (elapsed > REVOCATION_DELAY_MS * 3) return elapsed;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  it("rotates refresh tokens, and a reused one ends the session: its access tokens are refused within the stated delay", async () => {
    const { id, username } = await register("rot");
    const first = await login(username);
    const second = await call("RefreshSession", { refreshToken: first.refreshToken });
    expect(second.status).toBe(200);
    expect(second.body.sessionId).toBe(first.sessionId);
    expect(second.body.refreshToken).not.toBe(first.refreshToken);
    expect((await call("GetUser", { id }, second.body.accessToken)).status).toBe(200);

    const reuse = await call("RefreshSession", { refreshToken: first.refreshToken });
    expect([reuse.status, reuse.body.code]).toEqual([401, "unauthenticated"]);
    expect(await refusedWithin(second.body.accessToken, id)).toBeLessThan(REVOCATION_DELAY_MS);
    expect(await refusedWithin(first.accessToken, id)).toBeLessThan(REVOCATION_DELAY_MS);
    expect((await call("RefreshSession", { refreshToken: second.body.refreshToken })).status).toBe(401);
  });

  it("logout ends the current session only", async () => {
    const { id, username } = await register("out");
    const here = await login(username);
    const there = await login(username);
    const sessions = await call("ListSessions", {}, here.accessToken);
    expect(sessions.body.sessions.map((s: { id: string; current?: boolean }) => [s.id, s.current ?? false]).sort()).toEqual(
      [[here.sessionId, true], [there.sessionId, false]].sort(),
    );
    expect((await call("Logout", {}, here.accessToken)).status).toBe(200);
    expect(await refusedWithin(here.accessToken, id)).toBeLessThan(REVOCATION_DELAY_MS);
    expect((await call("GetUser", { id }, there.accessToken)).status).toBe(200);
    expect((await call("RefreshSession", { refreshToken: here.refreshToken })).status).toBe(401);
  });

  it("a password change ends every other session, at the gateway too, and keeps the caller's", async () => {
    const { id, username } = await register("pw");
    const here = await login(username);
    const stolen = await login(username, "correct horse", "someone else's laptop");
    const changed = await call("ChangePassword", { currentPassword: "correct horse", newPassword: "a much better one" }, here.accessToken);
    expect([changed.status, changed.body.revokedSessions]).toEqual([200, 1]);
    expect(await refusedWithin(stolen.accessToken, id)).toBeLessThan(REVOCATION_DELAY_MS);
    expect((await call("GetUser", { id }, here.accessToken)).status).toBe(200);
    expect((await call("RefreshSession", { refreshToken: stolen.refreshToken })).status).toBe(401);
    expect((await call("Login", { usernameOrEmail: username, password: "correct horse" })).status).toBe(401);
  });

  it("a deleted account's access tokens are refused at the gateway within the stated delay", async () => {
    const { id, username } = await register("del");
    const session = await login(username);
    expect((await call("DeleteUser", { id }, session.accessToken)).status).toBe(200);
    expect(await refusedWithin(session.accessToken, id)).toBeLessThan(REVOCATION_DELAY_MS);
    expect((await call("RefreshSession", { refreshToken: session.refreshToken })).status).toBe(401);
  });

  it("an admin ends a user's sessions; roles set meanwhile reach the next refresh's token", async () => {
    const admin = await register("adm");
    await mesh.roles.grant(admin.id, "admin");
    const adminSession = await login(admin.username);
    const { id, username } = await register("usr");
    const session = await login(username);
    // Not an admin yet: refused by the gateway's rule.
    expect((await call("RevokeUserSessions", { userId: admin.id }, session.accessToken)).status).toBe(403);
    expect((await call("SetUserRoles", { userId: id, roles: ["admin"] }, adminSession.accessToken)).status).toBe(200);
    const refreshed = await call("RefreshSession", { refreshToken: session.refreshToken });
    const roles = JSON.parse(Buffer.from(refreshed.body.accessToken.split(".")[1], "base64url").toString()).roles;
    expect(roles).toEqual(["admin"]);

    const ended = await call("RevokeUserSessions", { userId: id }, adminSession.accessToken);
    expect([ended.status, ended.body.revokedSessions]).toEqual([200, 1]);
    expect(await refusedWithin(refreshed.body.accessToken, id)).toBeLessThan(REVOCATION_DELAY_MS);
  });

  it("keeps a browser's refresh token in an HttpOnly, Secure, SameSite=Strict cookie on the refresh path, out of the answers", async () => {
    const { username } = await register("ck");
    const cookieMode = { "x-chirp-refresh-cookie": "1" };
    const loggedIn = await call("Login", { usernameOrEmail: username, password: "correct horse" }, undefined, cookieMode);
    expect(loggedIn.status).toBe(200);
    expect(loggedIn.body.refreshToken).toBeUndefined();
    const cookie = loggedIn.headers.get("set-cookie")!;
    expect(cookie).toMatch(new RegExp(`^chirp_refresh=[0-9A-Z]{26}\\.${loggedIn.body.sessionId}\\.[A-Za-z0-9_-]{43}; Path=/${USERS}/RefreshSession; Max-Age=\\d+; HttpOnly; Secure; SameSite=Strict$`));
    const value = cookie.split(";")[0]!;

    const refreshed = await call("RefreshSession", {}, undefined, { ...cookieMode, cookie: `other=1; ${value}` });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refreshToken).toBeUndefined();
    const next = refreshed.headers.get("set-cookie")!.split(";")[0]!;
    expect(next).not.toBe(value);
    // The used cookie again is a reuse: the session ends and the cookie is cleared.
    const reused = await call("RefreshSession", {}, undefined, { ...cookieMode, cookie: value });
    expect(reused.status).toBe(401);
    expect(reused.headers.get("set-cookie")).toMatch(/^chirp_refresh=; Path=.*; Max-Age=0; HttpOnly; Secure; SameSite=Strict$/);

    const again = await call("Login", { usernameOrEmail: username, password: "correct horse" }, undefined, cookieMode);
    const out = await call("Logout", {}, again.body.accessToken, cookieMode);
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/^chirp_refresh=; .*Max-Age=0/);
    // Without the header, the token is in the answer as the contract says.
    expect((await call("Login", { usernameOrEmail: username, password: "correct horse" })).body.refreshToken).toMatch(/\./);
  });

  it("stands up to an attacker: forged, oversized and other users' tokens and session ids", async () => {
    const victim = await register("vic");
    const victimSession = await login(victim.username);
    const mallory = await register("mal");
    const mallorySession = await login(mallory.username);

    // Another user's session id: not found, and the session lives on.
    const revoke = await call("RevokeSession", { sessionId: victimSession.sessionId }, mallorySession.accessToken);
    expect([revoke.status, revoke.body.code]).toEqual([404, "not_found"]);
    // A refresh token made of the victim's ids and a guessed secret: refused, and ends nothing.
    const [userId, sessionId] = victimSession.refreshToken.split(".");
    const guessed = await call("RefreshSession", { refreshToken: `${userId}.${sessionId}.${"A".repeat(43)}` });
    expect([guessed.status, guessed.body.message]).toEqual([401, "refresh_token: is not valid"]);
    expect((await call("GetUser", { id: victim.id }, victimSession.accessToken)).status).toBe(200);
    // Oversized and malformed refresh tokens: INVALID_ARGUMENT naming the field.
    for (const refreshToken of ["x".repeat(60_000), "a.b.c", `${userId}.${sessionId}.${"A".repeat(43)}.${"B".repeat(10)}`]) {
      const answer = await call("RefreshSession", { refreshToken });
      expect([answer.status, answer.body.message]).toEqual([400, "refresh_token: is not a refresh token"]);
    }
    // An access token whose claims were changed to name the victim's session: the signature fails.
    const [header, payload, signature] = mallorySession.accessToken.split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: victim.id, sid: victimSession.sessionId })).toString("base64url")}.${signature}`;
    expect((await call("GetUser", { id: victim.id }, forged)).status).toBe(401);
    // Logging out with one's own token ends only one's own session.
    expect((await call("Logout", {}, mallorySession.accessToken)).status).toBe(200);
    expect((await call("GetUser", { id: victim.id }, victimSession.accessToken)).status).toBe(200);
  });

  it("slows repeated failed logins for one account down, alike for an unknown one", async () => {
    const { username } = await register("thr");
    for (const name of [username, `nobody_${Math.random().toString(36).slice(2, 8)}`]) {
      const codes: number[] = [];
      for (let i = 0; i < 6; i++) codes.push((await call("Login", { usernameOrEmail: name, password: "wrong password" })).status);
      expect(codes).toEqual([401, 401, 401, 401, 401, 429]);
    }
    await eventually(async () => expect((await call("Login", { usernameOrEmail: username, password: "correct horse" })).status).toBe(200), 3_000, 100);
  });
}

describe("sessions through the gateway of the embedded mesh (in-process bus)", () => {
  sessionsStory(() => startMesh({ env: { PASSWORD_HASH_COST: "4", WRITE_BURST: "1000" }, log: createLogger("mesh", "silent"), loopback: true }));
});

describeWith(["MONGODB_URI", "NATS_URL"], "sessions through the gateway of the mesh on MongoDB and JetStream", ({ MONGODB_URI, NATS_URL }) => {
  sessionsStory(() =>
    startMesh({
      env: { MONGODB_URI, NATS_URL, PASSWORD_HASH_COST: "4", WRITE_BURST: "1000" },
      log: createLogger("mesh", "silent"),
      loopback: true,
      run: uniqueName("sessions"),
    }),
  );
});

describeWith(["NATS_URL"], "a gateway that starts after a revocation (JetStream)", ({ NATS_URL }) => {
  let mesh: Mesh;
  let late: GatewayApp | undefined;
  beforeAll(async () => {
    mesh = await startMesh({ env: { NATS_URL, PASSWORD_HASH_COST: "4" }, log: createLogger("mesh", "silent"), loopback: true, run: uniqueName("late_gw") });
  }, 60_000);
  afterAll(async () => {
    await late?.stop();
    await mesh?.stop();
  });

  it("refuses the revoked session's tokens from its first call: it replays the last day of revocations", async () => {
    const post = async (port: number, method: string, body: object, token?: string) => {
      const response = await fetch(`http://127.0.0.1:${port}/${USERS}/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, any> };
    };
    const port = mesh.gateway.httpPort;
    const username = `late_${Math.random().toString(36).slice(2, 8)}`;
    const created = await post(port, "CreateUser", { username, email: `${username}@example.org`, password: "correct horse" });
    const session = (await post(port, "Login", { usernameOrEmail: username, password: "correct horse" })).body;
    expect((await post(port, "Logout", {}, session.accessToken)).status).toBe(200);
    await eventually(async () => expect((await post(port, "GetUser", { id: created.body.user.id }, session.accessToken)).status).toBe(401));

    const publicKey = (mesh.apps.users.publicKey as KeyObject).export({ type: "spki", format: "pem" }).toString();
    late = await startGateway(
      gatewayConfig({ NATS_URL, USERS_ADDRESS: mesh.addresses.users, HTTP_HOST: "127.0.0.1", HTTP_PORT: "0", HTTP2_PORT: "0", AUTH_PUBLIC_KEY: publicKey, ...mesh.certificates.envOf("gateway") }),
      { log: createLogger("gateway", "silent") },
    );
    // Replayed before the first call is answered, or within moments of it.
    await eventually(async () => expect((await post(late!.httpPort, "GetUser", { id: created.body.user.id }, session.accessToken)).status).toBe(401), 2_000, 10);
  });
});
