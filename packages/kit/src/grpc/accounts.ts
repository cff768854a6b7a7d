import { status } from "@grpc/grpc-js";
import { UsersServiceClient, type User } from "@chirp/proto/grpc/chirp/users/v1/users";
import type { Accounts, Profiles, PublicProfile } from "../accounts.js";
import { DomainError } from "../errors.js";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";
import { unary } from "./client.js";
import { balancedClientOptions, replicaTarget, type Lookup } from "./replicas.js";
import { isServiceError } from "./status.js";
import { channelCredentials, meshChannelOptions, type MeshTls } from "./tls.js";

/** Deleted ids kept at most; one forgotten is only asked about again. */
const MAX_REMEMBERED_DELETIONS = 100_000;
/**
 * As the gateway's default deadline (UPSTREAM_TIMEOUT_MS): a write whose caller set a shorter one
 * ends sooner anyway, and one that came with none fails UNAVAILABLE instead of waiting for ever on
 * a hung users service. Shorter would fail writes merely queued behind a burst of others.
 */
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Asks the users service whether an account is live, for the services that accept writes on a
 * user's behalf (tweets, graph): a deleted account's access token stays valid until it expires, so
 * "the gateway verified it" is not enough. The question is GetUser, which answers NOT_FOUND for a
 * deleted account from the moment DeleteUser is acknowledged (and for ids that never were one, which
 * no verified caller has). A deleted answer is kept: deletion is final and ids are never reused. A
 * live answer is never kept, since the account may be deleted the next moment; that costs every
 * write one GetUser, a read by primary key. The channel connects on first use, so the users service
 * need not be up when this is made. If it does not answer, the write fails UNAVAILABLE rather than
 * being accepted unchecked.
 */
export class UserAccounts implements Accounts, Profiles {
  private readonly client: UsersServiceClient;
  /** Insertion-ordered, so the oldest is dropped first when full. */
  private readonly deleted = new Set<string>();
  private readonly timeoutMs: number;

  /** `usersAddress` names one replica or many (`resolveReplicas`); calls are spread over them. */
  constructor(usersAddress: string, options: { timeoutMs?: number; lookup?: Lookup; tls?: MeshTls } = {}) {
    this.client = new UsersServiceClient(replicaTarget(usersAddress, options.lookup), channelCredentials(options.tls, "users"), balancedClientOptions(UsersService, meshChannelOptions("users")));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async isLive(userId: string): Promise<boolean> {
    if (this.deleted.has(userId)) return false;
    try {
      await unary(this.client, this.client.getUser, { id: userId }, undefined, { deadline: Date.now() + this.timeoutMs });
      return true;
    } catch (error) {
      if (!isServiceError(error)) throw error;
      if (error.code === status.NOT_FOUND) {
        if (this.deleted.size >= MAX_REMEMBERED_DELETIONS) this.deleted.delete(this.deleted.values().next().value!);
        this.deleted.add(userId);
        return false;
      }
      if (error.code === status.UNAVAILABLE || error.code === status.DEADLINE_EXCEEDED) {
        throw new DomainError("UNAVAILABLE", "the users service did not answer whether your account is live; retry shortly");
      }
      throw error;
    }
  }

  /**
   * BatchGetUsers, asked as no caller in particular (no caller metadata), so that no answer
   * carries an email, whoever's list it is.
   */
  async profiles(ids: readonly string[]): Promise<ReadonlyMap<string, PublicProfile>> {
    if (ids.length === 0) return new Map();
    try {
      const { users } = await unary(this.client, this.client.batchGetUsers, { ids: [...ids] }, undefined, { deadline: Date.now() + this.timeoutMs });
      return new Map(
        users.map((u) => [u.id, { id: u.id, username: u.username, displayName: u.displayName, bio: u.bio, avatarUrl: u.avatarUrl, createdAt: u.createdAt, updatedAt: u.updatedAt }]),
      );
    } catch (error) {
      if (isServiceError(error) && (error.code === status.UNAVAILABLE || error.code === status.DEADLINE_EXCEEDED)) {
        throw new DomainError("UNAVAILABLE", "view: the users service did not answer with the profiles; retry shortly, or ask for PEOPLE_VIEW_IDS");
      }
      throw error;
    }
  }

  close(): void {
    this.client.close();
  }
}

/** A public profile as the users service's User message, for lists that carry people: no email. */
export function profileMessage(p: PublicProfile): User {
  return { id: p.id, username: p.username, displayName: p.displayName, bio: p.bio, avatarUrl: p.avatarUrl, createdAt: p.createdAt, updatedAt: p.updatedAt, email: "" };
}
