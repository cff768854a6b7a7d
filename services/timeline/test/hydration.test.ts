import { newId } from "@chirp/kit";
import { Hydration } from "../src/domain/hydration.js";
import type { ProfileCard, RenderedTweet } from "../src/domain/model.js";
import type { TimelineStores, Upstream } from "../src/domain/ports.js";
import { Profiles } from "../src/domain/profiles.js";
import { TweetCards } from "../src/domain/tweet-cards.js";
import { memoryStores } from "../src/storage/memory.js";

/** The users service as rendering asks it, counting the calls. */
class FakeUsers implements Upstream {
  readonly users = new Map<string, ProfileCard>();
  readonly profileCalls: string[][] = [];

  add(username: string): ProfileCard {
    const at = new Date();
    const user = { userId: newId(), username, displayName: username, bio: "", avatarUrl: "", createdAt: at, updatedAt: at };
    this.users.set(user.userId, user);
    return user;
  }

  async tweets(): Promise<RenderedTweet[]> {
    throw new Error("not asked in these tests");
  }

  async profiles(ids: string[]): Promise<ProfileCard[]> {
    this.profileCalls.push(ids);
    return ids.flatMap((id) => this.users.get(id) ?? []);
  }
}

describe("rendering people from the profiles projection first", () => {
  let stores: TimelineStores;
  let profiles: Profiles;
  let upstream: FakeUsers;
  const people = (ids: string[]) => new Hydration(new TweetCards(stores), profiles).profiles(ids, upstream);
  const byId = (users: ProfileCard[]) => [...users].sort((a, b) => (a.userId < b.userId ? -1 : 1));

  beforeEach(() => {
    stores = memoryStores(20);
    profiles = new Profiles(stores);
    upstream = new FakeUsers();
  });

  it("answers known people from the projection, with one store read and no call", async () => {
    const [alice, bob] = [newId(), newId()];
    const createdAt = new Date(Date.now() - 60_000);
    await profiles.userCreated({ userId: alice, username: "alice", displayName: "Alice", createdAt });
    await profiles.userCreated({ userId: bob, username: "bob", displayName: "bob", createdAt });
    const updatedAt = new Date(createdAt.getTime() + 1_000);
    await profiles.profileChanged({ userId: alice, username: "alice", displayName: "Alice L.", bio: "curious", avatarUrl: "https://example.org/a.png", createdAt, updatedAt });
    const reads = jest.spyOn(stores.profiles, "profiles");
    const tombstoneReads = jest.spyOn(stores.tombstones, "findTombstones");

    const shown = await people([alice, bob, alice]);
    expect(byId(shown)).toEqual(
      byId([
        { userId: alice, username: "alice", displayName: "Alice L.", bio: "curious", avatarUrl: "https://example.org/a.png", createdAt, updatedAt },
        { userId: bob, username: "bob", displayName: "bob", bio: "", avatarUrl: "", createdAt, updatedAt: createdAt },
      ]),
    );
    expect(upstream.profileCalls).toEqual([]);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(tombstoneReads).not.toHaveBeenCalled();
  });

  it("asks the users service, in one call, only for the people the projection does not know; people who exist nowhere are left out", async () => {
    const known = newId();
    await profiles.userCreated({ userId: known, username: "known", displayName: "Known", createdAt: new Date() });
    const [veteran, newcomer] = [upstream.add("veteran"), upstream.add("newcomer")];
    const nobody = newId();

    const shown = await people([veteran.userId, known, nobody, newcomer.userId]);
    expect(shown.map((user) => user.userId).sort()).toEqual([known, veteran.userId, newcomer.userId].sort());
    expect(shown.find((user) => user.userId === known)).toMatchObject({ username: "known", displayName: "Known" });
    expect(upstream.profileCalls).toEqual([[veteran.userId, nobody, newcomer.userId]]);
  });

  it("asks nothing for no one", async () => {
    expect(await people([])).toEqual([]);
    expect(upstream.profileCalls).toEqual([]);
  });
});
