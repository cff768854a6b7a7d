import { GATEWAY_PEER, type PeerRules } from "@chirp/kit/grpc";
import type { TweetsServiceService } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";

const GATEWAY = [GATEWAY_PEER] as const;

/**
 * Which workloads may call each RPC (enforced by the kit with mutual TLS): the gateway what
 * gateway/src/access.ts serves; timeline and notifications read the posts they render.
 */
export const tweetsPeers: PeerRules<typeof TweetsServiceService> = {
  createTweet: GATEWAY,
  getTweet: GATEWAY,
  batchGetTweets: [GATEWAY_PEER, "timeline", "notifications"],
  deleteTweet: GATEWAY,
  listUserTweets: GATEWAY,
  listReplies: GATEWAY,
  likeTweet: GATEWAY,
  unlikeTweet: GATEWAY,
  listLikers: GATEWAY,
  retweet: GATEWAY,
  unretweet: GATEWAY,
  searchTweets: GATEWAY,
  countTweets: GATEWAY,
};
