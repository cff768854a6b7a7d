import { decodePageToken, encodePageToken, invalidArgument, pageSize } from "@chirp/kit";
import { ACTORS_SHOWN, KINDS, MAX_ACTIVITIES_PER_USER, type Activity, type ActorView, type Kind, type NotificationView, type Profile } from "./model.js";
import type { NotificationStores, People } from "./ports.js";

/** The most kinds a list may ask for: each kind once. */
export const MAX_KINDS = KINDS.length;
/** What the contract promises of page tokens; the ones issued here are about 100 characters. */
export const MAX_PAGE_TOKEN = 200;
/** Longer than any group key (a kind, ":" and a ULID). */
const MAX_CURSOR_KEY = 80;
/** Read marks before this are a client's mistake (a zero or garbled time), not a choice. */
export const EARLIEST_MARK = new Date("2000-01-01T00:00:00Z");

export interface ListRequest {
  pageSize: number;
  pageToken: string;
  /** Undefined stands for a value the contract does not know (or UNSPECIFIED). */
  kinds: readonly (Kind | undefined)[];
}

export interface NotificationPage {
  notifications: NotificationView[];
  nextPageToken: string;
  readUpTo: Date | undefined;
}

interface Cursor {
  /** updatedAt in ms, and the group key: the last notification of the previous page. */
  t: number;
  k: string;
}

const isCursor = (value: unknown): value is Cursor =>
  typeof value === "object" &&
  value !== null &&
  Number.isSafeInteger((value as Cursor).t) &&
  typeof (value as Cursor).k === "string" &&
  (value as Cursor).k.length <= MAX_CURSOR_KEY;

/** A group as it is being counted from its activities, newest first. */
interface Group {
  id: string;
  kind: Kind;
  tweetId: string;
  replyToId: string;
  updatedAt: Date;
  actors: Map<string, Date>;
}

/**
 * Groups a user's activities, newest first, into notifications, most recent activity first (ties
 * by key, so the order is total and pages can resume from the last one shown).
 */
export function groupActivities(activities: readonly Activity[]): Group[] {
  const groups = new Map<string, Group>();
  for (const activity of [...activities].sort((a, b) => b.at.getTime() - a.at.getTime())) {
    let group = groups.get(activity.groupKey);
    if (!group) {
      group = { id: activity.groupKey, kind: activity.kind, tweetId: activity.tweetId, replyToId: activity.replyToId, updatedAt: activity.at, actors: new Map() };
      groups.set(activity.groupKey, group);
    }
    if (!group.actors.has(activity.actorId)) group.actors.set(activity.actorId, activity.at);
  }
  return [...groups.values()].sort(newestFirst);
}

