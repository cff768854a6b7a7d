import { newId } from "@chirp/kit";
import type { Entry, FollowChange, LikeChange, Post, ProfileCard, TweetCard } from "../src/domain/model.js";
import {
  timelineSlack,
  type CardStore,
  type CelebrityStore,
  type FanOutProgressStore,
  type FollowStore,
  type LikeStore,
  type PostStore,
  type ProfileStore,
  type TimelineEntries,
  type TimelineStores,
  type TombstoneStore,
} from "../src/domain/ports.js";

// The behaviour every adapter of each store must share, run against each adapter: what the
// fan-out, the reads and the live hub rely on, idempotency above all. One contract per port.

/** The timeline length every timelines store under the contract is opened with. */
export const CONTRACT_TIMELINE_LENGTH = 20;

/** Ids made in order sort in order: newer posts get greater ids. */
const ids = (count: number) => Array.from({ length: count }, () => newId());
const entry = (ownerId: string, post: Post): Entry => ({ ...post, ownerId });
const tweetIds = (posts: Post[]) => posts.map((p) => p.tweetId);

/** How to open a fresh store of each port. */
export type StoreOpeners = { [K in keyof TimelineStores]: () => Promise<TimelineStores[K]> };

/** Every port's contract, each against its own store. */
export function timelineStoresContract(open: StoreOpeners) {
  timelineEntriesContract(open.timelines);
  postStoreContract(open.posts);
  followStoreContract(open.follows);
  celebrityStoreContract(open.celebrities);
  cardStoreContract(open.cards);
  likeStoreContract(open.likes);
  profileStoreContract(open.profiles);
  tombstoneStoreContract(open.tombstones);
  fanOutProgressStoreContract(open.progress);
}

/** The posts projection: what the fan-out backfills from and readers merge celebrities' posts from. */
export function postStoreContract(open: () => Promise<PostStore>) {
  describe("posts", () => {
    let store: PostStore;

    beforeEach(async () => {
      store = await open();
    });

    it("are kept once and listed by author, newest first, within a range", async () => {
      const [alice, bob] = ids(2);
      const [p1, p2, p3, p4] = ids(4).map((tweetId, i) => ({ tweetId, authorId: i % 2 === 0 ? alice! : bob! }));
      for (const post of [p3!, p1!, p2!, p4!, p1!]) await store.savePost(post);
      expect(await store.postsBy([alice!], {}, 10)).toEqual([p3, p1]);
      expect(await store.postsBy([alice!, bob!], {}, 10)).toEqual([p4, p3, p2, p1]);
      expect(await store.postsBy([alice!, bob!], {}, 2)).toEqual([p4, p3]);
      expect(await store.postsBy([alice!, bob!], { before: p4!.tweetId, after: p1!.tweetId }, 10)).toEqual([p3, p2]);
      expect(await store.postsBy([], {}, 10)).toEqual([]);
    });

    it("find retweets of a tweet, and are removed by id or by author", async () => {
      const [alice, bob] = ids(2);
      const [original, retweet, other] = ids(3);
      await store.savePost({ tweetId: original!, authorId: alice! });
      await store.savePost({ tweetId: retweet!, authorId: bob!, retweetOfId: original! });
      await store.savePost({ tweetId: other!, authorId: bob! });
      expect(await store.retweetsOf([original!])).toEqual([retweet]);
      expect(await store.postsBy([bob!], {}, 10)).toEqual([{ tweetId: other, authorId: bob }, { tweetId: retweet, authorId: bob, retweetOfId: original }]);

      await store.removePosts([retweet!]);
      expect(await store.retweetsOf([original!])).toEqual([]);
      expect(await store.removePostsBy(bob!)).toEqual([other]);
      expect(await store.postsBy([alice!, bob!], {}, 10)).toEqual([{ tweetId: original, authorId: alice }]);
    });

    it("are trimmed to an author's newest", async () => {
      const [alice, bob] = ids(2);
      const posts = ids(5).map((tweetId) => ({ tweetId, authorId: alice! }));
      const bobs = { tweetId: newId(), authorId: bob! };
      for (const post of [...posts, bobs]) await store.savePost(post);
      await store.trimPosts(alice!, 3);
      expect(tweetIds(await store.postsBy([alice!], {}, 10))).toEqual(tweetIds(posts.slice(2)).reverse());
      expect(await store.postsBy([bob!], {}, 10)).toEqual([bobs]);
      await store.trimPosts(alice!, 3);
      expect(await store.postsBy([alice!], {}, 10)).toHaveLength(3);
    });
  });
}

