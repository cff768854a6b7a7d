import { PendingOwners, SetIndex, type BusMessage, type OutboxStore, type PendingMessage } from "@chirp/kit";
import type { Follow, UserStatus } from "../domain/model.js";
import type { GraphRepository } from "../domain/ports.js";
import { edgeKey } from "./edge-key.js";

interface Edge {
  follow: Follow;
  active: boolean;
  outbox: BusMessage[];
  /** When the edge was added: `pending` lists owners in that order. */
  seq: number;
}

const newestFirst = (a: Follow, b: Follow) => (a.since < b.since ? 1 : a.since > b.since ? -1 : 0);

/**
 * Follow edges and known users in process memory, for the embedded mesh and fast tests. Same
 * contract as the MongoDB store, including the outbox: an ended edge lingers, inactive, until its
 * events are relayed.
 */
export class InMemoryGraphRepository implements GraphRepository, OutboxStore {
  private readonly edges = new Map<string, Edge>();
  /** Edge keys by each end, so a user's lists need not look at every edge. */
  private readonly byFollowee = new SetIndex();
  private readonly byFollower = new SetIndex();
  private readonly users = new Map<string, Exclude<UserStatus, "unknown">>();
  private readonly withOutbox = new PendingOwners<number>();
  private nextSeq = 0;

  async follow(follow: Follow, event: BusMessage): Promise<boolean> {
    const key = edgeKey(follow.followerId, follow.followeeId);
    let edge = this.edges.get(key);
    if (edge?.active) return false;
    if (edge) {
      edge.follow = { ...follow };
      edge.active = true;
      edge.outbox.push(event);
    } else {
      edge = { follow: { ...follow }, active: true, outbox: [event], seq: this.nextSeq++ };
      this.edges.set(key, edge);
      this.byFollowee.add(follow.followeeId, key);
      this.byFollower.add(follow.followerId, key);
    }
    this.withOutbox.add(key, edge.seq);
    return true;
  }

  async unfollow(followerId: string, followeeId: string, event: BusMessage): Promise<boolean> {
    const key = edgeKey(followerId, followeeId);
    const edge = this.edges.get(key);
    if (!edge?.active) return false;
    edge.active = false;
    edge.outbox.push(event);
    this.withOutbox.add(key, edge.seq);
    return true;
  }

  async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
    return this.edges.get(edgeKey(followerId, followeeId))?.active ?? false;
  }

  async listFollowers(followeeId: string, before: string | undefined, limit: number): Promise<Follow[]> {
    return this.list(this.byFollowee.get(followeeId), before, limit);
  }

  async listFollowing(followerId: string, before: string | undefined, limit: number): Promise<Follow[]> {
    return this.list(this.byFollower.get(followerId), before, limit);
  }

  async countFollowers(followeeId: string): Promise<number> {
    return this.active(this.byFollowee.get(followeeId)).length;
  }

  async countFollowing(followerId: string): Promise<number> {
    return this.active(this.byFollower.get(followerId)).length;
  }

  async rememberUser(userId: string): Promise<void> {
    if (!this.users.has(userId)) this.users.set(userId, "live");
  }

  async forgetUser(userId: string): Promise<void> {
    this.users.set(userId, "deleted");
  }

  async userStatus(userId: string): Promise<UserStatus> {
    return this.users.get(userId) ?? "unknown";
  }

  async removeFollowsOf(userId: string): Promise<void> {
    for (const key of [...(this.byFollower.get(userId) ?? []), ...(this.byFollowee.get(userId) ?? [])]) {
      const edge = this.edges.get(key);
      if (!edge) continue;
      edge.active = false;
      this.purgeIfDrained(key, edge);
    }
  }

  async pending(limit: number): Promise<PendingMessage[]> {
    return this.withOutbox.first(limit).flatMap((ownerId) => this.edges.get(ownerId)!.outbox.map((message) => ({ ownerId, message })));
  }

  async markPublished({ ownerId, message }: PendingMessage): Promise<void> {
    const edge = this.edges.get(ownerId);
    if (edge && this.withOutbox.markPublished(ownerId, edge.outbox, message)) this.purgeIfDrained(ownerId, edge);
  }

  /** An ended edge is kept only as a home for its unpublished events. */
  private purgeIfDrained(key: string, edge: Edge): void {
    if (edge.active || edge.outbox.length > 0) return;
    this.edges.delete(key);
    this.byFollowee.delete(edge.follow.followeeId, key);
    this.byFollower.delete(edge.follow.followerId, key);
  }

  private active(keys: ReadonlySet<string> | undefined): Follow[] {
    return [...(keys ?? [])].flatMap((key) => {
      const edge = this.edges.get(key);
      return edge?.active ? [{ ...edge.follow }] : [];
    });
  }

  private list(keys: ReadonlySet<string> | undefined, before: string | undefined, limit: number): Follow[] {
    return this.active(keys)
      .filter((f) => before === undefined || f.since < before)
      .sort(newestFirst)
      .slice(0, limit);
  }
}
