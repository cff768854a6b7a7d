import type { Consumer, EventSubscriber } from "@chirp/kit";
import { decodeEvent, EVENT_SUBJECTS, eventMessage } from "@chirp/kit/events";
import type { Graph } from "./domain/graph.js";
import type { GraphEvents } from "./domain/ports.js";

/** The graph service's events, as `chirp.events.v1.Event` messages. */
export const graphEvents: GraphEvents = {
  followed: (follow) =>
    eventMessage(
      { $case: "userFollowed", value: { followerId: follow.followerId, followeeId: follow.followeeId, followedAt: follow.followedAt } },
      follow.followedAt,
    ),
  unfollowed: (followerId, followeeId, at) =>
    eventMessage({ $case: "userUnfollowed", value: { followerId, followeeId, unfollowedAt: at } }, at),
};

const USER_EVENT_SUBJECTS = [EVENT_SUBJECTS.userCreated, EVENT_SUBJECTS.userDeleted];

/**
 * Keeps the graph's own record of existing users from the users service's events, through a
 * durable consumer that replicas share. Every handler is idempotent, so redeliveries are harmless;
 * an event that cannot be read (or names no valid user) fails every attempt and is dead-lettered.
 * It starts from the first event: the graph must know every account ever created, and the users
 * stream keeps them all for that.
 */
export function consumeUserEvents(bus: EventSubscriber, durable: string, graph: Graph): Promise<Consumer> {
  return bus.consume({ durable, subjects: USER_EVENT_SUBJECTS, startAt: "first" }, async (delivery) => {
    const payload = decodeEvent(delivery.data).payload;
    if (payload?.$case === "userCreated") await graph.userCreated(payload.value.userId);
    else if (payload?.$case === "userDeleted") await graph.userDeleted(payload.value.userId);
  });
}