/** Materialised home timelines. */
export function timelineEntriesContract(open: () => Promise<TimelineEntries>) {
  describe("timelines", () => {
    let store: TimelineEntries;

    beforeEach(async () => {
      store = await open();
    });

    it("hold one entry per owner and tweet, listed newest first within a range", async () => {
      const [owner, other, author] = ids(3);
      const posts = ids(4).map((tweetId) => ({ tweetId, authorId: author! }));
      await store.addEntries(posts.map((p) => entry(owner!, p)));
      await store.addEntries([entry(owner!, posts[1]!), entry(owner!, posts[1]!), entry(other!, posts[0]!)]);
      const newest = [...posts].reverse();
      expect(await store.entries(owner!, {}, 10)).toEqual(newest.map((p) => entry(owner!, p)));
      expect(tweetIds(await store.entries(owner!, {}, 2))).toEqual(tweetIds(newest.slice(0, 2)));
      expect(tweetIds(await store.entries(owner!, { before: posts[3]!.tweetId }, 10))).toEqual(tweetIds(newest.slice(1)));
      expect(tweetIds(await store.entries(owner!, { after: posts[1]!.tweetId }, 10))).toEqual(tweetIds(newest.slice(0, 2)));
      expect(tweetIds(await store.entries(other!, {}, 10))).toEqual([posts[0]!.tweetId]);
      expect(await store.entries(author!, {}, 10)).toEqual([]);
    });

    it("keep the retweet an entry stands for", async () => {
      const [owner, author, original] = ids(3);
      const retweet = { tweetId: newId(), authorId: author!, retweetOfId: original! };
      await store.addEntries([entry(owner!, retweet)]);
      expect(await store.entries(owner!, {}, 10)).toEqual([entry(owner!, retweet)]);
    });

    it("keep their newest entries, within the slack, however they grow", async () => {
      const [owner, quiet, author] = ids(3);
      const length = CONTRACT_TIMELINE_LENGTH;
      const posts = ids(length * 3).map((tweetId) => ({ tweetId, authorId: author! }));
      // One at a time and in batches, as fan-outs and backfills write them.
      for (const post of posts.slice(0, length)) await store.addEntries([entry(owner!, post)]);
      await store.addEntries(posts.slice(length).map((p) => entry(owner!, p)));
      await store.addEntries([entry(quiet!, posts[0]!)]);

      const kept = tweetIds(await store.entries(owner!, {}, 1_000));
      expect(kept.length).toBeGreaterThanOrEqual(length);
      expect(kept.length).toBeLessThanOrEqual(length + timelineSlack(length));
      expect(kept.slice(0, length)).toEqual(tweetIds(posts.slice(-length)).reverse());
      expect(tweetIds(await store.entries(quiet!, {}, 10))).toEqual([posts[0]!.tweetId]);
    });

    it("lose tweets everywhere, an author's posts per owner or everywhere, and whole timelines", async () => {
      const [o1, o2, alice, bob] = ids(4);
      const [a1, a2, b1] = [{ tweetId: newId(), authorId: alice! }, { tweetId: newId(), authorId: alice! }, { tweetId: newId(), authorId: bob! }];
      const fill = () => store.addEntries([o1!, o2!].flatMap((owner) => [a1, a2, b1].map((p) => entry(owner, p))));
      await fill();
      await store.removeEntriesOf([a1.tweetId]);
      expect(tweetIds(await store.entries(o1!, {}, 10))).toEqual([b1.tweetId, a2.tweetId]);
      expect(tweetIds(await store.entries(o2!, {}, 10))).toEqual([b1.tweetId, a2.tweetId]);

      await fill();
      await store.removeEntriesBy(alice!, o1!);
      expect(tweetIds(await store.entries(o1!, {}, 10))).toEqual([b1.tweetId]);
      expect(tweetIds(await store.entries(o2!, {}, 10))).toEqual([b1.tweetId, a2.tweetId, a1.tweetId]);
      await store.removeEntriesBy(alice!);
      expect(tweetIds(await store.entries(o2!, {}, 10))).toEqual([b1.tweetId]);

      await store.removeTimeline(o2!);
      expect(await store.entries(o2!, {}, 10)).toEqual([]);
      expect(tweetIds(await store.entries(o1!, {}, 10))).toEqual([b1.tweetId]);
    });
  });
}

