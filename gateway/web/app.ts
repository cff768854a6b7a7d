// The Chirp web client: a few hundred lines over the same generated schemas every other client
// uses, talking Connect to the gateway that serves this page.
import { Code, createClient, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { GraphService } from "@chirp/proto/es/chirp/graph/v1/graph_pb";
import { TimelineService, type TimelineItem } from "@chirp/proto/es/chirp/timeline/v1/timeline_pb";
import { TweetsService, type Tweet } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";

/**
 * The signed-in state of this tab: the short-lived access token (sessionStorage, so a reload keeps
 * it) and whom it is for. The refresh token is never here: the gateway keeps it in an HttpOnly
 * cookie that page scripts cannot read, sent only with RefreshSession (see gateway/README.md).
 * `chirp.signedIn` (localStorage, shared by the tabs) only says someone signed in here, so that a
 * session found gone can be told apart from a first visit.
 */
const session = {
  get token() {
    return sessionStorage.getItem("chirp.token") ?? "";
  },
  get expiresAt() {
    return Number(sessionStorage.getItem("chirp.expires") ?? 0);
  },
  get username() {
    return sessionStorage.getItem("chirp.username") ?? "";
  },
  save(token: string, expiresAt: number, username: string) {
    sessionStorage.setItem("chirp.token", token);
    sessionStorage.setItem("chirp.expires", String(expiresAt));
    sessionStorage.setItem("chirp.username", username);
    localStorage.setItem("chirp.signedIn", "1");
  },
  clear() {
    sessionStorage.clear();
    localStorage.removeItem("chirp.signedIn");
  },
};

/** Asks the gateway to keep the refresh token in its cookie rather than in the answer. */
const COOKIE_MODE = { headers: { "X-Chirp-Refresh-Cookie": "1" } };
/** The calls that need no access token, which a refresh cannot help. */
const WITHOUT_TOKEN = new Set(["CreateUser", "Login", "RefreshSession"]);

const withToken: Interceptor = (next) => (req) => {
  if (session.token && !WITHOUT_TOKEN.has(req.method.name)) req.header.set("Authorization", `Bearer ${session.token}`);
  return next(req);
};

/**
 * A unary call refused as UNAUTHENTICATED (the access token expired, or the services restarted
 * with new keys) is made once more after a refresh; if the refresh fails too, the session is gone
 * and the page goes back to the login form (see refresh). Streams handle it in followLive.
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
const users = createClient(UsersService, transport);
const tweets = createClient(TweetsService, transport);
const graph = createClient(GraphService, transport);
const timeline = createClient(TimelineService, transport);

const SESSION_ENDED = "Your session has ended. Please log in again.";
const deviceLabel = () => `web browser${navigator.platform ? ` on ${navigator.platform}` : ""}`.slice(0, 64);
const millis = (t: { seconds: bigint; nanos: number } | undefined) => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : 0);

let refreshTimer: ReturnType<typeof setTimeout> | undefined;
/** What a refresh came to: a fresh access token, the session gone (signed out), or nobody to ask now. */
type Refreshed = "ok" | "ended" | "down";
let refreshing: Promise<Refreshed> | undefined;

/**
 * Silent refresh: shortly before the access token expires (a minute before, or a fifth of its
 * lifetime when that is shorter), trade the cookie's refresh token for a new pair.
 */
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const remaining = session.expiresAt - Date.now();
  const margin = Math.min(60_000, remaining / 5);
  refreshTimer = setTimeout(() => void refresh(), Math.max(1_000, remaining - margin));
}

/**
 * One refresh at a time: in this page through `refreshing`, across the tabs through a Web Lock,
 * so that no two tabs ever present the same refresh token (the second would look like a stolen
 * copy and end the session). True when the page has a fresh access token; when the gateway says
 * the session is gone, back to the login form with a clear message.
 */
function refresh(): Promise<Refreshed> {
  refreshing ??= (async () => {
    const exchange = async () => {
      const answer = await users.refreshSession({}, COOKIE_MODE);
      session.save(answer.accessToken, millis(answer.expiresAt), answer.user?.username ?? session.username);
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
      signedOut(localStorage.getItem("chirp.signedIn") ? SESSION_ENDED : "");
      return "ended";
    } finally {
      refreshing = undefined;
    }
  })();
  return refreshing;
}

