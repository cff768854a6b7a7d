// Notifications (#/notifications): what others did with you, grouped as the service groups them
// ("ada and 3 others liked your post"), filtered by kind, marked read on request; and the unread
// badge in the navigation, kept live by the service's stream.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { NotificationKind, NotificationsService, type Notification } from "@chirp/proto/es/chirp/notifications/v1/notifications_pb";
import { millis, refresh, remember, transport, tweets } from "./api.js";
import { h, when } from "./dom.js";
import { say, sayError } from "./messages.js";
import { pagedList, type PagedList } from "./paging.js";
import { personName, postLink } from "./posts.js";

const notifications = createClient(NotificationsService, transport);

const FILTERS: [string, NotificationKind[]][] = [
  ["All", []],
  ["Mentions", [NotificationKind.MENTION]],
  ["Replies", [NotificationKind.REPLY]],
  ["Likes", [NotificationKind.LIKE]],
  ["Retweets", [NotificationKind.RETWEET]],
  ["Follows", [NotificationKind.FOLLOW]],
];

/** The open notifications view, when there is one: pushed notifications land in it. */
let open: { list: PagedList; kinds: NotificationKind[]; newest: { seconds: bigint; nanos: number } | undefined } | undefined;
/** Posts' texts, by id, to quote them under their notification. */
const texts = new Map<string, string>();

/** "ada", "ada and bob", "ada, bob and 3 others": the newest actors by name, then a count. */
function who(notification: Notification): (Node | string)[] {
  const names = notification.actors.map((actor) => {
    remember(actor.user);
    return personName(actor.user);
  });
  const others = Math.max(0, notification.actorCount - names.length);
  const parts: (Node | string)[] = [];
  names.forEach((name, i) => {
    if (i > 0) parts.push(i === names.length - 1 && others === 0 ? " and " : ", ");
    parts.push(name);
  });
  if (others > 0) parts.push(` and ${others} other${others === 1 ? "" : "s"}`);
  if (names.length === 0) parts.push(`${notification.actorCount} ${notification.actorCount === 1 ? "person" : "people"}`);
  return parts;
}

function entry(notification: Notification): HTMLLIElement {
  const post = (id: string, words: string) => h("a", { href: postLink(id) }, words);
  const sentence: (Node | string)[] = [...who(notification)];
  switch (notification.kind) {
    case NotificationKind.MENTION:
      sentence.push(" mentioned you in ", post(notification.tweetId, "a post"));
      break;
    case NotificationKind.REPLY:
      sentence.push(" ", post(notification.tweetId, "replied"), " to ", post(notification.replyToId, "your post"));
      break;
    case NotificationKind.LIKE:
      sentence.push(` liked `, post(notification.tweetId, "your post"));
      break;
    case NotificationKind.RETWEET:
      sentence.push(` retweeted `, post(notification.tweetId, "your post"));
      break;
    case NotificationKind.FOLLOW:
      sentence.push(" followed you");
      break;
    default:
      sentence.push(" did something new");
  }
  const updated = new Date(millis(notification.updatedAt));
  const quote = notification.tweetId && texts.get(notification.tweetId);
  return h(
    "li",
    { class: notification.unread ? "notification unread" : "notification", "data-notification": notification.id, "data-updated": String(updated.getTime()) },
    notification.unread ? h("span", { class: "visually-hidden" }, "Unread: ") : "",
    h("p", { class: "sentence" }, ...sentence, "."),
    quote ? h("p", { class: "meta quote" }, quote) : "",
    h("span", { class: "meta" }, h("time", { dateTime: updated.toISOString() }, when(updated))),
  );
}

/** Quotes the posts of a page of notifications: one BatchGetTweets call; deleted ones are skipped. */
async function learnTexts(list: Notification[]) {
  const ids = [...new Set(list.map((n) => n.tweetId).filter((id) => id !== "" && !texts.has(id)))].slice(0, 100);
  if (ids.length === 0) return;
  const { tweets: found } = await tweets.batchGetTweets({ ids });
  for (const tweet of found) texts.set(tweet.id, tweet.text);
}

const matches = (notification: Notification, kinds: NotificationKind[]) => kinds.length === 0 || kinds.includes(notification.kind);

/** A new or grown notification goes on top, in place of its older self. */
async function placeOnTop(notification: Notification) {
  if (!open || !matches(notification, open.kinds)) return;
  await learnTexts([notification]).catch(() => undefined);
  open.list.list.querySelector(`[data-notification="${CSS.escape(notification.id)}"]`)?.remove();
  open.list.list.prepend(entry(notification));
  open.newest = notification.updatedAt;
  open.list.refreshState();
}

