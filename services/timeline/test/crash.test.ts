import { newId, type BusMessage, type Consumer } from "@chirp/kit";
import { eventMessage, InProcessEventBus, STREAMS } from "@chirp/kit/events";
import { connectMongo, type MongoConnection } from "@chirp/kit/mongo";
import { durableFromNow, JetStreamBus } from "@chirp/kit/nats";
import { describeWith, eventually, testLogger, uniqueName } from "@chirp/kit/testing";
import { FanOut } from "../src/domain/fan-out.js";
import type { TimelineStores } from "../src/domain/ports.js";
import { Profiles } from "../src/domain/profiles.js";
import { TweetCards } from "../src/domain/tweet-cards.js";
import { CONSUMED_SUBJECTS, consumeTimelineEvents } from "../src/events.js";
import { memoryStores } from "../src/storage/memory.js";
import { openMongoStores } from "../src/storage/mongo.js";
import { FakeGraph, pause } from "./fixtures.js";

const FOLLOWERS = 7;

/** An author with followers in a graph that lists them two at a time, and the TweetCreated of a new post. */
function scenario() {
  const author = newId();
  const followers = Array.from({ length: FOLLOWERS }, () => newId());
  const graph = new FakeGraph(2);
  for (const follower of followers) graph.addFollower(author, follower);
  const tweetId = newId();
  const created: BusMessage = eventMessage({
    $case: "tweetCreated",
    value: { tweetId, authorId: author, createdAt: new Date(), replyToId: "", retweetOfId: "", tags: [], text: "crash test", mentions: [] },
  });
  return { author, followers, graph, tweetId, created };
}

async function expectExactlyOneEntryEach(stores: TimelineStores, owners: string[], tweetId: string) {
  await eventually(async () => {
    for (const owner of owners) expect((await stores.timelines.entries(owner, {}, 100)).map((e) => e.tweetId)).toEqual([tweetId]);
  }, 10_000);
}

describe("a fan-out stopped midway (in-process bus, memory)", () => {
  it("resumes after the batches it finished when the consumer restarts; every follower ends with exactly one entry", async () => {
    const bus = new InProcessEventBus(testLogger());
    const stores = memoryStores(800);
    const fanOut = new FanOut(stores, { celebrityFollowers: 10_000, timelineLength: 800 });
    const { author, followers, graph, tweetId, created } = scenario();

    // The listing hangs after the first batch; the process is told to stop meanwhile.
    graph.stallAfterBatches = 1;
    const first = await consumeTimelineEvents(bus, "timeline", fanOut, new TweetCards(stores), new Profiles(stores), () => graph);
    await bus.publish(created);
    await eventually(async () => expect(await stores.progress.fanOutProgress(tweetId)).toBe("2"));
    await first.stop();
    expect((await stores.timelines.entries(followers[2]!, {}, 10)).length).toBe(0);

    graph.stallAfterBatches = undefined;
    const second = await consumeTimelineEvents(bus, "timeline", fanOut, new TweetCards(stores), new Profiles(stores), () => graph);
    try {
      await expectExactlyOneEntryEach(stores, [author, ...followers], tweetId);
      expect(graph.listings.map((l) => l.resumeToken)).toEqual([undefined, "2"]);
      await eventually(async () => expect(await stores.progress.fanOutProgress(tweetId)).toBeUndefined());
    } finally {
      await second.stop();
    }
  });

  it("dead-letters an event it can never handle and goes on with the next", async () => {
    const bus = new InProcessEventBus(testLogger());
    const stores = memoryStores(800);
    const fanOut = new FanOut(stores, { celebrityFollowers: 10_000, timelineLength: 800 });
    const { author, followers, graph, tweetId, created } = scenario();
    const consumer = await consumeTimelineEvents(bus, "timeline", fanOut, new TweetCards(stores), new Profiles(stores), () => graph);
    try {
      const malformed = eventMessage({ $case: "tweetDeleted", value: { tweetId: "", authorId: author, retweetOfId: "", replyToId: "" } });
      await bus.publish(malformed);
      await bus.publish(created);
      await expectExactlyOneEntryEach(stores, followers, tweetId);
      expect(bus.messages("chirp.deadletter.>").map((m) => m.id)).toEqual([`timeline:${malformed.id}`]);
    } finally {
      await consumer.stop();
    }
  });
});

describeWith(["MONGODB_URI", "NATS_URL"], "a fan-out cut off by a crash (JetStream, MongoDB)", ({ MONGODB_URI, NATS_URL }) => {
  const log = testLogger();
  const durable = uniqueName("timeline_crash");
  let mongo: MongoConnection;
  let admin: JetStreamBus;
  let removeDurable: () => Promise<void>;

  beforeAll(async () => {
    mongo = await connectMongo(MONGODB_URI, uniqueName("chirp_timeline_crash"), log);
    admin = await JetStreamBus.connect(NATS_URL, "timeline-crash-test", log);
    await admin.ensureStreams([STREAMS.users, STREAMS.tweets, STREAMS.graph, STREAMS.deadLetters]);
    removeDurable = await durableFromNow(admin, durable, CONSUMED_SUBJECTS);
  });

  afterAll(async () => {
    await removeDurable?.();
    await admin?.close();
    await mongo?.db.dropDatabase();
    await mongo?.close();
  });

  it("is redelivered to the restarted process, which resumes it; every follower ends with exactly one entry", async () => {
    const stores = await openMongoStores(mongo.db, 800);
    const fanOut = new FanOut(stores, { celebrityFollowers: 10_000, timelineLength: 800 });
    const { author, followers, graph, tweetId, created } = scenario();
    const ackWaitMs = 1_500;

    // The first process gets through one batch, then dies: its connection drops with the event
    // unacknowledged, and its handler never gets any further.
    graph.stallAfterBatches = 1;
    const doomedBus = await JetStreamBus.connect(NATS_URL, "timeline-crash-doomed", log);
    await consumeTimelineEvents(doomedBus, durable, fanOut, new TweetCards(stores), new Profiles(stores), () => graph, ackWaitMs);
    await admin.publish(created);
    await eventually(async () => expect(await stores.progress.fanOutProgress(tweetId)).toBe("2"), 10_000);
    await doomedBus.connection.close();

    graph.stallAfterBatches = undefined;
    const restartedBus = await JetStreamBus.connect(NATS_URL, "timeline-crash-restarted", log);
    let restarted: Consumer | undefined;
    try {
      restarted = await consumeTimelineEvents(restartedBus, durable, fanOut, new TweetCards(stores), new Profiles(stores), () => graph, ackWaitMs);
      await expectExactlyOneEntryEach(stores, [author, ...followers], tweetId);
      // Other suites publish to the same streams meanwhile: look at this author's listings only.
      const listings = () => graph.listings.filter((l) => l.userId === author).map((l) => l.resumeToken);
      expect(listings()).toEqual([undefined, "2"]);
      // Nothing more arrives later: the event was acknowledged once handled.
      await pause(ackWaitMs + 500);
      expect(listings()).toEqual([undefined, "2"]);
    } finally {
      graph.releaseStalled();
      await restarted?.stop();
      await restartedBus.close();
    }
  }, 30_000);
});
