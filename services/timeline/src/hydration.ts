import type { Tweet } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import type { User } from "@chirp/proto/grpc/chirp/users/v1/users";
import type { ProfileCard, RenderedTweet } from "./domain/model.js";
import type { Hydration } from "./domain/ports.js";
import type { Profiles } from "./domain/profiles.js";
import type { TweetCards } from "./domain/tweet-cards.js";

/**
 * A rendered tweet as the tweets service's message, whose int64 counts travel as strings. Field by
 * field rather than spread, so every message has one object shape (see TweetCards.render).
 */
const toMessage = (tweet: RenderedTweet): Tweet => ({
  id: tweet.id,
  authorId: tweet.authorId,
  text: tweet.text,
  createdAt: tweet.createdAt,
  replyToId: tweet.replyToId,
  retweetOfId: tweet.retweetOfId,
  tags: tweet.tags,
  mentions: tweet.mentions,
  likeCount: String(tweet.likeCount),
  retweetCount: String(tweet.retweetCount),
  replyCount: String(tweet.replyCount),
  likedByMe: tweet.likedByMe,
  retweetedByMe: tweet.retweetedByMe,
  retweetedTweet: tweet.retweetedTweet ? toMessage(tweet.retweetedTweet) : undefined,
});

/** A kept profile as the users service's message; pages show public profiles, never an email. */
const toUser = (profile: ProfileCard): User => ({
  id: profile.userId,
  username: profile.username,
  displayName: profile.displayName,
  bio: profile.bio,
  avatarUrl: profile.avatarUrl,
  createdAt: profile.createdAt,
  updatedAt: profile.updatedAt,
  email: "",
});

/**
 * Tweets and people rendered from the timeline's own projections, so a page costs no call to the
 * tweets or users service. Only what the projections do not know (tweets and users older than the
 * events they were built from, or whose events are still on their way) is asked of those
 * services, in one call each.
 */
export function projectionFirst(
  cards: TweetCards,
  profiles: Profiles,
  viewerId: string | undefined,
  upstream: Hydration<Tweet, User>,
): Hydration<Tweet, User> {
  return {
    tweets: async (ids) => {
      const { rendered, unknown } = await cards.render(ids, viewerId);
      const asked = unknown.length > 0 ? await upstream.tweets(unknown) : [];
      return [...rendered.map(toMessage), ...asked];
    },
    profiles: async (ids) => {
      const { found, unknown } = await profiles.find(ids);
      const asked = unknown.length > 0 ? await upstream.profiles(unknown) : [];
      return [...found.map(toUser), ...asked];
    },
  };
}
