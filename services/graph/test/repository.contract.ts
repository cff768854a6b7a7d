import { newId, type OutboxStore } from "@chirp/kit";
import { decodeEvent } from "@chirp/kit/events";
import type { Graph } from "../src/domain/graph.js";
import type { Follow } from "../src/domain/model.js";
import type { GraphRepository } from "../src/domain/ports.js";
import { graphEvents } from "../src/events.js";
import { edgeKey } from "../src/storage/edge-key.js";
import { expectAlternating, graphOn, newUserIds, recordedFor } from "./fixtures.js";

export interface RepositoryUnderTest {
  repository: GraphRepository;
  outbox: OutboxStore;
}

function follow(followerId: string, followeeId: string, at = new Date()): Follow {
  return { followerId, followeeId, since: newId(at.getTime()), followedAt: at };
}

/** Every follower id through the domain's pages, checking no id comes twice. */
async function allFollowers(graph: Graph, userId: string, pageSize: number): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = "";
  do {
    const page = await graph.listFollowers({ userId, pageSize, pageToken });
    ids.push(...page.entries.map((e) => e.userId));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  expect(new Set(ids).size).toBe(ids.length);
  return ids;
}

/**
 * The behaviour every GraphRepository must share, run against each adapter: what the domain
 * relies on, including under concurrency, and the outbox semantics the relay relies on.
 */
