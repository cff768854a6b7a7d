import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, defineConfig, serviceSettings } from "@chirp/kit";
import { connectMongo, credentialOptions } from "@chirp/kit/mongo";
import { describeWith, uniqueName } from "@chirp/kit/testing";

/**
 * A service's own MongoDB user: MONGODB_USERNAME and MONGODB_PASSWORD (or its file) reach the
 * driver, authenticated against the service's own database, and the password is never logged.
 * FerretDB (the stand-in here) accepts only the PLAIN mechanism and any password, so what is
 * shown against it is that the credentials reach the server; that a wrong password or another
 * database is refused needs a real mongod (k8s/README.md).
 */
describe("a service's MongoDB user, as the driver gets it", () => {
  it("authenticates against the service's own database, unless the URI names an authSource", () => {
    expect(credentialOptions("mongodb://db:27017", "chirp_tweets", { username: "tweets", password: "pw" })).toEqual({ auth: { username: "tweets", password: "pw" }, authSource: "chirp_tweets" });
    expect(credentialOptions("mongodb://db:27017/?authSource=admin", "chirp_tweets", { username: "tweets", password: "pw" })).toEqual({ auth: { username: "tweets", password: "pw" } });
    expect(credentialOptions("mongodb://db:27017", "chirp_tweets", {})).toEqual({});
  });

  it("refuses a user without a password and a password without a user", () => {
    expect(() => credentialOptions("mongodb://db", "d", { username: "tweets" })).toThrow("MONGODB_USERNAME and MONGODB_PASSWORD go together");
    expect(() => credentialOptions("mongodb://db", "d", { password: "pw" })).toThrow("MONGODB_USERNAME and MONGODB_PASSWORD go together");
  });

  it("reads the password inline or from MONGODB_PASSWORD_FILE", () => {
    const schema = defineConfig(serviceSettings("example", 50059));
    const dir = mkdtempSync(join(tmpdir(), "chirp-mongo-pw-"));
    try {
      writeFileSync(join(dir, "password"), "s3cret-from-file\n");
      const env = { MONGODB_URI: "mongodb://db:27017", MONGODB_USERNAME: "example" };
      expect(schema.load({ ...env, MONGODB_PASSWORD_FILE: join(dir, "password") }).mongo).toEqual({ uri: "mongodb://db:27017", database: "chirp_example", username: "example", password: "s3cret-from-file" });
      expect(schema.load({ ...env, MONGODB_PASSWORD: "inline" }).mongo?.password).toBe("inline");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeWith(["MONGODB_URI"], "a service's MongoDB user on the server", ({ MONGODB_URI }) => {
  /**
   * FerretDB takes PLAIN only (authSource $external) and hands the user to its PostgreSQL, whose
   * roles decide: the URI names the mechanism, the user and the password come from the settings.
   * The shared server's PostgreSQL has one role, `postgres`, and trusts its local socket, so the
   * password itself is not checked there.
   */
  const plain = () => {
    const url = new URL(MONGODB_URI);
    url.searchParams.set("authMechanism", "PLAIN");
    url.searchParams.set("authSource", "$external");
    return url.toString();
  };
  const capture = () => {
    const lines: string[] = [];
    const log = createLogger("credentials-test", "debug", new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
    return { log, text: () => lines.join("") };
  };

  it("reaches the server as that user, and the password appears in no log line", async () => {
    const password = `pw-${uniqueName("secret")}`;
    const { log, text } = capture();
    const database = uniqueName("kit_credentials");
    const connection = await connectMongo(plain(), database, log, database, undefined, { username: "postgres", password });
    try {
      const status = await connection.client.db("admin").command({ connectionStatus: 1 });
      expect(status.authInfo.authenticatedUsers).toEqual([{ user: "postgres", db: "$external" }]);
      await connection.db.collection("probe").insertOne({ ok: true });
      expect(await connection.db.collection("probe").countDocuments()).toBe(1);
    } finally {
      await connection.db.dropDatabase();
      await connection.close();
    }
    expect(text()).toContain('"user":"postgres"');
    expect(text()).not.toContain(password);
  });

  it("is refused as a user the server does not know, without the password in the error or the log", async () => {
    const password = `pw-${uniqueName("secret")}`;
    const { log, text } = capture();
    const refusal = await connectMongo(plain(), uniqueName("kit_credentials"), log, "refused", undefined, { username: "not_a_chirp_user", password }).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(refusal?.message).toMatch(/not_a_chirp_user/);
    expect(refusal?.message).not.toContain(password);
    expect(text()).not.toContain(password);
  });
});
