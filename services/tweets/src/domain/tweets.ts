import {
  accountDeleted,
  type Accounts,
  asLiveCaller,
  idTime,
  isId,
  newId,
  notFound,
  type PageRequest,
  permissionDenied,
  readPage,
  withProfiles,
  type PeopleView,
  type Profiles,
  type PublicProfile,
} from "@chirp/kit";
import { parseContent } from "./content.js";
import type { Like, Tweet, TweetView } from "./model.js";
import type { TweetEvents, TweetRepository } from "./ports.js";
import * as valid from "./validation.js";

/** The role that may count every user's posts (roles are the users service's; see its README). */
export const ADMIN_ROLE = "admin";

export interface TweetsDependencies {
  repository: TweetRepository;
  events: TweetEvents;
  /** Asked before every write whether the caller's account is live (the users service). */
  accounts: Accounts;
  /**
   * Where the likers' profiles come from when a list asks for them (the users service, asked per
   * page: this service keeps no copy of profiles). Without it, asking for them is UNAVAILABLE.
   */
  profiles?: Profiles;
  /** Called after a change recorded events, so they are relayed without waiting for the next poll. */
  onEventsRecorded?: () => void;
}

export interface NewTweet {
  text: string;
  /** Empty when the tweet is not a reply. */
  replyToId: string;
  tags: string[];
  /** Empty when the client gave none. */
  idempotencyKey: string;
}

export type { PageRequest };

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

const isIdCursor = (value: unknown): value is string => typeof value === "string" && isId(value);
const noTweet = (field: string, id: string) => notFound(field, `no tweet has id "${id}"`);
/** How many tweets a clean-up handles per query. */
const CLEANUP_BATCH = 100;

/**
 * The rules of posting, replying, liking and retweeting. Knows nothing of transports or databases.
 *
 * Likes, replies and retweets aimed at a retweet entry go to its original, as they do on Twitter.
 * Replies outlive the tweet they answer; their reply_to_id then names a tweet that reads as missing.
 * A retweet entry whose original is gone reads as missing too until it is removed with it.
 *
 * No write by a deleted account is accepted: each one asks the users service first (see
 * `Accounts`), which knows of the deletion from the moment it is acknowledged, well before its
 * UserDeleted reaches this service. A write that passed that check just before the deletion and
 * landed after the clean-up undoes itself (see `onUserDeleted`).
 */
export class Tweets {
  constructor(private readonly deps: TweetsDependencies) {}

  private get repository(): TweetRepository {
    return this.deps.repository;
  }

  async createTweet(authorId: string, input: NewTweet): Promise<TweetView> {
    const text = valid.text(input.text);
    const explicitTags = valid.tags(input.tags);
    const idempotencyKey = valid.idempotencyKey(input.idempotencyKey);
    const replyToId = input.replyToId === "" ? undefined : valid.tweetId(input.replyToId, "reply_to_id");
    const { first, parent } = await asLiveCaller(this.deps.accounts, authorId, async () => {
      // A retry is answered with the first tweet even if what it replied to is gone by now.
      const first = idempotencyKey ? await this.repository.findByIdempotencyKey(authorId, idempotencyKey) : undefined;
      if (first) return { first, parent: undefined };
      return { first, parent: replyToId === undefined ? undefined : await this.target(replyToId, "reply_to_id") };
    });
    if (first) return this.view(first, authorId, "idempotency_key");
    const content = parseContent(text);
    const tweet = await this.save({
      ...this.stamp(authorId),
      text,
      ...(parent && { replyToId: parent.id }),
      tags: [...new Set([...content.tags, ...explicitTags])],
      mentions: content.mentions,
      ...(idempotencyKey && { idempotencyKey }),
    });
    return this.view(tweet, authorId, "id");
  }

  async getTweet(id: string, viewerId?: string): Promise<TweetView> {
    const tweet = await this.repository.findById(valid.tweetId(id));
    if (!tweet) throw noTweet("id", id);
    return this.view(tweet, viewerId, "id");
  }

