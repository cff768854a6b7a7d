import { GATEWAY_PEER, type PeerRules } from "@chirp/kit/grpc";
import type { UsersServiceService } from "@chirp/proto/grpc/chirp/users/v1/users";

const GATEWAY = [GATEWAY_PEER] as const;

/**
 * Which workloads may call each RPC (enforced by the kit with mutual TLS): the gateway what
 * gateway/src/access.ts serves; tweets and graph ask whether an account is live (GetUser) and for
 * the profiles their lists show; timeline and notifications for the profiles they render, and
 * notifications resolves mentioned usernames.
 */
export const usersPeers: PeerRules<typeof UsersServiceService> = {
  createUser: GATEWAY,
  login: GATEWAY,
  getUser: [GATEWAY_PEER, "tweets", "graph"],
  getUserByUsername: [GATEWAY_PEER, "notifications"],
  batchGetUsers: [GATEWAY_PEER, "tweets", "graph", "timeline", "notifications"],
  searchUsers: GATEWAY,
  updateUser: GATEWAY,
  deleteUser: GATEWAY,
  setUserRoles: GATEWAY,
  refreshSession: GATEWAY,
  listSessions: GATEWAY,
  revokeSession: GATEWAY,
  logout: GATEWAY,
  changePassword: GATEWAY,
  revokeUserSessions: GATEWAY,
};
