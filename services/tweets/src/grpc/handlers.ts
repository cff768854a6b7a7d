import { peopleViewOf } from "@chirp/kit";
import { profileMessage, singleCopyResponses, type ServiceHandlers } from "@chirp/kit/grpc";
import {
  BatchGetTweetsResponse,
  ListLikersResponse,
  ListRepliesResponse,
  ListUserTweetsResponse,
  SearchTweetsResponse,
  TweetsServiceService,
} from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import type { TweetView } from "../domain/model.js";
import type { Page, Tweets } from "../domain/tweets.js";
import { tweetMessage } from "../messages.js";

const toTweetPage = (page: Page<TweetView>) => ({ tweets: page.items.map(tweetMessage), nextPageToken: page.nextPageToken });

/** The service as served: the responses that carry pages of tweets or people are encoded in a single copy. */
export const TweetsService = singleCopyResponses(TweetsServiceService, {
  batchGetTweets: BatchGetTweetsResponse,
  listUserTweets: ListUserTweetsResponse,
  listReplies: ListRepliesResponse,
  listLikers: ListLikersResponse,
  searchTweets: SearchTweetsResponse,
});

/** `chirp.tweets.v1.TweetsService` over the domain: translation only, no rules. */
export function tweetsHandlers(tweets: Tweets): ServiceHandlers<typeof TweetsServiceService> {
  return {
    async createTweet(req, ctx) {
      return { tweet: tweetMessage(await tweets.createTweet(ctx.requireCaller(), req)) };
    },
    async getTweet(req, ctx) {
      return { tweet: tweetMessage(await tweets.getTweet(req.id, ctx.callerId)) };
    },
    async batchGetTweets(req, ctx) {
      const result = await tweets.batchGetTweets(req.ids, ctx.callerId);
      return { tweets: result.tweets.map(tweetMessage), missingIds: result.missingIds };
    },
    async deleteTweet(req, ctx) {
      await tweets.deleteTweet(ctx.requireCaller(), req.id);
      return {};
    },
    async listUserTweets(req, ctx) {
      return toTweetPage(await tweets.listUserTweets(req, ctx.callerId));
    },
    async listReplies(req, ctx) {
      return toTweetPage(await tweets.listReplies(req, ctx.callerId));
    },
    async likeTweet(req, ctx) {
      return { tweet: tweetMessage(await tweets.likeTweet(ctx.requireCaller(), req.tweetId)) };
    },
    async unlikeTweet(req, ctx) {
      return { tweet: tweetMessage(await tweets.unlikeTweet(ctx.requireCaller(), req.tweetId)) };
    },
    async listLikers(req) {
      const page = await tweets.listLikers({ ...req, view: peopleViewOf(req.view) });
      return {
        likers: page.items.map((like) => ({
          userId: like.userId,
          likedAt: like.likedAt,
          user: like.profile && profileMessage(like.profile),
        })),
        nextPageToken: page.nextPageToken,
      };
    },
    async retweet(req, ctx) {
      return { retweet: tweetMessage(await tweets.retweet(ctx.requireCaller(), req.tweetId)) };
    },
    async unretweet(req, ctx) {
      return { tweet: tweetMessage(await tweets.unretweet(ctx.requireCaller(), req.tweetId)) };
    },
    async searchTweets(req, ctx) {
      return toTweetPage(await tweets.searchTweets(req, ctx.callerId));
    },
    async countTweets(req, ctx) {
      ctx.requireCaller();
      return { count: String(await tweets.countTweets(req, ctx.callerRoles)) };
    },
  };
}
