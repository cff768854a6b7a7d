import type { BusMessage } from "@chirp/kit";
import type { Account, ProfileChanges } from "./model.js";

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
  /** Removes the account (its username and email become free) and records the events; false when there is none. */
  delete(id: string, events: BusMessage[]): Promise<boolean>;
}

/** Why a conditional update wrote nothing. */
export type NotUpdated = "stale" | "missing";

/** Builds the event messages that announce account changes. */
export interface UserEvents {
  created(account: Account): BusMessage;
  /** The whole public profile as of `account.updatedAt`. */
  profileChanged(account: Account): BusMessage;
  deleted(userId: string, at: Date): BusMessage;
}

export interface TokenIssuer {
  sign(subject: string, roles: string[]): { token: string; expiresAt: Date };
}
