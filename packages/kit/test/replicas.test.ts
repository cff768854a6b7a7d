import { RESOLVE_EVERY_MS, resolveReplicas, UserAccounts, type Replica } from "@chirp/kit/grpc";
import { startFakeUsers, testTls, type FakeUsers } from "@chirp/kit/testing";

const replicaOf = (fake: FakeUsers): Replica => ({ host: "127.0.0.1", port: Number(fake.address.split(":")[1]) });

/** Each fake's share of `calls` calls made now, counted on the servers. */
async function spread(fakes: FakeUsers[], call: () => Promise<unknown>, calls: number): Promise<number[]> {
  const before = fakes.map((f) => f.calls);
  for (let i = 0; i < calls; i++) await call();
  return fakes.map((f, i) => f.calls - before[i]!);
}

const within = (share: number, expected: number, tolerance = 0.2) => share >= expected * (1 - tolerance) && share <= expected * (1 + tolerance);

describe("resolveReplicas", () => {
  it("takes one host:port, a comma-separated list, and every address a name resolves to", async () => {
    expect(await resolveReplicas("127.0.0.1:50051")).toEqual([{ host: "127.0.0.1", port: 50051 }]);
    expect(await resolveReplicas("127.0.0.2:7, 127.0.0.1:8,127.0.0.1:8")).toEqual([
      { host: "127.0.0.1", port: 8 },
      { host: "127.0.0.2", port: 7 },
    ]);
    const lookup = async (host: string, port: number) => (host === "users" ? ["10.0.0.3", "10.0.0.1"].map((h) => ({ host: h, port })) : []);
    expect(await resolveReplicas("users:50051", lookup)).toEqual([
      { host: "10.0.0.1", port: 50051 },
      { host: "10.0.0.3", port: 50051 },
    ]);
    expect(await resolveReplicas("[::1]:9")).toEqual([{ host: "::1", port: 9 }]);
  });

  it("refuses what is not host:port, naming it", async () => {
    for (const bad of ["", "users", "users:0", "users:70000", "users:5:5", ","]) await expect(resolveReplicas(bad)).rejects.toThrow(/host:port/);
    await expect(resolveReplicas(Array.from({ length: 300 }, (_, i) => `127.0.0.1:${i + 1}`).join(","))).rejects.toThrow(/1 to 256/);
  });
});

describe("a grpc-js client of a service with three replicas", () => {
  let fakes: FakeUsers[] = [];
  const clients: UserAccounts[] = [];

  beforeEach(async () => {
    fakes = await Promise.all([startFakeUsers(), startFakeUsers(), startFakeUsers()]);
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all(fakes.map((f) => f.stop()));
  });

  it("spreads calls over all three within ±20%, and moves off a killed one without an error", async () => {
    const accounts = new UserAccounts(fakes.map((f) => f.address).join(","), { timeoutMs: 2_000, tls: testTls("tweets") });
    clients.push(accounts);
    await accounts.isLive("warm-up");
    const shares = await spread(fakes, () => accounts.isLive("u1"), 300);
    expect(shares.every((share) => within(share, 100))).toBe(true);

    fakes[1]!.kill();
    // Every call answers: one that met the dead replica is retried on another (GetUser has no side effects).
    const after = await spread(fakes, () => accounts.isLive("u2"), 300);
    expect(after[1]).toBe(0);
    expect(within(after[0]!, 150) && within(after[2]!, 150)).toBe(true);
  });

  it("follows replicas as they come and go, looked up again every few seconds", async () => {
    const listed = { replicas: fakes.slice(0, 2).map(replicaOf) };
    const accounts = new UserAccounts("users.test:1", { timeoutMs: 2_000, tls: testTls("tweets"), lookup: async () => listed.replicas });
    clients.push(accounts);
    await accounts.isLive("warm-up");
    const two = await spread(fakes, () => accounts.isLive("u1"), 200);
    expect(two[2]).toBe(0);
    expect(within(two[0]!, 100) && within(two[1]!, 100)).toBe(true);

    // A third replica appears (scaled up), then the first leaves (scaled down, still running).
    listed.replicas = fakes.map(replicaOf);
    await new Promise((resolve) => setTimeout(resolve, RESOLVE_EVERY_MS + 1_500));
    const three = await spread(fakes, () => accounts.isLive("u2"), 300);
    expect(three.every((share) => within(share, 100))).toBe(true);

    listed.replicas = fakes.slice(1).map(replicaOf);
    await new Promise((resolve) => setTimeout(resolve, RESOLVE_EVERY_MS + 1_500));
    const last = await spread(fakes, () => accounts.isLive("u3"), 200);
    expect(last[0]).toBe(0);
    expect(within(last[1]!, 100) && within(last[2]!, 100)).toBe(true);
  }, 30_000);
});