  /** Found tweets in the order asked for, and the ids that name no tweet (or a deleted one). */
  async batchGetTweets(ids: string[], viewerId?: string): Promise<{ tweets: TweetView[]; missingIds: string[] }> {
    const wanted = valid.idList(ids);
    const found = new Map((await this.views(await this.repository.findByIds(wanted), viewerId)).map((t) => [t.id, t]));
    return {
      tweets: wanted.flatMap((id) => found.get(id) ?? []),
      missingIds: wanted.filter((id) => !found.has(id)),
    };
  }

  async deleteTweet(callerId: string, id: string): Promise<void> {
    const tweetId = valid.tweetId(id);
    const tweet = await asLiveCaller(this.deps.accounts, callerId, () => this.repository.findById(tweetId));
    if (!tweet) throw noTweet("id", id);
    if (tweet.authorId !== callerId) throw permissionDenied("id: you can only delete your own tweets");
    if (!(await this.remove(tweet))) throw noTweet("id", id);
  }

  async listUserTweets(input: { userId: string } & PageRequest, viewerId?: string): Promise<Page<TweetView>> {
    const query = { userId: valid.userId(input.userId) };
    return this.tweetPage(input, query, viewerId, (before, limit) => this.repository.listByAuthor(query.userId, before, limit));
  }

  async listReplies(input: { tweetId: string } & PageRequest, viewerId?: string): Promise<Page<TweetView>> {
    const query = { tweetId: valid.tweetId(input.tweetId, "tweet_id") };
    return this.tweetPage(input, query, viewerId, (after, limit) => this.repository.listReplies(query.tweetId, after, limit));
  }

  /** Liking a tweet the caller already likes changes nothing and announces nothing. */
  async likeTweet(callerId: string, tweetId: string): Promise<TweetView> {
    const tweet = await this.liveCallerAndTarget(callerId, tweetId);
    const id = newId();
    const like: Like = { id, tweetId: tweet.id, userId: callerId, likedAt: idTime(id) };
    if (await this.repository.addLike(like, [this.deps.events.liked(like)])) {
      this.deps.onEventsRecorded?.();
      // As for a new tweet (see `save`), but the like is ended the ordinary way, with TweetUnliked.
      if (await this.repository.isUserDeleted(callerId)) {
        await this.removeLike(tweet.id, callerId);
        throw accountDeleted();
      }
    }
    return this.view(tweet, callerId, "tweet_id");
  }

  /** Unliking a tweet the caller does not like changes nothing and announces nothing. */
  async unlikeTweet(callerId: string, tweetId: string): Promise<TweetView> {
    const tweet = await this.liveCallerAndTarget(callerId, tweetId);
    await this.removeLike(tweet.id, callerId);
    return this.view(tweet, callerId, "tweet_id");
  }

  async listLikers(input: { tweetId: string; view?: PeopleView } & PageRequest): Promise<Page<Like & { profile?: PublicProfile }>> {
    const tweet = await this.target(valid.tweetId(input.tweetId, "tweet_id"), "tweet_id");
    const { items, nextPageToken } = await readPage(input, {
      query: { tweetId: tweet.id },
      isCursor: isIdCursor,
      fetch: (before, limit) => this.repository.listLikes(tweet.id, before, limit),
      cursorOf: (like) => like.id,
    });
    return { items: await withProfiles(this.deps.profiles, input.view ?? "ids", items), nextPageToken };
  }

  /** The caller's retweet entry of the original, made once however often this is called. */
  async retweet(callerId: string, tweetId: string): Promise<TweetView> {
    const original = await this.liveCallerAndTarget(callerId, tweetId);
    const entry =
      (await this.repository.findRetweet(callerId, original.id)) ??
      (await this.save({ ...this.stamp(callerId), text: "", retweetOfId: original.id, tags: [], mentions: [] }));
    // Reading the entry back also reads its original. If that was deleted meanwhile, its clean-up
    // may have run before the entry existed and missed it, so the entry goes here instead; if it
    // is still there, its deletion comes later and the clean-up will find the entry.
    const [view] = await this.views([entry], callerId);
    if (view) return view;
    await this.remove(entry);
    throw noTweet("tweet_id", tweetId);
  }