export function notificationsView(view: HTMLElement) {
  const heading = h("h2", { tabIndex: -1 }, "Notifications");
  let kinds: NotificationKind[] = [];
  const buttons = FILTERS.map(([label, filter]) =>
    h("button", { type: "button", "aria-pressed": String(filter.length === 0), onclick: () => choose(filter, label) }, label),
  );
  const markRead = h("button", { type: "button", id: "mark-read", class: "secondary", onclick: () => void markAllRead() }, "Mark all as read");
  const makeList = () =>
    pagedList({
      label: "Notifications",
      empty: kinds.length === 0 ? "No notifications yet. When someone mentions you, replies, likes, retweets or follows you, you will see it here." : "None of this kind yet.",
      className: "notifications",
      load: async (pageToken, list) => {
        const page = await notifications.listNotifications({ pageSize: 20, pageToken, kinds });
        await learnTexts(page.notifications).catch(() => undefined);
        for (const notification of page.notifications) {
          if (list.querySelector(`[data-notification="${CSS.escape(notification.id)}"]`)) continue;
          list.append(entry(notification));
          if (!current.newest || millis(notification.updatedAt) > millis(current.newest)) current.newest = notification.updatedAt;
        }
        return page.nextPageToken;
      },
    });
  const current: NonNullable<typeof open> = { list: makeList(), kinds, newest: undefined };
  open = current;
  const holder = h("div", {}, current.list.element);
  function choose(filter: NotificationKind[], label: string) {
    kinds = filter;
    current.kinds = filter;
    for (const button of buttons) button.setAttribute("aria-pressed", String(button.textContent === label));
    current.list = makeList();
    holder.replaceChildren(current.list.element);
  }
  async function markAllRead() {
    try {
      // Up to the newest shown: what came since, and was not seen, stays unread.
      const answer = await notifications.markRead({ upTo: current.newest });
      const mark = millis(answer.readUpTo);
      for (const li of holder.querySelectorAll<HTMLElement>("li.notification.unread")) {
        if (Number(li.dataset.updated) <= mark) {
          li.classList.remove("unread");
          li.querySelector(".visually-hidden")?.remove();
        }
      }
      showUnread(answer.unreadCount);
      say("Notifications marked as read.", "ok");
    } catch (error) {
      sayError(error);
    }
  }
  view.replaceChildren(heading, h("div", { class: "filters", role: "group", "aria-label": "Show" }, ...buttons), markRead, holder);
  return heading;
}

export function leaveNotifications() {
  open = undefined;
}

function showUnread(count: number) {
  const badge = document.getElementById("unread");
  if (!badge) return;
  badge.hidden = count === 0;
  badge.textContent = count === 0 ? "" : String(count);
  badge.setAttribute("aria-label", `${count} unread`);
}

async function readUnread() {
  showUnread((await notifications.getUnreadCount({})).unreadCount);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let stream: AbortController | undefined;

/**
 * Keeps the badge live: the unread count when the stream is in place (catching up on what came
 * while there was none), and again at every pushed notification, which also lands in the open
 * view. Reconnects after the gateway's lifetime end at once, after a failure with growing pauses;
 * while the service cannot be reached the badge just stays as it was.
 */
export async function followNotifications() {
  stream?.abort();
  const mine = new AbortController();
  stream = mine;
  let failures = 0;
  while (!mine.signal.aborted) {
    const opened = Date.now();
    try {
      let inPlace = false;
      for await (const update of notifications.streamNotifications({}, { signal: mine.signal })) {
        if (!inPlace) {
          inPlace = true;
          failures = 0;
          await readUnread();
        }
        if (update.notification) {
          await placeOnTop(update.notification);
          await readUnread();
        }
      }
      if (Date.now() - opened < 1_000) failures += 1;
    } catch (error) {
      if (mine.signal.aborted) return;
      failures += 1;
      if (error instanceof ConnectError && error.code === Code.Unauthenticated) {
        const outcome = await refresh();
        if (outcome === "ok") continue;
        if (outcome === "ended") return;
      }
    }
    if (failures > 0) await sleep(Math.min(60_000, 1_000 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random() / 2));
  }
}

export function stopNotifications() {
  stream?.abort();
  stream = undefined;
  open = undefined;
  showUnread(0);
}
