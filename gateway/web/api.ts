// The clients of the public API and the session behind them: the same generated schemas every
// other client uses, over Connect to the gateway that serves this page.
import { Code, createClient, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { GraphService } from "@chirp/proto/es/chirp/graph/v1/graph_pb";
import { TimelineService } from "@chirp/proto/es/chirp/timeline/v1/timeline_pb";
import { TweetsService } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { UsersService, type User } from "@chirp/proto/es/chirp/users/v1/users_pb";
import { SESSION_ENDED } from "./words.js";

/**
 * The signed-in state of this tab: the short-lived access token (sessionStorage, so a reload keeps
 * it) and whom it is for. The refresh token is never here: the gateway keeps it in an HttpOnly
 * cookie that page scripts cannot read, sent only with RefreshSession (see gateway/README.md).
 * `chirp.signedIn` (localStorage, shared by the tabs) only says someone signed in here, so that a
 * session found gone can be told apart from a first visit.
 */
export const session = {
  get token() {
    return sessionStorage.getItem("chirp.token") ?? "";
  },
  get expiresAt() {
    return Number(sessionStorage.getItem("chirp.expires") ?? 0);
  },
  get username() {
    return sessionStorage.getItem("chirp.username") ?? "";
  },
  get userId() {
    return sessionStorage.getItem("chirp.userId") ?? "";
  },
  save(token: string, expiresAt: number, user: User | undefined) {
    sessionStorage.setItem("chirp.token", token);
    sessionStorage.setItem("chirp.expires", String(expiresAt));
    if (user) {
      sessionStorage.setItem("chirp.username", user.username);
      sessionStorage.setItem("chirp.userId", user.id);
    }
    localStorage.setItem("chirp.signedIn", "1");
  },
  clear() {
    sessionStorage.clear();
    localStorage.removeItem("chirp.signedIn");
  },
};

/** Asks the gateway to keep the refresh token in its cookie rather than in the answer. */
export const COOKIE_MODE = { headers: { "X-Chirp-Refresh-Cookie": "1" } };
/** The calls that need no access token, which a refresh cannot help. */
const WITHOUT_TOKEN = new Set(["CreateUser", "Login", "RefreshSession"]);

const withToken: Interceptor = (next) => (req) => {
  if (session.token && !WITHOUT_TOKEN.has(req.method.name)) req.header.set("Authorization", `Bearer ${session.token}`);
  return next(req);
};

/**
 * A unary call refused as UNAUTHENTICATED (the access token expired, or the services restarted
 * with new keys) is made once more after a refresh; if the refresh fails too, the session is gone
 * and the page goes back to the login form (see refresh). Streams handle it where they are read.
 */
const retryAfterRefresh: Interceptor = (next) => async (req) => {
  if (req.stream || WITHOUT_TOKEN.has(req.method.name)) return next(req);
  try {
    return await next(req);
  } catch (error) {
    if (ConnectError.from(error).code !== Code.Unauthenticated) throw error;
    const outcome = await refresh();
    if (outcome === "ended") throw new ConnectError(SESSION_ENDED, Code.Unauthenticated);
    if (outcome === "down") throw error;
    return next(req);
  }
};

const transport = createConnectTransport({ baseUrl: location.origin, interceptors: [retryAfterRefresh, withToken] });
export const users = createClient(UsersService, transport);
export const tweets = createClient(TweetsService, transport);
export const graph = createClient(GraphService, transport);
export const timeline = createClient(TimelineService, transport);
export { transport };

export const deviceLabel = () => `web browser${navigator.platform ? ` on ${navigator.platform}` : ""}`.slice(0, 64);
export const millis = (t: { seconds: bigint; nanos: number } | undefined) => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : 0);

let refreshTimer: ReturnType<typeof setTimeout> | undefined;
/** What a refresh came to: a fresh access token, the session gone (signed out), or nobody to ask now. */
export type Refreshed = "ok" | "ended" | "down";
let refreshing: Promise<Refreshed> | undefined;
/** What the page does when the session is found gone: back to the login form, saying why. */
let sessionEnded: (why: string) => void = () => undefined;
export const onSessionEnded = (handler: (why: string) => void) => (sessionEnded = handler);

/**
 * Silent refresh: shortly before the access token expires (a minute before, or a fifth of its
 * lifetime when that is shorter), trade the cookie's refresh token for a new pair.
 */
export function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const remaining = session.expiresAt - Date.now();
  const margin = Math.min(60_000, remaining / 5);
  refreshTimer = setTimeout(() => void refresh(), Math.max(1_000, remaining - margin));
}

export const stopRefreshing = () => clearTimeout(refreshTimer);

/**
 * One refresh at a time: in this page through `refreshing`, across the tabs through a Web Lock,
 * so that no two tabs ever present the same refresh token (the second would look like a stolen
 * copy and end the session). When the gateway says the session is gone, back to the login form
 * with a clear message.
 */
export function refresh(): Promise<Refreshed> {
  refreshing ??= (async () => {
    const exchange = async () => {
      const answer = await users.refreshSession({}, COOKIE_MODE);
      session.save(answer.accessToken, millis(answer.expiresAt), answer.user);
      scheduleRefresh();
      return "ok" as const;
    };
    try {
      return await (navigator.locks ? navigator.locks.request("chirp-refresh", exchange) : exchange());
    } catch (error) {
      const code = ConnectError.from(error).code;
      // The gateway or the network is down: the session may well be fine; try again later.
      if (code === Code.Unavailable || code === Code.Unknown || code === Code.ResourceExhausted) {
        refreshTimer = setTimeout(() => void refresh(), 10_000);
        return "down";
      }
      sessionEnded(localStorage.getItem("chirp.signedIn") ? SESSION_ENDED : "");
      return "ended";
    } finally {
      refreshing = undefined;
    }
  })();
  return refreshing;
}

/** The people seen so far, by id: tweets name their author by id only. */
const people = new Map<string, User>();
export const remember = (user: User | undefined) => user && people.set(user.id, user);
export const personOf = (id: string) => people.get(id);

/** Fetches the people of `ids` not seen yet, 100 at a time (BatchGetUsers' bound). */
export async function learnPeople(ids: Iterable<string>) {
  const missing = [...new Set(ids)].filter((id) => id !== "" && !people.has(id));
  for (let i = 0; i < missing.length; i += 100) {
    const { users: found } = await users.batchGetUsers({ ids: missing.slice(i, i + 100) });
    for (const user of found) people.set(user.id, user);
  }
}
