import { alreadyExists, PendingOwners, type BusMessage, type OutboxStore, type PendingMessage } from "@chirp/kit";
import { emailKey, usernameKey, type Account, type AccountSessions, type ProfileChanges, type Session } from "../domain/model.js";
import type { NotUpdated, SessionStore, UserRepository } from "../domain/ports.js";

interface Entry {
  account: Account;
  outbox: BusMessage[];
  deleted: boolean;
  sessions: Session[];
  sessionsVersion: number;
  /** When the account was added: `pending` lists owners in that order. */
  seq: number;
}

const copy = (account: Account): Account => ({ ...account, roles: [...account.roles] });
const copySession = (s: Session): Session => ({ ...s, usedHashes: [...s.usedHashes] });

/**
 * Accounts in process memory, for the embedded mesh and fast tests. Same contract as the MongoDB
 * store, including the outbox: a deleted account lingers as a tombstone until its events are relayed.
 */
export class InMemoryUserRepository implements UserRepository, SessionStore, OutboxStore {
  private readonly entries = new Map<string, Entry>();
  private readonly byUsername = new Map<string, string>();
  private readonly byEmail = new Map<string, string>();
  private readonly withOutbox = new PendingOwners<number>();
  private nextSeq = 0;

  async create(account: Account, events: BusMessage[]): Promise<void> {
    if (this.byUsername.has(usernameKey(account.username))) throw alreadyExists("username", `"${account.username}" is already taken`);
    if (this.byEmail.has(emailKey(account.email))) throw alreadyExists("email", "is already registered");
    const entry: Entry = { account: copy(account), outbox: [...events], deleted: false, sessions: [], sessionsVersion: 0, seq: this.nextSeq++ };
    this.entries.set(account.id, entry);
    this.recorded(account.id, entry);
    this.byUsername.set(usernameKey(account.username), account.id);
    this.byEmail.set(emailKey(account.email), account.id);
  }

  private live(id: string | undefined): Account | undefined {
    const entry = id === undefined ? undefined : this.entries.get(id);
    return entry && !entry.deleted ? copy(entry.account) : undefined;
  }

  async findById(id: string) {
    return this.live(id);
  }

  async findByUsername(username: string) {
    return this.live(this.byUsername.get(usernameKey(username)));
  }

  async findByEmail(email: string) {
    return this.live(this.byEmail.get(emailKey(email)));
  }

  async findByIds(ids: string[]) {
    return ids.flatMap((id) => this.live(id) ?? []);
  }

  async listByUsernamePrefix(prefix: string, after: string | undefined, limit: number) {
    return [...this.byUsername.entries()]
      .filter(([key]) => key.startsWith(prefix) && (after === undefined || key > after))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, limit)
      .flatMap(([, id]) => this.live(id) ?? []);
  }

  async update(id: string, expectedUpdatedAt: Date, changes: ProfileChanges, updatedAt: Date, events: BusMessage[]): Promise<Account | NotUpdated> {
    const entry = this.entries.get(id);
    if (!entry || entry.deleted) return "missing";
    if (entry.account.updatedAt.getTime() !== expectedUpdatedAt.getTime()) return "stale";
    entry.account = { ...entry.account, ...changes, updatedAt };
    entry.outbox.push(...events);
    this.recorded(id, entry);
    return copy(entry.account);
  }

  async setRoles(id: string, roles: string[]): Promise<Account | undefined> {
    const entry = this.entries.get(id);
    if (!entry || entry.deleted) return undefined;
    entry.account = { ...entry.account, roles: [...roles] };
    return copy(entry.account);
  }

  async delete(id: string, events: BusMessage[]): Promise<boolean> {
    const entry = this.entries.get(id);
    if (!entry || entry.deleted) return false;
    entry.deleted = true;
    entry.sessions = [];
    entry.outbox.push(...events);
    this.recorded(id, entry);
    this.byUsername.delete(usernameKey(entry.account.username));
    this.byEmail.delete(emailKey(entry.account.email));
    return true;
  }

  async findSessions(userId: string): Promise<AccountSessions | undefined> {
    const entry = this.entries.get(userId);
    if (!entry || entry.deleted) return undefined;
    return { account: copy(entry.account), sessions: entry.sessions.map(copySession), version: entry.sessionsVersion };
  }

  async saveSessions(userId: string, expectedVersion: number, sessions: Session[], events: BusMessage[], passwordHash?: string): Promise<"saved" | NotUpdated> {
    const entry = this.entries.get(userId);
    if (!entry || entry.deleted) return "missing";
    if (entry.sessionsVersion !== expectedVersion) return "stale";
    entry.sessions = sessions.map(copySession);
    entry.sessionsVersion += 1;
    if (passwordHash !== undefined) entry.account = { ...entry.account, passwordHash };
    entry.outbox.push(...events);
    this.recorded(userId, entry);
    return "saved";
  }

  private recorded(id: string, entry: Entry): void {
    if (entry.outbox.length > 0) this.withOutbox.add(id, entry.seq);
  }

  async pending(limit: number): Promise<PendingMessage[]> {
    return this.withOutbox.first(limit).flatMap((ownerId) => this.entries.get(ownerId)!.outbox.map((message) => ({ ownerId, message })));
  }

  async markPublished({ ownerId, message }: PendingMessage): Promise<void> {
    const entry = this.entries.get(ownerId);
    if (entry && this.withOutbox.markPublished(ownerId, entry.outbox, message) && entry.deleted) this.entries.delete(ownerId);
  }
}
