import { eventually } from "@chirp/kit/testing";

/** An answer of the gateway's Connect JSON API: its HTTP status and body. */
export interface Answer {
  status: number;
  body: Record<string, any>;
}

/**
 * The gateway's public API as the end-to-end tests call it (Connect JSON over HTTP/1.1): `call`
 * gives any answer, `ok` only a 200's body (anything else throws, naming the method), `account`
 * registers and logs in a fresh user, `follow` retries until the graph has heard of the followee.
 */
export function publicApi(baseUrl: string) {
  async function call(method: string, body: object, token?: string, headers: Record<string, string> = {}): Promise<Answer> {
    const response = await fetch(`${baseUrl}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }), ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  }
  async function ok(method: string, body: object, token?: string, headers: Record<string, string> = {}): Promise<Record<string, any>> {
    const answer = await call(method, body, token, headers);
    if (answer.status !== 200) throw new Error(`${method}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  }
  async function account(name: string): Promise<{ id: string; token: string }> {
    const username = `${name}_${Math.random().toString(36).slice(2, 8)}`;
    const created = await ok("chirp.users.v1.UsersService/CreateUser", { username, email: `${username}@example.org`, password: "correct horse" });
    const login = await ok("chirp.users.v1.UsersService/Login", { usernameOrEmail: username, password: "correct horse" });
    return { id: created.user.id, token: login.accessToken };
  }
  // The graph learns of new users from events: retry until it knows the one to follow.
  const follow = (follower: { token: string }, followee: { id: string }) =>
    eventually(() => ok("chirp.graph.v1.GraphService/Follow", { followeeId: followee.id }, follower.token), 15_000, 100);
  return { call, ok, account, follow };
}