/** The follows projection, idempotent under replays and races. */
export function followStoreContract(open: () => Promise<FollowStore>) {
  describe("follows", () => {
    let store: FollowStore;

    beforeEach(async () => {
      store = await open();
    });

    const change = (followerId: string, followeeId: string, following: boolean, at: number, eventId = newId(at)): FollowChange => ({
      followerId,
      followeeId,
      following,
      at: new Date(at),
      eventId,
    });

    it("apply the latest change of a pair whatever order they come in, and answer replays as current", async () => {
      const [reader, author] = ids(2);
      const now = Date.now();
      const follow = change(reader!, author!, true, now - 1_000);
      const unfollow = change(reader!, author!, false, now);
      expect(await store.applyFollow(unfollow)).toBe(true);
      expect(await store.applyFollow(follow)).toBe(false);
      expect(await store.isFollowing(reader!, author!)).toBe(false);
      expect(await store.applyFollow(unfollow)).toBe(true);

      const refollow = change(reader!, author!, true, now + 1_000);
      expect(await store.applyFollow(refollow)).toBe(true);
      expect(await store.isFollowing(reader!, author!)).toBe(true);
      expect(await store.applyFollow(refollow)).toBe(true);
      expect(await store.applyFollow(unfollow)).toBe(false);
      expect(await store.isFollowing(reader!, author!)).toBe(true);
    });

    it("order changes of the same millisecond by event id", async () => {
      const [reader, author] = ids(2);
      const at = Date.now();
      const [first, second] = [newId(at), newId(at)];
      expect(await store.applyFollow(change(reader!, author!, false, at, second!))).toBe(true);
      expect(await store.applyFollow(change(reader!, author!, true, at, first!))).toBe(false);
      expect(await store.isFollowing(reader!, author!)).toBe(false);
    });

    it("keep the newer of a pair's first two changes when they are applied at once", async () => {
      // Two consumers (replicas) handling a follow and its unfollow together, for 20 fresh pairs:
      // whichever creates the record first, the unfollow must win.
      const author = newId();
      const readers = ids(20);
      const now = Date.now();
      const answers = await Promise.all(
        readers.flatMap((reader) => [store.applyFollow(change(reader, author!, true, now)), store.applyFollow(change(reader, author!, false, now + 1))]),
      );
      expect(answers.filter((_, i) => i % 2 === 1)).toEqual(readers.map(() => true));
      expect(await store.followersAmong(author!, readers)).toEqual([]);
    });

    it("list whom a user follows and which candidates follow a user", async () => {
      const [reader, other, alice, bob, carol] = ids(5);
      const now = Date.now();
      for (const followee of [alice!, bob!, carol!]) await store.applyFollow(change(reader!, followee, true, now));
      await store.applyFollow(change(reader!, carol!, false, now + 1));
      await store.applyFollow(change(other!, alice!, true, now));
      expect((await store.followees(reader!)).sort()).toEqual([alice, bob].sort());
      expect((await store.followersAmong(alice!, [reader!, other!, bob!, reader!])).sort()).toEqual([reader, other].sort());
      expect(await store.followersAmong(carol!, [reader!])).toEqual([]);
      expect(await store.followersAmong(alice!, [])).toEqual([]);
    });

    it("forget a user's follows both ways", async () => {
      const [gone, reader, author] = ids(3);
      const now = Date.now();
      await store.applyFollow(change(gone!, author!, true, now));
      await store.applyFollow(change(reader!, gone!, true, now));
      await store.applyFollow(change(reader!, author!, true, now));
      await store.removeFollowsOf(gone!);
      expect(await store.followees(gone!)).toEqual([]);
      expect(await store.followees(reader!)).toEqual([author]);
      expect(await store.isFollowing(reader!, gone!)).toBe(false);
    });
  });
}

