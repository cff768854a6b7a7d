import { GATEWAY_PEER, type PeerRules } from "@chirp/kit/grpc";
import type { TimelineServiceService } from "@chirp/proto/grpc/chirp/timeline/v1/timeline";

/** Which workloads may call each RPC (enforced by the kit with mutual TLS): the gateway only. */
export const timelinePeers: PeerRules<typeof TimelineServiceService> = {
  getHomeTimeline: [GATEWAY_PEER],
  getHomeTimelineUpdates: [GATEWAY_PEER],
  streamHomeTimeline: [GATEWAY_PEER],
};
