import { DomainError, newId, notFound, permissionDenied, readPage, unauthenticated } from "@chirp/kit";
import { emailKey, usernameKey, type Account, type ProfileChanges, type User } from "./model.js";
import type { PasswordHasher } from "./passwords.js";
import type { TokenIssuer, UserEvents, UserRepository } from "./ports.js";
import { ADMIN_ROLE, RoleAdministration } from "./roles.js";
import * as valid from "./validation.js";

export interface UsersDependencies {
  repository: UserRepository;
  events: UserEvents;
  passwords: PasswordHasher;
  tokens: TokenIssuer;
  /** Called after a change recorded events, so they are relayed without waiting for the next poll. */
  onEventsRecorded?: () => void;
  clock?: () => Date;
}

export interface NewUser {
  username: string;
  email: string;
  password: string;
  displayName: string;
}

export interface UserUpdate {
  id: string;
  displayName: string;
  bio: string;
  avatarUrl: string;
}

export interface LoginResult {
  accessToken: string;
  expiresAt: Date;
  user: User;
}

/** How often an update reads the account again after a concurrent update of it got in first. */
const UPDATE_ATTEMPTS = 5;

const isUsernameCursor = (value: unknown): value is string => typeof value === "string";

/** Account rules: registration, login, profiles and deletion. Knows nothing of transports or databases. */
export class Users {
  private readonly roles: RoleAdministration;
  private readonly clock: () => Date;

  private constructor(
    private readonly deps: UsersDependencies,
    /** A real hash of a random password: login checks unknown users against it so they take as long as known ones. */
    private readonly decoyHash: string,
  ) {
    this.roles = new RoleAdministration(deps.repository);
    this.clock = deps.clock ?? (() => new Date());
  }

  static async create(deps: UsersDependencies): Promise<Users> {
    return new Users(deps, await deps.passwords.hash(newId()));
  }

  async createUser(input: NewUser): Promise<User> {
    const username = valid.username(input.username);
    const email = valid.email(input.email);
    const password = valid.password(input.password);
    const displayName = valid.displayName(input.displayName) || username;
    const now = this.clock();
    const account: Account = {
      id: newId(now.getTime()),
      username,
      email,
      displayName,
      bio: "",
      avatarUrl: "",
      createdAt: now,
      updatedAt: now,
      passwordHash: await this.deps.passwords.hash(password),
      roles: [],
    };
    await this.deps.repository.create(account, [this.deps.events.created(account)]);
    this.deps.onEventsRecorded?.();
    return this.view(account, account.id);
  }

  /** Unknown accounts and wrong passwords get the same answer after the same amount of work. */
  async login(usernameOrEmail: string, password: string): Promise<LoginResult> {
    const login = valid.login(usernameOrEmail);
    valid.loginPassword(password);
    const account = login.includes("@")
      ? await this.deps.repository.findByEmail(emailKey(login))
      : await this.deps.repository.findByUsername(usernameKey(login));
    const matches = await this.deps.passwords.verify(password, account?.passwordHash ?? this.decoyHash);
    if (!account || !matches) throw unauthenticated("username_or_email or password is incorrect");
    // The roles stored on the account, as of this login: a change shows in the next login's token.
    const { token, expiresAt } = this.deps.tokens.sign(account.id, account.roles);
    return { accessToken: token, expiresAt, user: this.view(account, account.id) };
  }

  async getUser(id: string, viewerId?: string): Promise<User> {
    const account = await this.deps.repository.findById(valid.userId(id));
    if (!account) throw notFound("id", `no user has id "${id}"`);
    return this.view(account, viewerId);
  }

  async getUserByUsername(username: string, viewerId?: string): Promise<User> {
    const account = await this.deps.repository.findByUsername(usernameKey(valid.username(username)));
    if (!account) throw notFound("username", `no user is named "${username}"`);
    return this.view(account, viewerId);
  }

