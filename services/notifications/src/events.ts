import { idTime, type Consumer, type EventSubscriber, type LiveSubscriber, type LiveSubscription } from "@chirp/kit";
import { decodeEvent, EVENT_SUBJECTS } from "@chirp/kit/events";
import type { Event } from "@chirp/proto/grpc/chirp/events/v1/events";
import { followId, likeId, retweetId, type Activities } from "./domain/activities.js";
import type { Expected, LiveNotifications } from "./domain/live.js";
import type { People } from "./domain/ports.js";

/** Every event that adds or takes away a notification (the catalogue entry lists the same). */
export const CONSUMED_SUBJECTS = [
  EVENT_SUBJECTS.tweetCreated,
  EVENT_SUBJECTS.tweetDeleted,
  EVENT_SUBJECTS.tweetLiked,
  EVENT_SUBJECTS.tweetUnliked,
  EVENT_SUBJECTS.userFollowed,
  EVENT_SUBJECTS.userUnfollowed,
  EVENT_SUBJECTS.userDeleted,
];

/** The events that add notifications: what the live side looks for. */
const ADDING_SUBJECTS = [EVENT_SUBJECTS.tweetCreated, EVENT_SUBJECTS.tweetLiked, EVENT_SUBJECTS.userFollowed];

function required(value: string, what: string): string {
  if (value === "") throw new Error(`malformed event: ${what} is empty`);
  return value;
}

/** When a change happened: as its event says, else when the event was recorded. */
const changedAt = (event: Event, at: Date | undefined): Date => at ?? event.occurredAt ?? idTime(event.id);

/**
 * Records notifications from the other services' events, through a durable consumer the replicas
 * share. Every step is idempotent and order-proof (see Activities), so a redelivery, or an undo
 * delivered before what it undoes, comes out the same. A failure (an upstream that does not
 * answer) throws, and JetStream delivers the event again.
 */
export function consumeNotificationEvents(bus: EventSubscriber, durable: string, activities: Activities, peopleFor: (eventId: string) => People): Promise<Consumer> {
  return bus.consume({ durable, subjects: CONSUMED_SUBJECTS }, async (delivery) => {
    const event = decodeEvent(delivery.data);
    const payload = event.payload;
    switch (payload?.$case) {
      case "tweetCreated": {
        const { tweetId, authorId, replyToId, retweetOfId, mentions, createdAt } = payload.value;
        const post = {
          tweetId: required(tweetId, "tweet_created.tweet_id"),
          authorId: required(authorId, "tweet_created.author_id"),
          at: changedAt(event, createdAt),
          ...(replyToId ? { replyToId } : {}),
          ...(retweetOfId ? { retweetOfId } : {}),
          mentions,
        };
        return activities.postCreated(post, peopleFor(event.id));
      }
      case "tweetDeleted":
        return activities.tweetDeleted(required(payload.value.tweetId, "tweet_deleted.tweet_id"), changedAt(event, undefined));
      case "tweetLiked":
      case "tweetUnliked": {
        const liking = payload.$case === "tweetLiked";
        const at = payload.$case === "tweetLiked" ? payload.value.likedAt : payload.value.unlikedAt;
        const change = { tweetId: required(payload.value.tweetId, "tweet_id"), userId: required(payload.value.userId, "user_id"), liking, at: changedAt(event, at) };
        return activities.likeChanged(change, peopleFor(event.id));
      }
      case "userFollowed":
      case "userUnfollowed": {
        const following = payload.$case === "userFollowed";
        const at = payload.$case === "userFollowed" ? payload.value.followedAt : payload.value.unfollowedAt;
        return activities.followChanged({
          followerId: required(payload.value.followerId, "follower_id"),
          followeeId: required(payload.value.followeeId, "followee_id"),
          following,
          at: changedAt(event, at),
        });
      }
      case "userDeleted":
        return activities.userDeleted(required(payload.value.userId, "user_deleted.user_id"));
      default:
        // Only the subjects above are consumed: only an event of a newer contract gets here.
        throw new Error(`unexpected event of an unknown kind on ${delivery.subject}`);
    }
  });
}

/** What an adding event recorded, for the live side to look for; undefined for a malformed one. */
function expectedOf(event: Event): Expected | undefined {
  const payload = event.payload;
  switch (payload?.$case) {
    case "tweetCreated": {
      const { tweetId, authorId, retweetOfId, createdAt } = payload.value;
      if (!tweetId || !authorId) return undefined;
      return retweetOfId ? { ids: [retweetId(tweetId)], at: changedAt(event, createdAt) } : { postId: tweetId };
    }
    case "tweetLiked":
      return { ids: [likeId(payload.value.tweetId, payload.value.userId)], at: changedAt(event, payload.value.likedAt) };
    case "userFollowed": {
      const { followerId, followeeId, followedAt } = payload.value;
      return { ids: [followId(followerId, followeeId)], at: changedAt(event, followedAt), recipientId: followeeId };
    }
    default:
      return undefined;
  }
}

/** The process's one live subscription: each adding event, offered to the open streams. */
export function pushNewNotifications(bus: LiveSubscriber, live: LiveNotifications, peopleFor: (eventId: string) => People): Promise<LiveSubscription> {
  return bus.subscribe(ADDING_SUBJECTS, async (message) => {
    const event = decodeEvent(message.data);
    const expected = expectedOf(event);
    if (expected) live.offer(expected, peopleFor(event.id));
  });
}
