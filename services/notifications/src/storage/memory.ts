import { SetIndex } from "@chirp/kit";
import type { Activity } from "../domain/model.js";
import type { ActivityStore, Deletions, NotificationStores, ReadMarks } from "../domain/ports.js";

type Row = Activity & { on: boolean };

/**
 * Activities in a map, indexed by recipient, tweet and actor so that every operation costs what
 * its own rows do (the embedded mesh keeps every user's): for development, the embedded mesh and
 * tests.
 */
export class InMemoryActivities implements ActivityStore {
  private readonly rows = new Map<string, Row>();
  private readonly byRecipient = new SetIndex();
  private readonly byTweetId = new SetIndex();
  private readonly byActor = new SetIndex();

  async put(activity: Activity): Promise<boolean> {
    const row = this.rows.get(activity.id);
    if (row && row.at >= activity.at) return false;
    this.write({ ...activity, tweetIds: [...activity.tweetIds], on: true });
    return true;
  }

  async switchOff(id: string, at: Date): Promise<void> {
    const row = this.rows.get(id);
    if (row && row.at > at) return;
    this.write(row ? { ...row, on: false, at } : { id, recipientId: "", kind: "like", groupKey: "", actorId: "", tweetId: "", replyToId: "", at, tweetIds: [], on: false });
  }

  async get(id: string): Promise<Row | undefined> {
    const row = this.rows.get(id);
    return row && { ...row };
  }

  async remove(id: string): Promise<void> {
    this.delete(id);
  }

  async removeByTweet(tweetId: string): Promise<void> {
    for (const id of [...(this.byTweetId.get(tweetId) ?? [])]) this.delete(id);
  }

  async removeByUser(userId: string): Promise<void> {
    for (const id of [...(this.byRecipient.get(userId) ?? []), ...(this.byActor.get(userId) ?? [])]) this.delete(id);
  }

  async byTweet(tweetId: string, kinds: readonly Activity["kind"][]): Promise<Activity[]> {
    return this.rowsOf(this.byTweetId.get(tweetId))
      .filter((row) => row.on && kinds.includes(row.kind))
      .map(activityOf);
  }

  async received(recipientId: string, limit: number): Promise<Activity[]> {
    return this.receivedRows(recipientId).slice(0, limit).map(activityOf);
  }

  async trim(recipientId: string, keep: number): Promise<void> {
    if ((this.byRecipient.get(recipientId)?.size ?? 0) <= keep) return;
    for (const row of this.receivedRows(recipientId).slice(keep)) this.delete(row.id);
  }

  async forgetOffBefore(before: Date): Promise<void> {
    for (const [id, row] of this.rows) if (!row.on && row.at < before) this.delete(id);
  }

  private write(row: Row): void {
    this.delete(row.id);
    this.rows.set(row.id, row);
    if (row.recipientId) this.byRecipient.add(row.recipientId, row.id);
    if (row.actorId) this.byActor.add(row.actorId, row.id);
    for (const tweetId of row.tweetIds) this.byTweetId.add(tweetId, row.id);
  }

  private delete(id: string): void {
    const row = this.rows.get(id);
    if (!row) return;
    this.rows.delete(id);
    this.byRecipient.delete(row.recipientId, id);
    this.byActor.delete(row.actorId, id);
    for (const tweetId of row.tweetIds) this.byTweetId.delete(tweetId, id);
  }

  private rowsOf(ids: ReadonlySet<string> | undefined): Row[] {
    return [...(ids ?? [])].map((id) => this.rows.get(id)!);
  }

  private receivedRows(recipientId: string): Row[] {
    return this.rowsOf(this.byRecipient.get(recipientId))
      .filter((row) => row.on)
      .sort((a, b) => b.at.getTime() - a.at.getTime() || (a.id < b.id ? 1 : -1));
  }
}

const activityOf = ({ on: _on, ...activity }: Row): Activity => ({ ...activity, tweetIds: [...activity.tweetIds] });

export class InMemoryDeletions implements Deletions {
  private readonly tweets = new Map<string, Date>();
  private readonly users = new Set<string>();

  async tweetDeleted(tweetId: string, at: Date): Promise<void> {
    if (!this.tweets.has(tweetId)) this.tweets.set(tweetId, at);
  }

  async userDeleted(userId: string): Promise<void> {
    this.users.add(userId);
  }

  async anyDeleted(tweetIds: readonly string[], userIds: readonly string[]): Promise<boolean> {
    return tweetIds.some((id) => this.tweets.has(id)) || userIds.some((id) => this.users.has(id));
  }

  async forgetTweetsBefore(before: Date): Promise<void> {
    for (const [id, at] of this.tweets) if (at < before) this.tweets.delete(id);
  }
}

export class InMemoryReadMarks implements ReadMarks {
  private readonly marks = new Map<string, Date>();

  async get(userId: string): Promise<Date | undefined> {
    return this.marks.get(userId);
  }

  async advance(userId: string, to: Date): Promise<Date> {
    const mark = this.marks.get(userId);
    if (mark && mark >= to) return mark;
    this.marks.set(userId, to);
    return to;
  }

  async forget(userId: string): Promise<void> {
    this.marks.delete(userId);
  }
}

export const memoryStores = (): NotificationStores => ({ activities: new InMemoryActivities(), deletions: new InMemoryDeletions(), readMarks: new InMemoryReadMarks() });
