import { eventMessage } from "@chirp/kit/events";
import type { UserEvents } from "./domain/ports.js";

/** The users service's events, as `chirp.events.v1.Event` messages. */
export const userEvents: UserEvents = {
  created: (account) =>
    eventMessage(
      { $case: "userCreated", value: { userId: account.id, username: account.username, displayName: account.displayName } },
      account.createdAt,
    ),
  profileChanged: (account) =>
    eventMessage(
      {
        $case: "userProfileChanged",
        value: {
          userId: account.id,
          username: account.username,
          displayName: account.displayName,
          bio: account.bio,
          avatarUrl: account.avatarUrl,
          updatedAt: account.updatedAt,
        },
      },
      account.updatedAt,
    ),
  deleted: (userId, at) => eventMessage({ $case: "userDeleted", value: { userId } }, at),
  sessionsRevoked: (userId, sessionIds, at, accessTokensExpireBy) =>
    eventMessage({ $case: "sessionsRevoked", value: { userId, sessionIds, revokedAt: at, accessTokensExpireBy } }, at),
};
