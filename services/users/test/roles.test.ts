import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { newId, TokenVerifier } from "@chirp/kit";
import { unary } from "@chirp/kit/grpc";
import { UsersServiceClient } from "@chirp/proto/grpc/chirp/users/v1/users";
import { asCaller, testChannel, testIdentityEnv, testLogger } from "@chirp/kit/testing";
import { startUsers, type UsersApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { newUser, TEST_HASH_COST, testConfig, tokenSettings } from "./fixtures.js";

describe("roles are never granted by a name someone can register", () => {
  let app: UsersApp;
  let client: UsersServiceClient;

  // A service of its own per case: "ROOT" and "root" are one username.
  beforeEach(async () => {
    // What an older deployment configured: admin by username. The setting must grant nothing now.
    const config = loadConfig({
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: "0",
      LOG_LEVEL: "silent",
      PASSWORD_HASH_COST: String(TEST_HASH_COST),
      AUTH_ISSUER: tokenSettings.issuer,
      AUTH_AUDIENCE: tokenSettings.audience,
      ADMIN_USERNAMES: "root",
      ...testIdentityEnv("users"),
    });
    app = await startUsers(config, { log: testLogger() });
    client = new UsersServiceClient(`127.0.0.1:${app.port}`, testChannel());
  });

  afterEach(async () => {
    client.close();
    await app.stop();
  });

  it.each(["ROOT", "root"])("gives a newly registered %s no role at login", async (username) => {
    const input = newUser({ username });
    await unary(client, client.createUser, input);
    const { accessToken } = await unary(client, client.login, { usernameOrEmail: username, password: input.password, deviceLabel: "" });
    expect(new TokenVerifier([app.publicKey], tokenSettings).verify(accessToken).roles).toEqual([]);
  });
});

describe("SetUserRoles over gRPC", () => {
  let app: UsersApp;
  let client: UsersServiceClient;
  let verifier: TokenVerifier;

  /** What the gateway sends for a verified token. */
  const as = (id: string, roles: string[]) => {
    return asCaller(id, { roles });
  };
  const setRoles = (userId: string, roles: string[], md = new Metadata()) => unary(client, client.setUserRoles, { userId, roles }, md);

  async function register() {
    const input = newUser();
    const { user } = await unary(client, client.createUser, input);
    const login = async () => {
      const { accessToken } = await unary(client, client.login, { usernameOrEmail: input.username, password: input.password, deviceLabel: "" });
      return verifier.verify(accessToken).roles;
    };
    return { id: user!.id, login };
  }

  async function refused(promise: Promise<unknown>, code: status, details: string): Promise<void> {
    const error = await promise.then(
      () => {
        throw new Error("expected the call to fail");
      },
      (e: ServiceError) => e,
    );
    expect([status[error.code], error.details]).toEqual([status[code], details]);
  }

  beforeAll(async () => {
    app = await startUsers(testConfig(), { log: testLogger() });
    client = new UsersServiceClient(`127.0.0.1:${app.port}`, testChannel());
    verifier = new TokenVerifier([app.publicKey], tokenSettings);
  });

  afterAll(async () => {
    client.close();
    await app.stop();
  });

  it("lets an admin set another account's roles, which its next login carries", async () => {
    const boss = await register();
    const user = await register();
    // The first admin comes from the operator, by account id.
    expect(await app.roles.grant(boss.id, "admin")).toMatchObject({ roles: ["admin"] });
    const bossRoles = await boss.login();
    expect(bossRoles).toEqual(["admin"]);

    expect(await user.login()).toEqual([]);
    expect((await setRoles(user.id, ["admin"], as(boss.id, bossRoles))).roles).toEqual(["admin"]);
    expect(await user.login()).toEqual(["admin"]);
    expect((await setRoles(user.id, [], as(boss.id, bossRoles))).roles).toEqual([]);
    expect(await user.login()).toEqual([]);
  });

  it("refuses callers without the admin role, and anonymous ones", async () => {
    const user = await register();
    const other = await register();
    await refused(setRoles(user.id, ["admin"], as(user.id, [])), status.PERMISSION_DENIED, "user_id: changing a user's roles needs the admin role");
    await refused(setRoles(other.id, ["admin"], as(user.id, ["beta", "administrator"])), status.PERMISSION_DENIED, "user_id: changing a user's roles needs the admin role");
    await refused(setRoles(user.id, ["admin"]), status.UNAUTHENTICATED, "this call needs an authenticated caller");
    expect(await user.login()).toEqual([]);
    expect(await other.login()).toEqual([]);
  });

  it("refuses unknown roles and unknown or malformed ids, naming the field", async () => {
    const boss = await register();
    await app.roles.grant(boss.id, "admin");
    const admin = as(boss.id, ["admin"]);
    const user = await register();
    await refused(setRoles(user.id, ["superuser"], admin), status.INVALID_ARGUMENT, 'roles[0]: "superuser" is not a role; roles are: admin');
    await refused(setRoles(user.id, Array(9).fill("admin"), admin), status.INVALID_ARGUMENT, "roles: may hold at most 8 roles");
    const unknown = newId();
    await refused(setRoles(unknown, ["admin"], admin), status.NOT_FOUND, `user_id: no user has id "${unknown}"`);
    await refused(setRoles("not-an-id", ["admin"], admin), status.INVALID_ARGUMENT, "user_id: is not a valid user id");
    expect(await user.login()).toEqual([]);
  });
});