  /** Removes the caller's retweet entry, if any, and answers with the original. */
  async unretweet(callerId: string, tweetId: string): Promise<TweetView> {
    const original = await this.liveCallerAndTarget(callerId, tweetId);
    const entry = await this.repository.findRetweet(callerId, original.id);
    if (entry) await this.remove(entry);
    return this.view(original, callerId, "tweet_id");
  }

  async searchTweets(input: valid.SearchCriteria & PageRequest, viewerId?: string): Promise<Page<TweetView>> {
    const filter = valid.filter(input);
    return this.tweetPage(input, filter, viewerId, (before, limit) => this.repository.search(filter, before, limit));
  }

  /**
   * Counting one author's posts is anyone's to ask; counting everyone's is an admin's (the gateway
   * refuses it first in the same words, but the rule is this service's, whoever calls).
   */
  async countTweets(criteria: valid.SearchCriteria, callerRoles: readonly string[]): Promise<number> {
    if (criteria.authorId === "" && !callerRoles.includes(ADMIN_ROLE)) throw permissionDenied("author_id: counting every user's tweets needs the admin role");
    return this.repository.count(valid.filter(criteria));
  }

  /**
   * A deleted account leaves nothing behind here: its likes go, unannounced since UserDeleted
   * says so already (see `TweetRepository.removeLikesBy`), and each of its tweets and
   * retweets is deleted and announced with TweetDeleted like any other deletion, which in turn
   * removes the likes and retweets others made of them (see `onTweetDeleted`). Counts on other
   * users' tweets follow at once, being counted from what is left. Safe to repeat after a crash
   * or a redelivery: only what is still there is touched.
   *
   * The deletion is recorded first, for good: a write that passed the users service's check just
   * before the deletion may land after the sweep below has passed it, and finds the record when it
   * looks after writing (see `save` and `likeTweet`).
   */
  async onUserDeleted(userId: string): Promise<void> {
    valid.userId(userId);
    await this.repository.markUserDeleted(userId);
    await this.repository.removeLikesBy(userId);
    await this.removeEach((before) => this.repository.listByAuthor(userId, before, CLEANUP_BATCH));
  }

  /**
   * Once a post is deleted, its likes (unannounced, as TweetDeleted says so already) and the
   * retweet entries pointing at it go too. Safe to repeat.
   */
  async onTweetDeleted(deleted: { tweetId: string; retweetOfId: string }): Promise<void> {
    const tweetId = valid.tweetId(deleted.tweetId, "tweet_id");
    if (deleted.retweetOfId !== "") return;
    await this.repository.removeLikesOf(tweetId);
    await this.removeEach((before) => this.repository.listRetweetsOf(tweetId, before, CLEANUP_BATCH));
  }

  /** A fresh id and its creation time, which the id encodes: time ranges are id ranges. */
  private stamp(authorId: string): Pick<Tweet, "id" | "authorId" | "createdAt"> {
    const id = newId();
    return { id, authorId, createdAt: idTime(id) };
  }

  /** Saves a new tweet, or answers with the one an idempotency key or retweet already made. */
  private async save(tweet: Tweet): Promise<Tweet> {
    const result = await this.repository.create(tweet, [this.deps.events.created(tweet)]);
    if (!result.created) return result.tweet;
    this.deps.onEventsRecorded?.();
    // The author was live when asked, but a UserDeleted handled since may have swept their tweets
    // before this one existed. Its record was written before the sweep, so looking now is enough
    // to catch that, and the tweet is deleted the ordinary way, announced and all.
    if (await this.repository.isUserDeleted(tweet.authorId)) {
      await this.remove(result.tweet);
      throw accountDeleted();
    }
    return result.tweet;
  }

