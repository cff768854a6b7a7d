import { singleCopyResponses, type CallContext, type ServiceHandlers } from "@chirp/kit/grpc";
import {
  GetHomeTimelineResponse,
  GetHomeTimelineUpdatesResponse,
  StreamHomeTimelineResponse,
  TimelineServiceService,
  type TimelineItem as TimelineItemMessage,
} from "@chirp/proto/grpc/chirp/timeline/v1/timeline";
import type { Tweet } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import type { User } from "@chirp/proto/grpc/chirp/users/v1/users";
import type { HomeTimelines } from "../domain/home.js";
import type { LiveTimelines } from "../domain/live.js";
import type { TimelineItem } from "../domain/model.js";
import type { Hydration } from "../domain/ports.js";

const toMessage = (item: TimelineItem<Tweet, User>): TimelineItemMessage => ({
  id: item.id,
  tweet: item.tweet,
  author: item.author,
  retweetedBy: item.retweetedBy,
  createdAt: item.createdAt,
});

/** The service as served: every response is a page of items, encoded in a single copy. */
export const TimelineService = singleCopyResponses(TimelineServiceService, {
  getHomeTimeline: GetHomeTimelineResponse,
  getHomeTimelineUpdates: GetHomeTimelineUpdatesResponse,
  streamHomeTimeline: StreamHomeTimelineResponse,
});

/** `chirp.timeline.v1.TimelineService` over the domain: translation only, no rules. */
export function timelineHandlers(
  home: HomeTimelines<Tweet, User>,
  live: LiveTimelines<Tweet, User>,
  hydrationFor: (ctx: CallContext) => Hydration<Tweet, User>,
): ServiceHandlers<typeof TimelineServiceService> {
  return {
    async getHomeTimeline(req, ctx) {
      const page = await home.page(ctx.requireCaller(), req, hydrationFor(ctx));
      return { items: page.items.map(toMessage), nextPageToken: page.nextPageToken, sinceToken: page.sinceToken };
    },
    async getHomeTimelineUpdates(req, ctx) {
      const updates = await home.updates(ctx.requireCaller(), req, hydrationFor(ctx));
      return { items: updates.items.map(toMessage), sinceToken: updates.sinceToken, hasMore: updates.hasMore };
    },
    // No deadline but the client's: a stream lasts until the client leaves (the gateway bounds its
    // lifetime). The feed is followed before the first await, in the turn whose response headers
    // are the client's sign that the stream is in place (the gateway's opening message); a post
    // published after they arrive is never missed.
    async streamHomeTimeline(_req, ctx, send) {
      const readerId = ctx.requireCaller();
      const feed = live.follow(readerId, ctx.signal);
      ctx.log.debug({ streams: live.streams }, "stream opened");
      for await (const item of feed) await send({ item: toMessage(item) });
    },
  };
}
