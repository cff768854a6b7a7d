/** A user as the rest of the system sees it. `email` is private to the user. */
export interface User {
  id: string;
  username: string;
  email: string;
  displayName: string;
  bio: string;
  avatarUrl: string;
  createdAt: Date;
  updatedAt: Date;
}

/** What is stored: the user plus credentials and roles, never returned by the API. */
export interface Account extends User {
  passwordHash: string;
  roles: string[];
}

/** Profile fields a user may change, by their API (snake_case) names. */
export const EDITABLE_FIELDS = ["display_name", "bio", "avatar_url"] as const;
export type EditableField = (typeof EDITABLE_FIELDS)[number];

export interface ProfileChanges {
  displayName?: string;
  bio?: string;
  avatarUrl?: string;
}

/** Lookups ignore case: "Alice" and "alice" are one username, likewise email addresses. */
export const usernameKey = (username: string) => username.toLowerCase();
export const emailKey = (email: string) => email.toLowerCase();

/**
 * One signed-in device: a family of refresh tokens, each used once to get the next. Only hashes of
 * the tokens are kept, never the tokens.
 */
export interface Session {
  /** A ULID; access tokens name it as `sid`. */
  id: string;
  deviceLabel: string;
  /** Where it was last used from, as the gateway saw it. */
  clientAddress: string;
  createdAt: Date;
  lastUsedAt: Date;
  /** The session ends unless refreshed before this. */
  expiresAt: Date;
  /** SHA-256 (base64url) of the secret of the one refresh token that works now. */
  tokenHash: string;
  /** Hashes of the session's refresh tokens already exchanged, newest last and bounded: one coming back is theft. */
  usedHashes: string[];
}

/** An account's sessions as stored, with the version a change must still find to be written. */
export interface AccountSessions {
  account: Account;
  sessions: Session[];
  version: number;
}
