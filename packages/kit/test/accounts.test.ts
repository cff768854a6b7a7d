import { newId } from "@chirp/kit";
import { UserAccounts } from "@chirp/kit/grpc";
import { domainFailure, startFakeUsers, testTls, type FakeUsers } from "@chirp/kit/testing";

describe("UserAccounts: is an account live, asked of the users service", () => {
  let users: FakeUsers;
  let accounts: UserAccounts;

  beforeAll(async () => {
    users = await startFakeUsers();
    // The default deadline: a loaded test machine may take over a second to open the channel.
    accounts = new UserAccounts(users.address, { tls: testTls("tweets") });
  });

  afterAll(async () => {
    accounts.close();
    await users.stop();
  });

  it("asks every time about a live account, since it may be deleted the next moment", async () => {
    const id = newId();
    const before = users.calls;
    expect(await accounts.isLive(id)).toBe(true);
    expect(await accounts.isLive(id)).toBe(true);
    expect(users.calls - before).toBe(2);
    users.deleted.add(id);
    expect(await accounts.isLive(id)).toBe(false);
  });

  it("keeps a deleted answer for good: deletion is final", async () => {
    const id = newId();
    users.deleted.add(id);
    const before = users.calls;
    expect(await accounts.isLive(id)).toBe(false);
    expect(await accounts.isLive(id)).toBe(false);
    expect(users.calls - before).toBe(1);
  });

  it("fails UNAVAILABLE, never answering live, when the users service is slower than its deadline", async () => {
    const impatient = new UserAccounts(users.address, { timeoutMs: 300, tls: testTls("tweets") });
    users.delayMs = 1_000;
    try {
      const failure = await domainFailure(impatient.isLive(newId()));
      expect([failure.code, failure.message]).toEqual(["UNAVAILABLE", "the users service did not answer whether your account is live; retry shortly"]);
    } finally {
      users.delayMs = 0;
      impatient.close();
    }
  });

  it("fails UNAVAILABLE when nothing listens at the address, and needs nothing there until asked", async () => {
    const spare = await startFakeUsers();
    const address = spare.address;
    await spare.stop();
    const nowhere = new UserAccounts(address, { timeoutMs: 1_000, tls: testTls("tweets") });
    try {
      expect((await domainFailure(nowhere.isLive(newId()))).code).toBe("UNAVAILABLE");
    } finally {
      nowhere.close();
    }
  });
});
