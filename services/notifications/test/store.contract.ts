import { newId } from "@chirp/kit";
import { groupKeyOf, type Activity, type Kind } from "../src/domain/model.js";
import type { NotificationStores } from "../src/domain/ports.js";

const T0 = Date.parse("2026-03-01T12:00:00Z");
export const at = (seconds: number) => new Date(T0 + seconds * 1_000);

/** An activity with fresh ids, for `recipientId` unless given. */
export function activity(kind: Kind, fields: Partial<Activity> = {}): Activity {
  const tweetId = fields.tweetId ?? (kind === "follow" ? "" : newId());
  const when = fields.at ?? at(0);
  const actorId = fields.actorId ?? newId();
  return {
    id: `${kind}:${newId()}`,
    recipientId: newId(),
    kind,
    groupKey: groupKeyOf(kind, when, tweetId),
    actorId,
    tweetId,
    replyToId: "",
    at: when,
    tweetIds: tweetId ? [tweetId] : [],
    ...fields,
  };
}

/** What every adapter of NotificationStores does, in memory and in MongoDB alike. */
export function notificationStoresContract(make: () => Promise<NotificationStores>): void {
  describe("activities", () => {
    it("writes an activity once, however often it is put, and reads it back", async () => {
      const { activities } = await make();
      const like = activity("like", { at: at(5) });
      expect(await activities.put(like)).toBe(true);
      expect(await activities.put(like)).toBe(false);
      expect(await activities.get(like.id)).toEqual({ ...like, on: true });
      expect(await activities.received(like.recipientId, 10)).toEqual([like]);
      expect(await activities.get("like:nothing")).toBeUndefined();
    });

    it("keeps the newest change of a row: an older put or switch-off loses, a newer one wins, an undo that comes first holds", async () => {
      const { activities } = await make();
      const like = activity("like", { at: at(10) });
      await activities.put(like);
      await activities.switchOff(like.id, at(5));
      expect(await activities.get(like.id)).toMatchObject({ on: true, at: at(10) });
      await activities.switchOff(like.id, at(20));
      expect(await activities.get(like.id)).toMatchObject({ on: false, at: at(20) });
      expect(await activities.received(like.recipientId, 10)).toEqual([]);
      expect(await activities.put({ ...like, at: at(15) })).toBe(false);
      expect(await activities.put({ ...like, at: at(30) })).toBe(true);
      expect(await activities.received(like.recipientId, 10)).toEqual([{ ...like, at: at(30) }]);

      // The unlike arrives before its like: the like, older, never shows.
      const late = activity("like", { at: at(40) });
      await activities.switchOff(late.id, at(41));
      expect(await activities.put(late)).toBe(false);
      expect(await activities.received(late.recipientId, 10)).toEqual([]);
      // A tie goes to the undo.
      const tie = activity("follow", { at: at(50) });
      await activities.put(tie);
      await activities.switchOff(tie.id, at(50));
      expect(await activities.get(tie.id)).toMatchObject({ on: false });
    });

    it("lists a recipient's activities that are on, newest first, up to a limit", async () => {
      const { activities } = await make();
      const recipientId = newId();
      const rows = [3, 1, 2].map((s) => activity("follow", { recipientId, at: at(s) }));
      for (const row of rows) await activities.put(row);
      await activities.put(activity("follow", { at: at(9) }));
      await activities.switchOff(rows[2]!.id, at(4));
      expect((await activities.received(recipientId, 10)).map((a) => a.at)).toEqual([at(3), at(1)]);
      expect((await activities.received(recipientId, 1)).map((a) => a.at)).toEqual([at(3)]);
    });

    it("trims a recipient's activities to the newest, leaving others' alone", async () => {
      const { activities } = await make();
      const recipientId = newId();
      for (let s = 0; s < 7; s += 1) await activities.put(activity("like", { recipientId, at: at(s) }));
      const other = activity("like", { at: at(0) });
      await activities.put(other);
      await activities.trim(recipientId, 4);
      expect((await activities.received(recipientId, 10)).map((a) => a.at)).toEqual([at(6), at(5), at(4), at(3)]);
      await activities.trim(recipientId, 4);
      expect(await activities.received(recipientId, 10)).toHaveLength(4);
      expect(await activities.received(other.recipientId, 10)).toEqual([other]);
    });

    it("removes what names a tweet, what a user received or did, and one row by id", async () => {
      const { activities } = await make();
      const [tweetId, userId, recipientId] = [newId(), newId(), newId()];
      const liked = activity("like", { recipientId, tweetId, tweetIds: [tweetId] });
      const reply = activity("reply", { recipientId, tweetIds: [newId(), tweetId] });
      const byUser = activity("follow", { recipientId, actorId: userId });
      const toUser = activity("mention", { recipientId: userId });
      const kept = activity("retweet", { recipientId });
      for (const row of [liked, reply, byUser, toUser, kept]) await activities.put(row);
      expect((await activities.byTweet(tweetId, ["reply"])).map((a) => a.id)).toEqual([reply.id]);
      await activities.removeByTweet(tweetId);
      await activities.removeByUser(userId);
      expect((await activities.received(recipientId, 10)).map((a) => a.id)).toEqual([kept.id]);
      expect(await activities.received(userId, 10)).toEqual([]);
      await activities.remove(kept.id);
      expect(await activities.received(recipientId, 10)).toEqual([]);
    });

    it("forgets off rows older than a time, and only those", async () => {
      const { activities } = await make();
      const [old, recent, on] = [activity("like", { at: at(1) }), activity("like", { at: at(1) }), activity("like", { at: at(1) })];
      for (const row of [old, recent, on]) await activities.put(row);
      await activities.switchOff(old.id, at(2));
      await activities.switchOff(recent.id, at(20));
      await activities.forgetOffBefore(at(10));
      expect(await activities.get(old.id)).toBeUndefined();
      expect(await activities.get(recent.id)).toMatchObject({ on: false });
      expect(await activities.get(on.id)).toMatchObject({ on: true });
    });

    it("counts every one of many actors acting on one post at once: no write is lost", async () => {
      const { activities } = await make();
      const [recipientId, tweetId] = [newId(), newId()];
      const likes = Array.from({ length: 40 }, (_, i) => activity("like", { recipientId, tweetId, tweetIds: [tweetId], at: at(i % 5) }));
      const written = await Promise.all(likes.map((like) => activities.put(like)));
      expect(written.every(Boolean)).toBe(true);
      // And half the likes' undos racing their own likes again: the undo, later, wins every time.
      await Promise.all(likes.slice(0, 20).flatMap((like) => [activities.switchOff(like.id, at(100)), activities.put({ ...like, at: at(50) })]));
      const left = await activities.received(recipientId, 100);
      expect(new Set(left.map((a) => a.actorId))).toEqual(new Set(likes.slice(20).map((l) => l.actorId)));
      expect(left).toHaveLength(20);
    });

    it("settles two first writes of one row racing each other on the newer", async () => {
      const { activities } = await make();
      for (let round = 0; round < 5; round += 1) {
        const like = activity("like", { at: at(1) });
        await Promise.all([activities.put(like), activities.switchOff(like.id, at(2))]);
        expect(await activities.get(like.id)).toMatchObject({ on: false, at: at(2) });
      }
    });
  });

  describe("deletions", () => {
    it("says whether any of some tweets or users was deleted, and forgets old tweet deletions", async () => {
      const { deletions } = await make();
      const [tweet, user, other] = [newId(), newId(), newId()];
      expect(await deletions.anyDeleted([tweet], [user])).toBe(false);
      await deletions.tweetDeleted(tweet, at(1));
      await deletions.tweetDeleted(tweet, at(1));
      await deletions.userDeleted(user);
      await Promise.all([deletions.userDeleted(other), deletions.userDeleted(other)]);
      expect(await deletions.anyDeleted([newId(), tweet], [])).toBe(true);
      expect(await deletions.anyDeleted([], [newId(), user])).toBe(true);
      expect(await deletions.anyDeleted([], [other])).toBe(true);
      expect(await deletions.anyDeleted([newId()], [newId()])).toBe(false);
      expect(await deletions.anyDeleted([], [])).toBe(false);
      await deletions.forgetTweetsBefore(at(2));
      expect(await deletions.anyDeleted([tweet], [])).toBe(false);
      expect(await deletions.anyDeleted([], [user])).toBe(true);
    });
  });

  describe("read marks", () => {
    it("only move forward, answer the mark after, and are forgotten", async () => {
      const { readMarks } = await make();
      const userId = newId();
      expect(await readMarks.get(userId)).toBeUndefined();
      expect(await readMarks.advance(userId, at(10))).toEqual(at(10));
      expect(await readMarks.advance(userId, at(5))).toEqual(at(10));
      expect(await readMarks.advance(userId, at(20))).toEqual(at(20));
      expect(await readMarks.get(userId)).toEqual(at(20));
      await readMarks.forget(userId);
      expect(await readMarks.get(userId)).toBeUndefined();
    });

    it("end on the latest of marks moved at once", async () => {
      const { readMarks } = await make();
      const userId = newId();
      await Promise.all([3, 9, 1, 7, 5].map((s) => readMarks.advance(userId, at(s))));
      expect(await readMarks.get(userId)).toEqual(at(9));
    });
  });
}
