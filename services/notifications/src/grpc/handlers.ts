import type { CallContext, ServiceHandlers } from "@chirp/kit/grpc";
import {
  NotificationKind,
  NotificationsServiceService,
  type Actor,
  type Notification,
} from "@chirp/proto/grpc/chirp/notifications/v1/notifications";
import type { User } from "@chirp/proto/grpc/chirp/users/v1/users";
import type { LiveNotifications } from "../domain/live.js";
import type { Kind, NotificationView, Profile } from "../domain/model.js";
import type { Notifications } from "../domain/notifications.js";
import type { People } from "../domain/ports.js";

export const NotificationsService = NotificationsServiceService;

const KIND_OF: ReadonlyMap<NotificationKind, Kind> = new Map([
  [NotificationKind.NOTIFICATION_KIND_MENTION, "mention"],
  [NotificationKind.NOTIFICATION_KIND_REPLY, "reply"],
  [NotificationKind.NOTIFICATION_KIND_LIKE, "like"],
  [NotificationKind.NOTIFICATION_KIND_RETWEET, "retweet"],
  [NotificationKind.NOTIFICATION_KIND_FOLLOW, "follow"],
]);

const MESSAGE_KIND: Record<Kind, NotificationKind> = {
  mention: NotificationKind.NOTIFICATION_KIND_MENTION,
  reply: NotificationKind.NOTIFICATION_KIND_REPLY,
  like: NotificationKind.NOTIFICATION_KIND_LIKE,
  retweet: NotificationKind.NOTIFICATION_KIND_RETWEET,
  follow: NotificationKind.NOTIFICATION_KIND_FOLLOW,
};

/** A public profile as the users service's message: never an email. */
const userMessage = (profile: Profile): User => ({
  id: profile.userId,
  username: profile.username,
  displayName: profile.displayName,
  bio: profile.bio,
  avatarUrl: profile.avatarUrl,
  createdAt: profile.createdAt,
  updatedAt: profile.updatedAt,
  email: "",
});

export const notificationMessage = (view: NotificationView): Notification => ({
  id: view.id,
  kind: MESSAGE_KIND[view.kind],
  tweetId: view.tweetId,
  replyToId: view.replyToId,
  actors: view.actors.map((actor): Actor => ({ userId: actor.userId, actedAt: actor.at, user: actor.profile && userMessage(actor.profile) })),
  actorCount: view.actorCount,
  updatedAt: view.updatedAt,
  unread: view.unread,
});

/**
 * `chirp.notifications.v1.NotificationsService` over the domain: translation only, no rules.
 * `people` binds the users service to each call, so what it is asked carries its request id and
 * deadline.
 */
export function notificationsHandlers(
  notifications: Notifications,
  live: LiveNotifications,
  people: { forCall(ctx: CallContext): People },
): ServiceHandlers<typeof NotificationsServiceService> {
  return {
    async listNotifications(req, ctx) {
      const callerId = ctx.requireCaller();
      // A kind the contract does not know, or UNSPECIFIED, is undefined: the domain names it.
      const kinds = req.kinds.map((kind) => KIND_OF.get(kind));
      const page = await notifications.list(callerId, { pageSize: req.pageSize, pageToken: req.pageToken, kinds }, people.forCall(ctx));
      return { notifications: page.notifications.map(notificationMessage), nextPageToken: page.nextPageToken, readUpTo: page.readUpTo };
    },
    async getUnreadCount(_req, ctx) {
      return notifications.unreadCount(ctx.requireCaller());
    },
    async markRead(req, ctx) {
      return notifications.markRead(ctx.requireCaller(), req.upTo);
    },
    // No deadline but the client's: a stream lasts until the client leaves (the gateway bounds its
    // lifetime). The feed is followed before the first await, in the turn whose response headers
    // are the client's sign that the stream is in place (the gateway's opening message).
    async streamNotifications(_req, ctx, send) {
      const feed = live.follow(ctx.requireCaller(), ctx.signal);
      for await (const view of feed) await send({ notification: notificationMessage(view) });
    },
  };
}
