import { domainFailure } from "@chirp/kit/testing";
import { World } from "./fixtures.js";

async function setUp(celebrityFollowers = 10_000) {
  const world = new World(undefined, { celebrityFollowers });
  const [reader, author] = [world.user("reader"), world.user("author")];
  await world.follow(reader, author);
  return { world, reader, author };
}

describe("reading a home timeline", () => {
  it("pages newest first and stays stable while new posts arrive: no entry repeats or is skipped", async () => {
    const { world, reader, author } = await setUp();
    const older = [];
    for (let i = 0; i < 7; i++) older.push((await world.post(author)).tweetId);
    const first = await world.home.page(reader, { pageSize: 3, pageToken: "" }, world.upstream);
    const arrived = [];
    for (let i = 0; i < 2; i++) arrived.push((await world.post(author)).tweetId);
    const second = await world.home.page(reader, { pageSize: 3, pageToken: first.nextPageToken }, world.upstream);
    arrived.push((await world.post(author)).tweetId);
    const third = await world.home.page(reader, { pageSize: 3, pageToken: second.nextPageToken }, world.upstream);

    const pages = [first, second, third].map((p) => p.items.map((i) => i.id));
    expect(pages).toEqual([older.slice(4).reverse(), older.slice(1, 4).reverse(), older.slice(0, 1)]);
    expect(third.nextPageToken).toBe("");
    // Every page of one reading marks the newest entry of its first page.
    expect(second.sinceToken).toBe(first.sinceToken);
    expect(third.sinceToken).toBe(first.sinceToken);
  });

  it("renders each page with one call for the tweets and one for the people", async () => {
    const { world, reader, author } = await setUp();
    const retweeter = world.user("retweeter");
    await world.follow(reader, retweeter);
    const original = await world.post(author);
    const retweet = await world.post(retweeter, { retweetOfId: original.tweetId });
    world.upstream.tweetCalls.length = 0;
    world.upstream.profileCalls.length = 0;

    const page = await world.home.page(reader, { pageSize: 10, pageToken: "" }, world.upstream);
    expect(world.upstream.tweetCalls).toEqual([[retweet.tweetId, original.tweetId]]);
    expect(world.upstream.profileCalls).toHaveLength(1);
    expect(new Set(world.upstream.profileCalls[0])).toEqual(new Set([author, retweeter]));

    const [shared, plain] = page.items;
    expect(shared).toMatchObject({ id: retweet.tweetId, tweet: { card: { tweetId: original.tweetId, authorId: author } }, author: { userId: author }, retweetedBy: { userId: retweeter } });
    expect(plain).toMatchObject({ id: original.tweetId, tweet: { card: { tweetId: original.tweetId } }, author: { userId: author } });
    expect(plain!.retweetedBy).toBeUndefined();
    expect(shared!.createdAt).toBeInstanceOf(Date);
  });

  it("never shows a deleted tweet, a retweet of one, or a post of a vanished user", async () => {
    const { world, reader, author } = await setUp();
    const other = world.user("other");
    await world.follow(reader, other);
    const kept = await world.post(author);
    const deleted = await world.post(author);
    await world.post(other, { retweetOfId: deleted.tweetId });
    await world.post(other);
    // The tweets and users services already forgot them; the events have not arrived yet.
    world.upstream.removeTweet(deleted.tweetId);
    world.upstream.removeUser(other);

    const page = await world.home.page(reader, { pageSize: 10, pageToken: "" }, world.upstream);
    expect(page.items.map((i) => i.id)).toEqual([kept.tweetId]);
  });

  it("merges the posts of followed celebrities in order, across pages", async () => {
    const { world, reader, author } = await setUp(1);
    const star = world.user("star");
    await world.follow(reader, star);
    await world.follow(world.user(), star);
    const expected = [];
    for (let i = 0; i < 6; i++) expected.unshift((await world.post(i % 2 === 0 ? author : star)).tweetId);
    expect(await world.stores.celebrities.celebritiesAmong([star, author])).toEqual([star]);

    const seen = [];
    let token = "";
    do {
      const page = await world.home.page(reader, { pageSize: 2, pageToken: token }, world.upstream);
      seen.push(page.items.map((i) => i.id));
      token = page.nextPageToken;
    } while (token);
    expect(seen).toEqual([expected.slice(0, 2), expected.slice(2, 4), expected.slice(4, 6)]);
  });

  it("answers an empty timeline with a since token that takes everything", async () => {
    const { world, reader, author } = await setUp();
    const empty = await world.home.page(reader, { pageSize: 10, pageToken: "" }, world.upstream);
    expect(empty).toMatchObject({ items: [], nextPageToken: "" });
    const post = await world.post(author);
    const updates = await world.home.updates(reader, { sinceToken: empty.sinceToken, pageSize: 10 }, world.upstream);
    expect(updates.items.map((i) => i.id)).toEqual([post.tweetId]);
  });

  it("refuses page tokens it did not issue, or issued to someone else", async () => {
    const { world, reader } = await setUp();
    const someoneElse = world.user();
    for (let i = 0; i < 3; i++) await world.post(reader);
    const { nextPageToken } = await world.home.page(reader, { pageSize: 1, pageToken: "" }, world.upstream);
    const forged = await domainFailure(world.home.page(reader, { pageSize: 1, pageToken: "forged" }, world.upstream));
    expect([forged.code, forged.field]).toEqual(["INVALID_ARGUMENT", "page_token"]);
    const stolen = await domainFailure(world.home.page(someoneElse, { pageSize: 1, pageToken: nextPageToken }, world.upstream));
    expect([stolen.code, stolen.field]).toEqual(["INVALID_ARGUMENT", "page_token"]);
    const negative = await domainFailure(world.home.page(reader, { pageSize: -1, pageToken: "" }, world.upstream));
    expect(negative.field).toBe("page_size");
  });
});

