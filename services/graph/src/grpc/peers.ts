import { GATEWAY_PEER, type PeerRules } from "@chirp/kit/grpc";
import type { GraphServiceService } from "@chirp/proto/grpc/chirp/graph/v1/graph";

const GATEWAY = [GATEWAY_PEER] as const;

/**
 * Which workloads may call each RPC (enforced by the kit with mutual TLS): the gateway what
 * gateway/src/access.ts serves; timeline counts followers and lists every follower of a poster for
 * its fan-out, which nothing else may (the gateway does not serve it).
 */
export const graphPeers: PeerRules<typeof GraphServiceService> = {
  follow: GATEWAY,
  unfollow: GATEWAY,
  listFollowers: GATEWAY,
  listFollowing: GATEWAY,
  getRelationship: GATEWAY,
  getCounts: [GATEWAY_PEER, "timeline"],
  listFollowerIds: ["timeline"],
};
