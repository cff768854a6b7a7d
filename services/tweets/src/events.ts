import type { Consumer, EventSubscriber } from "@chirp/kit";
import { decodeEvent, EVENT_SUBJECTS, eventMessage } from "@chirp/kit/events";
import type { TweetEvents } from "./domain/ports.js";
import type { Tweets } from "./domain/tweets.js";
import { tweetCreated, tweetDeleted } from "./messages.js";

/** The tweets service's events, as `chirp.events.v1.Event` messages. */
export const tweetEvents: TweetEvents = {
  created: (tweet) => eventMessage({ $case: "tweetCreated", value: tweetCreated(tweet) }, tweet.createdAt),
  deleted: (tweet, at) => eventMessage({ $case: "tweetDeleted", value: tweetDeleted(tweet) }, at),
  liked: (like) => eventMessage({ $case: "tweetLiked", value: { tweetId: like.tweetId, userId: like.userId, likedAt: like.likedAt } }, like.likedAt),
  unliked: (like, at) => eventMessage({ $case: "tweetUnliked", value: { tweetId: like.tweetId, userId: like.userId, unlikedAt: at } }, at),
};

/** The durable consumer every replica of the service shares, so each event is handled once. */
export const TWEETS_CONSUMER = "tweets";

/**
 * What the service reacts to: a deleted account (its tweets, likes and retweets go) and its own
 * TweetDeleted (the likes and retweets of a deleted post go). Both handlers are idempotent.
 * It starts from the first event the streams hold, not from "now": a consumer recreated over a
 * database that outlived it must still see the deletions it missed (replaying the others is
 * harmless, and the tweets stream keeps a week).
 */
export function consumeEvents(bus: EventSubscriber, tweets: Tweets, durable = TWEETS_CONSUMER): Promise<Consumer> {
  return bus.consume({ durable, subjects: [EVENT_SUBJECTS.userDeleted, EVENT_SUBJECTS.tweetDeleted], startAt: "first" }, async (delivery) => {
    const { payload } = decodeEvent(delivery.data);
    if (payload?.$case === "userDeleted") await tweets.onUserDeleted(payload.value.userId);
    if (payload?.$case === "tweetDeleted") await tweets.onTweetDeleted(payload.value);
  });
}
