import { status } from "@grpc/grpc-js";
import { newId } from "@chirp/kit";
import { eventMessage } from "@chirp/kit/events";
import { unary } from "@chirp/kit/grpc";
import { asCaller, eventually, grpcFailure, serviceUnderTest, testConfigFrom } from "@chirp/kit/testing";
import { NotificationKind, NotificationsServiceClient, type StreamNotificationsResponse } from "@chirp/proto/grpc/chirp/notifications/v1/notifications";
import { startNotifications } from "../src/app.js";
import { schema } from "../src/config.js";
import { startFakeTweets } from "./fixtures.js";

describe("NotificationsService over gRPC (in-process, in-memory storage, stand-in users and tweets)", () => {
  let tweets: Awaited<ReturnType<typeof startFakeTweets>>;
  const service = serviceUnderTest({
    fakeUsers: true,
    client: NotificationsServiceClient,
    start: async ({ bus, log, users }) => {
      tweets = await startFakeTweets();
      const config = testConfigFrom(schema, { USERS_ADDRESS: users.address, TWEETS_ADDRESS: tweets.address, PROFILE_CACHE_MS: "0" });
      return startNotifications(config, { bus, log });
    },
  });
  afterAll(() => tweets?.stop());

  const client = () => service.client;
  const list = (caller: string, request: { pageSize?: number; pageToken?: string; kinds?: NotificationKind[] } = {}) =>
    unary(client(), client().listNotifications, { pageSize: 0, pageToken: "", kinds: [], ...request }, asCaller(caller));
  const like = (tweetId: string, userId: string, likedAt = new Date()) => service.bus.publish(eventMessage({ $case: "tweetLiked", value: { tweetId, userId, likedAt } }));

  it("lists what events told, with the actors' public profiles, counts the unread and marks them read", async () => {
    const [ada, bob, cy] = [newId(), newId(), newId()];
    const post = newId();
    tweets.authors.set(post, ada);
    await like(post, bob, new Date(Date.now() - 2_000));
    await like(post, cy, new Date(Date.now() - 1_000));
    await service.bus.publish(eventMessage({ $case: "userFollowed", value: { followerId: bob, followeeId: ada, followedAt: new Date() } }));

    const page = await eventually(async () => {
      const answer = await list(ada);
      expect(answer.notifications).toHaveLength(2);
      return answer;
    });
    expect(page.notifications[1]).toMatchObject({
      id: `like:${post}`,
      kind: NotificationKind.NOTIFICATION_KIND_LIKE,
      tweetId: post,
      actorCount: 2,
      unread: true,
      actors: [
        { userId: cy, user: { id: cy, username: `u_${cy.slice(-8).toLowerCase()}`, email: "" } },
        { userId: bob, user: { id: bob } },
      ],
    });
    expect(page.notifications[0]).toMatchObject({ kind: NotificationKind.NOTIFICATION_KIND_FOLLOW, actorCount: 1, tweetId: "" });
    expect(page.readUpTo).toBeUndefined();
    expect((await list(ada, { kinds: [NotificationKind.NOTIFICATION_KIND_FOLLOW] })).notifications.map((n) => n.kind)).toEqual([NotificationKind.NOTIFICATION_KIND_FOLLOW]);

    expect((await unary(client(), client().getUnreadCount, {}, asCaller(ada))).unreadCount).toBe(2);
    const marked = await unary(client(), client().markRead, { upTo: page.notifications[1]!.updatedAt }, asCaller(ada));
    expect(marked).toEqual({ readUpTo: page.notifications[1]!.updatedAt, unreadCount: 1 });
    const all = await unary(client(), client().markRead, { upTo: undefined }, asCaller(ada));
    expect(all.unreadCount).toBe(0);
    expect(await unary(client(), client().getUnreadCount, {}, asCaller(ada))).toEqual({ unreadCount: 0, readUpTo: all.readUpTo });
    // Nobody else sees ada's notifications: every call is about the caller.
    expect((await list(bob)).notifications).toEqual([]);
  });

  it("refuses a call without a caller, and bad fields, naming the field", async () => {
    const caller = newId();
    await grpcFailure(unary(client(), client().getUnreadCount, {}), status.UNAUTHENTICATED);
    await grpcFailure(list(caller, { kinds: [NotificationKind.NOTIFICATION_KIND_UNSPECIFIED] }), status.INVALID_ARGUMENT, "kinds[0]");
    await grpcFailure(list(caller, { kinds: [99 as NotificationKind] }), status.INVALID_ARGUMENT, "kinds[0]");
    await grpcFailure(list(caller, { kinds: Array(100_000).fill(NotificationKind.NOTIFICATION_KIND_LIKE) }), status.INVALID_ARGUMENT, "kinds");
    await grpcFailure(list(caller, { pageSize: -5 }), status.INVALID_ARGUMENT, "page_size");
    await grpcFailure(list(caller, { pageToken: "garbage" }), status.INVALID_ARGUMENT, "page_token");
    await grpcFailure(unary(client(), client().markRead, { upTo: new Date("1970-01-02T00:00:00Z") }, asCaller(caller)), status.INVALID_ARGUMENT, "up_to");
  });

  it("streams a new notification to its recipient", async () => {
    const [ada, bob] = [newId(), newId()];
    const post = newId();
    tweets.authors.set(post, ada);
    const stream = client().streamNotifications({}, asCaller(ada));
    stream.on("error", () => undefined);
    await new Promise((resolve) => stream.once("metadata", resolve));
    const pushed = new Promise<StreamNotificationsResponse>((resolve) => stream.once("data", resolve));
    await like(post, bob);
    expect((await pushed).notification).toMatchObject({ id: `like:${post}`, kind: NotificationKind.NOTIFICATION_KIND_LIKE, actorCount: 1, actors: [{ userId: bob }] });
    stream.cancel();
  });
});
