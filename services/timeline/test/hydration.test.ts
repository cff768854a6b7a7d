import { newId } from "@chirp/kit";
import type { Tweet } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import type { User } from "@chirp/proto/grpc/chirp/users/v1/users";
import type { Hydration } from "../src/domain/ports.js";
import { Profiles } from "../src/domain/profiles.js";
import { TweetCards } from "../src/domain/tweet-cards.js";
import { projectionFirst } from "../src/hydration.js";
import { InMemoryTimelineStore } from "../src/storage/memory.js";

/** The users service as rendering asks it, counting the calls. */
class FakeUsers implements Hydration<Tweet, User> {
  readonly users = new Map<string, User>();
  readonly profileCalls: string[][] = [];

  add(username: string): User {
    const at = new Date();
    const user = { id: newId(), username, displayName: username, bio: "", avatarUrl: "", createdAt: at, updatedAt: at, email: "" };
    this.users.set(user.id, user);
    return user;
  }

  async tweets(): Promise<Tweet[]> {
    throw new Error("not asked in these tests");
  }

  async profiles(ids: string[]): Promise<User[]> {
    this.profileCalls.push(ids);
    return ids.flatMap((id) => this.users.get(id) ?? []);
  }
}

describe("rendering people from the profiles projection first", () => {
  let store: InMemoryTimelineStore;
  let profiles: Profiles;
  let upstream: FakeUsers;
  const hydration = () => projectionFirst(new TweetCards(store), profiles, "viewer", upstream);
  const byId = (users: User[]) => [...users].sort((a, b) => (a.id < b.id ? -1 : 1));

  beforeEach(() => {
    store = new InMemoryTimelineStore(20);
    profiles = new Profiles(store);
    upstream = new FakeUsers();
  });

  it("answers known people from the projection, as the users service's public message, with one store read and no call", async () => {
    const [alice, bob] = [newId(), newId()];
    const createdAt = new Date(Date.now() - 60_000);
    await profiles.userCreated({ userId: alice, username: "alice", displayName: "Alice", createdAt });
    await profiles.userCreated({ userId: bob, username: "bob", displayName: "bob", createdAt });
    const updatedAt = new Date(createdAt.getTime() + 1_000);
    await profiles.profileChanged({ userId: alice, username: "alice", displayName: "Alice L.", bio: "curious", avatarUrl: "https://example.org/a.png", createdAt, updatedAt });
    const reads = jest.spyOn(store, "profiles");
    const tombstoneReads = jest.spyOn(store, "findTombstones");

    const shown = await hydration().profiles([alice, bob, alice]);
    expect(byId(shown)).toEqual(
      byId([
        { id: alice, username: "alice", displayName: "Alice L.", bio: "curious", avatarUrl: "https://example.org/a.png", createdAt, updatedAt, email: "" },
        { id: bob, username: "bob", displayName: "bob", bio: "", avatarUrl: "", createdAt, updatedAt: createdAt, email: "" },
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

    const shown = await hydration().profiles([veteran.id, known, nobody, newcomer.id]);
    expect(shown.map((user) => user.id).sort()).toEqual([known, veteran.id, newcomer.id].sort());
    expect(shown.find((user) => user.id === known)).toMatchObject({ username: "known", displayName: "Known", email: "" });
    expect(upstream.profileCalls).toEqual([[veteran.id, nobody, newcomer.id]]);
  });

  it("asks nothing for no one", async () => {
    expect(await hydration().profiles([])).toEqual([]);
    expect(upstream.profileCalls).toEqual([]);
  });
});
