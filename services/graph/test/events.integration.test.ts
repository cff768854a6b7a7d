import { status, type ServiceError } from "@grpc/grpc-js";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { newId, OutboxRelay, type BusMessage, type Consumer, type Delivery, type EventPublisher } from "@chirp/kit";
import { decodeEvent, EVENT_SUBJECTS, STREAMS } from "@chirp/kit/events";
import { unary } from "@chirp/kit/grpc";
import { connectMongo, type MongoConnection } from "@chirp/kit/mongo";
import { JetStreamBus } from "@chirp/kit/nats";
import { GraphServiceClient } from "@chirp/proto/grpc/chirp/graph/v1/graph";
import { asCaller, describeWith, eventually, everyoneLive, startFakeUsers, testChannel, testLogger, type FakeUsers, uniqueName } from "@chirp/kit/testing";
import { startGraph, type GraphApp } from "../src/app.js";
import { Graph } from "../src/domain/graph.js";
import { graphEvents } from "../src/events.js";
import { MongoGraphRepository } from "../src/storage/mongo.js";
import { newUserIds, testConfig, userCreated, userDeleted } from "./fixtures.js";

const pairOf = (delivery: Delivery) => {
  const value = decodeEvent(delivery.data).payload?.value as { followerId?: string; followeeId?: string } | undefined;
  return `${value?.followerId}>${value?.followeeId}`;
};

