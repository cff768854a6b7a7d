import type { Event } from "@chirp/proto/grpc/chirp/events/v1/events";

/** Each event type has one subject; each owning service has one stream. */
export type EventType = NonNullable<Event["payload"]>["$case"];

export const EVENT_SUBJECTS: Record<EventType, string> = {
  userCreated: "chirp.users.user_created",
  userDeleted: "chirp.users.user_deleted",
  userProfileChanged: "chirp.users.user_profile_changed",
  sessionsRevoked: "chirp.users.sessions_revoked",
  tweetCreated: "chirp.tweets.tweet_created",
  tweetDeleted: "chirp.tweets.tweet_deleted",
  tweetLiked: "chirp.tweets.tweet_liked",
  tweetUnliked: "chirp.tweets.tweet_unliked",
  userFollowed: "chirp.graph.user_followed",
  userUnfollowed: "chirp.graph.user_unfollowed",
};

export interface StreamSpec {
  name: string;
  subjects: string[];
  /**
   * How long messages are kept; 0 keeps them for good. Streams that other services rebuild
   * their own records from (who exists, who follows whom) keep everything, so a consumer created
   * later (a new service, a lost durable) can still learn the whole history.
   */
  maxAgeMs: number;
}

const WEEK_MS = 7 * 24 * 3_600_000;

/**
 * Every stream of the system. Publishers and consumers both declare the ones they touch at
 * start-up (idempotently), so services can start in any order.
 */
export const STREAMS = {
  users: { name: "CHIRP_USERS", subjects: ["chirp.users.>"], maxAgeMs: 0 },
  graph: { name: "CHIRP_GRAPH", subjects: ["chirp.graph.>"], maxAgeMs: 0 },
  /** Timelines hold recent posts only; a week covers any consumer catching up. */
  tweets: { name: "CHIRP_TWEETS", subjects: ["chirp.tweets.>"], maxAgeMs: WEEK_MS },
  deadLetters: { name: "CHIRP_DEADLETTER", subjects: ["chirp.deadletter.>"], maxAgeMs: 4 * WEEK_MS },
} satisfies Record<string, StreamSpec>;
