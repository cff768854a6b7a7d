import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { Metadata, status } from "@grpc/grpc-js";
import { TokenVerifier } from "@chirp/kit";
import { decodeEvent } from "@chirp/kit/events";
import { REQUEST_ID_KEY, unary } from "@chirp/kit/grpc";
import { UsersServiceClient, type User } from "@chirp/proto/grpc/chirp/users/v1/users";
import { asCaller, asGatewayForBuf, eventually, grpcFailure, serviceUnderTest } from "@chirp/kit/testing";
import { startUsers } from "../src/app.js";
import { newUser, testConfig, tokenSettings } from "./fixtures.js";

describe("UsersService over gRPC (in-process, in-memory storage)", () => {
  const service = serviceUnderTest({
    client: UsersServiceClient,
    start: ({ bus, log }) => startUsers(testConfig(), { log, bus }),
  });

  const call = {
    createUser: (req: Parameters<UsersServiceClient["createUser"]>[0]) => unary(service.client, service.client.createUser, req),
    login: (usernameOrEmail: string, password: string) => unary(service.client, service.client.login, { usernameOrEmail, password, deviceLabel: "" }),
    getUser: (id: string, md = new Metadata()) => unary(service.client, service.client.getUser, { id }, md),
    getUserByUsername: (username: string) => unary(service.client, service.client.getUserByUsername, { username }),
    batchGetUsers: (ids: string[]) => unary(service.client, service.client.batchGetUsers, { ids }),
    searchUsers: (usernamePrefix: string, pageSize: number, pageToken = "") =>
      unary(service.client, service.client.searchUsers, { usernamePrefix, pageSize, pageToken }),
    updateUser: (user: Partial<User> | undefined, updateMask: string[] | undefined, md = new Metadata()) =>
      unary(service.client, service.client.updateUser, { user: user as User | undefined, updateMask }, md),
    deleteUser: (id: string, md = new Metadata()) => unary(service.client, service.client.deleteUser, { id }, md),
  };

  async function register(overrides = {}) {
    const input = newUser(overrides);
    const { user } = await call.createUser(input);
    return { input, user: user! };
  }

  it("registers a user and shows the creator their email", async () => {
    const { input, user } = await register({ displayName: "Ann" });
    expect(user).toMatchObject({ username: input.username, email: input.email, displayName: "Ann", bio: "", avatarUrl: "" });
    expect(user.id).toMatch(/^[0-9A-Z]{26}$/);
    expect(user.createdAt).toBeInstanceOf(Date);
  });

  it("refuses bad registrations with INVALID_ARGUMENT naming the field", async () => {
    await grpcFailure(call.createUser(newUser({ username: "a!" })), status.INVALID_ARGUMENT, "username");
    await grpcFailure(call.createUser(newUser({ username: "" })), status.INVALID_ARGUMENT, "username");
    await grpcFailure(call.createUser(newUser({ email: "not-an-email" })), status.INVALID_ARGUMENT, "email");
    await grpcFailure(call.createUser(newUser({ password: "short" })), status.INVALID_ARGUMENT, "password");
    await grpcFailure(call.createUser(newUser({ displayName: "x".repeat(51) })), status.INVALID_ARGUMENT, "display_name");
  });

  it("refuses a 65,000-character display name on its size, before normalising or counting it", async () => {
    const huge = "x".repeat(65_000);
    const error = await grpcFailure(call.createUser(newUser({ displayName: huge })), status.INVALID_ARGUMENT, "display_name");
    expect(error.details).toMatch(/^display_name: must be at most \d+ bytes of UTF-8, got at least 65000$/);
    const { user } = await register();
    const update = await grpcFailure(call.updateUser({ id: user.id, displayName: huge }, ["display_name"], asCaller(user.id)), status.INVALID_ARGUMENT);
    expect(update.details).toMatch(/^user\.display_name: must be at most \d+ bytes/);
    await grpcFailure(call.createUser(newUser({ displayName: "\u202EadA\u200B" })), status.INVALID_ARGUMENT, "display_name");
    await grpcFailure(call.createUser(newUser({ email: "a\u0000\u0007b@e.com" })), status.INVALID_ARGUMENT, "email");
  });

  it("refuses a taken username or email with ALREADY_EXISTS naming the field", async () => {
    const { input } = await register();
    await grpcFailure(call.createUser(newUser({ username: input.username.toUpperCase() })), status.ALREADY_EXISTS, "username");
    await grpcFailure(call.createUser(newUser({ email: input.email })), status.ALREADY_EXISTS, "email");
  });

  it("logs in with a token the public key verifies, and refuses bad credentials alike", async () => {
    const { input, user } = await register();
    const result = await call.login(input.email, input.password);
    const claims = new TokenVerifier([service.app.publicKey], tokenSettings).verify(result.accessToken);
    expect(claims.sub).toBe(user.id);
    expect(result.expiresAt!.getTime()).toBe(claims.exp * 1000);
    expect(result.user?.id).toBe(user.id);

    const wrong = await grpcFailure(call.login(input.username, "wrong password"), status.UNAUTHENTICATED);
    const unknown = await grpcFailure(call.login("nobody_at_all", "wrong password"), status.UNAUTHENTICATED);
    expect(unknown.details).toBe(wrong.details);
    await grpcFailure(call.login("", "x"), status.INVALID_ARGUMENT, "username_or_email");
    await grpcFailure(call.login(input.username, ""), status.INVALID_ARGUMENT, "password");
  });

  it("gets users by id and username, hiding the email from others", async () => {
    const { input, user } = await register();
    expect((await call.getUser(user.id)).user).toMatchObject({ id: user.id, email: "" });
    expect((await call.getUser(user.id, asCaller(user.id))).user?.email).toBe(input.email);
    // A header naming the owner is believed by nobody: only their verified token shows the email.
    const forged = new Metadata();
    forged.set("x-chirp-caller-id", user.id);
    expect((await call.getUser(user.id, forged)).user?.email).toBe("");
    expect((await call.getUserByUsername(input.username.toUpperCase())).user?.id).toBe(user.id);
    await grpcFailure(call.getUser("bad id"), status.INVALID_ARGUMENT, "id");
    await grpcFailure(call.getUser("01M83VMQVV99P26KZM1TRZB034"), status.NOT_FOUND, "id");
    await grpcFailure(call.getUserByUsername("no way!"), status.INVALID_ARGUMENT, "username");
    await grpcFailure(call.getUserByUsername("nobody_at_all"), status.NOT_FOUND, "username");
  });

  it("batch-gets in order with missing ids listed, and bounds the batch", async () => {
    const a = await register();
    const b = await register();
    const missing = "01M83VMQVV99P26KZM1TRZB034";
    const result = await call.batchGetUsers([b.user.id, missing, a.user.id]);
    expect(result.users.map((u) => u.id)).toEqual([b.user.id, a.user.id]);
    expect(result.missingIds).toEqual([missing]);
    await grpcFailure(call.batchGetUsers([a.user.id, "nope"]), status.INVALID_ARGUMENT, "ids[1]");
    const tooMany = Array.from({ length: 101 }, (_, i) => `01M83VMQVV99P26KZM1TRZB${String(i).padStart(3, "0")}`);
    await grpcFailure(call.batchGetUsers(tooMany), status.INVALID_ARGUMENT, "ids");
  });

  it("searches by username prefix page by page", async () => {
    const prefix = `s${Date.now().toString(36).slice(-6)}`;
    for (const suffix of ["c", "a", "b"]) await register({ username: `${prefix}_${suffix}` });
    const first = await call.searchUsers(prefix, 2);
    expect(first.users.map((u) => u.username)).toEqual([`${prefix}_a`, `${prefix}_b`]);
    const second = await call.searchUsers(prefix, 2, first.nextPageToken);
    expect(second.users.map((u) => u.username)).toEqual([`${prefix}_c`]);
    expect(second.nextPageToken).toBe("");
    await grpcFailure(call.searchUsers(prefix, -1), status.INVALID_ARGUMENT, "page_size");
    await grpcFailure(call.searchUsers(prefix, 2, "garbage"), status.INVALID_ARGUMENT, "page_token");
    await grpcFailure(call.searchUsers("bad prefix", 2), status.INVALID_ARGUMENT, "username_prefix");
  });

  it("updates the caller's own profile through a field mask", async () => {
    const { user } = await register();
    const other = await register();
    const me = asCaller(user.id);
    const changed = await call.updateUser({ id: user.id, bio: "Hi there", displayName: "ignored" }, ["bio"], me);
    expect(changed.user).toMatchObject({ bio: "Hi there", displayName: user.displayName });

    await grpcFailure(call.updateUser({ id: user.id, bio: "x" }, ["bio"]), status.UNAUTHENTICATED);
    await grpcFailure(call.updateUser(undefined, ["bio"], me), status.INVALID_ARGUMENT, "user");
    await grpcFailure(call.updateUser({ id: other.user.id, bio: "x" }, ["bio"], me), status.PERMISSION_DENIED, "user.id");
    await grpcFailure(call.updateUser({ id: user.id, bio: "x" }, [], me), status.INVALID_ARGUMENT, "update_mask");
    await grpcFailure(call.updateUser({ id: user.id, username: "new_name" }, ["username"], me), status.INVALID_ARGUMENT, "update_mask");
    await grpcFailure(call.updateUser({ id: user.id, avatarUrl: "ftp://x" }, ["avatar_url"], me), status.INVALID_ARGUMENT, "user.avatar_url");
    await grpcFailure(call.updateUser({ id: "bad" }, ["bio"], me), status.INVALID_ARGUMENT, "user.id");
  });

  it("deletes only the caller's own account and announces it", async () => {
    const { user } = await register();
    const other = await register();
    await grpcFailure(call.deleteUser(user.id), status.UNAUTHENTICATED);
    await grpcFailure(call.deleteUser(other.user.id, asCaller(user.id)), status.PERMISSION_DENIED, "id");
    await call.deleteUser(user.id, asCaller(user.id));
    await grpcFailure(call.getUser(user.id), status.NOT_FOUND, "id");
    await grpcFailure(call.deleteUser(user.id, asCaller(user.id)), status.NOT_FOUND, "id");

    const announced = await eventually(() => {
      const cases = service.bus
        .messages("chirp.users.>")
        .map((m) => decodeEvent(m.data))
        .filter((e) => (e.payload?.value as { userId?: string }).userId === user.id)
        .map((e) => e.payload?.$case);
      expect(cases).toEqual(["userCreated", "userDeleted"]);
      return cases;
    });
    expect(announced).toHaveLength(2);
  });

  it("echoes the caller's request id, or makes one", async () => {
    const { user } = await register();
    const seen = (md: Metadata) =>
      new Promise<string>((resolve, reject) => {
        const c = service.client.getUser({ id: user.id }, md, (error) => error && reject(error));
        c.on("metadata", (response) => resolve(String(response.get(REQUEST_ID_KEY)[0])));
      });
    const md = new Metadata();
    md.set(REQUEST_ID_KEY, "req-test-123");
    expect(await seen(md)).toBe("req-test-123");
    expect(await seen(new Metadata())).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("describes itself through server reflection to a standard client", async () => {
    // Asynchronously: the server answering runs in this very process.
    const buf = join(__dirname, "../../../node_modules/.bin/buf");
    const { stdout: methods } = await promisify(execFile)(buf, ["curl", "--protocol", "grpc", ...asGatewayForBuf("users"), "--list-methods", `https://127.0.0.1:${service.app.port}`]);
    expect(methods.trim().split("\n")).toEqual(expect.arrayContaining(["chirp.users.v1.UsersService/CreateUser", "chirp.users.v1.UsersService/Login"]));
  });
});
