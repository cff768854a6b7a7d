import { DomainError, newId, notFound, permissionDenied, readPage, resourceExhausted, unauthenticated } from "@chirp/kit";
import { emailKey, usernameKey, type Account, type ProfileChanges, type User } from "./model.js";
import type { PasswordHasher } from "./passwords.js";
import type { SessionStore, TokenIssuer, UserEvents, UserRepository } from "./ports.js";
import { ADMIN_ROLE, RoleAdministration } from "./roles.js";
import { deviceLabel, Sessions, type IssuedTokens, type SessionSettings, type SessionView } from "./sessions.js";
import { LoginThrottle } from "./throttle.js";
import * as valid from "./validation.js";

export interface UsersDependencies {
  repository: UserRepository & SessionStore;
  events: UserEvents;
  passwords: PasswordHasher;
  tokens: TokenIssuer;
  /** Called after a change recorded events, so they are relayed without waiting for the next poll. */
  onEventsRecorded?: () => void;
  clock?: () => Date;
  /** Lifetimes of refresh and access tokens; 30 days and 15 minutes when not given. */
  sessions?: SessionSettings;
}

/** Where a login or refresh comes from, as the gateway saw it. */
export interface Device {
  deviceLabel?: string;
  clientAddress?: string;
}

const DEFAULT_SESSIONS: SessionSettings = { refreshTtlMs: 30 * 24 * 3_600_000, accessTtlMs: 15 * 60_000 };

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

export interface LoginResult extends Omit<IssuedTokens, "account"> {
  user: User;
}

/** How often an update reads the account again after a concurrent update of it got in first. */
const UPDATE_ATTEMPTS = 5;

const isUsernameCursor = (value: unknown): value is string => typeof value === "string";

/** Account rules: registration, login, profiles and deletion. Knows nothing of transports or databases. */
export class Users {
  private readonly roles: RoleAdministration;
  private readonly clock: () => Date;
  private readonly sessions: Sessions;
  private readonly throttle: LoginThrottle;

  private constructor(
    private readonly deps: UsersDependencies,
    /** A real hash of a random password: login checks unknown users against it so they take as long as known ones. */
    private readonly decoyHash: string,
  ) {
    this.roles = new RoleAdministration(deps.repository);
    this.clock = deps.clock ?? (() => new Date());
    this.throttle = new LoginThrottle(this.clock);
    this.sessions = new Sessions({
      store: deps.repository,
      events: deps.events,
      tokens: deps.tokens,
      settings: deps.sessions ?? DEFAULT_SESSIONS,
      clock: this.clock,
      onEventsRecorded: deps.onEventsRecorded,
    });
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

  /**
   * Unknown accounts and wrong passwords get the same answer after the same amount of work, and the
   * same throttling (see LoginThrottle): it is keyed by the name given, decided before any lookup.
   */
  async login(usernameOrEmail: string, password: string, device: Device = {}): Promise<LoginResult> {
    const login = valid.login(usernameOrEmail);
    valid.loginPassword(password);
    const label = deviceLabel(device.deviceLabel ?? "");
    const throttleKey = `login:${login.toLowerCase()}`;
    this.checkThrottle(throttleKey, "username_or_email");
    const account = login.includes("@")
      ? await this.deps.repository.findByEmail(emailKey(login))
      : await this.deps.repository.findByUsername(usernameKey(login));
    const matches = await this.deps.passwords.verify(password, account?.passwordHash ?? this.decoyHash);
    if (!account || !matches) {
      this.throttle.failed(throttleKey);
      throw unauthenticated("username_or_email or password is incorrect");
    }
    this.throttle.succeeded(throttleKey);
    // The roles stored on the account, as of now: a change shows in the next refresh's token.
    const { account: _account, ...tokens } = await this.sessions.start(account, label, device.clientAddress ?? "");
    return { ...tokens, user: this.view(account, account.id) };
  }

  /** A new token pair for a refresh token, which is used up; see Sessions.refresh. */
  async refreshSession(refreshToken: string, device: Device = {}): Promise<LoginResult> {
    const { account, ...tokens } = await this.sessions.refresh(refreshToken, device.clientAddress ?? "");
    return { ...tokens, user: this.view(account, account.id) };
  }

  async listSessions(callerId: string, currentSessionId: string | undefined): Promise<SessionView[]> {
    return this.sessions.list(callerId, currentSessionId);
  }

  async revokeSession(callerId: string, sessionId: string): Promise<void> {
    await this.sessions.revoke(callerId, sessionId);
  }

  /** Ends the session of the caller's access token; FAILED_PRECONDITION when the token names none. */
  async logout(callerId: string, sessionId: string | undefined): Promise<void> {
    if (!sessionId) throw new DomainError("FAILED_PRECONDITION", "authorization: the access token names no session to end");
    try {
      await this.sessions.revoke(callerId, sessionId);
    } catch (error) {
      // Already ended (revoked elsewhere, expired): logging out is done all the same.
      if (!(error instanceof DomainError && error.code === "NOT_FOUND")) throw error;
    }
  }

  /**
   * Needs the current password (throttled like login, per account); stores the new one's hash and
   * ends every other session in the same write. Answers how many sessions ended.
   */
  async changePassword(callerId: string, currentSessionId: string | undefined, currentPassword: string, newPassword: string): Promise<number> {
    valid.loginPassword(currentPassword, "current_password");
    const password = valid.password(newPassword, "new_password");
    const throttleKey = `account:${callerId}`;
    this.checkThrottle(throttleKey, "current_password");
    const account = await this.deps.repository.findById(callerId);
    if (!account) throw notFound("user", "the caller's account does not exist");
    if (!(await this.deps.passwords.verify(currentPassword, account.passwordHash))) {
      this.throttle.failed(throttleKey);
      throw permissionDenied("current_password: is incorrect");
    }
    this.throttle.succeeded(throttleKey);
    return this.sessions.revokeAll(callerId, currentSessionId, await this.deps.passwords.hash(password));
  }

  /** Ends every session of a user; only a caller holding the admin role may. */
  async revokeUserSessions(callerRoles: readonly string[], userId: string): Promise<number> {
    if (!callerRoles.includes(ADMIN_ROLE)) throw permissionDenied("user_id: ending a user's sessions needs the admin role");
    return this.sessions.revokeAll(valid.userId(userId, "user_id"), undefined);
  }

  private checkThrottle(key: string, field: string): void {
    const waitMs = this.throttle.waitMs(key);
    if (waitMs > 0) {
      throw resourceExhausted(`${field}: too many failed attempts for this account; retry in ${Math.ceil(waitMs / 1000)} s`);
    }
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
