import { idTime } from "@chirp/kit";
import type { Tweet } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import type { User } from "@chirp/proto/grpc/chirp/users/v1/users";
import type { ProfileCard, RenderedTweet, TweetCard } from "./domain/model.js";

// The other services' messages as domain types, each field read here once: the events adapter
// reads events with these, the upstream adapter the tweets and users services' answers. (Messages
// are made from domain types in grpc/handlers.ts alone.)

/** What every message about a tweet says of it: chirp.tweets.v1.Tweet and chirp.events.v1.TweetCreated alike. */
type TweetContent = Pick<Tweet, "authorId" | "text" | "createdAt" | "replyToId" | "retweetOfId" | "tags" | "mentions">;

/** What every message about a user's profile says of it: chirp.users.v1.User and chirp.events.v1.UserProfileChanged alike. */
type ProfileContent = Pick<User, "username" | "displayName" | "bio" | "avatarUrl">;

/**
 * The tweet's card as a message tells it. An empty id is an absent one (proto3 has no other); a
 * tweet without a time was made when its id says (ULIDs carry it).
 */
export const cardOf = (tweetId: string, tweet: TweetContent): TweetCard => ({
  tweetId,
  authorId: tweet.authorId,
  text: tweet.text,
  createdAt: tweet.createdAt ?? idTime(tweetId),
  tags: tweet.tags,
  mentions: tweet.mentions,
  ...(tweet.replyToId ? { replyToId: tweet.replyToId } : {}),
  ...(tweet.retweetOfId ? { retweetOfId: tweet.retweetOfId } : {}),
});

/** A tweet as the tweets service rendered it for the caller; its int64 counts travel as strings. */
export const renderedOf = (tweet: Tweet): RenderedTweet => ({
  card: cardOf(tweet.id, tweet),
  likeCount: Number(tweet.likeCount),
  retweetCount: Number(tweet.retweetCount),
  replyCount: Number(tweet.replyCount),
  likedByMe: tweet.likedByMe,
  retweetedByMe: tweet.retweetedByMe,
  retweetedTweet: tweet.retweetedTweet ? renderedOf(tweet.retweetedTweet) : undefined,
});

/** The user's public profile as a message tells it (never an email: pages show public profiles). */
export const profileOf = (userId: string, profile: ProfileContent, createdAt: Date, updatedAt: Date): ProfileCard => ({
  userId,
  username: profile.username,
  displayName: profile.displayName,
  bio: profile.bio,
  avatarUrl: profile.avatarUrl,
  createdAt,
  updatedAt,
});

/** A user as the users service answered; an account without times was made when its id says. */
export function userProfile(user: User): ProfileCard {
  const createdAt = user.createdAt ?? idTime(user.id);
  return profileOf(user.id, user, createdAt, user.updatedAt ?? createdAt);
}
