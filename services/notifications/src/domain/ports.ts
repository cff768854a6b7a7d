import type { Activity, Profile } from "./model.js";

/**
 * The activities of every user. Likes and follows can be undone and their events can arrive in
 * any order, so each row remembers the time of its last change and whether it is on: a change
 * older than the one kept is ignored, and an undo that comes first leaves an "off" row behind that
 * the late "on" loses to.
 */
export interface ActivityStore {
  /**
   * Writes `activity` (on) unless its row changed at the same time or later; answers whether it
   * was written. Writing the same activity twice writes it once.
   */
  put(activity: Activity): Promise<boolean>;
  /**
   * Turns the row `id` off as of `at` unless it changed later; an undo of what is not there yet
   * leaves an off row (recipient unknown) so the late original loses.
   */
  switchOff(id: string, at: Date): Promise<void>;
  /** The row, on or off. */
  get(id: string): Promise<(Activity & { on: boolean }) | undefined>;
  remove(id: string): Promise<void>;
  /** Removes every row that names the tweet among its tweetIds. */
  removeByTweet(tweetId: string): Promise<void>;
  /** Removes every row the user receives or did. */
  removeByUser(userId: string): Promise<void>;
  /** The rows that are on and name the tweet among their tweetIds, of the given kinds. */
  byTweet(tweetId: string, kinds: readonly Activity["kind"][]): Promise<Activity[]>;
  /** The recipient's rows that are on, newest first, at most `limit`. */
  received(recipientId: string, limit: number): Promise<Activity[]>;
  /** Keeps the recipient's newest `keep` rows that are on and removes the rest. */
  trim(recipientId: string, keep: number): Promise<void>;
  /** Forgets off rows last changed before `before`: no event can undo them any more. */
  forgetOffBefore(before: Date): Promise<void>;
}

/** What was deleted, so that a late or redelivered event about it writes nothing. */
export interface Deletions {
  tweetDeleted(tweetId: string, at: Date): Promise<void>;
  userDeleted(userId: string): Promise<void>;
  /** Whether any of the tweets or users is recorded deleted. */
  anyDeleted(tweetIds: readonly string[], userIds: readonly string[]): Promise<boolean>;
  /** Forgets tweet deletions recorded before `before` (the tweets stream keeps a week). */
  forgetTweetsBefore(before: Date): Promise<void>;
}

/** Each user's read mark: notifications with activity after it are unread. */
export interface ReadMarks {
  get(userId: string): Promise<Date | undefined>;
  /** Moves the mark to `to` unless it is there or later already; answers the mark after. */
  advance(userId: string, to: Date): Promise<Date>;
  forget(userId: string): Promise<void>;
}

export interface NotificationStores {
  activities: ActivityStore;
  deletions: Deletions;
  readMarks: ReadMarks;
}

/** What the other services know: who wrote a tweet, who has a username, people's profiles. */
export interface People {
  /** The authors of the tweets that exist, by tweet id; deleted or unknown tweets are absent. */
  tweetAuthors(tweetIds: readonly string[]): Promise<Map<string, string>>;
  /** The ids of the usernames (matched ignoring case) that exist, by the username as given. */
  userIds(usernames: readonly string[]): Promise<Map<string, string>>;
  /** The public profiles of the users that exist. */
  profiles(userIds: readonly string[]): Promise<Profile[]>;
}
