import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Logger } from "@chirp/kit";
import { GraphService } from "@chirp/proto/es/chirp/graph/v1/graph_pb";
import { TweetsService } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";
import type { Mesh } from "./mesh.js";

export const DEMO_PASSWORD = "chirp-demo";

const PEOPLE = [
  { username: "ada", displayName: "Ada", posts: ["Analytical engines run on #gRPC now", "Notes on a new #chirp"], admin: true },
  { username: "grace", displayName: "Grace", posts: ["Found a bug in the relay. A real one. #debugging"] },
  { username: "linus", displayName: "Linus", posts: ["Talk is cheap. Show me the #protobuf"] },
];
const FOLLOWS: Array<[string, string]> = [
  ["ada", "grace"],
  ["grace", "ada"],
  ["linus", "ada"],
  ["linus", "grace"],
];

/**
 * A few users, follows and posts, created through the public API like any client would. Safe to
 * run against a mesh that already has them. Ada is made an admin by her account's id, through
 * the users service's operator handle, and only when this run created her account: an "ada"
 * someone else registered first gets nothing.
 */
export async function seedDemo(baseUrl: string, log: Logger, roles: Mesh["roles"]): Promise<void> {
  const transport = createConnectTransport({ baseUrl, httpVersion: "1.1" });
  const users = createClient(UsersService, transport);
  const tweets = createClient(TweetsService, transport);
  const graph = createClient(GraphService, transport);
  const tokens = new Map<string, { id: string; headers: Record<string, string> }>();

  for (const person of PEOPLE) {
    const created = await users
      .createUser({ username: person.username, email: `${person.username}@demo.chirp`, password: DEMO_PASSWORD, displayName: person.displayName })
      .then(() => true, (error: unknown) => (error instanceof ConnectError && error.code === Code.AlreadyExists ? false : Promise.reject(error)));
    const { accessToken, user } = await users.login({ usernameOrEmail: person.username, password: DEMO_PASSWORD });
    const headers = { authorization: `Bearer ${accessToken}` };
    tokens.set(person.username, { id: user!.id, headers });
    if (created) for (const text of person.posts) await tweets.createTweet({ text }, { headers });
    if (created && person.admin) {
      await roles.grant(user!.id, "admin");
      log.info({ userId: user!.id, username: person.username }, "demo user granted the admin role");
    }
  }
  for (const [follower, followee] of FOLLOWS) {
    await followWhenKnown(() => graph.follow({ followeeId: tokens.get(followee)!.id }, { headers: tokens.get(follower)!.headers }));
  }
  log.info({ users: PEOPLE.map((p) => p.username) }, `demo data ready: log in with password "${DEMO_PASSWORD}"`);
}

/** The graph service learns of new users from events: a brand-new user may need a moment. */
async function followWhenKnown(follow: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await follow();
      return;
    } catch (error) {
      if (!(error instanceof ConnectError) || error.code !== Code.NotFound || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
