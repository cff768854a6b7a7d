import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLogger } from "@chirp/kit";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";
import { DEMO_PASSWORD, seedDemo } from "../src/demo.js";
import { startMesh, type Mesh } from "../src/mesh.js";

const log = createLogger("mesh", "silent");

describe("the embedded mesh's demo data", () => {
  let mesh: Mesh | undefined;

  /** A fresh in-memory mesh, and the roles a login's token carries. */
  async function start() {
    mesh = await startMesh({ env: { PASSWORD_HASH_COST: "4" }, log, loopback: true });
    const url = `http://127.0.0.1:${mesh.gateway.httpPort}`;
    const users = createClient(UsersService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));
    const rolesOf = async (username: string) => {
      const { accessToken } = await users.login({ usernameOrEmail: username, password: DEMO_PASSWORD });
      const claims = JSON.parse(Buffer.from(accessToken.split(".")[1]!, "base64url").toString()) as { roles: string[] };
      return claims.roles;
    };
    return { url, users, rolesOf, seed: () => seedDemo(url, log, mesh!.roles) };
  }

  afterEach(async () => {
    await mesh?.stop();
    mesh = undefined;
  });

  it("makes ada an admin by her account's id, and nobody else", async () => {
    const demo = await start();
    await demo.seed();
    expect(await demo.rolesOf("ada")).toEqual(["admin"]);
    expect(await demo.rolesOf("grace")).toEqual([]);
    expect(await demo.rolesOf("linus")).toEqual([]);
  }, 30_000);

  it("grants nothing to an ada someone else registered first", async () => {
    const demo = await start();
    await demo.users.createUser({ username: "Ada", email: "ada@elsewhere.example", password: DEMO_PASSWORD });
    await demo.seed();
    expect(await demo.rolesOf("ada")).toEqual([]);
  }, 30_000);
});
