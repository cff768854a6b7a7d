import { newId } from "@chirp/kit";
import { decodeEvent } from "@chirp/kit/events";
import { domainFailure } from "@chirp/testing";
import type { PasswordHasher } from "../src/domain/passwords.js";
import { ADMIN_ROLE } from "../src/domain/users.js";
import { domainWithMemory, newUser, TEST_HASH_COST } from "./fixtures.js";
import { ScryptPasswordHasher } from "../src/domain/passwords.js";

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

  it("grants the admin role to configured usernames only", async () => {
    const { users, keys } = await domainWithMemory({ adminUsernames: ["Boss_User"] });
    const boss = newUser({ username: "boss_user" });
    const other = newUser();
    await users.createUser(boss);
    await users.createUser(other);
    expect(keys.verifier.verify((await users.login(boss.username, boss.password)).accessToken).roles).toEqual([ADMIN_ROLE]);
    expect(keys.verifier.verify((await users.login(other.username, other.password)).accessToken).roles).toEqual([]);
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
