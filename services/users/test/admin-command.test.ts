import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { newId, TokenVerifier } from "@chirp/kit";
import { unary } from "@chirp/kit/grpc";
import { connectMongo, type MongoConnection } from "@chirp/kit/mongo";
import { UsersServiceClient } from "@chirp/proto/grpc/chirp/users/v1/users";
import { describeWith, eventually, testChannel, testLogger, uniqueName } from "@chirp/kit/testing";
import { runAdminCommand } from "../src/admin-command.js";
import { startUsers, type UsersApp } from "../src/app.js";
import { newUser, testConfig, tokenSettings } from "./fixtures.js";

/** The built command, as an operator runs it. `npm test` builds first. */
const ADMIN = join(__dirname, "../dist/admin.js");

async function run(args: string[], env: Record<string, string | undefined>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runAdminCommand(args, env, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("the admin command's arguments", () => {
  // Nothing listens on port 1: a command that tried to connect would fail differently, and later.
  const env = { MONGODB_URI: "mongodb://127.0.0.1:1/", LOG_LEVEL: "silent" };

  it("explains its usage for anything else than grant, revoke or show with their arguments", async () => {
    for (const args of [[], ["promote", newId(), "admin"], ["grant", newId()], ["show", newId(), "admin"], ["grant", newId(), "admin", "extra"]]) {
      const result = await run(args, env);
      expect([result.code, result.out]).toEqual([2, ""]);
      expect(result.err).toMatch(/^usage: node dist\/admin\.js/);
    }
  });

  it("refuses an unknown role or a malformed id before connecting to anything", async () => {
    expect(await run(["grant", newId(), "root"], env)).toEqual({ code: 2, out: "", err: 'role: "root" is not a role; roles are: admin' });
    expect(await run(["grant", "ROOT", "admin"], env)).toEqual({ code: 2, out: "", err: "user_id: is not a valid user id" });
  });

  it("needs the service's MongoDB: in memory, the accounts live in the service's own process", async () => {
    const result = await run(["grant", newId(), "admin"], { LOG_LEVEL: "silent" });
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/MONGODB_URI is required/);
  });
});

describeWith(["MONGODB_URI"], "the admin command against the users database", ({ MONGODB_URI }) => {
  const database = uniqueName("chirp_users_admin_test");
  const env = { MONGODB_URI, MONGODB_DATABASE: database, LOG_LEVEL: "silent" };
  let app: UsersApp;
  let client: UsersServiceClient;
  let connection: MongoConnection;

  beforeAll(async () => {
    app = await startUsers(testConfig({ mongo: { uri: MONGODB_URI, database, username: undefined, password: undefined } }), { log: testLogger() });
    client = new UsersServiceClient(`127.0.0.1:${app.port}`, testChannel());
    connection = await connectMongo(MONGODB_URI, database, testLogger());
  });

  afterAll(async () => {
    client.close();
    await app.stop();
    await connection.db.dropDatabase();
    await connection.close();
  });

  /** A registered account, once the relay is done with its document (FerretDB can lose one of two racing updates). */
  async function register() {
    const input = newUser();
    const { user } = await unary(client, client.createUser, input);
    await eventually(async () => {
      const doc = await connection.db.collection<{ _id: string; outbox: unknown[] }>("users").findOne({ _id: user!.id });
      expect(doc?.outbox).toEqual([]);
    });
    const rolesAtLogin = async () => {
      const { accessToken } = await unary(client, client.login, { usernameOrEmail: input.username, password: input.password, deviceLabel: "" });
      return new TokenVerifier([app.publicKey], tokenSettings).verify(accessToken).roles;
    };
    return { id: user!.id, username: input.username, rolesAtLogin };
  }

  it("grants and revokes a role on the account with that id, which its next login carries", async () => {
    const user = await register();
    expect(await user.rolesAtLogin()).toEqual([]);

    expect(await run(["grant", user.id, "admin"], env)).toEqual({ code: 0, out: `${user.id} (${user.username}): roles admin`, err: "" });
    expect(await user.rolesAtLogin()).toEqual(["admin"]);
    expect((await run(["grant", user.id, "admin"], env)).out).toBe(`${user.id} (${user.username}): roles admin`);
    expect(await run(["show", user.id], env)).toEqual({ code: 0, out: `${user.id} (${user.username}): roles admin`, err: "" });

    expect(await run(["revoke", user.id, "admin"], env)).toEqual({ code: 0, out: `${user.id} (${user.username}): no roles`, err: "" });
    expect(await user.rolesAtLogin()).toEqual([]);
  });

  it("refuses an id no account has", async () => {
    const unknown = newId();
    expect(await run(["grant", unknown, "admin"], env)).toEqual({ code: 1, out: "", err: `NOT_FOUND: user_id: no user has id "${unknown}"` });
  });

  it("runs as a built command with the service's environment", async () => {
    const user = await register();
    const { stdout } = await promisify(execFile)(process.execPath, [ADMIN, "grant", user.id, "admin"], { env: { PATH: process.env.PATH ?? "", ...env } });
    expect(stdout).toBe(`${user.id} (${user.username}): roles admin\n`);
    expect(await user.rolesAtLogin()).toEqual(["admin"]);
  });
});
