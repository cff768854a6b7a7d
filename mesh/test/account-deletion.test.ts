import { createLogger } from "@chirp/kit";
import { eventually } from "@chirp/kit/testing";
import { startMesh, type Mesh } from "../src/mesh.js";

/**
 * Through the public entry, as a client sees it: an access token outlives the account it names
 * (it is only verified, never looked up, until it expires), so the services themselves must refuse
 * what a deleted account's token still asks for.
 */
describe("a deleted account's still-valid token, through the gateway of the embedded mesh", () => {
  let mesh: Mesh;
  let api: string;

  beforeAll(async () => {
    mesh = await startMesh({ env: { PASSWORD_HASH_COST: "4" }, log: createLogger("mesh", "silent"), loopback: true });
    api = `http://127.0.0.1:${mesh.gateway.httpPort}`;
  }, 60_000);

  afterAll(() => mesh?.stop());

  /** A Connect JSON call: the HTTP status and the parsed body. */
  async function call(method: string, body: object, token?: string): Promise<{ status: number; body: Record<string, any> }> {
    const response = await fetch(`${api}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  }

  async function account(name: string): Promise<{ id: string; token: string }> {
    const username = `${name}_${Math.random().toString(36).slice(2, 8)}`;
    const created = await call("chirp.users.v1.UsersService/CreateUser", { username, email: `${username}@example.org`, password: "correct horse" });
    expect(created.status).toBe(200);
    const login = await call("chirp.users.v1.UsersService/Login", { usernameOrEmail: username, password: "correct horse" });
    return { id: created.body.user.id, token: login.body.accessToken };
  }

  it("refuses the token's writes the moment the account is deleted, and shows nothing it wrote once cleaned up", async () => {
    const gone = await account("gone");
    const other = await account("other");
    const tag = `gone${Date.now().toString(36)}`;
    const others = await call("chirp.tweets.v1.TweetsService/CreateTweet", { text: `still here #${tag}` }, other.token);
    const own = await call("chirp.tweets.v1.TweetsService/CreateTweet", { text: `about to go #${tag}` }, gone.token);
    expect([others.status, own.status]).toEqual([200, 200]);
    // The graph learns of new users from events: wait until it knows the one to follow.
    await eventually(async () => expect((await call("chirp.graph.v1.GraphService/Follow", { followeeId: gone.id }, other.token)).status).toBe(200));

    expect((await call("chirp.users.v1.UsersService/DeleteUser", { id: gone.id }, gone.token)).status).toBe(200);

    // Refused by the service that is asked (it checks the account), or already by the gateway once the
    // UserDeleted event has reached it (it then refuses every token of the account).
    const deleted = [
      { status: 403, body: { code: "permission_denied", message: "your account has been deleted" } },
      { status: 401, body: { code: "unauthenticated", message: "authorization: the session has ended; sign in again" } },
    ];
    expect(deleted).toContainEqual(await call("chirp.tweets.v1.TweetsService/CreateTweet", { text: `ghost #${tag}` }, gone.token));
    expect(deleted).toContainEqual(await call("chirp.tweets.v1.TweetsService/LikeTweet", { tweetId: others.body.tweet.id }, gone.token));
    expect(deleted).toContainEqual(await call("chirp.tweets.v1.TweetsService/Retweet", { tweetId: others.body.tweet.id }, gone.token));
    expect(deleted).toContainEqual(await call("chirp.graph.v1.GraphService/Follow", { followeeId: other.id }, gone.token));

    await eventually(async () => {
      expect((await call("chirp.tweets.v1.TweetsService/GetTweet", { id: own.body.tweet.id }, other.token)).status).toBe(404);
      expect((await call("chirp.tweets.v1.TweetsService/ListUserTweets", { userId: gone.id }, other.token)).body.tweets ?? []).toEqual([]);
      const found = await call("chirp.tweets.v1.TweetsService/SearchTweets", { tag }, other.token);
      expect(found.body.tweets.map((t: { id: string }) => t.id)).toEqual([others.body.tweet.id]);
      expect((await call("chirp.graph.v1.GraphService/GetCounts", { userId: other.id }, other.token)).body).toEqual({});
    }, 10_000);
  });
});