/** Back to the login form, saying why. */
function signedOut(why: string) {
  clearTimeout(refreshTimer);
  liveStream?.abort();
  session.clear();
  rendered.clear();
  $("#timeline").replaceChildren();
  $("#home").hidden = true;
  $("#logout").hidden = true;
  $("#who").textContent = "";
  $("#signin").hidden = false;
  say(why);
}

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;
const field = (form: HTMLFormElement, name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
const say = (text: string) => ($("#message").textContent = text);

/** Runs a form's action, showing the service's own error message when it fails. */
function onSubmit(selector: string, action: (form: HTMLFormElement) => Promise<void>) {
  $<HTMLFormElement>(selector).addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    try {
      await action(event.target as HTMLFormElement);
    } catch (error) {
      say(error instanceof ConnectError ? error.rawMessage : String(error));
    }
  });
}

async function logIn(login: string, password: string) {
  const answer = await users.login({ usernameOrEmail: login, password, deviceLabel: deviceLabel() }, COOKIE_MODE);
  session.save(answer.accessToken, millis(answer.expiresAt), answer.user!.username);
  await showHome();
}

onSubmit("#register-form", async (form) => {
  await users.createUser({ username: field(form, "username"), email: field(form, "email"), password: field(form, "password") });
  await logIn(field(form, "username"), field(form, "password"));
});
onSubmit("#login-form", (form) => logIn(field(form, "login"), field(form, "password")));
onSubmit("#compose-form", async (form) => {
  await tweets.createTweet({ text: field(form, "text") });
  form.reset();
});
onSubmit("#follow-form", async (form) => {
  const { user } = await users.getUserByUsername({ username: field(form, "username") });
  await graph.follow({ followeeId: user!.id });
  say(`You now follow @${user!.username}`);
  form.reset();
  await loadTimeline();
});
$("#logout").addEventListener("click", async () => {
  // Ends the session at the service (and the gateway clears the cookie); signed out here whatever it answers.
  await users.logout({}, COOKIE_MODE).catch(() => undefined);
  signedOut("You have logged out.");
});

const rendered = new Map<string, HTMLLIElement>();

function render(item: TimelineItem): HTMLLIElement {
  const tweet = item.tweet!;
  const li = document.createElement("li");
  li.dataset.entry = item.id;
  const by = item.retweetedBy ? `<div class="meta">↻ @${escape(item.retweetedBy.username)} retweeted</div>` : "";
  li.innerHTML = `${by}<div><span class="author">${escape(item.author?.displayName ?? "")}</span>
    <span class="meta">@${escape(item.author?.username ?? "")} · ${item.createdAt ? new Date(Number(item.createdAt.seconds) * 1000).toLocaleString() : ""}</span></div>
    <p class="text"></p>
    <div class="actions"><button class="like"></button><button class="retweet"></button></div>`;
  li.querySelector(".text")!.textContent = tweet.text;
  showCounts(li, tweet);
  li.querySelector<HTMLButtonElement>(".like")!.addEventListener("click", async () => {
    const current = li.dataset.liked === "true";
    const { tweet: updated } = current ? await tweets.unlikeTweet({ tweetId: tweet.id }) : await tweets.likeTweet({ tweetId: tweet.id });
    showCounts(li, updated!);
  });
  li.querySelector<HTMLButtonElement>(".retweet")!.addEventListener("click", async () => {
    if (li.dataset.retweeted === "true") {
      showCounts(li, (await tweets.unretweet({ tweetId: tweet.id })).tweet!);
    } else {
      showCounts(li, (await tweets.retweet({ tweetId: tweet.id })).retweet!.retweetedTweet!);
    }
  });
  return li;
}

function showCounts(li: HTMLLIElement, tweet: Tweet) {
  li.dataset.liked = String(tweet.likedByMe);
  li.dataset.retweeted = String(tweet.retweetedByMe);
  const like = li.querySelector<HTMLButtonElement>(".like")!;
  like.textContent = `♥ ${tweet.likeCount}`;
  like.classList.toggle("on", tweet.likedByMe);
  const retweet = li.querySelector<HTMLButtonElement>(".retweet")!;
  retweet.textContent = `↻ ${tweet.retweetCount}`;
  retweet.classList.toggle("on", tweet.retweetedByMe);
}

