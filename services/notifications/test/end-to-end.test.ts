import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { describeWith, eventually, testLogger, uniqueName } from "@chirp/kit/testing";
import { startMesh, type Mesh } from "@chirp/mesh";
import { GraphService } from "@chirp/proto/es/chirp/graph/v1/graph_pb";
import { NotificationKind, NotificationsService, type Notification } from "@chirp/proto/es/chirp/notifications/v1/notifications_pb";
import { TweetsService } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";

const PASSWORD = "correct horse battery";

/** One person through the gateway, as a client: Connect clients that send their access token. */
async function signUp(url: string, name: string) {
  const anonymous = createConnectTransport({ baseUrl: url, httpVersion: "1.1" });
  const username = `${name}_${Math.random().toString(36).slice(2, 8)}`;
  const { user } = await createClient(UsersService, anonymous).createUser({ username, email: `${username}@example.org`, password: PASSWORD, displayName: name });
  const { accessToken } = await createClient(UsersService, anonymous).login({ usernameOrEmail: username, password: PASSWORD });
  const bearer: Interceptor = (next) => (request) => {
    request.header.set("authorization", `Bearer ${accessToken}`);
    return next(request);
  };
  const transport = createConnectTransport({ baseUrl: url, httpVersion: "1.1", interceptors: [bearer] });
  return {
    id: user!.id,
    username,
    users: createClient(UsersService, transport),
    tweets: createClient(TweetsService, transport),
    graph: createClient(GraphService, transport),
    notifications: createClient(NotificationsService, transport),
  };
}

type Person = Awaited<ReturnType<typeof signUp>>;

const ms = (t: Timestamp | undefined) => Number(t?.seconds ?? 0n) * 1_000 + Math.floor((t?.nanos ?? 0) / 1e6);

/**
 * How the story waits for the list: long enough for events through the outbox, JetStream and a
 * MongoDB-protocol server on a loaded machine, and gently enough to stay within ada's read budget
 * (READ_BURST 120, then 10 a second), so that a wait that runs out ends on the list it saw rather
 * than on the gateway's refusal of one poll too many.
 */
const POLL = [30_000, 200] as const;

/** What a list shows, in words a test can compare. */
function shown(notifications: Notification[]) {
  return notifications.map((n) => ({ kind: NotificationKind[n.kind], tweetId: n.tweetId, actors: n.actors.map((a) => a.user?.username ?? a.userId), count: n.actorCount }));
}

/**
 * Two (then three) people through the gateway of the whole mesh: follow, mention, reply, like,
 * retweet; the list, its filter, the unread count, marking read and the live stream; then unlike,
 * unfollow, deleted posts and a deleted account taking their notifications away.
 */
