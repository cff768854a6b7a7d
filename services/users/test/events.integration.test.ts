import { OutboxRelay, type BusMessage, type Consumer, type Delivery, type EventPublisher } from "@chirp/kit";
import { decodeEvent, STREAMS } from "@chirp/kit/events";
import { unary } from "@chirp/kit/grpc";
import { connectMongo, type MongoConnection } from "@chirp/kit/mongo";
import { JetStreamBus } from "@chirp/kit/nats";
import { UsersServiceClient } from "@chirp/proto/grpc/chirp/users/v1/users";
import { asCaller, describeWith, eventually, testChannel, testLogger, uniqueName } from "@chirp/kit/testing";
import { startUsers } from "../src/app.js";
import { ScryptPasswordHasher } from "../src/domain/passwords.js";
import { Users } from "../src/domain/users.js";
import { userEvents } from "../src/events.js";
import { MongoUserRepository } from "../src/storage/mongo.js";
import { newUser, testConfig, testKeys, TEST_HASH_COST } from "./fixtures.js";

const userIdOf = (delivery: Delivery) => (decodeEvent(delivery.data).payload?.value as { userId?: string } | undefined)?.userId;

describeWith(["MONGODB_URI", "NATS_URL"], "users events through the outbox to JetStream", ({ MONGODB_URI, NATS_URL }) => {
  const log = testLogger();
  const database = uniqueName("chirp_users_events");
  const durable = uniqueName("users_test_watch");
  let mongo: MongoConnection;
  let bus: JetStreamBus;
  let watcher: Consumer;
  const received: Delivery[] = [];
  const receivedFor = (userId: string) => received.filter((d) => userIdOf(d) === userId);

  beforeAll(async () => {
    mongo = await connectMongo(MONGODB_URI, database, log);
    bus = await JetStreamBus.connect(NATS_URL, "users-events-test", log);
    await bus.ensureStreams([STREAMS.users]);
    watcher = await bus.consume({ durable, subjects: ["chirp.users.>"] }, async (d) => {
      received.push(d);
    });
  });

  /** The domain on MongoDB with no relay running, as in a process that dies right after a write. */
  async function domainWithoutRelay() {
    const repository = await MongoUserRepository.open(mongo.db);
    const passwords = new ScryptPasswordHasher(TEST_HASH_COST);
    const users = await Users.create({ repository, events: userEvents, passwords, tokens: testKeys().signer });
    return { repository, users };
  }

  afterAll(async () => {
    await watcher.stop();
    await bus.manager.consumers.delete(STREAMS.users.name, durable);
    await bus.close();
    await mongo.db.dropDatabase();
    await mongo.close();
  });

  it("publishes UserCreated and then UserDeleted, each with its event id as the message id", async () => {
    const app = await startUsers(testConfig({ mongo: { uri: MONGODB_URI, database, username: undefined, password: undefined }, natsUrl: NATS_URL }), { log });
    const client = new UsersServiceClient(`127.0.0.1:${app.port}`, testChannel());
    try {
      const input = newUser();
      const { user } = await unary(client, client.createUser, input);
      // FerretDB, unlike MongoDB, can lose one of two updates racing on one document (here the
      // deletion and the relay marking UserCreated published), so the test lets the relay finish first.
      await eventually(() => expect(receivedFor(user!.id)).toHaveLength(1), 15_000);
      const self = asCaller(user!.id);
      await unary(client, client.deleteUser, { id: user!.id }, self);

      const deliveries = await eventually(() => {
        const mine = receivedFor(user!.id);
        expect(mine).toHaveLength(2);
        return mine;
      }, 15_000);
      expect(deliveries.map((d) => d.subject)).toEqual(["chirp.users.user_created", "chirp.users.user_deleted"]);
      const [created, deleted] = deliveries.map((d) => decodeEvent(d.data));
      expect(created!.payload).toEqual({ $case: "userCreated", value: { userId: user!.id, username: input.username, displayName: input.username } });
      expect(deleted!.payload).toEqual({ $case: "userDeleted", value: { userId: user!.id } });
      expect(deliveries.map((d) => d.id)).toEqual([created!.id, deleted!.id]);
      // The tombstone is gone once its deletion was announced.
      await eventually(async () => expect(await mongo.db.collection("users").countDocuments({ _id: user!.id } as never)).toBe(0));
    } finally {
      client.close();
      await app.stop();
    }
  });

  it("publishes a UserProfileChanged carrying the profile as updated", async () => {
    const app = await startUsers(testConfig({ mongo: { uri: MONGODB_URI, database, username: undefined, password: undefined }, natsUrl: NATS_URL }), { log });
    const client = new UsersServiceClient(`127.0.0.1:${app.port}`, testChannel());
    try {
      const { user } = await unary(client, client.createUser, newUser());
      // As above: the relay finishes with UserCreated before the update writes the same document (FerretDB).
      await eventually(() => expect(receivedFor(user!.id)).toHaveLength(1), 15_000);
      const self = asCaller(user!.id);
      const { user: updated } = await unary(
        client,
        client.updateUser,
        { user: { ...user!, displayName: "Renamed Person", bio: "ignored" }, updateMask: ["display_name"] },
        self,
      );

      const [, changed] = await eventually(() => {
        const mine = receivedFor(user!.id);
        expect(mine).toHaveLength(2);
        return mine;
      }, 15_000);
      expect(changed!.subject).toBe("chirp.users.user_profile_changed");
      const event = decodeEvent(changed!.data);
      expect(changed!.id).toBe(event.id);
      expect(event.payload).toEqual({
        $case: "userProfileChanged",
        value: { userId: user!.id, username: user!.username, displayName: "Renamed Person", bio: "", avatarUrl: "", updatedAt: updated!.updatedAt },
      });
      expect(updated!.updatedAt!.getTime()).toBeGreaterThan(user!.updatedAt!.getTime());
    } finally {
      client.close();
      await app.stop();
    }
  });

  it("loses nothing when the process dies between the database write and the publish", async () => {
    // A process that saved the account and died before its relay ran: nothing was published.
    const { repository, users } = await domainWithoutRelay();
    const user = await users.createUser(newUser());
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receivedFor(user.id)).toHaveLength(0);

    // The restarted process's relay finds the pending event and publishes it.
    const relay = new OutboxRelay(repository.outbox, bus, log);
    await relay.flush();
    const [delivery] = await eventually(() => {
      const mine = receivedFor(user.id);
      expect(mine).toHaveLength(1);
      return mine;
    });
    expect(decodeEvent(delivery!.data).payload?.$case).toBe("userCreated");
    expect((await repository.outbox.pending(100)).filter((p) => p.ownerId === user.id)).toEqual([]);
  });

  it("stores an event once when the process dies after publishing but before marking it published", async () => {
    const { repository, users } = await domainWithoutRelay();
    const user = await users.createUser(newUser());

    // Publishes, then "dies" before the relay can mark the message published.
    const diesAfterPublish: EventPublisher = {
      publish: async (message: BusMessage) => {
        await bus.publish(message);
        throw new Error("process killed");
      },
    };
    await new OutboxRelay(repository.outbox, diesAfterPublish, log).flush();
    expect((await repository.outbox.pending(100)).filter((p) => p.ownerId === user.id)).toHaveLength(1);

    // After the restart the relay publishes it again with the same message id; JetStream drops the copy.
    await new OutboxRelay(repository.outbox, bus, log).flush();
    expect((await repository.outbox.pending(100)).filter((p) => p.ownerId === user.id)).toEqual([]);
    await eventually(() => expect(receivedFor(user.id)).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receivedFor(user.id)).toHaveLength(1);
  });
});
