import { newId } from "@chirp/kit";
import { eventMessage, InProcessEventBus } from "@chirp/kit/events";
import { eventually, testLogger } from "@chirp/kit/testing";
import { FanOut } from "../src/domain/fan-out.js";
import type { ProfileCard } from "../src/domain/model.js";
import { Profiles } from "../src/domain/profiles.js";
import { TweetCards } from "../src/domain/tweet-cards.js";
import { consumeTimelineEvents } from "../src/events.js";
import type { TimelineStores } from "../src/domain/ports.js";
import { memoryStores } from "../src/storage/memory.js";
import { InMemoryProfileStore } from "../src/storage/memory/profiles.js";
import { FakeGraph } from "./fixtures.js";

const created = (userId: string, at: number) => ({ userId, username: "alice", displayName: "Alice", createdAt: new Date(at) });
const changed = (userId: string, displayName: string, at: number, extra: Partial<ProfileCard> = {}): ProfileCard => ({
  userId,
  username: "alice",
  displayName,
  bio: "",
  avatarUrl: "",
  createdAt: new Date(1_000),
  updatedAt: new Date(at),
  ...extra,
});

describe("the profiles projection", () => {
  let stores: TimelineStores;
  let profiles: Profiles;
  const alice = newId();

  beforeEach(() => {
    stores = memoryStores(20);
    profiles = new Profiles(stores);
  });

  /** What the fan-out and the projection do on UserDeleted, in that order. */
  async function deleteUser(userId: string) {
    await stores.tombstones.markUserDeleted(userId, new Date());
    await profiles.userDeleted(userId);
  }

  it("knows a new user as created, and names the users it does not know", async () => {
    await profiles.userCreated(created(alice, 1_000));
    const stranger = newId();
    const { found, unknown } = await profiles.find([stranger, alice, alice]);
    expect(found).toEqual([{ userId: alice, username: "alice", displayName: "Alice", bio: "", avatarUrl: "", createdAt: new Date(1_000), updatedAt: new Date(1_000) }]);
    expect(unknown).toEqual([stranger]);
    expect(await profiles.find([])).toEqual({ found: [], unknown: [] });
  });

  it("shows a changed profile, keeping the account's creation time", async () => {
    await profiles.userCreated(created(alice, 1_000));
    await profiles.profileChanged(changed(alice, "Alice Liddell", 2_000, { bio: "curiouser", createdAt: new Date(1_001) }));
    expect((await profiles.find([alice])).found).toEqual([changed(alice, "Alice Liddell", 2_000, { bio: "curiouser", createdAt: new Date(1_000) })]);
  });

  it("keeps the newest profile: an older change, or UserCreated, arriving after a newer change changes nothing", async () => {
    await profiles.profileChanged(changed(alice, "third", 3_000));
    await profiles.profileChanged(changed(alice, "third", 3_000));
    await profiles.profileChanged(changed(alice, "second", 2_000));
    await profiles.userCreated(created(alice, 1_000));
    expect((await profiles.find([alice])).found.map((p) => p.displayName)).toEqual(["third"]);
  });

  it("forgets a deleted user, whom late or replayed events do not bring back", async () => {
    await profiles.userCreated(created(alice, 1_000));
    await profiles.profileChanged(changed(alice, "renamed", 2_000));
    await deleteUser(alice);
    expect(await profiles.find([alice])).toEqual({ found: [], unknown: [alice] });

    await profiles.profileChanged(changed(alice, "late", 3_000));
    await profiles.userCreated(created(alice, 1_000));
    expect(await profiles.find([alice])).toEqual({ found: [], unknown: [alice] });
  });

  it("lets a deletion recorded while a profile is being written win over it", async () => {
    const racing = new (class extends InMemoryProfileStore {
      override async saveProfile(profile: ProfileCard): Promise<void> {
        // UserDeleted is handled between the projection's check and its write.
        await stores.tombstones.markUserDeleted(profile.userId, new Date());
        await this.removeProfile(profile.userId);
        await super.saveProfile(profile);
      }
    })();
    await new Profiles({ ...stores, profiles: racing }).profileChanged(changed(alice, "racing", 2_000));
    expect(await racing.profiles([alice])).toEqual([]);
  });

  it("takes back a profile written just before a crash, when its event is delivered again after the user's deletion", async () => {
    await stores.profiles.saveProfile(changed(alice, "written, never checked", 2_000));
    await stores.tombstones.markUserDeleted(alice, new Date());
    await profiles.profileChanged(changed(alice, "written, never checked", 2_000));
    expect(await stores.profiles.profiles([alice])).toEqual([]);
  });
});

describe("the profiles projection, from the users service's events (in-process bus)", () => {
  it("keeps profiles from UserCreated and UserProfileChanged, forgets them on UserDeleted, and dead-letters malformed ones", async () => {
    const bus = new InProcessEventBus(testLogger());
    const stores = memoryStores(20);
    const profiles = new Profiles(stores);
    const consumer = await consumeTimelineEvents(
      bus,
      "timeline",
      new FanOut(stores, { celebrityFollowers: 10_000, timelineLength: 20 }),
      new TweetCards(stores),
      profiles,
      () => new FakeGraph(),
    );
    try {
      const [alice, bob] = [newId(), newId()];
      const createdAt = new Date(Date.now() - 60_000);
      const profileChanged = (userId: string, displayName: string, updatedAt: Date) =>
        eventMessage({ $case: "userProfileChanged", value: { userId, username: "alice", displayName, bio: "hi", avatarUrl: "", updatedAt } }, updatedAt);
      await bus.publish(eventMessage({ $case: "userCreated", value: { userId: alice, username: "alice", displayName: "alice" } }, createdAt));
      await bus.publish(eventMessage({ $case: "userCreated", value: { userId: bob, username: "bob", displayName: "Bob" } }));
      await bus.publish(profileChanged(alice, "Alice", new Date(createdAt.getTime() + 2_000)));
      await bus.publish(profileChanged(alice, "older", new Date(createdAt.getTime() + 1_000)));
      const malformed = eventMessage({ $case: "userProfileChanged", value: { userId: "", username: "x", displayName: "x", bio: "", avatarUrl: "", updatedAt: new Date() } });
      await bus.publish(malformed);
      await bus.publish(eventMessage({ $case: "userDeleted", value: { userId: bob } }));

      await eventually(async () => {
        expect(bus.messages("chirp.deadletter.>").map((m) => m.id)).toEqual([`timeline:${malformed.id}`]);
        expect(await profiles.find([alice, bob])).toEqual({
          found: [{ userId: alice, username: "alice", displayName: "Alice", bio: "hi", avatarUrl: "", createdAt, updatedAt: new Date(createdAt.getTime() + 2_000) }],
          unknown: [bob],
        });
      }, 10_000);
    } finally {
      await consumer.stop();
    }
  });
});