describeWith(["MONGODB_URI", "NATS_URL"], "graph events through the outbox to JetStream", ({ MONGODB_URI, NATS_URL }) => {
  const log = testLogger();
  const watcherDurable = uniqueName("graph_test_watch");
  let bus: JetStreamBus;
  let watcher: Consumer;
  /**
   * The kit's consumers read a stream from its start; these tests need only what they publish, so
   * their consumers are declared here to begin at the end, and the kit then finds and keeps them.
   */
  const startingAtTheEnd = (stream: string, durable: string, subjects: string[]) =>
    bus.manager.consumers.add(stream, { durable_name: durable, filter_subjects: subjects, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New });
  const received: Delivery[] = [];
  const receivedFor = (followerId: string, followeeId: string) => received.filter((d) => pairOf(d) === `${followerId}>${followeeId}`);

  beforeAll(async () => {
    bus = await JetStreamBus.connect(NATS_URL, "graph-events-test", log);
    await bus.ensureStreams([STREAMS.users, STREAMS.graph]);
    await startingAtTheEnd(STREAMS.graph.name, watcherDurable, ["chirp.graph.>"]);
    watcher = await bus.consume({ durable: watcherDurable, subjects: ["chirp.graph.>"] }, async (d) => {
      received.push(d);
    });
  });

  afterAll(async () => {
    await watcher.stop();
    await bus.manager.consumers.delete(STREAMS.graph.name, watcherDurable);
    await bus.close();
  });

  describe("the running service", () => {
    const database = uniqueName("chirp_graph_events");
    const userEventsConsumer = uniqueName("graph_test_users");
    let mongo: MongoConnection;
    let app: GraphApp;
    let client: GraphServiceClient;
    /** Asked before each follow whether the follower's account is live. */
    let users: FakeUsers;

    const as = (caller: string) => {
      const metadata = asCaller(caller);
      return metadata;
    };
    const follow = (caller: string, followeeId: string) => unary(client, client.follow, { followeeId }, as(caller));
    const unfollow = (caller: string, followeeId: string) => unary(client, client.unfollow, { followeeId }, as(caller));
    const counts = (userId: string) => unary(client, client.getCounts, { userId });
    const edgesOf = (userId: string) => mongo.db.collection("edges").countDocuments({ $or: [{ followerId: userId }, { followeeId: userId }] });

    /** Users announced on JetStream; resolves once the service can follow the last (events come in order). */
    async function announced(count: number): Promise<string[]> {
      const ids = newUserIds(count);
      for (const id of ids) await bus.publish(userCreated(id));
      const probe = newId();
      await eventually(() => follow(probe, ids.at(-1)!), 15_000);
      // FerretDB can lose an update racing the relay's on the same edge: the follow is relayed first.
      await eventually(() => expect(receivedFor(probe, ids.at(-1)!)).toHaveLength(1), 15_000);
      await unfollow(probe, ids.at(-1)!);
      return ids;
    }

    beforeAll(async () => {
      mongo = await connectMongo(MONGODB_URI, database, log);
      // The users stream keeps every event; replaying every earlier run's users would only make the test wait.
      await startingAtTheEnd(STREAMS.users.name, userEventsConsumer, [EVENT_SUBJECTS.userCreated, EVENT_SUBJECTS.userDeleted]);
      users = await startFakeUsers();
      app = await startGraph(testConfig({ mongo: { uri: MONGODB_URI, database, username: undefined, password: undefined }, natsUrl: NATS_URL, userEventsConsumer, upstreams: { users: users.address } }), { log });
      client = new GraphServiceClient(`127.0.0.1:${app.port}`, testChannel());
    });

    afterAll(async () => {
      client.close();
      await app.stop();
      await users.stop();
      await bus.manager.consumers.delete(STREAMS.users.name, userEventsConsumer);
      await mongo.db.dropDatabase();
      await mongo.close();
    });

    it("learns of users from UserCreated on JetStream: unknown until then, followable after", async () => {
      const [a] = (await announced(1)) as [string];
      const newcomer = newId();
      const refused = await follow(a, newcomer).catch((e: ServiceError) => e);
      expect((refused as ServiceError).code).toBe(status.NOT_FOUND);
      await bus.publish(userCreated(newcomer));
      await eventually(() => follow(a, newcomer), 15_000);
      expect((await counts(newcomer)).followersCount).toBe("1");
    });

    it("publishes UserFollowed and then UserUnfollowed, each with its event id as the message id", async () => {
      const [a, b] = (await announced(2)) as [string, string];
      await follow(a, b);
      // FerretDB, unlike MongoDB, can lose one of two updates racing on one document (here the
      // unfollow and the relay marking UserFollowed published), so the test lets the relay finish first.
      await eventually(() => expect(receivedFor(a, b)).toHaveLength(1), 15_000);
      await unfollow(a, b);

      const deliveries = await eventually(() => {
        const mine = receivedFor(a, b);
        expect(mine).toHaveLength(2);
        return mine;
      });
      expect(deliveries.map((d) => d.subject)).toEqual(["chirp.graph.user_followed", "chirp.graph.user_unfollowed"]);
      const [followed, unfollowed] = deliveries.map((d) => decodeEvent(d.data));
      expect(followed!.payload).toEqual({ $case: "userFollowed", value: { followerId: a, followeeId: b, followedAt: expect.any(Date) } });
      expect(unfollowed!.payload).toEqual({ $case: "userUnfollowed", value: { followerId: a, followeeId: b, unfollowedAt: expect.any(Date) } });
      expect(deliveries.map((d) => d.id)).toEqual([followed!.id, unfollowed!.id]);
      // The ended edge is gone once its unfollow was announced.
      await eventually(async () => expect(await edgesOf(a)).toBe(0));
    });

    it("removes a deleted user's follows both ways and fixes the counts when UserDeleted arrives", async () => {
      const [gone, a, b] = (await announced(3)) as [string, string, string];
      await follow(gone, a);
      await follow(b, gone);
      await follow(a, b);
      expect(await counts(gone)).toEqual({ followersCount: "1", followingCount: "1" });
      // As above: let the relay finish with these edges before the deletion updates them (FerretDB).
      await eventually(() => expect([...receivedFor(gone, a), ...receivedFor(b, gone), ...receivedFor(a, b)]).toHaveLength(3), 15_000);

      await bus.publish(userDeleted(gone));
      // The sweep ends the follows one after another: wait for all three people's counts at once.
      await eventually(async () => expect(await Promise.all([counts(a), counts(b), counts(gone)])).toEqual([
        { followersCount: "0", followingCount: "1" },
        { followersCount: "1", followingCount: "0" },
        { followersCount: "0", followingCount: "0" },
      ]), 15_000);
      const refused = await follow(a, gone).catch((e: ServiceError) => e);
      expect((refused as ServiceError).code).toBe(status.NOT_FOUND);
      // Their follows were announced before the deletion and still are; then nothing of them is left.
      await eventually(() => expect(receivedFor(gone, a).concat(receivedFor(b, gone))).toHaveLength(2));
      await eventually(async () => expect(await edgesOf(gone)).toBe(0));
    });
  });

  describe("a process that dies", () => {
    const database = uniqueName("chirp_graph_crash");
    let mongo: MongoConnection;

    beforeAll(async () => {
      mongo = await connectMongo(MONGODB_URI, database, log);
    });

    afterAll(async () => {
      await mongo.db.dropDatabase();
      await mongo.close();
    });

    /** The domain on MongoDB with no relay running, as in a process that dies right after a write. */
    async function domainWithoutRelay() {
      const repository = await MongoGraphRepository.open(mongo.db);
      const graph = new Graph({ repository, events: graphEvents, accounts: everyoneLive });
      const [a, b] = newUserIds(2) as [string, string];
      await graph.userCreated(a);
      await graph.userCreated(b);
      return { repository, graph, a, b };
    }

    it("loses nothing between the database write and the publish, and counts stay exact meanwhile", async () => {
      const { repository, graph, a, b } = await domainWithoutRelay();
      await graph.follow(a, b);
      expect(await graph.getCounts(b)).toEqual({ followers: 1, following: 0 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(receivedFor(a, b)).toHaveLength(0);

      // The restarted process's relay finds the pending event and publishes it.
      await new OutboxRelay(repository.outbox, bus, log).flush();
      const [delivery] = await eventually(() => {
        const mine = receivedFor(a, b);
        expect(mine).toHaveLength(1);
        return mine;
      });
      expect(decodeEvent(delivery!.data).payload?.$case).toBe("userFollowed");
      expect(await repository.outbox.pending(100)).toEqual([]);
      expect(await graph.getCounts(b)).toEqual({ followers: 1, following: 0 });
    });

    it("stores an event once when the process dies after publishing but before marking it published", async () => {
      const { repository, graph, a, b } = await domainWithoutRelay();
      await graph.follow(a, b);

      const diesAfterPublish: EventPublisher = {
        publish: async (message: BusMessage) => {
          await bus.publish(message);
          throw new Error("process killed");
        },
      };
      await new OutboxRelay(repository.outbox, diesAfterPublish, log).flush();
      expect(await repository.outbox.pending(100)).toHaveLength(1);

      // After the restart the relay publishes it again with the same message id; JetStream drops the copy.
      await new OutboxRelay(repository.outbox, bus, log).flush();
      expect(await repository.outbox.pending(100)).toEqual([]);
      await eventually(() => expect(receivedFor(a, b)).toHaveLength(1));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(receivedFor(a, b)).toHaveLength(1);
    });
  });
});
