import {
  type Accounts,
  asLiveCaller,
  decodePageToken,
  type DomainError,
  encodePageToken,
  invalidArgument,
  newId,
  notFound,
  type PageRequest,
  pageSize,
  permissionDenied,
  readPage,
  withProfiles,
  type PeopleView,
  type Profiles,
} from "@chirp/kit";
import type { Counts, Follow, FollowListEntry } from "./model.js";
import type { GraphEvents, GraphRepository } from "./ports.js";
import * as valid from "./validation.js";

export interface GraphDependencies {
  repository: GraphRepository;
  events: GraphEvents;
  /** Asked before every write whether the caller's account is live (the users service). */
  accounts: Accounts;
  /**
   * Where the profiles of PEOPLE_VIEW_PROFILES lists come from (the users service, asked per page:
   * this service keeps no copy of profiles). Without it, asking for them is UNAVAILABLE.
   */
  profiles?: Profiles;
  /** Called after a change recorded events, so they are relayed without waiting for the next poll. */
  onEventsRecorded?: () => void;
  clock?: () => Date;
}

export interface FollowPageRequest extends PageRequest {
  userId: string;
  /** Ids only unless "profiles". */
  view?: PeopleView;
}

export interface FollowPage {
  entries: FollowListEntry[];
  nextPageToken: string;
}

export interface FollowerIdBatch {
  followerIds: string[];
  resumeToken: string;
}

type ListName = "followers" | "following";

/**
 * Who follows whom. Knows nothing of transports or databases.
 *
 * Users come from the users service's events (UserCreated, UserDeleted), never from a call to it,
 * so there is a consistency window: a user created a moment ago cannot be followed (NOT_FOUND)
 * until their UserCreated has reached this service, normally within milliseconds, longer while
 * the bus or this service is catching up. Clients should retry NOT_FOUND on a brand-new user.
 * Likewise a deleted user stays followable until their UserDeleted arrives, and their follows
 * are removed then. A deleted account itself follows and unfollows no one from the moment its
 * deletion is acknowledged: every write asks the users service whether the caller is live.
 */
export class Graph {
  private readonly clock: () => Date;

  constructor(private readonly deps: GraphDependencies) {
    this.clock = deps.clock ?? (() => new Date());
  }

  /**
   * The caller follows a user; following again changes nothing. The followee must be known and
   * live. The follower need not be known yet (their token proves the account existed when it was
   * issued) but must be live by the users service's word, and not deleted by this one's record.
   */
  async follow(caller: string, followeeId: string): Promise<void> {
    const followerId = valid.callerId(caller);
    const followee = valid.userId(followeeId, "followee_id");
    if (followee === followerId) throw invalidArgument("followee_id", "you cannot follow yourself");
    const refusal = await asLiveCaller(this.deps.accounts, followerId, () => this.refusal(followerId, followee));
    if (refusal) throw refusal;

    const now = this.clock();
    const follow: Follow = { followerId, followeeId: followee, since: newId(now.getTime()), followedAt: now };
    if (!(await this.deps.repository.follow(follow, this.deps.events.followed(follow)))) return;
    this.deps.onEventsRecorded?.();

    // A UserDeleted handled between the checks and the write may have swept this user's follows
    // before this one existed. Its tombstone was written before the sweep, so looking again now
    // is enough to catch that, and the follow is ended the ordinary way, announced and all.
    const lateRefusal = await this.refusal(followerId, followee);
    if (lateRefusal) {
      await this.end(followerId, followee);
      throw lateRefusal;
    }
  }

  /** The caller stops following a user; unfollowing again, or someone never followed, changes nothing. */
  async unfollow(caller: string, followeeId: string): Promise<void> {
    const followerId = valid.callerId(caller);
    const followee = valid.userId(followeeId, "followee_id");
    if (followee === followerId) throw invalidArgument("followee_id", "you cannot unfollow yourself");
    await asLiveCaller(this.deps.accounts, followerId, async () => undefined);
    await this.end(followerId, followee);
  }

  /** A user's followers, newest relationship first. An unknown user simply has none. */
  listFollowers(request: FollowPageRequest): Promise<FollowPage> {
    return this.page("followers", request);
  }

  /** Whom a user follows, newest relationship first. */
  listFollowing(request: FollowPageRequest): Promise<FollowPage> {
    return this.page("following", request);
  }

  async getRelationship(userId: string, otherId: string): Promise<{ following: boolean; followedBy: boolean }> {
    const user = valid.userId(userId, "user_id");
    const other = valid.userId(otherId, "other_id");
    const [following, followedBy] = await Promise.all([
      this.deps.repository.isFollowing(user, other),
      this.deps.repository.isFollowing(other, user),
    ]);
    return { following, followedBy };
  }