export function graphRepositoryContract(open: () => Promise<RepositoryUnderTest>) {
  let repository: GraphRepository;
  let outbox: OutboxStore;

  beforeEach(async () => {
    ({ repository, outbox } = await open());
  });

  const start = (f: Follow) => repository.follow(f, graphEvents.followed(f));
  const end = (followerId: string, followeeId: string) =>
    repository.unfollow(followerId, followeeId, graphEvents.unfollowed(followerId, followeeId, new Date()));
  const pendingFor = async (followerId: string, followeeId: string) =>
    (await outbox.pending(10_000)).filter((p) => p.ownerId === edgeKey(followerId, followeeId));

  it("starts a relationship once: following again changes nothing and records nothing", async () => {
    const [a, b] = newUserIds(2) as [string, string];
    expect(await start(follow(a, b))).toBe(true);
    expect(await start(follow(a, b))).toBe(false);
    expect(await repository.isFollowing(a, b)).toBe(true);
    expect(await repository.isFollowing(b, a)).toBe(false);
    expect(await recordedFor(outbox, a, b)).toEqual(["followed"]);
  });

  it("ends a relationship once, and a re-follow begins a new one", async () => {
    const [a, b] = newUserIds(2) as [string, string];
    const first = follow(a, b);
    await start(first);
    expect(await end(a, b)).toBe(true);
    expect(await end(a, b)).toBe(false);
    expect(await repository.isFollowing(a, b)).toBe(false);
    expect(await repository.listFollowers(b, undefined, 10)).toEqual([]);

    const again = follow(a, b, new Date(Date.now() + 2_000));
    expect(await start(again)).toBe(true);
    expect(await repository.listFollowers(b, undefined, 10)).toEqual([again]);
    expect(again.since > first.since).toBe(true);
    expect(await recordedFor(outbox, a, b)).toEqual(["followed", "unfollowed", "followed"]);
  });

  it("lists active relationships newest first, before a cursor, up to a limit, on both sides", async () => {
    const [star, ...fans] = newUserIds(6) as [string, ...string[]];
    const follows = fans.map((fan) => follow(fan, star));
    for (const f of follows) await start(f);
    await end(fans[2]!, star);
    const expected = follows.filter((f) => f.followerId !== fans[2]).reverse();

    expect(await repository.listFollowers(star, undefined, 2)).toEqual(expected.slice(0, 2));
    expect(await repository.listFollowers(star, expected[1]!.since, 2)).toEqual(expected.slice(2, 4));
    expect(await repository.listFollowers(star, expected[3]!.since, 2)).toEqual([]);

    const fan = fans[0]!;
    const others = newUserIds(3);
    const followed = others.map((other) => follow(fan, other));
    for (const f of followed) await start(f);
    expect(await repository.listFollowing(fan, undefined, 10)).toEqual([...followed].reverse().concat([follows[0]!]));
    expect(await repository.listFollowing(fan, followed[2]!.since, 1)).toEqual([followed[1]]);
  });

  it("counts exactly the active relationships on each side", async () => {
    const [a, b, c] = newUserIds(3) as [string, string, string];
    await start(follow(a, b));
    await start(follow(a, c));
    await start(follow(c, b));
    await end(a, c);
    expect([await repository.countFollowers(b), await repository.countFollowing(b)]).toEqual([2, 0]);
    expect([await repository.countFollowers(a), await repository.countFollowing(a)]).toEqual([0, 1]);
    expect([await repository.countFollowers(c), await repository.countFollowing(c)]).toEqual([0, 1]);
  });

  it("keeps events with their edge in order, then drops an ended edge once they are relayed", async () => {
    const [a, b] = newUserIds(2) as [string, string];
    const f = follow(a, b);
    const followed = graphEvents.followed(f);
    await repository.follow(f, followed);
    await end(a, b);

    const pending = await pendingFor(a, b);
    expect(pending.map((p) => p.message.subject)).toEqual(["chirp.graph.user_followed", "chirp.graph.user_unfollowed"]);
    expect(Buffer.from(pending[0]!.message.data)).toEqual(Buffer.from(followed.data));
    expect(pending[0]!.ownerId).toBe(pending[1]!.ownerId);

    // Marking the second first changes nothing: only the owner's oldest goes.
    await outbox.markPublished(pending[1]!);
    expect(await pendingFor(a, b)).toHaveLength(2);
    await outbox.markPublished(pending[0]!);
    await outbox.markPublished(pending[1]!);
    expect(await pendingFor(a, b)).toEqual([]);

    // The ended edge is gone: a new follow starts from a clean record.
    expect(await start(follow(a, b))).toBe(true);
    expect(await recordedFor(outbox, a, b)).toEqual(["followed"]);
  });

  it("keeps an active edge once its events are relayed", async () => {
    const [a, b] = newUserIds(2) as [string, string];
    await start(follow(a, b));
    for (const p of await pendingFor(a, b)) await outbox.markPublished(p);
    expect(await repository.isFollowing(a, b)).toBe(true);
    expect(await repository.countFollowers(b)).toBe(1);
  });

  it("remembers users, and their deletion for good", async () => {
    const [a, b] = newUserIds(2) as [string, string];
    expect(await repository.userStatus(a)).toBe("unknown");
    await repository.rememberUser(a);
    await repository.rememberUser(a);
    expect(await repository.userStatus(a)).toBe("live");
    await repository.forgetUser(a);
    await repository.forgetUser(a);
    expect(await repository.userStatus(a)).toBe("deleted");
    await repository.rememberUser(a);
    expect(await repository.userStatus(a)).toBe("deleted");
    // Deletion may be heard of before creation.
    await repository.forgetUser(b);
    await repository.rememberUser(b);
    expect(await repository.userStatus(b)).toBe("deleted");
  });

  it("removes every follow from and to a user, idempotently, keeping unrelayed events until relayed", async () => {
    const [gone, a, b, c] = newUserIds(4) as [string, string, string, string];
    await start(follow(gone, a));
    await start(follow(gone, b));
    await start(follow(c, gone));
    await start(follow(a, b));
    for (const p of await pendingFor(gone, a)) await outbox.markPublished(p);

    await repository.removeFollowsOf(gone);
    await repository.removeFollowsOf(gone);
    expect([await repository.countFollowers(gone), await repository.countFollowing(gone)]).toEqual([0, 0]);
    expect(await repository.listFollowers(gone, undefined, 10)).toEqual([]);
    expect(await repository.listFollowing(gone, undefined, 10)).toEqual([]);
    expect(await repository.countFollowers(a)).toBe(0);
    expect((await repository.listFollowers(b, undefined, 10)).map((f) => f.followerId)).toEqual([a]);
    expect(await repository.countFollowing(c)).toBe(0);
    expect(await repository.isFollowing(a, b)).toBe(true);

    // The follows' own announcements still go out; then nothing of the removed edges is left.
    const stillPending = [...(await pendingFor(gone, b)), ...(await pendingFor(c, gone))];
    expect(stillPending.map((p) => decodeEvent(p.message.data).payload?.$case)).toEqual(["userFollowed", "userFollowed"]);
    for (const p of stillPending) await outbox.markPublished(p);
    expect([...(await pendingFor(gone, b)), ...(await pendingFor(c, gone)), ...(await pendingFor(gone, a))]).toEqual([]);
    expect(await start(follow(c, gone))).toBe(true);
    expect(await recordedFor(outbox, c, gone)).toEqual(["followed"]);
  });

  describe("under concurrency, through the domain", () => {
    it("flips one pair exactly once per change under 50 parallel follow, unfollow, follow sequences", async () => {
      const { graph, known } = graphOn(repository);
      const [a, b] = (await known(2)) as [string, string];
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          await graph.follow(a, b);
          await graph.unfollow(a, b);
          await graph.follow(a, b);
        }),
      );
      const { following } = await graph.getRelationship(a, b);
      const counts = await Promise.all([graph.getCounts(a), graph.getCounts(b)]);
      const expected = following ? 1 : 0;
      expect(counts.map((c) => [c.followers, c.following])).toEqual([[0, expected], [expected, 0]]);
      expect(await allFollowers(graph, b, 5)).toEqual(following ? [a] : []);
      expectAlternating(await recordedFor(outbox, a, b), following);

      await graph.follow(a, b);
      expect((await graph.getCounts(b)).followers).toBe(1);
      expect(await allFollowers(graph, b, 5)).toEqual([a]);
    });

    it("counts 100 concurrent followers exactly, some of whom unfollow at the same time", async () => {
      const { graph, known } = graphOn(repository);
      const [star, ...fans] = (await known(101)) as [string, ...string[]];
      const leaving = new Set(fans.filter((_, i) => i % 3 === 0));
      await Promise.all(
        fans.map(async (fan) => {
          await graph.follow(fan, star);
          if (leaving.has(fan)) await graph.unfollow(fan, star);
        }),
      );
      const staying = fans.filter((fan) => !leaving.has(fan));
      expect(await graph.getCounts(star)).toEqual({ followers: staying.length, following: 0 });
      const listed = await allFollowers(graph, star, 7);
      expect(listed).toHaveLength(staying.length);
      expect([...listed].sort()).toEqual([...staying].sort());
      for (const fan of [...leaving].slice(0, 5)) expect(await graph.getCounts(fan)).toEqual({ followers: 0, following: 0 });
      for (const fan of staying.slice(0, 5)) expect(await graph.getCounts(fan)).toEqual({ followers: 0, following: 1 });
    });
  });
}