describe("home timeline updates", () => {
  it("returns what arrived since, newest first, and moves the since token on", async () => {
    const { world, reader, author } = await setUp();
    await world.post(author);
    const { sinceToken } = await world.home.page(reader, { pageSize: 10, pageToken: "" }, world.upstream);
    const none = await world.home.updates(reader, { sinceToken, pageSize: 10 }, world.upstream);
    expect(none).toMatchObject({ items: [], hasMore: false, sinceToken });

    const a = await world.post(author);
    const b = await world.post(author);
    const updates = await world.home.updates(reader, { sinceToken, pageSize: 10 }, world.upstream);
    expect(updates.items.map((i) => i.id)).toEqual([b.tweetId, a.tweetId]);
    expect(updates.hasMore).toBe(false);
    const next = await world.home.updates(reader, { sinceToken: updates.sinceToken, pageSize: 10 }, world.upstream);
    expect(next.items).toEqual([]);
  });

  it("says has_more when more arrived than fit, with the newest ones", async () => {
    const { world, reader, author } = await setUp();
    const { sinceToken } = await world.home.page(reader, { pageSize: 10, pageToken: "" }, world.upstream);
    const posts = [];
    for (let i = 0; i < 4; i++) posts.push((await world.post(author)).tweetId);
    const updates = await world.home.updates(reader, { sinceToken, pageSize: 3 }, world.upstream);
    expect(updates.items.map((i) => i.id)).toEqual(posts.slice(1).reverse());
    expect(updates.hasMore).toBe(true);
  });

  it("includes new posts of followed celebrities", async () => {
    const { world, reader } = await setUp(1);
    const star = world.user("star");
    await world.follow(reader, star);
    await world.follow(world.user(), star);
    const { sinceToken } = await world.home.page(reader, { pageSize: 10, pageToken: "" }, world.upstream);
    const fresh = await world.post(star);
    // Not fanned out: only the merge finds it.
    expect(await world.stored(reader)).toEqual([]);
    const updates = await world.home.updates(reader, { sinceToken, pageSize: 10 }, world.upstream);
    expect(updates.items.map((i) => i.id)).toEqual([fresh.tweetId]);
  });

  it("requires a since token it issued to this reader", async () => {
    const { world, reader } = await setUp();
    const missing = await domainFailure(world.home.updates(reader, { sinceToken: "", pageSize: 10 }, world.upstream));
    expect([missing.code, missing.field]).toEqual(["INVALID_ARGUMENT", "since_token"]);
    await world.post(reader);
    await world.post(reader);
    const { nextPageToken, sinceToken } = await world.home.page(reader, { pageSize: 1, pageToken: "" }, world.upstream);
    const pageTokenInstead = await domainFailure(world.home.updates(reader, { sinceToken: nextPageToken, pageSize: 10 }, world.upstream));
    expect([pageTokenInstead.code, pageTokenInstead.field]).toEqual(["INVALID_ARGUMENT", "since_token"]);
    const someoneElses = await domainFailure(world.home.updates(world.user(), { sinceToken, pageSize: 10 }, world.upstream));
    expect(someoneElses.field).toBe("since_token");
  });
});