/** Celebrity marks. */
export function celebrityStoreContract(open: () => Promise<CelebrityStore>) {
  describe("celebrities", () => {
    let store: CelebrityStore;

    beforeEach(async () => {
      store = await open();
    });

    it("are marked from their oldest unfanned post, listed and unmarked", async () => {
      const [star, other] = ids(2);
      const [older, newer] = ids(2);
      expect(await store.celebrity(star!)).toBeUndefined();
      await store.markCelebrity(star!, newer!);
      await store.markCelebrity(star!, older!);
      await store.markCelebrity(star!, newer!);
      expect(await store.celebrity(star!)).toEqual({ authorId: star, since: older });
      expect(await store.celebritiesAmong([other!, star!, star!])).toEqual([star]);
      await store.unmarkCelebrity(star!);
      await store.unmarkCelebrity(star!);
      expect(await store.celebrity(star!)).toBeUndefined();
      expect(await store.celebritiesAmong([star!])).toEqual([]);
    });
  });
}

const card = (tweetId: string, authorId: string, extra: Partial<TweetCard> = {}): TweetCard => ({
  tweetId,
  authorId,
  text: `tweet ${tweetId} ✓ with @friend`,
  createdAt: new Date(Math.floor(Date.now() / 1000) * 1000),
  tags: ["chirp"],
  mentions: ["friend"],
  ...extra,
});
const like = (tweetId: string, userId: string, liking: boolean, at: number, eventId = newId()): LikeChange => ({ tweetId, userId, liking, at: new Date(at), eventId });

/** The tweets projection's cards: kept once, counted as retweet entries and replies. */
export function cardStoreContract(open: () => Promise<CardStore>) {
  describe("the tweets projection's cards", () => {
    let store: CardStore;
    const byId = (cards: TweetCard[]) => [...cards].sort((a, b) => (a.tweetId < b.tweetId ? -1 : 1));

    beforeEach(async () => {
      store = await open();
    });

    it("keeps each card once, as first saved, and finds them by id", async () => {
      const [alice, bob] = ids(2);
      const [post, reply, retweet, unknown] = ids(4);
      const saved = [card(post!, alice!), card(reply!, bob!, { replyToId: post! }), card(retweet!, bob!, { text: "", tags: [], mentions: [], retweetOfId: post! })];
      for (const c of [...saved, { ...saved[0]!, text: "edited by a replay" }]) await store.saveCard(c);
      expect(byId(await store.cards([unknown!, retweet!, post!, reply!, post!]))).toEqual(byId(saved));
      expect(await store.cards([])).toEqual([]);
    });

    it("counts retweet entries and replies, and tells a user's own retweets", async () => {
      const [alice, bob, carol] = ids(3);
      const [post, other, reply, retweet] = ids(4);
      await store.saveCard(card(post!, alice!));
      await store.saveCard(card(other!, alice!));
      await store.saveCard(card(reply!, bob!, { replyToId: post! }));
      await store.saveCard(card(retweet!, carol!, { text: "", retweetOfId: post! }));

      const counts = await store.retweetAndReplyCounts([post!, other!, reply!, post!]);
      expect(counts.get(post!)).toEqual({ retweetCount: 1, replyCount: 1 });
      expect(counts.get(other!)).toEqual({ retweetCount: 0, replyCount: 0 });
      expect(counts.get(reply!)).toEqual({ retweetCount: 0, replyCount: 0 });
      expect(await store.retweetedBy(carol!, [post!, other!])).toEqual(new Set([post]));
      expect(await store.retweetedBy(bob!, [post!, other!])).toEqual(new Set());
      expect(await store.retweetedBy(bob!, [])).toEqual(new Set());
    });

    it("forgets removed cards, with the retweets and replies they counted", async () => {
      const [alice, bob] = ids(2);
      const [post, kept, retweet, reply] = ids(4);
      await store.saveCard(card(post!, alice!));
      await store.saveCard(card(kept!, alice!));
      await store.saveCard(card(retweet!, bob!, { text: "", retweetOfId: kept! }));
      await store.saveCard(card(reply!, bob!, { replyToId: kept! }));
      await store.removeCards([post!, retweet!]);
      expect(await store.cards([post!, retweet!])).toEqual([]);
      expect(await store.cards([kept!, reply!])).toHaveLength(2);
      expect((await store.retweetAndReplyCounts([kept!])).get(kept!)).toEqual({ retweetCount: 0, replyCount: 1 });
      expect(await store.retweetedBy(bob!, [kept!])).toEqual(new Set());
    });
  });
}

