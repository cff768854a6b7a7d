import { newId } from "@chirp/kit";
import type { LikeChange, TweetCard } from "../src/domain/model.js";
import { TweetCards } from "../src/domain/tweet-cards.js";
import { InMemoryTimelineStore } from "../src/storage/memory.js";

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
  let store: InMemoryTimelineStore;
  let cards: TweetCards;
  const [alice, bob, carol] = [newId(), newId(), newId()];

  beforeEach(() => {
    store = new InMemoryTimelineStore(20);
    cards = new TweetCards(store);
  });

  it("renders tweets in the order asked, as the viewer sees them, with a retweet entry's original", async () => {
    const original = card(alice);
    const retweet = card(bob, { text: "", tags: [], retweetOfId: original.tweetId });
    const reply = card(carol, { text: "@alice indeed", mentions: ["alice"], replyToId: original.tweetId });
    for (const c of [original, retweet, reply]) await cards.tweetCreated(c);
    await cards.likeChanged(like(original.tweetId, carol));

    const { rendered, unknown } = await cards.render([retweet.tweetId, original.tweetId], carol);
    expect(unknown).toEqual([]);
    expect(rendered.map((t) => t.id)).toEqual([retweet.tweetId, original.tweetId]);
    const expected = { id: original.tweetId, authorId: alice, text: "hello #chirp", replyToId: "", retweetOfId: "", likeCount: 1, retweetCount: 1, replyCount: 1, likedByMe: true, retweetedByMe: false };
    expect(rendered[1]).toMatchObject(expected);
    expect(rendered[0]).toMatchObject({ id: retweet.tweetId, authorId: bob, retweetOfId: original.tweetId, likeCount: 0, retweetedTweet: expected });
    expect((await cards.render([original.tweetId], bob)).rendered[0]).toMatchObject({ likedByMe: false, retweetedByMe: true });
    expect((await cards.render([original.tweetId])).rendered[0]).toMatchObject({ likeCount: 1, likedByMe: false, retweetedByMe: false });
  });

  it("leaves deleted tweets out, and names only the ones it does not know as unknown", async () => {
    const kept = card(alice);
    const doomed = card(alice);
    const retweetOfDoomed = card(bob, { text: "", retweetOfId: doomed.tweetId });
    for (const c of [kept, doomed, retweetOfDoomed]) await cards.tweetCreated(c);
    await store.markTweetsDeleted([doomed.tweetId], new Date());
    await cards.tweetDeleted(doomed.tweetId);
    const neverSeen = newId();

    const { rendered, unknown } = await cards.render([neverSeen, doomed.tweetId, retweetOfDoomed.tweetId, kept.tweetId], alice);
    expect(rendered.map((t) => t.id)).toEqual([kept.tweetId]);
    expect(unknown).toEqual([neverSeen]);
  });

  it("lets deletions win over events that arrive late", async () => {
    const post = card(alice);
    await cards.tweetCreated(post);
    // A user deleted before their like or tweet arrives: neither is kept.
    await store.markUserDeleted(carol, new Date());
    await cards.userDeleted(carol);
    await cards.likeChanged(like(post.tweetId, carol));
    await cards.tweetCreated(card(carol));
    expect((await cards.render([post.tweetId])).rendered[0]).toMatchObject({ likeCount: 0 });

    // A tweet deleted before its creation is delivered is never kept.
    const late = card(bob);
    await store.markTweetsDeleted([late.tweetId], new Date());
    await cards.tweetCreated(late);
    expect(await store.cards([late.tweetId])).toEqual([]);
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
    await store.markUserDeleted(bob, new Date());
    await cards.userDeleted(bob);
    expect((await cards.render([post.tweetId])).rendered[0]).toMatchObject({ likeCount: 1 });
  });
});
