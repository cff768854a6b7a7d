import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";
import { meshTlsConnection } from "@chirp/kit/grpc";
import { startFakeUsers, testLogger, testTls, type FakeUsers } from "@chirp/kit/testing";
import { BalancedTransport } from "../src/balanced-transport";

/** Each fake's share of `calls` calls made now, counted on the servers. */
async function spread(fakes: FakeUsers[], call: () => Promise<unknown>, calls: number): Promise<number[]> {
  const before = fakes.map((f) => f.calls);
  for (let i = 0; i < calls; i++) await call();
  return fakes.map((f, i) => f.calls - before[i]!);
}
const within = (share: number, expected: number) => share >= expected * 0.8 && share <= expected * 1.2;

describe("the gateway's transport to a service with three replicas", () => {
  let fakes: FakeUsers[] = [];
  const transports: BalancedTransport[] = [];
  const balanced = (address: string, lookup?: ConstructorParameters<typeof BalancedTransport>[0]["lookup"]) => {
    // Over mutual TLS as the gateway, as in the mesh: the fakes are the workload "users".
    const t = new BalancedTransport({
      address,
      log: testLogger(),
      lookup,
      resolveEveryMs: 500,
      secure: true,
      transportTo: (baseUrl) => createGrpcTransport({ baseUrl, nodeOptions: { createConnection: meshTlsConnection(testTls("gateway"), "users") } }),
    });
    transports.push(t);
    return t;
  };

  beforeEach(async () => {
    fakes = await Promise.all([startFakeUsers(), startFakeUsers(), startFakeUsers()]);
  });

  afterEach(async () => {
    for (const t of transports.splice(0)) t.close();
    await Promise.all(fakes.map((f) => f.stop()));
  });

  it("spreads calls over all three within ±20%, and moves off a killed one: reads are retried, so no caller sees it", async () => {
    const users = createClient(UsersService, balanced(fakes.map((f) => f.address).join(",")));
    const shares = await spread(fakes, () => users.getUser({ id: "u1" }, { timeoutMs: 2_000 }), 300);
    expect(shares.every((share) => within(share, 100))).toBe(true);

    fakes[0]!.kill();
    const started = Date.now();
    const after = await spread(fakes, () => users.getUser({ id: "u2" }, { timeoutMs: 2_000 }), 300);
    process.stdout.write(`300 calls after the kill took ${Date.now() - started} ms\n`);
    expect(after[0]).toBe(0);
    expect(within(after[1]!, 150) && within(after[2]!, 150)).toBe(true);
  });

  it("sends a call of any method whose connection was refused to another replica", async () => {
    const users = createClient(UsersService, balanced(fakes.map((f) => f.address).join(",")));
    fakes[1]!.kill();
    // Login has side effects, so only a refused connection (nothing sent) lets it go elsewhere. The
    // fakes do not implement it: UNIMPLEMENTED says a live replica answered, never UNAVAILABLE.
    for (let i = 0; i < 6; i++) await expect(users.login({ usernameOrEmail: "ada", password: "x" })).rejects.toThrow(/unimplemented/i);
  });

  it("follows replicas as they come and go", async () => {
    const listed = { replicas: fakes.slice(0, 2).map((f) => ({ host: "127.0.0.1", port: Number(f.address.split(":")[1]) })) };
    const transport = balanced("users.test:1", async () => listed.replicas);
    const users = createClient(UsersService, transport);
    const two = await spread(fakes, () => users.getUser({ id: "u1" }), 200);
    expect(two[2]).toBe(0);
    expect(within(two[0]!, 100) && within(two[1]!, 100)).toBe(true);

    listed.replicas = fakes.map((f) => ({ host: "127.0.0.1", port: Number(f.address.split(":")[1]) }));
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(transport.replicas()).toHaveLength(3);
    const three = await spread(fakes, () => users.getUser({ id: "u2" }), 300);
    expect(three.every((share) => within(share, 100))).toBe(true);
  });
});
