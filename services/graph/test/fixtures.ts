import { newId, type BusMessage, type OutboxStore } from "@chirp/kit";
import { everyoneLive, testConfigFrom } from "@chirp/kit/testing";
import { decodeEvent, eventMessage } from "@chirp/kit/events";
import { schema, type GraphConfig } from "../src/config.js";
import { Graph, type GraphDependencies } from "../src/domain/graph.js";
import type { GraphRepository } from "../src/domain/ports.js";
import { graphEvents } from "../src/events.js";
import { InMemoryGraphRepository } from "../src/storage/memory.js";

export const userCreated = (userId: string): BusMessage =>
  eventMessage({ $case: "userCreated", value: { userId, username: `u_${userId.slice(-8).toLowerCase()}`, displayName: "" } });
export const userDeleted = (userId: string): BusMessage => eventMessage({ $case: "userDeleted", value: { userId } });

/** Fresh user ids, as the users service would assign them. */
export const newUserIds = (count: number) => Array.from({ length: count }, () => newId());

/** The domain on a repository, and a way to make users known as their UserCreated would. */
export function graphOn(repository: GraphRepository, overrides: Partial<GraphDependencies> = {}) {
  const graph = new Graph({ repository, events: graphEvents, accounts: everyoneLive, ...overrides });
  const known = async (count: number) => {
    const ids = newUserIds(count);
    for (const id of ids) await graph.userCreated(id);
    return ids;
  };
  return { graph, known };
}

export function domainWithMemory(overrides: Partial<GraphDependencies> = {}) {
  const repository = new InMemoryGraphRepository();
  return { repository, ...graphOn(repository, overrides) };
}

/** Follow-event payloads recorded for one pair, oldest first, as "followed" / "unfollowed". */
export async function recordedFor(outbox: OutboxStore, followerId: string, followeeId: string): Promise<string[]> {
  return (await outbox.pending(10_000)).flatMap(({ message }) => {
    const payload = decodeEvent(message.data).payload;
    if (payload?.$case !== "userFollowed" && payload?.$case !== "userUnfollowed") return [];
    const pair = payload.value;
    return pair.followerId === followerId && pair.followeeId === followeeId ? [payload.$case === "userFollowed" ? "followed" : "unfollowed"] : [];
  });
}

/** Follows then unfollows alternate on an edge, beginning with a follow: only flipping writes announce. */
export function expectAlternating(events: string[], endsFollowing: boolean) {
  events.forEach((event, i) => expect(event).toBe(i % 2 === 0 ? "followed" : "unfollowed"));
  expect(events.length % 2 === 1).toBe(endsFollowing);
}

export const testConfig = (overrides: Partial<GraphConfig> = {}): GraphConfig => ({ ...testConfigFrom(schema), ...overrides });