/** The tweets projection's likes: applied by time, whatever order they arrive in, counted per tweet. */
export function likeStoreContract(open: () => Promise<LikeStore>) {
  describe("the tweets projection's likes", () => {
    let store: LikeStore;

    beforeEach(async () => {
      store = await open();
    });

    it("counts likes, and tells a user's own likes", async () => {
      const [bob, carol] = ids(2);
      const [post, other, reply] = ids(3);
      await store.applyLike(like(post!, bob!, true, 1_000));
      await store.applyLike(like(post!, carol!, true, 1_000));
      await store.applyLike(like(post!, carol!, false, 2_000));
      // A replay of the like, older than the unlike, changes nothing.
      await store.applyLike(like(post!, carol!, true, 1_000));
      await store.applyLike(like(other!, carol!, true, 1_500));

      const counts = await store.likeCounts([post!, other!, reply!, post!]);
      expect(counts.get(post!)).toBe(1);
      expect(counts.get(other!)).toBe(1);
      expect(counts.get(reply!)).toBe(0);
      expect(await store.likedBy(carol!, [post!, other!])).toEqual(new Set([other]));
      expect(await store.likedBy(bob!, [post!, other!])).toEqual(new Set([post]));
      expect(await store.likedBy(bob!, [])).toEqual(new Set());
    });

    it("applies a pair's likes and unlikes by time, then event id, whatever order they arrive in", async () => {
      const [fan] = ids(1);
      const [post] = ids(1);
      const [first, second] = ids(2);
      await store.applyLike(like(post!, fan!, false, 5_000, second!));
      await store.applyLike(like(post!, fan!, true, 5_000, first!));
      expect((await store.likeCounts([post!])).get(post!)).toBe(0);
      await store.applyLike(like(post!, fan!, true, 6_000));
      expect((await store.likeCounts([post!])).get(post!)).toBe(1);
      expect(await store.likedBy(fan!, [post!])).toEqual(new Set([post]));
    });

    it("forgets the likes of removed tweets, and a user's likes", async () => {
      const [bob, carol] = ids(2);
      const [post, kept] = ids(2);
      for (const tweetId of [post!, kept!]) {
        await store.applyLike(like(tweetId, bob!, true, 1_000));
        await store.applyLike(like(tweetId, carol!, true, 1_000));
      }
      await store.removeLikesOf([post!]);
      expect((await store.likeCounts([post!])).get(post!)).toBe(0);
      expect((await store.likeCounts([kept!])).get(kept!)).toBe(2);
      expect(await store.likedBy(bob!, [kept!, post!])).toEqual(new Set([kept]));

      await store.removeLikesBy(bob!);
      expect((await store.likeCounts([kept!])).get(kept!)).toBe(1);
      expect(await store.likedBy(carol!, [kept!, post!])).toEqual(new Set([kept]));
    });
  });
}

