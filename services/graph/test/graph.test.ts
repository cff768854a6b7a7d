import { DomainError, newId, type ErrorCode } from "@chirp/kit";
import { decodeEvent } from "@chirp/kit/events";
import { accountsWithDeletions, domainFailure } from "@chirp/kit/testing";
import type { Graph } from "../src/domain/graph.js";
import type { GraphRepository } from "../src/domain/ports.js";
import { InMemoryGraphRepository } from "../src/storage/memory.js";
import { domainWithMemory, graphOn, newUserIds, recordedFor } from "./fixtures.js";

async function refused(promise: Promise<unknown>, code: ErrorCode, field?: string) {
  const error = await domainFailure(promise);
  expect(error.code).toBe(code);
  if (field) expect(error.message).toMatch(new RegExp(`^${field}: `));
  return error;
}

async function allFollowerIds(graph: Graph, userId: string, batchSize = 0, resumeToken = "") {
  const batches: string[][] = [];
  for await (const batch of graph.followerIdBatches({ userId, batchSize, resumeToken })) batches.push(batch.followerIds);
  return batches;
}

describe("Graph domain", () => {
  describe("follow and unfollow", () => {
    it("follows a known user once and announces it once", async () => {
      let recorded = 0;
      const { graph, repository, known } = domainWithMemory({ onEventsRecorded: () => (recorded += 1) });
      const [a, b] = (await known(2)) as [string, string];
      await graph.follow(a, b);
      await graph.follow(a, b);
      expect(await graph.getRelationship(a, b)).toEqual({ following: true, followedBy: false });
      expect(recorded).toBe(1);

      const [pending] = await repository.pending(10);
      const event = decodeEvent(pending!.message.data);
      expect(pending!.message.subject).toBe("chirp.graph.user_followed");
      expect(event.id).toBe(pending!.message.id);
      expect(event.payload).toEqual({ $case: "userFollowed", value: { followerId: a, followeeId: b, followedAt: expect.any(Date) } });
    });

    it("unfollows once and announces it once; unfollowing someone never followed changes nothing", async () => {
      let recorded = 0;
      const { graph, repository, known } = domainWithMemory({ onEventsRecorded: () => (recorded += 1) });
      const [a, b, c] = (await known(3)) as [string, string, string];
      await graph.follow(a, b);
      await graph.unfollow(a, b);
      await graph.unfollow(a, b);
      await graph.unfollow(a, c);
      await graph.unfollow(a, newId());
      expect(await graph.getRelationship(a, b)).toEqual({ following: false, followedBy: false });
      expect(await recordedFor(repository, a, b)).toEqual(["followed", "unfollowed"]);
      expect(recorded).toBe(2);
      const unfollowed = decodeEvent((await repository.pending(10))[1]!.message.data).payload;
      expect(unfollowed).toEqual({ $case: "userUnfollowed", value: { followerId: a, followeeId: b, unfollowedAt: expect.any(Date) } });
    });

    it("refuses bad input naming the field", async () => {
      const { graph, known } = domainWithMemory();
      const [a] = (await known(1)) as [string];
      await refused(graph.follow(a, ""), "INVALID_ARGUMENT", "followee_id");
      const bad = await refused(graph.follow(a, "not-an-id"), "INVALID_ARGUMENT", "followee_id");
      expect(bad.message).toBe("followee_id: is not a valid user id");
      await refused(graph.follow(a, a), "INVALID_ARGUMENT", "followee_id");
      await refused(graph.unfollow(a, a), "INVALID_ARGUMENT", "followee_id");
      await refused(graph.unfollow(a, "x"), "INVALID_ARGUMENT", "followee_id");
      await refused(graph.follow("not-an-id", a), "UNAUTHENTICATED");
    });

    it("refuses to follow a user it has not heard of, until it has", async () => {
      const { graph, known } = domainWithMemory();
      const [a] = (await known(1)) as [string];
      const newcomer = newId();
      await refused(graph.follow(a, newcomer), "NOT_FOUND", "followee_id");
      await graph.userCreated(newcomer);
      await graph.follow(a, newcomer);
      expect((await graph.getCounts(newcomer)).followers).toBe(1);
    });

    it("lets a caller it has not heard of yet follow: their token proves the account", async () => {
      const { graph, known } = domainWithMemory();
      const [b] = (await known(1)) as [string];
      const newcomer = newId();
      await graph.follow(newcomer, b);
      expect(await graph.getRelationship(newcomer, b)).toEqual({ following: true, followedBy: false });
    });
  });

  describe("lists", () => {
    it("pages followers and following newest relationship first with tokens bound to their query", async () => {
      const { graph, known } = domainWithMemory();
      const [star, ...fans] = (await known(6)) as [string, ...string[]];
      for (const fan of fans) await graph.follow(fan, star);

      const first = await graph.listFollowers({ userId: star, pageSize: 2, pageToken: "" });
      expect(first.entries.map((e) => e.userId)).toEqual([fans[4], fans[3]]);
      expect(first.entries[0]!.followedAt).toBeInstanceOf(Date);
      const second = await graph.listFollowers({ userId: star, pageSize: 2, pageToken: first.nextPageToken });
      expect(second.entries.map((e) => e.userId)).toEqual([fans[2], fans[1]]);
      const last = await graph.listFollowers({ userId: star, pageSize: 2, pageToken: second.nextPageToken });
      expect(last).toEqual({ entries: [expect.objectContaining({ userId: fans[0] })], nextPageToken: "" });

      const following = await graph.listFollowing({ userId: fans[0]!, pageSize: 0, pageToken: "" });
      expect(following).toEqual({ entries: [expect.objectContaining({ userId: star })], nextPageToken: "" });

      await refused(graph.listFollowing({ userId: star, pageSize: 2, pageToken: first.nextPageToken }), "INVALID_ARGUMENT", "page_token");
      await refused(graph.listFollowers({ userId: fans[0]!, pageSize: 2, pageToken: first.nextPageToken }), "INVALID_ARGUMENT", "page_token");
      await refused(graph.listFollowers({ userId: star, pageSize: 2, pageToken: "garbage" }), "INVALID_ARGUMENT", "page_token");
      await refused(graph.listFollowers({ userId: star, pageSize: -1, pageToken: "" }), "INVALID_ARGUMENT", "page_size");
      await refused(graph.listFollowing({ userId: "nope", pageSize: 2, pageToken: "" }), "INVALID_ARGUMENT", "user_id");
    });

    it("returns 20 by default and at most 100", async () => {
      const { graph, known } = domainWithMemory();
      const [star] = (await known(1)) as [string];
      for (const fan of newUserIds(105)) await graph.follow(fan, star);
      expect((await graph.listFollowers({ userId: star, pageSize: 0, pageToken: "" })).entries).toHaveLength(20);
      const capped = await graph.listFollowers({ userId: star, pageSize: 1_000, pageToken: "" });
      expect(capped.entries).toHaveLength(100);
      expect((await graph.listFollowers({ userId: star, pageSize: 1_000, pageToken: capped.nextPageToken })).entries).toHaveLength(5);
    });

    it("has no duplicates or gaps across pages while others follow and unfollow", async () => {
      const { graph, known } = domainWithMemory();
      const [star, ...fans] = (await known(7)) as [string, ...string[]];
      for (const fan of fans) await graph.follow(fan, star);
      const first = await graph.listFollowers({ userId: star, pageSize: 3, pageToken: "" });

      // Between the pages: newcomers follow, someone already seen leaves and comes back.
      for (const fan of newUserIds(4)) await graph.follow(fan, star);
      await graph.unfollow(fans[5]!, star);
      await graph.follow(fans[5]!, star);

      const second = await graph.listFollowers({ userId: star, pageSize: 3, pageToken: first.nextPageToken });
      expect(first.entries.map((e) => e.userId)).toEqual([fans[5], fans[4], fans[3]]);
      expect(second.entries.map((e) => e.userId)).toEqual([fans[2], fans[1], fans[0]]);
      expect(second.nextPageToken).toBe("");
    });
  });

  describe("relationships and counts", () => {
    it("tells both directions and counts both sides", async () => {
      const { graph, known } = domainWithMemory();
      const [a, b, c] = (await known(3)) as [string, string, string];
      await graph.follow(a, b);
      await graph.follow(b, a);
      await graph.follow(c, a);
      expect(await graph.getRelationship(a, b)).toEqual({ following: true, followedBy: true });
      expect(await graph.getRelationship(a, c)).toEqual({ following: false, followedBy: true });
      expect(await graph.getRelationship(a, a)).toEqual({ following: false, followedBy: false });
      expect(await graph.getCounts(a)).toEqual({ followers: 2, following: 1 });
      expect(await graph.getCounts(newId())).toEqual({ followers: 0, following: 0 });
      await refused(graph.getRelationship("x", a), "INVALID_ARGUMENT", "user_id");
      await refused(graph.getRelationship(a, ""), "INVALID_ARGUMENT", "other_id");
      await refused(graph.getCounts("x"), "INVALID_ARGUMENT", "user_id");
    });

    it("counts exactly while events wait to be relayed, as after a crash before the publish", async () => {
      const { graph, repository, known } = domainWithMemory();
      const [a, b, c] = (await known(3)) as [string, string, string];
      await graph.follow(a, c);
      await graph.follow(b, c);
      await graph.unfollow(a, c);
      expect((await repository.pending(10)).length).toBe(3);
      expect(await graph.getCounts(c)).toEqual({ followers: 1, following: 0 });
    });
  });

  describe("follower id batches", () => {
    it("streams every follower in batches of 1,000 by default and at most 10,000", async () => {
      const { graph, known } = domainWithMemory();
      const [star] = (await known(1)) as [string];
      const fans = newUserIds(10_050);
      for (const fan of fans) await graph.follow(fan, star);

      const batches = await allFollowerIds(graph, star);
      expect(batches.map((b) => b.length)).toEqual([...Array<number>(10).fill(1_000), 50]);
      expect(batches.flat().sort()).toEqual([...fans].sort());
      expect((await allFollowerIds(graph, star, 50_000)).map((b) => b.length)).toEqual([10_000, 50]);
    });

    it("resumes after the last batch received", async () => {
      const { graph, known } = domainWithMemory();
      const [star, ...fans] = (await known(9)) as [string, ...string[]];
      for (const fan of fans) await graph.follow(fan, star);
      const stream = graph.followerIdBatches({ userId: star, batchSize: 3, resumeToken: "" });
      const first = (await stream.next()).value!;
      await stream.return(undefined);

      const rest = await allFollowerIds(graph, star, 2, first.resumeToken);
      expect(rest.map((b) => b.length)).toEqual([2, 2, 1]);
      expect([...first.followerIds, ...rest.flat()]).toEqual([...fans].reverse());
    });

    it("sends nothing for a user without followers and refuses bad input naming the field", async () => {
      const { graph, known } = domainWithMemory();
      const [a, b, c] = (await known(3)) as [string, string, string];
      expect(await allFollowerIds(graph, a)).toEqual([]);
      await graph.follow(b, a);
      await graph.follow(c, a);
      const { value: batch } = await graph.followerIdBatches({ userId: a, batchSize: 1, resumeToken: "" }).next();
      await refused(allFollowerIds(graph, a, -1), "INVALID_ARGUMENT", "batch_size");
      await refused(allFollowerIds(graph, a, 0, "garbage"), "INVALID_ARGUMENT", "resume_token");
      await refused(allFollowerIds(graph, b, 0, batch!.resumeToken), "INVALID_ARGUMENT", "resume_token");
      await refused(allFollowerIds(graph, "x"), "INVALID_ARGUMENT", "user_id");
    });
  });

  describe("deleted users", () => {
    it("ends every follow from and to a deleted user and never lets them back", async () => {
      const { graph, known } = domainWithMemory();
      const [gone, a, b] = (await known(3)) as [string, string, string];
      await graph.follow(gone, a);
      await graph.follow(b, gone);
      await graph.follow(a, b);

      await graph.userDeleted(gone);
      await graph.userDeleted(gone);
      expect(await graph.getCounts(gone)).toEqual({ followers: 0, following: 0 });
      expect(await graph.getCounts(a)).toEqual({ followers: 0, following: 1 });
      expect(await graph.getCounts(b)).toEqual({ followers: 1, following: 0 });
      expect((await graph.listFollowing({ userId: b, pageSize: 0, pageToken: "" })).entries).toEqual([]);

      await refused(graph.follow(a, gone), "NOT_FOUND", "followee_id");
      await refused(graph.follow(gone, a), "PERMISSION_DENIED");
      // A UserCreated redelivered late must not bring them back.
      await graph.userCreated(gone);
      await refused(graph.follow(a, gone), "NOT_FOUND", "followee_id");
    });

    it("finishes a deletion cut short between the tombstone and the sweep when the event comes again", async () => {
      let crash = true;
      class CrashingRepository extends InMemoryGraphRepository {
        override async removeFollowsOf(userId: string) {
          if (crash) throw new Error("process killed");
          return super.removeFollowsOf(userId);
        }
      }
      const crashing = new CrashingRepository();
      const { graph, known } = graphOn(crashing);
      const [gone, a] = (await known(2)) as [string, string];
      await graph.follow(a, gone);
      await graph.follow(gone, a);

      await expect(graph.userDeleted(gone)).rejects.toThrow("process killed");
      // Meanwhile nobody can follow them, and counts still agree with the lists.
      await refused(graph.follow(newId(), gone), "NOT_FOUND", "followee_id");
      expect((await graph.getCounts(a)).followers).toBe((await graph.listFollowers({ userId: a, pageSize: 0, pageToken: "" })).entries.length);

      crash = false;
      await graph.userDeleted(gone);
      expect(await graph.getCounts(a)).toEqual({ followers: 0, following: 0 });
      expect(await graph.getCounts(gone)).toEqual({ followers: 0, following: 0 });
    });

    it("undoes a follow written just after the deletion swept past it, announcing both", async () => {
      let graph!: Graph;
      // The UserDeleted is handled between the follow's checks and its write.
      class RacingRepository extends InMemoryGraphRepository {
        override async follow(...args: Parameters<GraphRepository["follow"]>) {
          await graph.userDeleted(args[0].followeeId);
          return super.follow(...args);
        }
      }
      const repository = new RacingRepository();
      const setup = graphOn(repository);
      graph = setup.graph;
      const [a, gone] = (await setup.known(2)) as [string, string];

      await refused(graph.follow(a, gone), "NOT_FOUND", "followee_id");
      expect(await graph.getRelationship(a, gone)).toEqual({ following: false, followedBy: false });
      expect(await graph.getCounts(gone)).toEqual({ followers: 0, following: 0 });
      expect(await recordedFor(repository, a, gone)).toEqual(["followed", "unfollowed"]);
    });

    it("refuses follows and unfollows by an account the users service says is deleted, before its UserDeleted arrives", async () => {
      const users = accountsWithDeletions();
      const { graph, repository, known } = domainWithMemory({ accounts: users.accounts });
      const [gone, a, b] = (await known(3)) as [string, string, string];
      await graph.follow(gone, a);
      expect(users.asked).toEqual([gone]);

      users.deleted.add(gone);
      for (const write of [graph.follow(gone, b), graph.follow(gone, a), graph.unfollow(gone, a), graph.follow(gone, newId())]) {
        const error = await refused(write, "PERMISSION_DENIED");
        expect(error.message).toBe("your account has been deleted");
      }
      expect(await graph.getRelationship(gone, a)).toEqual({ following: true, followedBy: false });
      expect(await graph.getRelationship(gone, b)).toEqual({ following: false, followedBy: false });
      expect(await recordedFor(repository, gone, a)).toEqual(["followed"]);
      expect(await recordedFor(repository, gone, b)).toEqual([]);
      // Others are asked about as themselves, and still follow the deleted user until the event comes.
      await graph.follow(a, gone);
      expect(users.asked.at(-1)).toBe(a);
    });

    it("writes nothing when the users service cannot say whether the caller is live", async () => {
      const unsure = { isLive: async () => Promise.reject(new DomainError("UNAVAILABLE", "the users service did not answer")) };
      const { graph, repository, known } = domainWithMemory({ accounts: unsure });
      const [a, b] = (await known(2)) as [string, string];
      await refused(graph.follow(a, b), "UNAVAILABLE");
      await refused(graph.unfollow(a, b), "UNAVAILABLE");
      expect(await recordedFor(repository, a, b)).toEqual([]);
    });

    it("refuses events that name no valid user", async () => {
      const { graph } = domainWithMemory();
      await refused(graph.userCreated("garbage"), "INVALID_ARGUMENT", "user_id");
      await refused(graph.userDeleted(""), "INVALID_ARGUMENT", "user_id");
    });
  });
});
