import { newId } from "@chirp/kit";
import { decodeEvent } from "@chirp/kit/events";
import type { UserProfileChanged } from "@chirp/proto/grpc/chirp/events/v1/events";
import { domainFailure } from "@chirp/kit/testing";
import type { Account } from "../src/domain/model.js";
import type { PasswordHasher } from "../src/domain/passwords.js";
import { ADMIN_ROLE } from "../src/domain/roles.js";
import { domainWithMemory, newUser, TEST_HASH_COST } from "./fixtures.js";
import { ScryptPasswordHasher } from "../src/domain/passwords.js";
import { InMemoryUserRepository } from "../src/storage/memory.js";

/** The public profile a UserProfileChanged must carry for a saved account. */
const profileOf = (account: Account): UserProfileChanged => ({
  userId: account.id,
  username: account.username,
  displayName: account.displayName,
  bio: account.bio,
  avatarUrl: account.avatarUrl,
  updatedAt: account.updatedAt,
});

describe("Users domain", () => {
  it("registers an account, hashes the password and records a UserCreated event", async () => {
    const { users, repository } = await domainWithMemory();
    const input = newUser({ displayName: "  Ann  " });
    const user = await users.createUser(input);

    expect(user).toMatchObject({ username: input.username, email: input.email, displayName: "Ann", bio: "", avatarUrl: "" });
    const stored = await repository.findById(user.id);
    expect(stored?.passwordHash).toMatch(/^scrypt\$/);
    expect(stored?.passwordHash).not.toContain(input.password);
    expect(user).not.toHaveProperty("passwordHash");

    const [pending] = await repository.pending(10);
    const event = decodeEvent(pending!.message.data);
    expect(pending!.message.subject).toBe("chirp.users.user_created");
    expect(event.id).toBe(pending!.message.id);
    expect(event.payload).toEqual({ $case: "userCreated", value: { userId: user.id, username: input.username, displayName: "Ann" } });
  });

  it("uses the username as display name when none is given", async () => {
    const { users } = await domainWithMemory();
    const input = newUser();
    expect((await users.createUser(input)).displayName).toBe(input.username);
  });

  it("refuses a username taken in any letter case, and a registered email in any case", async () => {
    const { users } = await domainWithMemory();
    const first = newUser({ username: "CaseTest" });
    await users.createUser(first);

    const sameName = await domainFailure(users.createUser(newUser({ username: "casetest" })));
    expect(sameName.code).toBe("ALREADY_EXISTS");
    expect(sameName.message).toMatch(/^username: /);

    const sameEmail = await domainFailure(users.createUser(newUser({ email: first.email.toUpperCase() })));
    expect(sameEmail.code).toBe("ALREADY_EXISTS");
    expect(sameEmail.message).toMatch(/^email: /);
  });

  it("logs in by username or email in any case and issues a verifiable token", async () => {
    const { users, keys } = await domainWithMemory();
    const input = newUser();
    const user = await users.createUser(input);

    for (const login of [input.username, input.username.toUpperCase(), input.email.toUpperCase()]) {
      const result = await users.login(login, input.password);
      expect(result.user.id).toBe(user.id);
      const claims = keys.verifier.verify(result.accessToken);
      expect(claims.sub).toBe(user.id);
      expect(claims.roles).toEqual([]);
      expect(result.expiresAt.getTime()).toBe(claims.exp * 1000);
    }
  });

  it("answers an unknown user and a wrong password alike, after the same hashing work", async () => {
    const real = new ScryptPasswordHasher(TEST_HASH_COST);
    const verifications: string[] = [];
    const counting: PasswordHasher = {
      hash: (password) => real.hash(password),
      verify: async (password, hash) => {
        verifications.push(hash);
        return real.verify(password, hash);
      },
    };
    const { users } = await domainWithMemory({ passwords: counting });
    const input = newUser();
    await users.createUser(input);

    const wrongPassword = await domainFailure(users.login(input.username, "not the password"));
    const unknownUser = await domainFailure(users.login("nobody_here", "not the password"));
    expect(wrongPassword.code).toBe("UNAUTHENTICATED");
    expect(unknownUser.code).toBe("UNAUTHENTICATED");
    expect(unknownUser.message).toBe(wrongPassword.message);
    // One full scrypt verification each: the unknown user is checked against a decoy hash.
    expect(verifications).toHaveLength(2);
    expect(verifications.every((hash) => hash.startsWith(`scrypt$${TEST_HASH_COST}$`))).toBe(true);
  });

  it("refuses empty login fields by name", async () => {
    const { users } = await domainWithMemory();
    expect((await domainFailure(users.login(" ", "x"))).message).toMatch(/^username_or_email: /);
    expect((await domainFailure(users.login("ann", ""))).message).toMatch(/^password: /);
  });

  it("lets only an admin set roles, which the account's next login carries", async () => {
    const { users, keys } = await domainWithMemory();
    const input = newUser();
    const user = await users.createUser(input);
    const rolesAtLogin = async () => keys.verifier.verify((await users.login(input.username, input.password)).accessToken).roles;

    const denied = await domainFailure(users.setUserRoles(["beta"], user.id, [ADMIN_ROLE]));
    expect([denied.code, denied.message]).toEqual(["PERMISSION_DENIED", "user_id: changing a user's roles needs the admin role"]);
    expect(await rolesAtLogin()).toEqual([]);

    expect(await users.setUserRoles([ADMIN_ROLE], user.id, [ADMIN_ROLE, ADMIN_ROLE])).toEqual([ADMIN_ROLE]);
    expect(await rolesAtLogin()).toEqual([ADMIN_ROLE]);
    expect(await users.setUserRoles([ADMIN_ROLE], user.id, [])).toEqual([]);
    expect(await rolesAtLogin()).toEqual([]);
  });

  it("refuses unknown roles, too many roles and unknown or malformed ids, naming the field", async () => {
    const { users } = await domainWithMemory();
    const user = await users.createUser(newUser());
    const admin = [ADMIN_ROLE];
    const cases: Array<[Promise<unknown>, string, string]> = [
      [users.setUserRoles(admin, user.id, [ADMIN_ROLE, "root"]), "INVALID_ARGUMENT", 'roles[1]: "root" is not a role; roles are: admin'],
      [users.setUserRoles(admin, user.id, ["Admin"]), "INVALID_ARGUMENT", 'roles[0]: "Admin" is not a role; roles are: admin'],
      [users.setUserRoles(admin, user.id, ["x".repeat(100_000)]), "INVALID_ARGUMENT", `roles[0]: "${"x".repeat(32)}…" is not a role; roles are: admin`],
      [users.setUserRoles(admin, user.id, Array(9).fill(ADMIN_ROLE)), "INVALID_ARGUMENT", "roles: may hold at most 8 roles"],
      [users.setUserRoles(admin, "nope", admin), "INVALID_ARGUMENT", "user_id: is not a valid user id"],
      [users.setUserRoles(admin, "", admin), "INVALID_ARGUMENT", "user_id: is required"],
      [users.setUserRoles(admin, newId(), admin), "NOT_FOUND", "user_id: no user has id"],
    ];
    for (const [promise, code, message] of cases) {
      const failure = await domainFailure(promise);
      expect([failure.code, failure.message.slice(0, message.length)]).toEqual([code, message]);
    }
  });

  it("takes nothing from a username: ROOT or admin registers as anyone does", async () => {
    const { users, keys } = await domainWithMemory();
    for (const username of ["ROOT", "admin"]) {
      const input = newUser({ username });
      await users.createUser(input);
      expect(keys.verifier.verify((await users.login(username, input.password)).accessToken).roles).toEqual([]);
    }
  });

  it("shows the email address only to its owner", async () => {
    const { users } = await domainWithMemory();
    const input = newUser();
    const user = await users.createUser(input);
    expect((await users.getUser(user.id, user.id)).email).toBe(input.email);
    expect((await users.getUser(user.id, newId())).email).toBe("");
    expect((await users.getUser(user.id)).email).toBe("");
    expect((await users.getUserByUsername(input.username.toUpperCase())).id).toBe(user.id);
  });

  it("tells a malformed id from an unknown one", async () => {
    const { users } = await domainWithMemory();
    const malformed = await domainFailure(users.getUser("nope"));
    expect(malformed.code).toBe("INVALID_ARGUMENT");
    expect(malformed.message).toMatch(/^id: /);
    const unknown = await domainFailure(users.getUser(newId()));
    expect(unknown.code).toBe("NOT_FOUND");
    expect(unknown.message).toMatch(/^id: /);
    const unknownName = await domainFailure(users.getUserByUsername("nobody"));
    expect(unknownName.code).toBe("NOT_FOUND");
    expect(unknownName.message).toMatch(/^username: /);
  });

  it("batch-gets in request order, answering duplicates once and listing missing ids", async () => {
    const { users } = await domainWithMemory();
    const a = await users.createUser(newUser());
    const b = await users.createUser(newUser());
    const ghost = newId();
    const result = await users.batchGetUsers([b.id, ghost, a.id, b.id]);
    expect(result.users.map((u) => u.id)).toEqual([b.id, a.id]);
    expect(result.missingIds).toEqual([ghost]);
  });

  it("pages through a username search without gaps or repeats", async () => {
    const { users } = await domainWithMemory();
    const names = ["pg_carol", "PG_alice", "pg_bob", "pg_dave", "pg_erin", "other_x"];
    for (const username of names) await users.createUser(newUser({ username }));

    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await users.searchUsers({ usernamePrefix: "PG_", pageSize: 2, pageToken });
      expect(page.users.length).toBeLessThanOrEqual(2);
      seen.push(...page.users.map((u) => u.username));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(["PG_alice", "pg_bob", "pg_carol", "pg_dave", "pg_erin"]);

    const first = await users.searchUsers({ usernamePrefix: "pg_", pageSize: 2, pageToken: "" });
    const misuse = await domainFailure(users.searchUsers({ usernamePrefix: "other", pageSize: 2, pageToken: first.nextPageToken }));
    expect(misuse.code).toBe("INVALID_ARGUMENT");
    expect(misuse.message).toMatch(/^page_token: /);
  });

  it("updates only the masked fields, only for the user themself", async () => {
    const { users } = await domainWithMemory();
    const ann = await users.createUser(newUser({ displayName: "Ann" }));
    const bob = await users.createUser(newUser());

    const changes = { id: ann.id, displayName: "Ignored", bio: "Hello 👋", avatarUrl: "https://img.example.org/ann.png" };
    const updated = await users.updateUser(ann.id, changes, ["bio", "avatar_url"]);
    expect(updated).toMatchObject({ displayName: "Ann", bio: "Hello 👋", avatarUrl: "https://img.example.org/ann.png" });
    expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(ann.updatedAt.getTime());

    const cleared = await users.updateUser(ann.id, { ...changes, displayName: "" }, ["display_name"]);
    expect(cleared.displayName).toBe(ann.username);

    const denied = await domainFailure(users.updateUser(bob.id, changes, ["bio"]));
    expect(denied.code).toBe("PERMISSION_DENIED");
    const badMask = await domainFailure(users.updateUser(ann.id, changes, ["username"]));
    expect(badMask.message).toMatch(/^update_mask: /);
    const longBio = await domainFailure(users.updateUser(ann.id, { ...changes, bio: "x".repeat(161) }, ["bio"]));
    expect(longBio.message).toMatch(/^user\.bio: /);
    expect((await users.getUser(ann.id)).bio).toBe("Hello 👋");
  });

  it("announces an update with a UserProfileChanged holding the profile as saved", async () => {
    const recorded = jest.fn();
    const { users, repository } = await domainWithMemory({ onEventsRecorded: recorded });
    const ann = await users.createUser(newUser({ displayName: "Ann" }));
    recorded.mockClear();

    const updated = await users.updateUser(ann.id, { id: ann.id, displayName: "Ann B", bio: "Hi", avatarUrl: "" }, ["display_name", "bio"]);
    expect(recorded).toHaveBeenCalledTimes(1);
    const stored = await repository.findById(ann.id);
    expect(updated.updatedAt).toEqual(stored!.updatedAt);

    const mine = (await repository.pending(10)).filter((p) => p.ownerId === ann.id);
    expect(mine.map((p) => p.message.subject)).toEqual(["chirp.users.user_created", "chirp.users.user_profile_changed"]);
    const event = decodeEvent(mine[1]!.message.data);
    expect(event.id).toBe(mine[1]!.message.id);
    expect(event.occurredAt).toEqual(stored!.updatedAt);
    expect(event.payload).toEqual({ $case: "userProfileChanged", value: profileOf(stored!) });
  });

  it("makes updated_at grow with every update, even within one millisecond", async () => {
    const instant = new Date("2030-01-01T00:00:00.000Z");
    const { users, repository } = await domainWithMemory({ clock: () => instant });
    const ann = await users.createUser(newUser());

    const first = await users.updateUser(ann.id, { id: ann.id, displayName: "", bio: "one", avatarUrl: "" }, ["bio"]);
    const second = await users.updateUser(ann.id, { id: ann.id, displayName: "", bio: "two", avatarUrl: "" }, ["bio"]);
    expect(first.updatedAt.getTime()).toBe(instant.getTime() + 1);
    expect(second.updatedAt.getTime()).toBe(instant.getTime() + 2);

    const announced = (await repository.pending(10))
      .filter((p) => p.ownerId === ann.id)
      .map((p) => decodeEvent(p.message.data).payload)
      .flatMap((payload) => (payload?.$case === "userProfileChanged" ? [payload.value] : []));
    expect(announced.map((p) => [p.bio, p.updatedAt?.getTime()])).toEqual([
      ["one", instant.getTime() + 1],
      ["two", instant.getTime() + 2],
    ]);
  });

  it("announces concurrent updates so that the last event matches the saved profile", async () => {
    const { users, repository } = await domainWithMemory();
    const ann = await users.createUser(newUser());
    const base = { id: ann.id, displayName: "Ann C", bio: "Concurrent", avatarUrl: "https://img.example.org/c.png" };
    const update = jest.spyOn(repository, "update");

    await Promise.all([
      users.updateUser(ann.id, base, ["display_name"]),
      users.updateUser(ann.id, base, ["bio"]),
      users.updateUser(ann.id, base, ["avatar_url"]),
    ]);
    // All three read the same account, so all but one had to read it again and retry.
    expect(update.mock.calls.length).toBeGreaterThan(3);
    const stored = await repository.findById(ann.id);
    expect(stored).toMatchObject({ displayName: "Ann C", bio: "Concurrent", avatarUrl: "https://img.example.org/c.png" });

    const changes = (await repository.pending(10))
      .filter((p) => p.ownerId === ann.id && p.message.subject === "chirp.users.user_profile_changed")
      .map((p) => decodeEvent(p.message.data).payload?.value as UserProfileChanged);
    expect(changes).toHaveLength(3);
    expect(changes.at(-1)).toEqual(profileOf(stored!));
    const times = changes.map((c) => c.updatedAt!.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(new Set(times).size).toBe(3);
  });

  it("gives up with ABORTED, having written nothing, when the profile keeps changing under an update", async () => {
    const repository = new InMemoryUserRepository();
    const { users } = await domainWithMemory({ repository });
    const ann = await users.createUser(newUser());
    const update = jest.spyOn(repository, "update").mockResolvedValue("stale");

    const failure = await domainFailure(users.updateUser(ann.id, { id: ann.id, displayName: "", bio: "lost", avatarUrl: "" }, ["bio"]));
    expect(failure.code).toBe("ABORTED");
    expect(failure.message).toMatch(/^user: .*retry$/);
    expect(update).toHaveBeenCalledTimes(5);
    update.mockRestore();
    expect((await repository.findById(ann.id))?.bio).toBe("");
    expect((await repository.pending(10)).filter((p) => p.ownerId === ann.id)).toHaveLength(1);
  });

  it("answers NOT_FOUND when the account is deleted between reading and writing it", async () => {
    const repository = new InMemoryUserRepository();
    const { users } = await domainWithMemory({ repository });
    const ann = await users.createUser(newUser());
    const findById = repository.findById.bind(repository);
    jest.spyOn(repository, "findById").mockImplementationOnce(async (id) => {
      const found = await findById(id);
      await users.deleteUser(ann.id, ann.id);
      return found;
    });

    const failure = await domainFailure(users.updateUser(ann.id, { id: ann.id, displayName: "", bio: "late", avatarUrl: "" }, ["bio"]));
    expect([failure.code, failure.field]).toEqual(["NOT_FOUND", "user.id"]);
    const events = (await repository.pending(10)).filter((p) => p.ownerId === ann.id).map((p) => p.message.subject);
    expect(events).toEqual(["chirp.users.user_created", "chirp.users.user_deleted"]);
  });

  it("deletes only the caller's own account, frees its names and records UserDeleted", async () => {
    const { users, repository } = await domainWithMemory();
    const input = newUser();
    const ann = await users.createUser(input);
    const bob = await users.createUser(newUser());

    expect((await domainFailure(users.deleteUser(bob.id, ann.id))).code).toBe("PERMISSION_DENIED");
    await users.deleteUser(ann.id, ann.id);
    expect((await domainFailure(users.getUser(ann.id))).code).toBe("NOT_FOUND");
    expect((await domainFailure(users.login(input.username, input.password))).code).toBe("UNAUTHENTICATED");
    expect((await domainFailure(users.deleteUser(ann.id, ann.id))).code).toBe("NOT_FOUND");

    const events = (await repository.pending(10)).filter((p) => p.ownerId === ann.id).map((p) => decodeEvent(p.message.data).payload?.$case);
    expect(events).toEqual(["userCreated", "userDeleted"]);

    const again = await users.createUser(input);
    expect(again.id).not.toBe(ann.id);
  });
});
