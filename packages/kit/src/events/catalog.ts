import type { Event } from "@chirp/proto/grpc/chirp/events/v1/events";

/** Each event type has one subject; each owning service has one stream. */
export type EventType = NonNullable<Event["payload"]>["$case"];

export const EVENT_SUBJECTS: Record<EventType, string> = {
  userCreated: "chirp.users.user_created",
  userDeleted: "chirp.users.user_deleted",
  tweetCreated: "chirp.tweets.tweet_created",
  tweetDeleted: "chirp.tweets.tweet_deleted",
  userFollowed: "chirp.graph.user_followed",
  userUnfollowed: "chirp.graph.user_unfollowed",
};

export interface StreamSpec {
  name: string;
  subjects: string[];
}

/**
 * Every stream of the system. Publishers and consumers both declare the ones they touch at
 * start-up (idempotently), so services can start in any order.
 */
export const STREAMS = {
  users: { name: "CHIRP_USERS", subjects: ["chirp.users.>"] },
  tweets: { name: "CHIRP_TWEETS", subjects: ["chirp.tweets.>"] },
  graph: { name: "CHIRP_GRAPH", subjects: ["chirp.graph.>"] },
  deadLetters: { name: "CHIRP_DEADLETTER", subjects: ["chirp.deadletter.>"] },
} satisfies Record<string, StreamSpec>;
