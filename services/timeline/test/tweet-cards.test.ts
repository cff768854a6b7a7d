import { newId } from "@chirp/kit";
import type { LikeChange, TweetCard } from "../src/domain/model.js";
import { TweetCards } from "../src/domain/tweet-cards.js";
import type { TimelineStores } from "../src/domain/ports.js";
import { memoryStores } from "../src/storage/memory.js";

const card = (authorId: string, extra: Partial<TweetCard> = {}): TweetCard => ({
  tweetId: newId(),
  authorId,
  text: "hello #chirp",
  createdAt: new Date(),
  tags: ["chirp"],
  mentions: [],
  ...extra,
});
const like = (tweetId: string, userId: string, liking = true, at = Date.now()): LikeChange => ({ tweetId, userId, liking, at: new Date(at), eventId: newId() });

describe("the tweets projection", () => {
  let stores: TimelineStores;
  let cards: TweetCards;
  const [alice, bob, carol] = [newId(), newId(), newId()];

  beforeEach(() => {
    stores = memoryStores(20);
    cards = new TweetCards(stores);
  });

  it("renders tweets in the order asked, as the viewer sees them, with a retweet entry's original", async () => {
    const original = card(alice);
    const retweet = card(bob, { text: "", tags: [], retweetOfId: original.tweetId });
    const reply = card(carol, { text: "@alice indeed", mentions: ["alice"], replyToId: original.tweetId });
    for (const c of [original, retweet, reply]) await cards.tweetCreated(c);
    await cards.likeChanged(like(original.tweetId, carol));

    const { rendered, unknown } = await cards.render([retweet.tweetId, original.tweetId], carol);
    expect(unknown).toEqual([]);
    expect(rendered.map((t) => t.card.tweetId)).toEqual([retweet.tweetId, original.tweetId]);
    const expected = { card: original, likeCount: 1, retweetCount: 1, replyCount: 1, likedByMe: true, retweetedByMe: false, retweetedTweet: undefined };
    expect(rendered[1]).toEqual(expected);
    expect(rendered[0]).toEqual({ card: retweet, likeCount: 0, retweetCount: 0, replyCount: 0, likedByMe: false, retweetedByMe: false, retweetedTweet: expected });
    expect((await cards.render([original.tweetId], bob)).rendered[0]).toMatchObject({ likedByMe: false, retweetedByMe: true });
    expect((await cards.render([original.tweetId])).rendered[0]).toMatchObject({ likeCount: 1, likedByMe: false, retweetedByMe: false });
  });

  it("leaves deleted tweets out, and names only the ones it does not know as unknown", async () => {
    const kept = card(alice);
    const doomed = card(alice);
    const retweetOfDoomed = card(bob, { text: "", retweetOfId: doomed.tweetId });
    for (const c of [kept, doomed, retweetOfDoomed]) await cards.tweetCreated(c);
    await stores.tombstones.markTweetsDeleted([doomed.tweetId], new Date());
    await cards.tweetDeleted(doomed.tweetId);
    const neverSeen = newId();

    const { rendered, unknown } = await cards.render([neverSeen, doomed.tweetId, retweetOfDoomed.tweetId, kept.tweetId], alice);
    expect(rendered.map((t) => t.card.tweetId)).toEqual([kept.tweetId]);
    expect(unknown).toEqual([neverSeen]);
  });

  it("forgets a deleted tweet with its likes", async () => {
    const post = card(alice);
    await cards.tweetCreated(post);
    await cards.likeChanged(like(post.tweetId, bob));
    await stores.tombstones.markTweetsDeleted([post.tweetId], new Date());
    await cards.tweetDeleted(post.tweetId);
    expect(await stores.cards.cards([post.tweetId])).toEqual([]);
    expect(await stores.likes.likedBy(bob, [post.tweetId])).toEqual(new Set());
    expect((await stores.likes.likeCounts([post.tweetId])).get(post.tweetId)).toBe(0);
  });

  it("lets deletions win over events that arrive late", async () => {
    const post = card(alice);
    await cards.tweetCreated(post);
    // A user deleted before their like or tweet arrives: neither is kept.
    await stores.tombstones.markUserDeleted(carol, new Date());
    await cards.userDeleted(carol);
    await cards.likeChanged(like(post.tweetId, carol));
    await cards.tweetCreated(card(carol));
    expect((await cards.render([post.tweetId])).rendered[0]).toMatchObject({ likeCount: 0 });

    // A tweet deleted before its creation is delivered is never kept.
    const late = card(bob);
    await stores.tombstones.markTweetsDeleted([late.tweetId], new Date());
    await cards.tweetCreated(late);
    expect(await stores.cards.cards([late.tweetId])).toEqual([]);
  });

  it("keeps a pair's newest like or unlike, whatever order they come in, and replays change nothing", async () => {
    const post = card(alice);
    await cards.tweetCreated(post);
    await cards.tweetCreated(post);
    const unlike = like(post.tweetId, bob, false, 2_000);
    await cards.likeChanged(unlike);
    await cards.likeChanged(like(post.tweetId, bob, true, 1_000));
    await cards.likeChanged(unlike);
    await cards.likeChanged(like(post.tweetId, carol, true, 1_000));
    expect((await cards.render([post.tweetId], bob)).rendered[0]).toMatchObject({ likeCount: 1, likedByMe: false });
  });

  it("forgets a deleted user's likes", async () => {
    const post = card(alice);
    await cards.tweetCreated(post);
    await cards.likeChanged(like(post.tweetId, bob));
    await cards.likeChanged(like(post.tweetId, carol));
    await stores.tombstones.markUserDeleted(bob, new Date());
    await cards.userDeleted(bob);
    expect((await cards.render([post.tweetId])).rendered[0]).toMatchObject({ likeCount: 1 });
  });
});
