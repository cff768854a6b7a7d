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
import type { ProfileCard, RenderedTweet, TimelineItem } from "../domain/model.js";
import type { Upstream } from "../domain/ports.js";

/**
 * A rendered tweet as the tweets service's message, whose int64 counts travel as strings. Field by
 * field rather than spread, so every message has one object shape and the page's encoding, which
 * reads them field by field, stays on its fast path.
 */
const tweetMessage = (tweet: RenderedTweet): Tweet => ({
  id: tweet.card.tweetId,
  authorId: tweet.card.authorId,
  text: tweet.card.text,
  createdAt: tweet.card.createdAt,
  replyToId: tweet.card.replyToId ?? "",
  retweetOfId: tweet.card.retweetOfId ?? "",
  tags: tweet.card.tags,
  mentions: tweet.card.mentions,
  likeCount: String(tweet.likeCount),
  retweetCount: String(tweet.retweetCount),
  replyCount: String(tweet.replyCount),
  likedByMe: tweet.likedByMe,
  retweetedByMe: tweet.retweetedByMe,
  retweetedTweet: tweet.retweetedTweet ? tweetMessage(tweet.retweetedTweet) : undefined,
});

/** A profile as the users service's message; pages show public profiles, never an email. */
const userMessage = (profile: ProfileCard): User => ({
  id: profile.userId,
  username: profile.username,
  displayName: profile.displayName,
  bio: profile.bio,
  avatarUrl: profile.avatarUrl,
  createdAt: profile.createdAt,
  updatedAt: profile.updatedAt,
  email: "",
});

const itemMessage = (item: TimelineItem, user: (profile: ProfileCard) => User): TimelineItemMessage => ({
  id: item.id,
  tweet: tweetMessage(item.tweet),
  author: user(item.author),
  retweetedBy: item.retweetedBy && user(item.retweetedBy),
  createdAt: item.createdAt,
});

/**
 * A page's items as messages. A page shows the same few people many times over, one profile each:
 * each profile becomes one message, shared by its items.
 */
function itemMessages(items: TimelineItem[]): TimelineItemMessage[] {
  const users = new Map<ProfileCard, User>();
  const user = (profile: ProfileCard) => {
    let message = users.get(profile);
    if (!message) users.set(profile, (message = userMessage(profile)));
    return message;
  };
  return items.map((item) => itemMessage(item, user));
}

/** The service as served: every response is a page of items, encoded in a single copy. */
export const TimelineService = singleCopyResponses(TimelineServiceService, {
  getHomeTimeline: GetHomeTimelineResponse,
  getHomeTimelineUpdates: GetHomeTimelineUpdatesResponse,
  streamHomeTimeline: StreamHomeTimelineResponse,
});

/**
 * `chirp.timeline.v1.TimelineService` over the domain: translation only, no rules. `upstream`
 * binds the tweets and users services to each call, so what they are asked carries its caller,
 * request id and deadline.
 */
export function timelineHandlers(
  home: HomeTimelines,
  live: LiveTimelines,
  upstream: { forCall(ctx: CallContext): Upstream },
): ServiceHandlers<typeof TimelineServiceService> {
  return {
    async getHomeTimeline(req, ctx) {
      const page = await home.page(ctx.requireCaller(), req, upstream.forCall(ctx));
      return { items: itemMessages(page.items), nextPageToken: page.nextPageToken, sinceToken: page.sinceToken };
    },
    async getHomeTimelineUpdates(req, ctx) {
      const updates = await home.updates(ctx.requireCaller(), req, upstream.forCall(ctx));
      return { items: itemMessages(updates.items), sinceToken: updates.sinceToken, hasMore: updates.hasMore };
    },
    // No deadline but the client's: a stream lasts until the client leaves (the gateway bounds its
    // lifetime). The feed is followed before the first await, in the turn whose response headers
    // are the client's sign that the stream is in place (the gateway's opening message); a post
    // published after they arrive is never missed.
    async streamHomeTimeline(_req, ctx, send) {
      const readerId = ctx.requireCaller();
      const feed = live.follow(readerId, ctx.signal);
      ctx.log.debug({ streams: live.streams }, "stream opened");
      for await (const item of feed) await send({ item: itemMessage(item, userMessage) });
    },
  };
}
