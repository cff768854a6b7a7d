import { GATEWAY_PEER, type PeerRules } from "@chirp/kit/grpc";
import type { NotificationsServiceService } from "@chirp/proto/grpc/chirp/notifications/v1/notifications";

/** Which workloads may call each RPC (enforced by the kit with mutual TLS): the gateway only. */
export const notificationsPeers: PeerRules<typeof NotificationsServiceService> = {
  listNotifications: [GATEWAY_PEER],
  getUnreadCount: [GATEWAY_PEER],
  markRead: [GATEWAY_PEER],
  streamNotifications: [GATEWAY_PEER],
};
