import type { Activity } from "../domain/model.js";
import type { ActivityStore, Deletions, NotificationStores, ReadMarks } from "../domain/ports.js";

type Row = Activity & { on: boolean };

/** Activities in a map: for development, the embedded mesh and tests. */
export class InMemoryActivities implements ActivityStore {
  private readonly rows = new Map<string, Row>();

  async put(activity: Activity): Promise<boolean> {
    const row = this.rows.get(activity.id);
    if (row && row.at >= activity.at) return false;
    this.rows.set(activity.id, { ...activity, tweetIds: [...activity.tweetIds], on: true });
    return true;
  }

  async switchOff(id: string, at: Date): Promise<void> {
    const row = this.rows.get(id);
    if (row && row.at > at) return;
    this.rows.set(id, row ? { ...row, on: false, at } : { id, recipientId: "", kind: "like", groupKey: "", actorId: "", tweetId: "", replyToId: "", at, tweetIds: [], on: false });
  }

  async get(id: string): Promise<Row | undefined> {
    const row = this.rows.get(id);
    return row && { ...row };
  }

  async remove(id: string): Promise<void> {
    this.rows.delete(id);
  }

  async removeByTweet(tweetId: string): Promise<void> {
    for (const [id, row] of this.rows) if (row.tweetIds.includes(tweetId)) this.rows.delete(id);
  }

  async removeByUser(userId: string): Promise<void> {
    for (const [id, row] of this.rows) if (row.recipientId === userId || row.actorId === userId) this.rows.delete(id);
  }

  async byTweet(tweetId: string, kinds: readonly Activity["kind"][]): Promise<Activity[]> {
    return [...this.rows.values()].filter((row) => row.on && row.tweetIds.includes(tweetId) && kinds.includes(row.kind)).map(activityOf);
  }

  async received(recipientId: string, limit: number): Promise<Activity[]> {
    return this.receivedRows(recipientId).slice(0, limit).map(activityOf);
  }

  async trim(recipientId: string, keep: number): Promise<void> {
    for (const row of this.receivedRows(recipientId).slice(keep)) this.rows.delete(row.id);
  }

  async forgetOffBefore(before: Date): Promise<void> {
    for (const [id, row] of this.rows) if (!row.on && row.at < before) this.rows.delete(id);
  }

  private receivedRows(recipientId: string): Row[] {
    return [...this.rows.values()].filter((row) => row.on && row.recipientId === recipientId).sort((a, b) => b.at.getTime() - a.at.getTime() || (a.id < b.id ? 1 : -1));
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
