import { singleCopyResponses, type ServiceHandlers } from "@chirp/kit/grpc";
import { invalidArgument } from "@chirp/kit";
import { BatchGetUsersResponse, SearchUsersResponse, UsersServiceService, type User as UserMessage } from "@chirp/proto/grpc/chirp/users/v1/users";
import type { User } from "../domain/model.js";
import type { LoginResult, Users } from "../domain/users.js";

const tokensMessage = (result: LoginResult) => ({
  accessToken: result.accessToken,
  expiresAt: result.expiresAt,
  user: toMessage(result.user),
  refreshToken: result.refreshToken,
  refreshExpiresAt: result.refreshExpiresAt,
  sessionId: result.sessionId,
});

const toMessage = (user: User): UserMessage => ({
  id: user.id,
  username: user.username,
  displayName: user.displayName,
  bio: user.bio,
  avatarUrl: user.avatarUrl,
  createdAt: user.createdAt,
  updatedAt: user.updatedAt,
  email: user.email,
});

/** The service as served: the responses that carry lists of people are encoded in a single copy. */
export const UsersService = singleCopyResponses(UsersServiceService, {
  batchGetUsers: BatchGetUsersResponse,
  searchUsers: SearchUsersResponse,
});

/** `chirp.users.v1.UsersService` over the domain: translation only, no rules. */
export function usersHandlers(users: Users): ServiceHandlers<typeof UsersServiceService> {
  return {
    async createUser(req) {
      return { user: toMessage(await users.createUser(req)) };
    },
    async login(req, ctx) {
      const result = await users.login(req.usernameOrEmail, req.password, { deviceLabel: req.deviceLabel, clientAddress: ctx.clientAddress });
      ctx.log.info({ userId: result.user.id, sessionId: result.sessionId }, "session started");
      return tokensMessage(result);
    },
    async refreshSession(req, ctx) {
      return tokensMessage(await users.refreshSession(req.refreshToken, { clientAddress: ctx.clientAddress }));
    },
    async listSessions(_req, ctx) {
      return { sessions: await users.listSessions(ctx.requireCaller(), ctx.callerSessionId) };
    },
    async revokeSession(req, ctx) {
      await users.revokeSession(ctx.requireCaller(), req.sessionId);
      ctx.log.info({ sessionId: req.sessionId }, "session revoked");
      return {};
    },
    async logout(_req, ctx) {
      await users.logout(ctx.requireCaller(), ctx.callerSessionId);
      return {};
    },
    async changePassword(req, ctx) {
      const revokedSessions = await users.changePassword(ctx.requireCaller(), ctx.callerSessionId, req.currentPassword, req.newPassword);
      ctx.log.info({ revokedSessions }, "password changed");
      return { revokedSessions };
    },
    async revokeUserSessions(req, ctx) {
      ctx.requireCaller();
      const revokedSessions = await users.revokeUserSessions(ctx.callerRoles, req.userId);
      ctx.log.info({ userId: req.userId, revokedSessions }, "user sessions revoked");
      return { revokedSessions };
    },
    async getUser(req, ctx) {
      return { user: toMessage(await users.getUser(req.id, ctx.callerId)) };
    },
    async getUserByUsername(req, ctx) {
      return { user: toMessage(await users.getUserByUsername(req.username, ctx.callerId)) };
    },
    async batchGetUsers(req, ctx) {
      const result = await users.batchGetUsers(req.ids, ctx.callerId);
      return { users: result.users.map(toMessage), missingIds: result.missingIds };
    },
    async searchUsers(req, ctx) {
      const result = await users.searchUsers(req, ctx.callerId);
      return { users: result.users.map(toMessage), nextPageToken: result.nextPageToken };
    },
    async updateUser(req, ctx) {
      const caller = ctx.requireCaller();
      if (!req.user) throw invalidArgument("user", "is required");
      return { user: toMessage(await users.updateUser(caller, req.user, req.updateMask)) };
    },
    async deleteUser(req, ctx) {
      await users.deleteUser(ctx.requireCaller(), req.id);
      return {};
    },
    async setUserRoles(req, ctx) {
      ctx.requireCaller();
      const roles = await users.setUserRoles(ctx.callerRoles, req.userId, req.roles);
      // Who gave whom which roles: the log line carries the caller's id.
      ctx.log.info({ userId: req.userId, roles }, "user roles set");
      return { roles };
    },
  };
}
