import { idTime, type Consumer, type EventSubscriber, type LiveSubscriber, type LiveSubscription } from "@chirp/kit";
import { decodeEvent, EVENT_SUBJECTS } from "@chirp/kit/events";
import type { Event, TweetCreated, UserProfileChanged } from "@chirp/proto/grpc/chirp/events/v1/events";
import type { FanOut } from "./domain/fan-out.js";
import type { LiveTimelines } from "./domain/live.js";
import type { CreatedTweet, FollowChange, LikeChange, ProfileCard, TweetCard } from "./domain/model.js";
import type { FollowerDirectory, Upstream } from "./domain/ports.js";
import type { Profiles } from "./domain/profiles.js";
import type { TweetCards } from "./domain/tweet-cards.js";
import { cardOf, profileOf } from "./messages.js";

/** What keeps home timelines and the tweets and profiles projections in step. */
export const CONSUMED_SUBJECTS = [
  EVENT_SUBJECTS.tweetCreated,
  EVENT_SUBJECTS.tweetDeleted,
  EVENT_SUBJECTS.tweetLiked,
  EVENT_SUBJECTS.tweetUnliked,
  EVENT_SUBJECTS.userFollowed,
  EVENT_SUBJECTS.userUnfollowed,
  EVENT_SUBJECTS.userCreated,
  EVENT_SUBJECTS.userProfileChanged,
  EVENT_SUBJECTS.userDeleted,
];

/**
 * One event in hand and one fetched ahead: an event fetched ahead waits without progress
 * acknowledgements, so behind a fan-out longer than the ack wait it would be redelivered.
 */
const FAN_OUT_IN_FLIGHT = 2;

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

/**
 * The card TweetCreated describes, once `createdTweet` has checked its ids; none when the event
 * comes from a tweets service too old to send the text (every post and reply has text), so such
 * tweets are rendered by asking it.
 */
const tweetCard = (created: CreatedTweet, value: TweetCreated): TweetCard | undefined =>
  value.text === "" && value.retweetOfId === "" ? undefined : cardOf(created.tweetId, value);

/** When a change happened: as its event says, else when the event was recorded. */
const changedAt = (event: Event, at: Date | undefined): Date => at ?? event.occurredAt ?? idTime(event.id);

/**
 * The profile UserProfileChanged describes. It does not say when the account was created, but user
 * ids are made from their creation time; the store keeps UserCreated's time when that came first.
 */
function changedProfile(event: Event, value: UserProfileChanged): ProfileCard {
  const userId = required(value.userId, "user_profile_changed.user_id");
  return profileOf(userId, value, idTime(userId), changedAt(event, value.updatedAt));
}

function likeChange(event: Event, like: { tweetId: string; userId: string }, liking: boolean, at: Date | undefined): LikeChange {
  return {
    tweetId: required(like.tweetId, "tweet_id"),
    userId: required(like.userId, "user_id"),
    liking,
    at: changedAt(event, at),
    eventId: event.id,
  };
}

function followChange(event: Event, pair: { followerId: string; followeeId: string }, following: boolean, at: Date | undefined): FollowChange {
  return {
    followerId: required(pair.followerId, "follower_id"),
    followeeId: required(pair.followeeId, "followee_id"),
    following,
    at: changedAt(event, at),
    eventId: event.id,
  };
}

/**
 * The durable consumer that fans out and keeps the tweets and profiles projections. Each tweet's
 * card is saved before its fan-out, so an entry a reader can see always has its card. Explicit
 * acknowledgement, bounded redelivery and dead letters come from the bus; a malformed event fails
 * every delivery and so ends up dead-lettered.
 * Stopping interrupts a fan-out (its follower listing, or between batches), leaving the event for
 * redelivery. `ackWaitMs` (the bus's short default unless a test asks for another) is how soon the
 * event a crashed process was handling is redelivered; a long fan-out keeps its event meanwhile
 * by progress acknowledgements, and a redelivered one resumes after its last finished batch.
 * It starts from the first event the streams hold: the profiles and follows projections are
 * rebuilt from the whole history (the users and graph streams keep everything; tweets, a week).
 */
export async function consumeTimelineEvents(
  bus: EventSubscriber,
  durable: string,
  fanOut: FanOut,
  cards: TweetCards,
  profiles: Profiles,
  graphFor: (eventId: string) => FollowerDirectory,
  ackWaitMs?: number,
): Promise<Consumer> {
  const stopping = new AbortController();
  const consumer = await bus.consume({ durable, subjects: CONSUMED_SUBJECTS, startAt: "first", inFlight: FAN_OUT_IN_FLIGHT, ...(ackWaitMs ? { ackWaitMs } : {}) }, async (delivery) => {
    const event = decodeEvent(delivery.data);
    const payload = event.payload;
    switch (payload?.$case) {
      case "tweetCreated": {
        const created = createdTweet(payload.value);
        const card = tweetCard(created, payload.value);
        if (card) await cards.tweetCreated(card);
        return fanOut.tweetCreated(created, graphFor(event.id), stopping.signal);
      }
      case "tweetDeleted": {
        const tweetId = required(payload.value.tweetId, "tweet_deleted.tweet_id");
        await fanOut.tweetDeleted(tweetId);
        return cards.tweetDeleted(tweetId);
      }
      case "tweetLiked":
        return cards.likeChanged(likeChange(event, payload.value, true, payload.value.likedAt));
      case "tweetUnliked":
        return cards.likeChanged(likeChange(event, payload.value, false, payload.value.unlikedAt));
      case "userFollowed":
        return fanOut.followChanged(followChange(event, payload.value, true, payload.value.followedAt));
      case "userUnfollowed":
        return fanOut.followChanged(followChange(event, payload.value, false, payload.value.unfollowedAt));
      case "userCreated": {
        const { userId, username, displayName } = payload.value;
        // Published with the account's creation time: the profile's first version.
        return profiles.userCreated({ userId: required(userId, "user_created.user_id"), username, displayName, createdAt: changedAt(event, undefined) });
      }
      case "userProfileChanged":
        return profiles.profileChanged(changedProfile(event, payload.value));
      case "userDeleted": {
        const userId = required(payload.value.userId, "user_deleted.user_id");
        await fanOut.userDeleted(userId);
        await cards.userDeleted(userId);
        return profiles.userDeleted(userId);
      }
      default:
        // Every kind of event this build knows is consumed: only one of a newer contract gets here.
        throw new Error(`unexpected event of an unknown kind on ${delivery.subject}`);
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
export function pushNewPosts(bus: LiveSubscriber, live: LiveTimelines, upstreamFor: (eventId: string) => Upstream): Promise<LiveSubscription> {
  return bus.subscribe([EVENT_SUBJECTS.tweetCreated], async (message) => {
    const event = decodeEvent(message.data);
    if (event.payload?.$case === "tweetCreated") await live.tweetCreated(createdTweet(event.payload.value), upstreamFor(event.id));
  });
}