function newestFirst(a: { updatedAt: Date; id: string }, b: { updatedAt: Date; id: string }): number {
  return b.updatedAt.getTime() - a.updatedAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

const after = (cursor: Cursor) => (group: Group) => group.updatedAt.getTime() < cursor.t || (group.updatedAt.getTime() === cursor.t && group.id < cursor.k);

/**
 * The reads of each user's notifications: grouped when read from at most MAX_ACTIVITIES_PER_USER
 * rows, so counts never depend on a shared counter, with the actors' names read from the users
 * service at the same time (never copied here, so a renamed or deleted account shows as it is now).
 */
export class Notifications {
  constructor(
    private readonly stores: NotificationStores,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async list(userId: string, request: ListRequest, people: People): Promise<NotificationPage> {
    const kinds = checkedKinds(request.kinds);
    const size = pageSize(request.pageSize);
    const query = { kinds: [...kinds].sort() };
    if (request.pageToken.length > MAX_PAGE_TOKEN) throw invalidArgument("page_token", `is not a token this service issued (longer than ${MAX_PAGE_TOKEN} characters)`);
    const cursor = decodePageToken(request.pageToken, isCursor, query);
    const [activities, readUpTo] = await Promise.all([this.stores.activities.received(userId, MAX_ACTIVITIES_PER_USER), this.stores.readMarks.get(userId)]);
    let groups = groupActivities(kinds.size === 0 ? activities : activities.filter((a) => kinds.has(a.kind)));
    if (cursor) groups = groups.filter(after(cursor));
    const page = groups.slice(0, size);
    const last = page.at(-1);
    const nextPageToken = groups.length > size && last ? encodePageToken({ t: last.updatedAt.getTime(), k: last.id } satisfies Cursor, query) : "";
    return { notifications: await views(page, readUpTo, people), nextPageToken, readUpTo };
  }

  /** The caller's notification `groupKey` as a list would show it now; undefined when it has none. */
  async notification(userId: string, groupKey: string, people: People): Promise<NotificationView | undefined> {
    const [activities, readUpTo] = await Promise.all([this.stores.activities.received(userId, MAX_ACTIVITIES_PER_USER), this.stores.readMarks.get(userId)]);
    const group = groupActivities(activities.filter((a) => a.groupKey === groupKey))[0];
    return group && (await views([group], readUpTo, people))[0];
  }

  async unreadCount(userId: string): Promise<{ unreadCount: number; readUpTo: Date | undefined }> {
    const [activities, readUpTo] = await Promise.all([this.stores.activities.received(userId, MAX_ACTIVITIES_PER_USER), this.stores.readMarks.get(userId)]);
    return { unreadCount: countUnread(activities, readUpTo), readUpTo };
  }

  /** Moves the read mark forward to `upTo` (now when unset; a later time counts as now). */
  async markRead(userId: string, upTo: Date | undefined): Promise<{ readUpTo: Date; unreadCount: number }> {
    const now = this.clock();
    if (upTo !== undefined && Number.isNaN(upTo.getTime())) throw invalidArgument("up_to", "is not a valid time");
    if (upTo !== undefined && upTo < EARLIEST_MARK) throw invalidArgument("up_to", `must be ${EARLIEST_MARK.toISOString()} or later`);
    const to = upTo === undefined || upTo > now ? now : upTo;
    const readUpTo = await this.stores.readMarks.advance(userId, to);
    const activities = await this.stores.activities.received(userId, MAX_ACTIVITIES_PER_USER);
    return { readUpTo, unreadCount: countUnread(activities, readUpTo) };
  }
}

function countUnread(activities: readonly Activity[], readUpTo: Date | undefined): number {
  const unread = new Set<string>();
  for (const activity of activities) if (!readUpTo || activity.at > readUpTo) unread.add(activity.groupKey);
  return unread.size;
}

/** The kinds asked for, each once; the count is checked before any value is looked at. */
function checkedKinds(kinds: readonly (Kind | undefined)[]): Set<Kind> {
  if (kinds.length > MAX_KINDS) throw invalidArgument("kinds", `must list at most ${MAX_KINDS} kinds, got ${kinds.length}`);
  const checked = new Set<Kind>();
  kinds.forEach((kind, index) => {
    if (kind === undefined) throw invalidArgument(`kinds[${index}]`, "must be MENTION, REPLY, LIKE, RETWEET or FOLLOW");
    checked.add(kind);
  });
  return checked;
}

/** The groups as notifications, with the profiles of the actors shown, asked for in one call. */
async function views(groups: readonly Group[], readUpTo: Date | undefined, people: People): Promise<NotificationView[]> {
  const shown = groups.map((group) => [...group.actors].slice(0, ACTORS_SHOWN));
  const ids = [...new Set(shown.flat().map(([userId]) => userId))];
  const profiles = new Map<string, Profile>();
  if (ids.length > 0) for (const profile of await people.profiles(ids)) profiles.set(profile.userId, profile);
  return groups.map((group, index) => {
    const actors: ActorView[] = shown[index]!.map(([userId, at]) => {
      const profile = profiles.get(userId);
      return profile ? { userId, at, profile } : { userId, at };
    });
    return {
      id: group.id,
      kind: group.kind,
      tweetId: group.tweetId,
      replyToId: group.replyToId,
      actors,
      actorCount: group.actors.size,
      updatedAt: group.updatedAt,
      unread: !readUpTo || group.updatedAt > readUpTo,
    };
  });
}
