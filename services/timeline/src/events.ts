import { idTime, type Consumer, type EventSubscriber, type LiveSubscriber, type LiveSubscription } from "@chirp/kit";
import { decodeEvent, EVENT_SUBJECTS } from "@chirp/kit/events";
import type { Event, TweetCreated } from "@chirp/proto/grpc/chirp/events/v1/events";
import type { FanOut } from "./domain/fan-out.js";
import type { LiveTimelines } from "./domain/live.js";
import type { CreatedTweet, FollowChange, ProfileView, TweetView } from "./domain/model.js";
import type { FollowerDirectory, Hydration } from "./domain/ports.js";

/** What keeps home timelines in step. */
export const CONSUMED_SUBJECTS = [
  EVENT_SUBJECTS.tweetCreated,
  EVENT_SUBJECTS.tweetDeleted,
  EVENT_SUBJECTS.userFollowed,
  EVENT_SUBJECTS.userUnfollowed,
  EVENT_SUBJECTS.userDeleted,
];

/**
 * How long one event may take before JetStream offers it again: long enough for the fan-out of
 * an author just under the celebrity threshold. A redelivered fan-out resumes after its last
 * finished batch.
 */
const ACK_WAIT_MS = 5 * 60_000;

function required(value: string, what: string): string {
  if (value === "") throw new Error(`malformed event: ${what} is empty`);
  return value;
}

const createdTweet = (value: TweetCreated): CreatedTweet => ({
  tweetId: required(value.tweetId, "tweet_created.tweet_id"),
  authorId: required(value.authorId, "tweet_created.author_id"),
  ...(value.retweetOfId ? { retweetOfId: value.retweetOfId } : {}),
  ...(value.replyToId ? { replyToId: value.replyToId } : {}),
});

function followChange(event: Event, pair: { followerId: string; followeeId: string }, following: boolean, at: Date | undefined): FollowChange {
  return {
    followerId: required(pair.followerId, "follower_id"),
    followeeId: required(pair.followeeId, "followee_id"),
    following,
    at: at ?? event.occurredAt ?? idTime(event.id),
    eventId: event.id,
  };
}

/**
 * The durable consumer that fans out. Explicit acknowledgement, bounded redelivery and dead
 * letters come from the bus; a malformed event fails every delivery and so ends up dead-lettered.
 * Stopping interrupts a fan-out (its follower listing, or between batches), leaving the event for
 * redelivery. `ackWaitMs` is also how soon the event a crashed process was handling is redelivered.
 */
export async function consumeTimelineEvents(
  bus: EventSubscriber,
  durable: string,
  fanOut: FanOut,
  graphFor: (eventId: string) => FollowerDirectory,
  ackWaitMs = ACK_WAIT_MS,
): Promise<Consumer> {
  const stopping = new AbortController();
  const consumer = await bus.consume({ durable, subjects: CONSUMED_SUBJECTS, ackWaitMs }, async (delivery) => {
    const event = decodeEvent(delivery.data);
    const payload = event.payload;
    switch (payload?.$case) {
      case "tweetCreated":
        return fanOut.tweetCreated(createdTweet(payload.value), graphFor(event.id), stopping.signal);
      case "tweetDeleted":
        return fanOut.tweetDeleted(required(payload.value.tweetId, "tweet_deleted.tweet_id"));
      case "userFollowed":
        return fanOut.followChanged(followChange(event, payload.value, true, payload.value.followedAt));
      case "userUnfollowed":
        return fanOut.followChanged(followChange(event, payload.value, false, payload.value.unfollowedAt));
      case "userDeleted":
        return fanOut.userDeleted(required(payload.value.userId, "user_deleted.user_id"));
      default:
        throw new Error(`unexpected event ${payload?.$case ?? "without payload"} on ${delivery.subject}`);
    }
  });
  return {
    stop: async () => {
      stopping.abort();
      await consumer.stop();
    },
  };
}

/** The process's one live subscription: every new post, offered to the open streams. */
export function pushNewPosts<T extends TweetView, P extends ProfileView>(
  bus: LiveSubscriber,
  live: LiveTimelines<T, P>,
  hydrationFor: (eventId: string) => Hydration<T, P>,
): Promise<LiveSubscription> {
  return bus.subscribe([EVENT_SUBJECTS.tweetCreated], async (message) => {
    const event = decodeEvent(message.data);
    if (event.payload?.$case === "tweetCreated") await live.tweetCreated(createdTweet(event.payload.value), hydrationFor(event.id));
  });
}
