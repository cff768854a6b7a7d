import { createLogger } from "@chirp/kit";
import { InProcessEventBus, eventMessage } from "@chirp/kit/events";
import { eventually } from "@chirp/kit/testing";
import { DELETED_ACCOUNT_MS, followRevocations, Revocations } from "../src/revocations.js";

const NOW = 1_800_000_000_000;

describe("the gateway's deny-list", () => {
  it("refuses a revoked session's tokens until every one has expired, then forgets it", () => {
    const list = new Revocations();
    list.revokeSessions(["S1"], NOW + 930_000, NOW);
    expect(list.refuses({ sub: "U1", sid: "S1" }, NOW)).toBe(true);
    expect(list.refuses({ sub: "U1", sid: "S2" }, NOW)).toBe(false);
    expect(list.refuses({ sub: "U1" }, NOW)).toBe(false);
    expect(list.refuses({ sub: "U1", sid: "S1" }, NOW + 930_000)).toBe(false);
    expect(list.size).toBe(0);
  });

  it("refuses every token of a deleted account for the longest token lifetime, and bounds what an event may ask", () => {
    const list = new Revocations();
    list.accountDeleted("U2", NOW, NOW);
    expect(list.refuses({ sub: "U2", sid: "anything" }, NOW + DELETED_ACCOUNT_MS - 1)).toBe(true);
    expect(list.refuses({ sub: "U2" }, NOW + DELETED_ACCOUNT_MS)).toBe(false);
    // A revocation asking to be remembered for a year is kept a day at most; one already lapsed not at all.
    list.revokeSessions(["S3"], NOW + 365 * 86_400_000, NOW);
    list.revokeSessions(["S4"], NOW - 1, NOW);
    expect(list.size).toBe(1);
    list.sweep(NOW + DELETED_ACCOUNT_MS);
    expect(list.size).toBe(0);
  });

  it("stays bounded: past 200,000 entries the one that lapses soonest goes first", () => {
    const list = new Revocations(createLogger("test", "silent"));
    const ids = Array.from({ length: 200_001 }, (_, i) => `S${i}`);
    for (const [i, id] of ids.entries()) list.revokeSessions([id], NOW + 1_000 + i, NOW);
    expect(list.size).toBe(200_000);
    expect(list.refuses({ sub: "U", sid: "S0" }, NOW)).toBe(false);
    expect(list.refuses({ sub: "U", sid: "S200000" }, NOW)).toBe(true);
  });

  it("is filled from SessionsRevoked and UserDeleted on the bus", async () => {
    const bus = new InProcessEventBus(createLogger("test", "silent"));
    const list = new Revocations();
    const subscription = await followRevocations(bus, list, createLogger("test", "silent"));
    const expireBy = new Date(Date.now() + 60_000);
    await bus.publish(eventMessage({ $case: "sessionsRevoked", value: { userId: "U5", sessionIds: ["S5", "S6"], revokedAt: new Date(), accessTokensExpireBy: expireBy } }));
    await bus.publish(eventMessage({ $case: "userDeleted", value: { userId: "U7" } }));
    // Other events pass by.
    await bus.publish(eventMessage({ $case: "userCreated", value: { userId: "U8", username: "u8", displayName: "" } }));
    await eventually(() => expect([list.refuses({ sub: "U5", sid: "S6" }), list.refuses({ sub: "U7" }), list.refuses({ sub: "U8" })]).toEqual([true, true, false]));
    await subscription.stop();
  });

  it("replays the revocations of the last day when it starts, so a restarted gateway refuses what it refused before", async () => {
    const bus = new InProcessEventBus(createLogger("test", "silent"));
    const expireBy = new Date(Date.now() + 60_000);
    await bus.publish(eventMessage({ $case: "sessionsRevoked", value: { userId: "U9", sessionIds: ["S9"], revokedAt: new Date(), accessTokensExpireBy: expireBy } }));
    await bus.publish(eventMessage({ $case: "userDeleted", value: { userId: "U10" } }));
    const list = new Revocations();
    const subscription = await followRevocations(bus, list, createLogger("test", "silent"));
    await eventually(() => expect([list.refuses({ sub: "U9", sid: "S9" }), list.refuses({ sub: "U10" })]).toEqual([true, true]));
    await subscription.stop();
  });
});
