import { MAX_ACTIVITIES_PER_USER, MAX_MENTIONS, groupKeyOf, type Activity } from "./model.js";
import type { NotificationStores, People } from "./ports.js";

/** A post, reply or retweet, as TweetCreated tells it. */
export interface PostCreated {
  tweetId: string;
  authorId: string;
  at: Date;
  replyToId?: string;
  retweetOfId?: string;
  /** Usernames as written, without "@". */
  mentions: readonly string[];
}

export interface LikeChange {
  tweetId: string;
  userId: string;
  liking: boolean;
  at: Date;
}

export interface FollowChange {
  followerId: string;
  followeeId: string;
  following: boolean;
  at: Date;
}

/** The id of the activity a like, follow or retweet makes: what undoing it finds. */
export const likeId = (tweetId: string, userId: string) => `like:${tweetId}:${userId}`;
export const followId = (followerId: string, followeeId: string) => `follow:${followerId}:${followeeId}`;
export const retweetId = (entryId: string) => `retweet:${entryId}`;
export const replyId = (tweetId: string) => `reply:${tweetId}`;
export const mentionId = (tweetId: string, userId: string) => `mention:${tweetId}:${userId}`;

/**
 * Turns what happened elsewhere into activities, idempotently: every activity's id comes from its
 * cause, likes and follows keep the time of their last change (an unlike that arrives before its
 * like wins over it), and deletions are recorded first, so an event about a deleted tweet or
 * account that comes late, or again, writes nothing that stays. Nobody is told of their own
 * actions. Each user keeps the newest MAX_ACTIVITIES_PER_USER activities.
 */
export class Activities {
  constructor(
    private readonly stores: NotificationStores,
    private readonly maxPerUser = MAX_ACTIVITIES_PER_USER,
  ) {}

  /** A reply tells the author of the post replied to; a retweet the original's author; a mention whoever it names. */
  async postCreated(post: PostCreated, people: People): Promise<void> {
    if (post.retweetOfId) {
      const author = (await people.tweetAuthors([post.retweetOfId])).get(post.retweetOfId);
      if (author) {
        await this.record({ id: retweetId(post.tweetId), recipientId: author, kind: "retweet", actorId: post.authorId, tweetId: post.retweetOfId, replyToId: "", at: post.at, tweetIds: [post.retweetOfId, post.tweetId] });
      }
      return;
    }
    const told = new Set([post.authorId]);
    if (post.replyToId) {
      const author = (await people.tweetAuthors([post.replyToId])).get(post.replyToId);
      if (author) {
        told.add(author);
        await this.record({ id: replyId(post.tweetId), recipientId: author, kind: "reply", actorId: post.authorId, tweetId: post.tweetId, replyToId: post.replyToId, at: post.at, tweetIds: [post.tweetId, post.replyToId] });
      }
    }
    const names = distinctNames(post.mentions);
    if (names.length === 0) return;
    const ids = await people.userIds(names);
    for (const userId of new Set(ids.values())) {
      if (told.has(userId)) continue;
      told.add(userId);
      await this.record({ id: mentionId(post.tweetId, userId), recipientId: userId, kind: "mention", actorId: post.authorId, tweetId: post.tweetId, replyToId: "", at: post.at, tweetIds: [post.tweetId] });
    }
  }

  async likeChanged(change: LikeChange, people: People): Promise<void> {
    const id = likeId(change.tweetId, change.userId);
    if (!change.liking) return this.stores.activities.switchOff(id, change.at);
    const author = (await people.tweetAuthors([change.tweetId])).get(change.tweetId);
    if (!author) return;
    await this.record({ id, recipientId: author, kind: "like", actorId: change.userId, tweetId: change.tweetId, replyToId: "", at: change.at, tweetIds: [change.tweetId] });
  }

  async followChanged(change: FollowChange): Promise<void> {
    const id = followId(change.followerId, change.followeeId);
    if (!change.following) return this.stores.activities.switchOff(id, change.at);
    await this.record({ id, recipientId: change.followeeId, kind: "follow", actorId: change.followerId, tweetId: "", replyToId: "", at: change.at, tweetIds: [] });
  }

  /** A deleted post takes its likes, retweets, replies to it and its own mentions and reply with it. */
  async tweetDeleted(tweetId: string, at: Date): Promise<void> {
    await this.stores.deletions.tweetDeleted(tweetId, at);
    await this.stores.activities.removeByTweet(tweetId);
  }

  /** A deleted account takes its notifications, and its actions in everyone else's. */
  async userDeleted(userId: string): Promise<void> {
    await this.stores.deletions.userDeleted(userId);
    await this.stores.activities.removeByUser(userId);
    await this.stores.readMarks.forget(userId);
  }

  /** Forgets what only guards against events older than `before`. */
  async forgetBefore(before: Date): Promise<void> {
    await this.stores.activities.forgetOffBefore(before);
    await this.stores.deletions.forgetTweetsBefore(before);
  }

  private async record(fields: Omit<Activity, "groupKey">): Promise<void> {
    if (fields.actorId === fields.recipientId) return;
    const activity: Activity = { ...fields, groupKey: groupKeyOf(fields.kind, fields.at, fields.tweetId) };
    const people = [activity.actorId, activity.recipientId];
    const { activities, deletions } = this.stores;
    if (await deletions.anyDeleted(activity.tweetIds, people)) return;
    if (!(await activities.put(activity))) return;
    // Looked at again after writing: a deletion whose sweep ran between the first look and the
    // write recorded itself before sweeping, so one of the two sees the other.
    if (await deletions.anyDeleted(activity.tweetIds, people)) return activities.remove(activity.id);
    await activities.trim(activity.recipientId, this.maxPerUser);
  }
}

/** The mentions of one post, each once (usernames ignore case), at most MAX_MENTIONS. */
function distinctNames(mentions: readonly string[]): string[] {
  const seen = new Map<string, string>();
  for (const name of mentions) {
    if (seen.size >= MAX_MENTIONS) break;
    if (name !== "" && !seen.has(name.toLowerCase())) seen.set(name.toLowerCase(), name);
  }
  return [...seen.values()];
}