function escape(text: string): string {
  const span = document.createElement("span");
  span.textContent = text;
  return span.innerHTML;
}

/**
 * Puts an entry where it belongs, once. The timeline is newest first by entry id (ULIDs, which
 * sort by time as plain strings), whether the entry came from a page, a catch-up or the stream,
 * so an entry that arrives late still lands among its neighbours and never on top of newer ones.
 */
function place(item: TimelineItem) {
  if (rendered.has(item.id)) return;
  const li = render(item);
  rendered.set(item.id, li);
  const list = $("#timeline");
  const entries = list.children;
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((entries[middle] as HTMLElement).dataset.entry! > item.id) low = middle + 1;
    else high = middle;
  }
  list.insertBefore(li, entries[low] ?? null);
}

/**
 * Marks the newest entry the server has shown us in a page or a catch-up. Entries pushed on the
 * stream do not move it: the next catch-up then covers anything the stream skipped (pushes are
 * best effort), and what it repeats is already on the page.
 */
let sinceToken = "";

async function loadTimeline() {
  const page = await timeline.getHomeTimeline({ pageSize: 50 });
  for (const item of page.items) place(item);
  sinceToken = page.sinceToken;
}

/** What arrived since the newest entry we know; more than a page leaves a gap, so start over. */
async function catchUp() {
  if (sinceToken === "") return loadTimeline();
  const updates = await timeline.getHomeTimelineUpdates({ sinceToken, pageSize: 100 });
  if (updates.hasMore) {
    rendered.clear();
    $("#timeline").replaceChildren();
    return loadTimeline();
  }
  for (const item of updates.items) place(item);
  sinceToken = updates.sinceToken;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One server stream for live updates, for as long as the page is open. The gateway's first
 * message (without an entry) says the stream is in place: from then on new entries come on it, so
 * that is when to catch up on what came while there was none. The gateway ends every stream after
 * its maximum lifetime; that is a quiet reconnect. A failure is retried with growing pauses.
 */
let liveStream: AbortController | undefined;

async function followLive() {
  const live = $("#live");
  liveStream?.abort();
  const stream = new AbortController();
  liveStream = stream;
  let failures = 0;
  while (!stream.signal.aborted) {
    const opened = Date.now();
    try {
      let inPlace = false;
      for await (const update of timeline.streamHomeTimeline({}, { signal: stream.signal })) {
        if (!inPlace) {
          inPlace = true;
          await catchUp();
          failures = 0;
          live.textContent = "live";
          live.title = "";
        }
        if (update.item) place(update.item);
      }
      // A clean end (the stream's lifetime): reconnect at once, unless it came suspiciously soon.
      if (Date.now() - opened < 1_000) failures += 1;
    } catch (error) {
      if (stream.signal.aborted) return;
      failures += 1;
      const reason = error instanceof ConnectError ? error.rawMessage : String(error);
      // The access token expired or was refused: refresh and reopen at once, or (session gone) stop.
      if (error instanceof ConnectError && error.code === Code.Unauthenticated) {
        const outcome = await refresh();
        if (outcome === "ok") continue;
        if (outcome === "ended") return;
      }
      live.textContent = error instanceof ConnectError && error.code === Code.ResourceExhausted ? `paused: ${reason}` : "reconnecting…";
      live.title = reason;
    }
    if (failures > 0) await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random() / 2));
  }
}

async function showHome() {
  $("#signin").hidden = true;
  $("#home").hidden = false;
  $("#logout").hidden = false;
  $("#who").textContent = `@${session.username}`;
  scheduleRefresh();
  await loadTimeline();
  void followLive();
}

/**
 * On opening: with a token still good for a while, carry on; otherwise the cookie may still hold a
 * session (another tab, an earlier visit, a restart of the services): refresh, or show the login
 * form, saying the session ended if someone had signed in here.
 */
async function resume() {
  const fresh = session.token !== "" && session.expiresAt - Date.now() > 5_000;
  if (!fresh) {
    if (!localStorage.getItem("chirp.signedIn")) return;
    if ((await refresh()) !== "ok") return;
  }
  await showHome();
}

resume().catch((error: unknown) => say(error instanceof ConnectError ? error.rawMessage : String(error)));