  /** Removes the user's like of the tweet, if any, announcing it. */
  private async removeLike(tweetId: string, userId: string): Promise<void> {
    const unliked = this.deps.events.unliked({ tweetId, userId }, new Date());
    if (await this.repository.removeLike(tweetId, userId, [unliked])) this.deps.onEventsRecorded?.();
  }

  /** The tweet a like or retweet aims at (see `target`), read while the caller's account is checked. */
  private liveCallerAndTarget(callerId: string, tweetId: string): Promise<Tweet> {
    const id = valid.tweetId(tweetId, "tweet_id");
    return asLiveCaller(this.deps.accounts, callerId, () => this.target(id, "tweet_id"));
  }

  private async remove(tweet: Tweet): Promise<boolean> {
    const removed = await this.repository.delete(tweet.id, [this.deps.events.deleted(tweet, new Date())]);
    if (removed) this.deps.onEventsRecorded?.();
    return removed;
  }

  /** Deletes every tweet a newest-first listing yields, batch by batch. */
  private async removeEach(list: (before: string | undefined) => Promise<Tweet[]>): Promise<void> {
    let before: string | undefined;
    for (;;) {
      const batch = await list(before);
      for (const tweet of batch) await this.remove(tweet);
      if (batch.length < CLEANUP_BATCH) return;
      before = batch.at(-1)!.id;
    }
  }

  /** The live tweet an action aims at; for a retweet entry, its original. */
  private async target(id: string, field: string): Promise<Tweet> {
    const tweet = await this.repository.findById(id);
    const original = tweet?.retweetOfId ? await this.repository.findById(tweet.retweetOfId) : tweet;
    if (!original) throw noTweet(field, id);
    return original;
  }

  /** A page of tweets as the viewer sees them, paged by tweet id. */
  private async tweetPage(
    request: PageRequest,
    query: unknown,
    viewerId: string | undefined,
    fetch: (cursor: string | undefined, limit: number) => Promise<Tweet[]>,
  ): Promise<Page<TweetView>> {
    const { items, nextPageToken } = await readPage(request, { query, isCursor: isIdCursor, fetch, cursorOf: (tweet) => tweet.id });
    return { items: await this.views(items, viewerId), nextPageToken };
  }

  private async view(tweet: Tweet, viewerId: string | undefined, field: string): Promise<TweetView> {
    const [view] = await this.views([tweet], viewerId);
    if (!view) throw noTweet(field, tweet.id);
    return view;
  }

  /**
   * The tweets as the viewer sees them, with counts, the viewer's likes and retweets and each
   * retweet's original, in a fixed number of queries however many tweets there are. Retweet
   * entries whose original is gone are left out.
   */
  private async views(tweets: Tweet[], viewerId: string | undefined): Promise<TweetView[]> {
    const originalIds = [...new Set(tweets.flatMap((t) => t.retweetOfId ?? []))];
    const originals = new Map(originalIds.length === 0 ? [] : (await this.repository.findByIds(originalIds)).map((t) => [t.id, t]));
    const shown = tweets.filter((t) => t.retweetOfId === undefined || originals.has(t.retweetOfId));
    if (shown.length === 0) return [];
    const ids = [...new Set([...shown, ...originals.values()].map((t) => t.id))];
    const [counts, liked, retweeted] = await Promise.all([
      this.repository.counts(ids),
      viewerId ? this.repository.likedBy(viewerId, ids) : new Set<string>(),
      viewerId ? this.repository.retweetedBy(viewerId, ids) : new Set<string>(),
    ]);
    const view = ({ idempotencyKey: _key, ...tweet }: Tweet): TweetView => ({
      ...tweet,
      ...counts.get(tweet.id)!,
      likedByMe: liked.has(tweet.id),
      retweetedByMe: retweeted.has(tweet.id),
      ...(tweet.retweetOfId !== undefined && { retweetedTweet: view(originals.get(tweet.retweetOfId)!) }),
    });
    return shown.map(view);
  }
}
