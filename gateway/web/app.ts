// The Chirp web client: a few hundred lines over the same generated schemas every other client
// uses, talking Connect to the gateway that serves this page.
import { createClient, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { GraphService } from "@chirp/proto/es/chirp/graph/v1/graph_pb";
import { TimelineService, type TimelineItem } from "@chirp/proto/es/chirp/timeline/v1/timeline_pb";
import { TweetsService, type Tweet } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";

const session = {
  get token() {
    return sessionStorage.getItem("chirp.token") ?? "";
  },
  get username() {
    return sessionStorage.getItem("chirp.username") ?? "";
  },
  save(token: string, username: string) {
    sessionStorage.setItem("chirp.token", token);
    sessionStorage.setItem("chirp.username", username);
  },
  clear() {
    sessionStorage.clear();
  },
};

const withToken: Interceptor = (next) => (req) => {
  if (session.token) req.header.set("Authorization", `Bearer ${session.token}`);
  return next(req);
};
const transport = createConnectTransport({ baseUrl: location.origin, interceptors: [withToken] });
const users = createClient(UsersService, transport);
const tweets = createClient(TweetsService, transport);
const graph = createClient(GraphService, transport);
const timeline = createClient(TimelineService, transport);

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
  const { accessToken, user } = await users.login({ usernameOrEmail: login, password });
  session.save(accessToken, user!.username);
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
$("#logout").addEventListener("click", () => {
  session.clear();
  location.reload();
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

function add(item: TimelineItem, atTop: boolean) {
  if (rendered.has(item.id)) return;
  const li = render(item);
  rendered.set(item.id, li);
  const list = $("#timeline");
  if (atTop) list.prepend(li);
  else list.append(li);
}

async function loadTimeline() {
  const page = await timeline.getHomeTimeline({ pageSize: 50 });
  for (const item of page.items) add(item, false);
}

/** One server stream for live updates; reconnects after a pause if it drops. */
async function followLive() {
  const live = $("#live");
  for (;;) {
    try {
      live.textContent = "live";
      for await (const update of timeline.streamHomeTimeline({})) if (update.item) add(update.item, true);
    } catch (error) {
      live.textContent = `reconnecting… (${error instanceof ConnectError ? error.rawMessage : "connection lost"})`;
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await loadTimeline().catch(() => undefined);
  }
}

async function showHome() {
  $("#signin").hidden = true;
  $("#home").hidden = false;
  $("#logout").hidden = false;
  $("#who").textContent = `@${session.username}`;
  await loadTimeline();
  void followLive();
}

if (session.token) showHome().catch(() => session.clear());
