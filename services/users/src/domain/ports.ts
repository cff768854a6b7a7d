import type { BusMessage } from "@chirp/kit";
import type { Account, AccountSessions, ProfileChanges, Session } from "./model.js";

/**
 * Where accounts live. Every change that other services must hear about is saved together with
 * its event messages, atomically (the outbox); a store never publishes by itself.
 */
export interface UserRepository {
  /** Saves a new account; ALREADY_EXISTS naming `username` or `email` when either is taken. */
  create(account: Account, events: BusMessage[]): Promise<void>;
  findById(id: string): Promise<Account | undefined>;
  /** Case-insensitive. */
  findByUsername(username: string): Promise<Account | undefined>;
  /** Case-insensitive. */
  findByEmail(email: string): Promise<Account | undefined>;
  /** The accounts that exist among the ids, in any order. */
  findByIds(ids: string[]): Promise<Account[]>;
  /**
   * Accounts whose lower-cased username starts with `prefix` and sorts after `after`, in
   * lower-cased username order, at most `limit` of them.
   */
  listByUsernamePrefix(prefix: string, after: string | undefined, limit: number): Promise<Account[]>;
  /**
   * Applies the changes, sets `updatedAt` and records the events, all in one atomic write, only if
   * the account's `updatedAt` is still `expectedUpdatedAt`. Answers the account as saved, "stale"
   * when it has changed since (nothing is written), "missing" when there is no such account.
   */
  update(id: string, expectedUpdatedAt: Date, changes: ProfileChanges, updatedAt: Date, events: BusMessage[]): Promise<Account | NotUpdated>;
  /**
   * Replaces the account's roles, in one write that changes nothing else (not `updatedAt`: roles are
   * not part of the public profile, and nothing is announced). Answers the account as saved, or
   * undefined when there is no such account.
   */
  setRoles(id: string, roles: string[]): Promise<Account | undefined>;
  /** Removes the account (its username, email and sessions with it) and records the events; false when there is none. */
  delete(id: string, events: BusMessage[]): Promise<boolean>;
}

/**
 * Where an account's sessions live: with the account, so that a change to them, its events and a
 * new password hash are one atomic write. Reads of accounts elsewhere never load them.
 */
export interface SessionStore {
  /** The account with its sessions and their version; undefined when there is no such account. */
  findSessions(userId: string): Promise<AccountSessions | undefined>;
  /**
   * Replaces the account's sessions (and, when given, its password hash) and records the events, in
   * one write, only if the sessions' version is still `expectedVersion`; the version then grows by
   * one. "stale" when it has changed since (nothing is written), "missing" when there is no account.
   */
  saveSessions(userId: string, expectedVersion: number, sessions: Session[], events: BusMessage[], passwordHash?: string): Promise<"saved" | NotUpdated>;
}

/** Why a conditional update wrote nothing. */
export type NotUpdated = "stale" | "missing";

/** Builds the event messages that announce account changes. */
export interface UserEvents {
  created(account: Account): BusMessage;
  /** The whole public profile as of `account.updatedAt`. */
  profileChanged(account: Account): BusMessage;
  deleted(userId: string, at: Date): BusMessage;
  /** Sessions ended: their access tokens are refused until `accessTokensExpireBy`. */
  sessionsRevoked(userId: string, sessionIds: string[], at: Date, accessTokensExpireBy: Date): BusMessage;
}

export interface TokenIssuer {
  sign(subject: string, roles: string[], now?: number, sessionId?: string): { token: string; expiresAt: Date };
}
