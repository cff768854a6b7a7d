import { connectMongo } from "@chirp/kit/mongo";
import type { StreamHomeTimelineResponse } from "@chirp/proto/grpc/chirp/timeline/v1/timeline";
import { describeWith, eventually, testLogger } from "@chirp/kit/testing";
import { asCaller, startServices, type Services } from "./mesh.js";

/** Over this many followers an author's posts are merged in at read time. */
const CELEBRITY_FOLLOWERS = 2;

/**
 * One story through the real users, tweets, graph and timeline services: fan-out, unfollow,
 * delete, a celebrity merged in at read time, a live stream, likes and a rename.
 * `fannedOutEntries` answers how many materialised entries a tweet has, where the storage can be
 * looked at.
 */
function timelineStory(
  services: () => Services,
  fannedOutEntries?: (tweetId: string) => Promise<number>,
  followersRecorded?: (followeeId: string) => Promise<number>,
) {
  it("serves home timelines through fan-out, unfollow, deletion, a celebrity, a live stream, likes and a rename", async () => {
    const mesh = services();
    const [a, b, c] = [await mesh.register("a"), await mesh.register("b"), await mesh.register("c")];
    await mesh.follow(b, a);
    await mesh.follow(c, a);

    // A posts: both followers see it; a reply does not enter home timelines.
    const first = await mesh.post(a, "first post #hello");
    await mesh.reply(b, first, "a reply stays under its tweet");
    await mesh.homeShows(b, [first]);
    await mesh.homeShows(c, [first]);
    await mesh.homeShows(a, [first]);
    const page = await mesh.home(b);
    expect(page.items[0]).toMatchObject({ tweet: { id: first.id, text: "first post #hello", tags: ["hello"] }, author: { id: a.id, username: a.username, email: "" } });

    // A live stream of B's timeline gets A's next post within a second.
    const stream = mesh.clients.timeline.streamHomeTimeline({}, asCaller(b.id));
    await new Promise((resolve) => stream.once("metadata", resolve));
    const pushed = new Promise<{ response: StreamHomeTimelineResponse; at: number }>((resolve) => stream.once("data", (response) => resolve({ response, at: Date.now() })));
    const postedAt = Date.now();
    const second = await mesh.post(a, "second post, live");
    const { response, at } = await pushed;
    expect(response.item).toMatchObject({ id: second.id, tweet: { text: "second post, live" }, author: { id: a.id } });
    expect(at - postedAt).toBeLessThan(1_000);
    stream.cancel();
    stream.on("error", () => undefined);
    await mesh.homeShows(c, [second, first]);

    // C unfollows A: A's posts leave C's timeline, not B's.
    await mesh.unfollow(c, a);
    await mesh.homeShows(c, []);
    await mesh.homeShows(b, [second, first]);

    // A deletes the first post: gone from B's timeline.
    await mesh.deleteTweet(a, first);
    await mesh.homeShows(b, [second]);

    // P has more followers than the threshold: P's posts are not fanned out but merged in,
    // in order with A's fanned-out posts; P's retweet of A's post shows who retweeted it.
    const [p, d, e] = [await mesh.register("p"), await mesh.register("d"), await mesh.register("e")];
    for (const follower of [b, d, e]) await mesh.follow(follower, p);
    // Follows and posts travel on different streams: wait until the timeline has seen these
    // follows, or their backfill could copy P's next post into timelines after all.
    if (followersRecorded) await eventually(async () => expect(await followersRecorded(p.id)).toBe(3), 15_000);
    const p1 = await mesh.post(p, "celebrity one");
    const a3 = await mesh.post(a, "third post");
    const p2 = await mesh.post(p, "celebrity two");
    await mesh.homeShows(b, [p2, a3, p1, second]);
    await mesh.homeShows(d, [p2, p1]);
    if (fannedOutEntries) {
      expect(await fannedOutEntries(a3.id)).toBe(2); // A and B
      expect(await fannedOutEntries(p1.id)).toBe(1); // only P's own timeline
    }
    const retweet = await mesh.retweet(p, a3);
    await mesh.homeShows(b, [retweet, p2, a3, p1, second]);
    const shared = (await mesh.home(b)).items[0]!;
    expect(shared).toMatchObject({ id: retweet.id, tweet: { id: a3.id, text: "third post" }, author: { id: a.id }, retweetedBy: { id: p.id } });

    // Likes reach pages through the timeline's own tweets projection: counts and the reader's own.
    await mesh.like(b, a3);
    await mesh.like(d, a3);
    await eventually(async () => expect((await mesh.home(b)).items[0]!.tweet).toMatchObject({ id: a3.id, likeCount: "2", likedByMe: true }), 15_000);
    await mesh.tweetsRelayed();
    await mesh.unlike(d, a3);
    await mesh.reply(d, a3, "replies are counted too");
    await eventually(async () => {
      const [asB, asA] = [(await mesh.home(b)).items[0]!, (await mesh.home(a)).items.find((item) => item.id === a3.id)!];
      expect(asB.tweet).toMatchObject({ id: a3.id, likeCount: "1", retweetCount: "1", replyCount: "1", likedByMe: true, retweetedByMe: false });
      expect(asA.tweet).toMatchObject({ id: a3.id, likeCount: "1", likedByMe: false });
    }, 15_000);

    // A renames themselves: B's timeline shows the new name on every post of A's, through the
    // timeline's own profiles projection, well within PROFILE_CACHE_MS (10 s): the time a page
    // asking the users service could go on showing the old name.
    const renamed = await mesh.rename(a, "A, renamed");
    await eventually(async () => {
      const byA = (await mesh.home(b)).items.filter((item) => item.author?.id === a.id);
      expect(byA.map((item) => [item.tweet?.id, item.author])).toEqual([a3, a3, second].map((tweet) => [tweet.id, { ...renamed, email: "" }]));
    }, 5_000);
  }, 60_000);
}

describe("the timeline with the real services, embedded (memory, one in-process bus)", () => {
  let services: Services;
  beforeAll(async () => {
    services = await startServices({ log: testLogger(), celebrityFollowers: CELEBRITY_FOLLOWERS });
  });
  afterAll(() => services?.stop());

  timelineStory(() => services);
});

describeWith(["MONGODB_URI", "NATS_URL"], "the timeline with the real services", ({ MONGODB_URI, NATS_URL }) => {
  let services: Services;
  beforeAll(async () => {
    services = await startServices({ log: testLogger(), celebrityFollowers: CELEBRITY_FOLLOWERS, servers: { mongoUri: MONGODB_URI, natsUrl: NATS_URL } });
  }, 30_000);
  afterAll(() => services?.stop());

  timelineStory(
    () => services,
    (tweetId) => countIn("entries", { tweetId }),
    (followeeId) => countIn("follows", { followeeId, following: true }),
  );

  async function countIn(collection: string, filter: object): Promise<number> {
    const connection = await connectMongo(MONGODB_URI, services.timelineDatabase, testLogger());
    try {
      return await connection.db.collection(collection).countDocuments(filter);
    } finally {
      await connection.close();
    }
  }
});
