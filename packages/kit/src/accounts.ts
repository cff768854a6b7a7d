import { DomainError, invalidArgument, permissionDenied, unauthenticated } from "./errors.js";
import { isId } from "./ids.js";

/**
 * Whether a user's account is live, as its owner (the users service) says at the moment of asking.
 * Services that accept writes on a user's behalf ask it before each one: the caller's access token
 * stays valid until it expires, even after the account is deleted, and the UserDeleted event that
 * tells every service reaches them only later.
 */
export interface Accounts {
  /** False once the account is deleted (that is final); UNAVAILABLE when there is no telling. */
  isLive(userId: string): Promise<boolean>;
}

export const accountDeleted = () => permissionDenied("your account has been deleted");

/**
 * Runs the reads a write needs first while asking whether the caller's account is live, so the
 * question adds no wait of its own, and answers with what they read. A deleted account is refused
 * (PERMISSION_DENIED) whatever the reads found or failed with, and a check that failed fails the
 * write: nothing is written for a caller not known to be live. A caller id that is not a user id is
 * no identity at all (UNAUTHENTICATED) and is not asked about.
 */
export async function asLiveCaller<T>(accounts: Accounts, callerId: string, reads: () => Promise<T>): Promise<T> {
  if (!isId(callerId)) throw unauthenticated("the caller id is not a valid user id");
  const [live, result] = await Promise.allSettled([accounts.isLive(callerId), reads()]);
  if (live.status === "rejected") throw live.reason;
  if (!live.value) throw accountDeleted();
  if (result.status === "rejected") throw result.reason;
  return result.value;
}

/** A user's public profile as the users service gives it to anyone: never the email. */
export interface PublicProfile {
  id: string;
  username: string;
  displayName: string;
  bio: string;
  avatarUrl: string;
  createdAt?: Date;
  updatedAt?: Date;
}

/**
 * The public profiles of users, from their owner (the users service), for the lists that show
 * people (followers, following, likers) when a client asks for them. The graph and tweets services
 * keep no copy of profiles: they ask at the moment of answering, one call per page, so a list shows
 * each person's current name and avatar, and the users service's database stays its own.
 */
export interface Profiles {
  /**
   * The profiles of those of `ids` (at most 100) that name a live account, by id; UNAVAILABLE when
   * the users service does not answer.
   */
  profiles(ids: readonly string[]): Promise<ReadonlyMap<string, PublicProfile>>;
}

/** What a list of people carries per person: ids (and times) only, or their profiles too. */
export type PeopleView = "ids" | "profiles";

/**
 * `entries` with each one's person's profile added when `view` asks for profiles (one call for the
 * page; a deleted account gets none), or as they are otherwise. Without a source of profiles (a
 * service built without one, as in tests of other things), asking for them is UNAVAILABLE.
 */
export async function withProfiles<E extends { userId: string }>(
  profiles: Profiles | undefined,
  view: PeopleView,
  entries: readonly E[],
): Promise<Array<E & { profile?: PublicProfile }>> {
  if (view !== "profiles" || entries.length === 0) return [...entries];
  if (!profiles) throw new DomainError("UNAVAILABLE", "view: no source of profiles is configured here; ask for PEOPLE_VIEW_IDS", "view");
  const found = await profiles.profiles([...new Set(entries.map((e) => e.userId))]);
  return entries.map((e) => {
    const profile = found.get(e.userId);
    return profile ? { ...e, profile } : { ...e };
  });
}

/**
 * The view a list request asks for, from the number of its `PeopleView` enum (the same numbers in
 * every package that has one): unset and IDS are ids, PROFILES profiles, anything else refused.
 */
export function peopleViewOf(value: number): PeopleView {
  if (value === 0 || value === 1) return "ids";
  if (value === 2) return "profiles";
  throw invalidArgument("view", `${value} is not a PeopleView (PEOPLE_VIEW_IDS = 1, PEOPLE_VIEW_PROFILES = 2)`);
}