  /**
   * Counts are not stored: they are counted from the active edges, through the same indexes the
   * lists use. That makes them exact by construction after any mix of concurrent follows and
   * unfollows (only a write that flips an edge changes what is counted) and leaves no second
   * write for a crash to fall between, with no reconciliation to run. Stored counters cannot be
   * made exactly-once here: without multi-document transactions, applying an edge flip to a
   * counter document idempotently needs markers kept in that document for as long as any stale
   * worker might apply the flip again, which has no safe bound. The price is a read that grows
   * with the count (an index-only count on MongoDB); if profiles of very large accounts need
   * it cheaper, a cached figure can be layered on top while the edges stay the truth.
   */
  async getCounts(userId: string): Promise<Counts> {
    const user = valid.userId(userId, "user_id");
    const [followers, following] = await Promise.all([
      this.deps.repository.countFollowers(user),
      this.deps.repository.countFollowing(user),
    ]);
    return { followers, following };
  }

  /**
   * Every follower id of a user, newest relationship first, in batches each read with one
   * indexed range query, so a stream over tens of thousands of followers never holds more than a
   * batch. Each batch carries a token to resume after it. Follows that begin during the stream
   * sort before its position and are not included: fan-out learns of them from UserFollowed.
   */
  async *followerIdBatches(request: { userId: string; batchSize: number; resumeToken: string }): AsyncGenerator<FollowerIdBatch> {
    const user = valid.userId(request.userId, "user_id");
    const size = pageSize(request.batchSize, "batch_size", valid.MAX_BATCH_SIZE, valid.DEFAULT_BATCH_SIZE);
    const query = { followerIdsOf: user };
    let before = decodePageToken(request.resumeToken, valid.isSinceCursor, query, "resume_token");
    for (;;) {
      const batch = await this.deps.repository.listFollowers(user, before, size);
      const last = batch.at(-1);
      if (!last) return;
      before = last.since;
      yield { followerIds: batch.map((f) => f.followerId), resumeToken: encodePageToken(before, query) };
      if (batch.length < size) return;
    }
  }

  /** From a UserCreated event: the user may now be followed. Safe to repeat. */
  async userCreated(userId: string): Promise<void> {
    await this.deps.repository.rememberUser(valid.userId(userId, "user_id"));
  }

  /**
   * From a UserDeleted event: the user can no longer be followed and every follow from or to them
   * ends, so both sides' counts and lists drop them. Safe to repeat, and a repeat finishes a run
   * that was cut short. No UserUnfollowed is announced for these: every consumer hears the
   * UserDeleted itself, and one deletion should not fan out into an event per follower.
   */
  async userDeleted(userId: string): Promise<void> {
    const user = valid.userId(userId, "user_id");
    // The tombstone first: a follow written after the sweep below then finds it (see follow).
    await this.deps.repository.forgetUser(user);
    await this.deps.repository.removeFollowsOf(user);
  }

  private async end(followerId: string, followeeId: string): Promise<void> {
    const event = this.deps.events.unfollowed(followerId, followeeId, this.clock());
    if (await this.deps.repository.unfollow(followerId, followeeId, event)) this.deps.onEventsRecorded?.();
  }

  private async refusal(followerId: string, followeeId: string): Promise<DomainError | undefined> {
    const [follower, followee] = await Promise.all([
      this.deps.repository.userStatus(followerId),
      this.deps.repository.userStatus(followeeId),
    ]);
    if (followee !== "live") return notFound("followee_id", `no user has id "${followeeId}"`);
    if (follower === "deleted") return permissionDenied("your account has been deleted");
    return undefined;
  }

  private async page(list: ListName, request: FollowPageRequest): Promise<FollowPage> {
    const user = valid.userId(request.userId, "user_id");
    const { items, nextPageToken } = await readPage(request, {
      query: { [list]: user },
      isCursor: valid.isSinceCursor,
      fetch: (before, limit) => (list === "followers" ? this.deps.repository.listFollowers(user, before, limit) : this.deps.repository.listFollowing(user, before, limit)),
      cursorOf: (follow) => follow.since,
    });
    const entries = items.map((f) => ({ userId: list === "followers" ? f.followerId : f.followeeId, followedAt: f.followedAt }));
    return {
      entries: await withProfiles(this.deps.profiles, request.view ?? "ids", entries),
      nextPageToken,
    };
  }
}
