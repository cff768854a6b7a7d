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