function notificationsStory(mesh: () => Mesh) {
  it("tells people what others did with them, live and in their list, and takes it back when undone", async () => {
    const url = `http://127.0.0.1:${mesh().gateway.httpPort}`;
    // The gateway checks it with every other upstream.
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", upstreams: { notifications: "SERVING" } });
    const [ada, bob, cy] = [await signUp(url, "ada"), await signUp(url, "bob"), await signUp(url, "cy")];
    const follow = (who: Person, whom: Person) =>
      eventually(async () => {
        // The graph learns of new users from events: retried until it knows them.
        await who.graph.follow({ followeeId: whom.id });
      }, 15_000);

    // ada keeps a stream open; the first message says it is in place.
    const stopStream = new AbortController();
    const pushed: Notification[] = [];
    const stream = ada.notifications.streamNotifications({}, { signal: stopStream.signal });
    const iterator = stream[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.notification).toBeUndefined();
    const reading = (async () => {
      for (;;) {
        const next = await iterator.next().catch(() => ({ done: true as const, value: undefined }));
        if (next.done) return;
        if (next.value.notification) pushed.push(next.value.notification);
      }
    })();

    await follow(bob, ada);
    const { tweet: post } = await ada.tweets.createTweet({ text: "my first post" });
    const { tweet: mention } = await bob.tweets.createTweet({ text: `hello @${ada.username}, and @nobody_here` });
    const { tweet: reply } = await bob.tweets.createTweet({ text: "nice one", replyToId: post!.id });
    await bob.tweets.likeTweet({ tweetId: post!.id });
    await cy.tweets.likeTweet({ tweetId: post!.id });
    await bob.tweets.retweet({ tweetId: post!.id });
    // ada's own like of her post tells nobody.
    await ada.tweets.likeTweet({ tweetId: post!.id });

    const expected = [
      { kind: "RETWEET", tweetId: post!.id, actors: [bob.username], count: 1 },
      { kind: "LIKE", tweetId: post!.id, actors: [cy.username, bob.username], count: 2 },
      { kind: "REPLY", tweetId: reply!.id, actors: [bob.username], count: 1 },
      { kind: "MENTION", tweetId: mention!.id, actors: [bob.username], count: 1 },
      { kind: "FOLLOW", tweetId: "", actors: [bob.username], count: 1 },
    ];
    const listed = await eventually(async () => {
      const page = await ada.notifications.listNotifications({});
      expect(shown(page.notifications)).toEqual(expected);
      return page;
    }, ...POLL);
    expect(listed.notifications.every((n) => n.unread)).toBe(true);
    expect(listed.notifications.find((n) => n.kind === NotificationKind.LIKE)!.actors[0]!.user).toMatchObject({ id: cy.id, username: cy.username, displayName: "cy", email: "" });
    expect((await ada.notifications.getUnreadCount({})).unreadCount).toBe(5);
    // Every kind came live too.
    await eventually(() => expect(new Set(pushed.map((n) => NotificationKind[n.kind]))).toEqual(new Set(["FOLLOW", "MENTION", "REPLY", "LIKE", "RETWEET"])), POLL[0]);

    // Filter and paging.
    expect(shown((await ada.notifications.listNotifications({ kinds: [NotificationKind.LIKE, NotificationKind.RETWEET] })).notifications)).toEqual(expected.slice(0, 2));
    const first = await ada.notifications.listNotifications({ pageSize: 3 });
    const second = await ada.notifications.listNotifications({ pageSize: 3, pageToken: first.nextPageToken });
    expect(shown([...first.notifications, ...second.notifications])).toEqual(expected);
    expect(second.nextPageToken).toBe("");

    // Mark read up to the third newest: two stay unread; then everything.
    const marked = await ada.notifications.markRead({ upTo: listed.notifications[2]!.updatedAt });
    expect(marked.unreadCount).toBe(2);
    expect(ms(marked.readUpTo)).toBe(ms(listed.notifications[2]!.updatedAt));
    expect((await ada.notifications.markRead({})).unreadCount).toBe(0);
    expect((await ada.notifications.getUnreadCount({})).unreadCount).toBe(0);

    // bob sees none of ada's: there is no asking for someone else's.
    expect((await bob.notifications.listNotifications({})).notifications).toEqual([]);
    // Without a token: refused at the gateway.
    const anonymous = createClient(NotificationsService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));
    await expect(anonymous.getUnreadCount({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    // Bad input is named.
    const refused = await ada.notifications.listNotifications({ kinds: [NotificationKind.UNSPECIFIED] }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConnectError);
    expect(refused).toMatchObject({ code: Code.InvalidArgument, rawMessage: "kinds[0]: must be MENTION, REPLY, LIKE, RETWEET or FOLLOW" });

    // Undone: bob unlikes, unretweets and deletes his reply; cy deletes her account.
    await bob.tweets.unlikeTweet({ tweetId: post!.id });
    await bob.tweets.unretweet({ tweetId: post!.id });
    await bob.tweets.deleteTweet({ id: reply!.id });
    await eventually(async () => expect(shown((await ada.notifications.listNotifications({})).notifications)).toEqual([expected[1]!, ...expected.slice(3)].map((n) => (n.kind === "LIKE" ? { ...n, actors: [cy.username], count: 1 } : n))), ...POLL);
    await cy.users.deleteUser({ id: cy.id });
    await eventually(async () => expect(shown((await ada.notifications.listNotifications({})).notifications)).toEqual(expected.slice(3)), ...POLL);

    // bob unfollows; then bob likes ada's post again and ada deletes it: all that is left is the mention.
    await bob.graph.unfollow({ followeeId: ada.id });
    await bob.tweets.likeTweet({ tweetId: post!.id });
    await eventually(async () => expect(shown((await ada.notifications.listNotifications({})).notifications).map((n) => n.kind)).toEqual(["LIKE", "MENTION"]), ...POLL);
    await ada.tweets.deleteTweet({ id: post!.id });
    await eventually(async () => expect(shown((await ada.notifications.listNotifications({})).notifications)).toEqual([expected[3]]), ...POLL);
    // The mentioning post deleted: nothing left.
    await bob.tweets.deleteTweet({ id: mention!.id });
    await eventually(async () => expect((await ada.notifications.listNotifications({})).notifications).toEqual([]), ...POLL);
    expect((await ada.notifications.getUnreadCount({})).unreadCount).toBe(0);

    stopStream.abort();
    await reading;
  }, 240_000);
}

describe("notifications through the gateway, embedded (memory, one in-process bus)", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh({ env: { LOG_LEVEL: "silent", PASSWORD_HASH_COST: "4", OUTBOX_POLL_MS: "100" }, log: testLogger(), loopback: true });
  }, 60_000);
  afterAll(() => mesh?.stop());

  notificationsStory(() => mesh);
});

describeWith(["MONGODB_URI", "NATS_URL"], "notifications through the gateway", ({ MONGODB_URI, NATS_URL }) => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh({
      env: { LOG_LEVEL: "silent", PASSWORD_HASH_COST: "4", OUTBOX_POLL_MS: "100", MONGODB_URI, NATS_URL },
      log: testLogger(),
      loopback: true,
      run: uniqueName("notif"),
    });
  }, 60_000);
  afterAll(() => mesh?.stop());

  notificationsStory(() => mesh);
});