/** The profiles projection: the newest profile of each user, whatever order they arrive in. */
export function profileStoreContract(open: () => Promise<ProfileStore>) {
  describe("the profiles projection", () => {
    let store: ProfileStore;

    beforeEach(async () => {
      store = await open();
    });

    const profile = (userId: string, name: string, updatedAt: number, extra: Partial<ProfileCard> = {}): ProfileCard => ({
      userId,
      username: `user_${userId.slice(-6).toLowerCase()}`,
      displayName: name,
      bio: "",
      avatarUrl: "",
      createdAt: new Date(1_000),
      updatedAt: new Date(updatedAt),
      ...extra,
    });
    const byId = (profiles: ProfileCard[]) => [...profiles].sort((a, b) => (a.userId < b.userId ? -1 : 1));

    it("keeps each user's newest profile, whatever order they arrive in, and finds them by id", async () => {
      const [alice, bob, unknown] = ids(3);
      const created = profile(alice!, "Alice", 1_000);
      const renamed = profile(alice!, "Alice B. ✓", 3_000, { bio: "writes about birds", avatarUrl: "https://example.org/a.png" });
      const between = profile(alice!, "Al", 2_000);
      const bobs = profile(bob!, "Bob", 1_500);
      // Replays and late arrivals of older profiles come last: they must change nothing.
      for (const p of [created, renamed, bobs, renamed, between, created]) await store.saveProfile(p);
      expect(byId(await store.profiles([unknown!, bob!, alice!, alice!]))).toEqual(byId([renamed, bobs]));
      expect(await store.profiles([])).toEqual([]);
    });

    it("keeps a user's first createdAt: a profile change does not carry it", async () => {
      const [alice] = ids(1);
      await store.saveProfile(profile(alice!, "Alice", 1_000, { createdAt: new Date(1_000) }));
      await store.saveProfile(profile(alice!, "Alice B.", 2_000, { createdAt: new Date(999) }));
      expect(await store.profiles([alice!])).toEqual([profile(alice!, "Alice B.", 2_000, { createdAt: new Date(1_000) })]);
    });

    it("removes a user's profile, and only theirs", async () => {
      const [alice, bob] = ids(2);
      await store.saveProfile(profile(alice!, "Alice", 1_000));
      await store.saveProfile(profile(bob!, "Bob", 1_000));
      await store.removeProfile(alice!);
      await store.removeProfile(alice!);
      expect(await store.profiles([alice!, bob!])).toEqual([profile(bob!, "Bob", 1_000)]);
    });
  });
}

/** Tombstones, kept apart for tweets and users and forgotten after a cutoff. */
export function tombstoneStoreContract(open: () => Promise<TombstoneStore>) {
  describe("tombstones", () => {
    let store: TombstoneStore;

    beforeEach(async () => {
      store = await open();
    });

    it("record deleted tweets and users apart, and are forgotten after the cutoff", async () => {
      const [tweet, otherTweet, user] = ids(3);
      const longAgo = new Date(Date.now() - 10 * 86_400_000);
      await store.markTweetsDeleted([tweet!], longAgo);
      await store.markTweetsDeleted([tweet!], new Date());
      await store.markUserDeleted(user!, new Date());
      // A user id asked as a tweet id is not a deleted tweet, and the other way round.
      expect(await store.findTombstones({ tweetIds: [tweet!, otherTweet!, user!], userIds: [user!, tweet!] })).toEqual({ tweetIds: [tweet], userIds: [user] });
      expect(await store.findTombstones({ tweetIds: [], userIds: [] })).toEqual({ tweetIds: [], userIds: [] });

      await store.forgetBefore(new Date(Date.now() - 86_400_000));
      // The first deletion's time is kept, so the tweet's tombstone was old enough to go.
      expect(await store.findTombstones({ tweetIds: [tweet!], userIds: [user!] })).toEqual({ tweetIds: [], userIds: [user] });
    });
  });
}

/** Fan-out progress, kept until cleared or stale. */
export function fanOutProgressStoreContract(open: () => Promise<FanOutProgressStore>) {
  describe("fan-out progress", () => {
    let store: FanOutProgressStore;

    beforeEach(async () => {
      store = await open();
    });

    it("keep a fan-out's resume token until cleared or stale", async () => {
      const [done, abandoned, running] = ids(3);
      expect(await store.fanOutProgress(done!)).toBeUndefined();
      await store.saveFanOutProgress(done!, "first", new Date());
      await store.saveFanOutProgress(done!, "second", new Date());
      expect(await store.fanOutProgress(done!)).toBe("second");
      await store.clearFanOutProgress([done!]);
      expect(await store.fanOutProgress(done!)).toBeUndefined();

      await store.saveFanOutProgress(abandoned!, "old", new Date(Date.now() - 10 * 86_400_000));
      await store.saveFanOutProgress(running!, "new", new Date());
      await store.forgetBefore(new Date(Date.now() - 86_400_000));
      expect(await store.fanOutProgress(abandoned!)).toBeUndefined();
      expect(await store.fanOutProgress(running!)).toBe("new");
    });
  });
}
