import type { Tweet } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import type { User } from "@chirp/proto/grpc/chirp/users/v1/users";
import type { RenderedTweet } from "./domain/model.js";
import type { Hydration } from "./domain/ports.js";
import type { TweetCards } from "./domain/tweet-cards.js";

/** A rendered tweet as the tweets service's message, whose int64 counts travel as strings. */
const toMessage = (tweet: RenderedTweet): Tweet => ({
  ...tweet,
  likeCount: String(tweet.likeCount),
  retweetCount: String(tweet.retweetCount),
  replyCount: String(tweet.replyCount),
  retweetedTweet: tweet.retweetedTweet ? toMessage(tweet.retweetedTweet) : undefined,
});

/**
 * Tweets rendered from the timeline's own projection, so a page costs no call to the tweets
 * service. Only what the projection cannot render (tweets older than the events it was built
 * from, or whose events are still on their way) is asked of the tweets service, in one call.
 */
export function projectionFirst(cards: TweetCards, viewerId: string | undefined, upstream: Hydration<Tweet, User>): Hydration<Tweet, User> {
  return {
    tweets: async (ids) => {
      const { rendered, unknown } = await cards.render(ids, viewerId);
      const asked = unknown.length > 0 ? await upstream.tweets(unknown) : [];
      const byId = new Map([...rendered.map(toMessage), ...asked].map((tweet) => [tweet.id, tweet]));
      return ids.flatMap((id) => byId.get(id) ?? []);
    },
    profiles: (ids) => upstream.profiles(ids),
  };
}