  /** Found users in the order asked for, and the ids that name no user. */
  async batchGetUsers(ids: string[], viewerId?: string): Promise<{ users: User[]; missingIds: string[] }> {
    const wanted = valid.idList(ids);
    const found = new Map((await this.deps.repository.findByIds(wanted)).map((a) => [a.id, a]));
    return {
      users: wanted.flatMap((id) => (found.has(id) ? [this.view(found.get(id)!, viewerId)] : [])),
      missingIds: wanted.filter((id) => !found.has(id)),
    };
  }

  async searchUsers(
    input: { usernamePrefix: string; pageSize: number; pageToken: string },
    viewerId?: string,
  ): Promise<{ users: User[]; nextPageToken: string }> {
    const prefix = valid.usernamePrefix(input.usernamePrefix);
    const { items, nextPageToken } = await readPage(input, {
      query: { prefix },
      isCursor: isUsernameCursor,
      fetch: (after, limit) => this.deps.repository.listByUsernamePrefix(prefix, after, limit),
      cursorOf: (account) => usernameKey(account.username),
    });
    return { users: items.map((a) => this.view(a, viewerId)), nextPageToken };
  }

  /**
   * Writes the changes only if the account is still as read, together with a UserProfileChanged that
   * describes exactly the profile written; an update that got in between makes it read and try again.
   * An update that changes no value is still saved and announced: consumers keep the newest profile anyway.
   */
  async updateUser(callerId: string, update: UserUpdate, mask: string[] | undefined): Promise<User> {
    const id = valid.userId(update.id, "user.id");
    if (id !== callerId) throw permissionDenied("user.id: you can only update your own profile");
    const changes: ProfileChanges = {};
    for (const field of valid.updateMask(mask)) {
      if (field === "display_name") changes.displayName = valid.displayName(update.displayName, "user.display_name");
      if (field === "bio") changes.bio = valid.bio(update.bio, "user.bio");
      if (field === "avatar_url") changes.avatarUrl = valid.avatarUrl(update.avatarUrl, "user.avatar_url");
    }
    for (let attempt = 1; attempt <= UPDATE_ATTEMPTS; attempt++) {
      const current = await this.deps.repository.findById(id);
      if (!current) throw notFound("user.id", `no user has id "${id}"`);
      const applied = changes.displayName === "" ? { ...changes, displayName: current.username } : changes;
      // Consumers keep the profile with the newest updated_at, so it grows even within one millisecond.
      const updatedAt = new Date(Math.max(this.clock().getTime(), current.updatedAt.getTime() + 1));
      const next: Account = { ...current, ...applied, updatedAt };
      const saved = await this.deps.repository.update(id, current.updatedAt, applied, updatedAt, [this.deps.events.profileChanged(next)]);
      if (saved === "missing") throw notFound("user.id", `no user has id "${id}"`);
      if (saved === "stale") continue;
      this.deps.onEventsRecorded?.();
      return this.view(saved, callerId);
    }
    throw new DomainError("ABORTED", `user: the profile changed during each of ${UPDATE_ATTEMPTS} attempts to update it; retry`, "user");
  }

  async deleteUser(callerId: string, id: string): Promise<void> {
    valid.userId(id);
    if (id !== callerId) throw permissionDenied("id: you can only delete your own account");
    const deleted = await this.deps.repository.delete(id, [this.deps.events.deleted(id, this.clock())]);
    if (!deleted) throw notFound("id", `no user has id "${id}"`);
    this.deps.onEventsRecorded?.();
  }

  /**
   * Replaces an account's roles; only a caller holding the admin role may. The caller's roles are
   * those of their verified token, which the gateway passes on.
   */
  async setUserRoles(callerRoles: readonly string[], userId: string, roles: readonly string[]): Promise<string[]> {
    if (!callerRoles.includes(ADMIN_ROLE)) throw permissionDenied("user_id: changing a user's roles needs the admin role");
    return this.roles.setRoles(userId, roles);
  }

  /** What a viewer may see: everything but credentials, and the email only of their own account. */
  private view(account: Account, viewerId: string | undefined): User {
    const { passwordHash: _hash, roles: _roles, ...user } = account;
    return viewerId === account.id ? user : { ...user, email: "" };
  }
}
