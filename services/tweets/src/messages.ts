import type { TweetCreated, TweetDeleted } from "@chirp/proto/grpc/chirp/events/v1/events";
import type { Tweet as TweetMessage } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import type { Tweet, TweetView } from "./domain/model.js";

// A tweet as the messages the service makes of it: its answers (grpc/handlers.ts) and its events
// (events.ts) alike, each field written here once.

/**
 * What every message about a tweet says of it, chirp.tweets.v1.Tweet and chirp.events.v1.TweetCreated
 * alike. An absent id is an empty string (proto3 has no other). Always the same keys in the same
 * order, so the messages spread from it have one object shape.
 */
const tweetContent = (tweet: Tweet) => ({
  authorId: tweet.authorId,
  text: tweet.text,
  createdAt: tweet.createdAt,
  replyToId: tweet.replyToId ?? "",
  retweetOfId: tweet.retweetOfId ?? "",
  tags: tweet.tags,
  mentions: tweet.mentions,
});

/** The tweet as its viewer sees it; int64 counts travel as strings. */
export const tweetMessage = (tweet: TweetView): TweetMessage => ({
  id: tweet.id,
  ...tweetContent(tweet),
  likeCount: String(tweet.likeCount),
  retweetCount: String(tweet.retweetCount),
  replyCount: String(tweet.replyCount),
  likedByMe: tweet.likedByMe,
  retweetedByMe: tweet.retweetedByMe,
  retweetedTweet: tweet.retweetedTweet && tweetMessage(tweet.retweetedTweet),
});

export const tweetCreated = (tweet: Tweet): TweetCreated => ({ tweetId: tweet.id, ...tweetContent(tweet) });

/** What consumers of a deletion need to find what hangs on the tweet: its author and what it answered or retweeted. */
export function tweetDeleted(tweet: Tweet): TweetDeleted {
  const { authorId, retweetOfId, replyToId } = tweetContent(tweet);
  return { tweetId: tweet.id, authorId, retweetOfId, replyToId };
}
