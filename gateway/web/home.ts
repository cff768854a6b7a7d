// The home timeline: the compose box, then the posts of the people you follow and your own,
// newest first, older ones as you scroll, new ones live from the gateway's stream.
import { Code, ConnectError } from "@connectrpc/connect";
import type { TimelineItem } from "@chirp/proto/es/chirp/timeline/v1/timeline_pb";
import { POST_TEXT } from "@chirp/kit/text";
import { refresh, remember, timeline, tweets } from "./api.js";
import { countedField } from "./compose.js";
import { h } from "./dom.js";
import { say, sayError } from "./messages.js";
import { pagedList, type PagedList } from "./paging.js";
import { postCard } from "./posts.js";

/** Entries on the page, by entry id: each is placed once, whichever way it came. */
const rendered = new Set<string>();
let feed: PagedList | undefined;

/** The compose form: a post of at most 280 characters, counted as the service counts them. */
export function composeForm(options: { replyTo?: string; label: string; button: string; onPosted?: (id: string) => void }): HTMLFormElement {
  const text = countedField({ name: "text", label: options.label, field: "text", rules: POST_TEXT, placeholder: options.replyTo ? "Post your reply" : "What's happening?", hideLabel: true });
  const form = h("form", { class: "compose", id: options.replyTo ? "reply-form" : "compose-form" }, text.element, h("button", { type: "submit" }, options.button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problem = text.check();
    if (problem) return say(problem, "error");
    say("");
    try {
      const { tweet } = await tweets.createTweet({ text: text.box.value, replyToId: options.replyTo ?? "" });
      text.reset();
      options.onPosted?.(tweet!.id);
    } catch (error) {
      sayError(error, { notFound: "The post you are replying to has been deleted." });
    }
  });
  return form;
}

/**
 * Puts an entry where it belongs, once. The timeline is newest first by entry id (ULIDs, which
 * sort by time as plain strings), whether the entry came from a page, a catch-up or the stream,
 * so an entry that arrives late still lands among its neighbours and never on top of newer ones.
 */
function place(list: HTMLOListElement, item: TimelineItem) {
  if (rendered.has(item.id) || !item.tweet) return;
  remember(item.author);
  remember(item.retweetedBy);
  const li = postCard({ tweet: item.tweet, author: item.author, retweetedBy: item.retweetedBy, entry: item.id });
  rendered.add(item.id);
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
 * Marks the newest entry the server has shown us in a first page or a catch-up. Entries pushed on
 * the stream do not move it: the next catch-up then covers anything the stream skipped (pushes
 * are best effort), and what it repeats is already on the page.
 */
let sinceToken = "";
/** Whether the first page has come: until then there is nothing to catch up from. */
let loadedOnce = false;

/** What arrived since the newest entry we know; more than a page leaves a gap, so start over. */
async function catchUp() {
  if (!feed || !loadedOnce) return;
  if (sinceToken === "") return feed.reload();
  const updates = await timeline.getHomeTimelineUpdates({ sinceToken, pageSize: 100 });
  if (updates.hasMore) return feed.reload();
  for (const item of updates.items) place(feed.list, item);
  sinceToken = updates.sinceToken;
  feed.refreshState();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let liveStream: AbortController | undefined;

/**
 * One server stream for live updates, for as long as the page is open. The gateway's first
 * message (without an entry) says the stream is in place: from then on new entries come on it, so
 * that is when to catch up on what came while there was none. The gateway ends every stream after
 * its maximum lifetime; that is a quiet reconnect. A failure is retried with growing pauses.
 */
async function followLive(live: HTMLElement) {
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
          live.title = "New posts appear as they are made";
        }
        if (update.item && feed) {
          place(feed.list, update.item);
          feed.refreshState();
        }
      }
      // A clean end (the stream's lifetime): reconnect at once, unless it came suspiciously soon.
      if (Date.now() - opened < 1_000) failures += 1;
    } catch (error) {
      if (stream.signal.aborted) return;
      failures += 1;
      // The access token expired or was refused: refresh and reopen at once, or (session gone) stop.
      if (error instanceof ConnectError && error.code === Code.Unauthenticated) {
        const outcome = await refresh();
        if (outcome === "ok") continue;
        if (outcome === "ended") return;
      }
      const busy = error instanceof ConnectError && error.code === Code.ResourceExhausted;
      live.textContent = busy ? "paused: too many open tabs" : "reconnecting…";
      live.title = busy ? "Close a tab or two; new posts show again when one closes." : "New posts will show again once connected.";
    }
    if (failures > 0) await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random() / 2));
  }
}

export function stopHome() {
  liveStream?.abort();
  liveStream = undefined;
  rendered.clear();
  sinceToken = "";
  loadedOnce = false;
  feed = undefined;
  document.getElementById("home")?.replaceChildren();
}

/** Builds the home view into #home once per sign-in; it then lives on while other views show. */
export function startHome() {
  const home = document.getElementById("home")!;
  const live = h("span", { id: "live", class: "status" }, "connecting…");
  feed = pagedList({
    label: "Home timeline",
    empty: "Nothing here yet. Post something, or find people to follow with Search.",
    load: async (pageToken, list) => {
      if (pageToken === "") {
        rendered.clear();
        list.replaceChildren();
      }
      const page = await timeline.getHomeTimeline({ pageSize: 30, pageToken });
      for (const item of page.items) place(list, item);
      if (pageToken === "") {
        sinceToken = page.sinceToken;
        loadedOnce = true;
      }
      return page.nextPageToken;
    },
  });
  feed.list.id = "timeline";
  home.replaceChildren(
    h("h2", { class: "visually-hidden", tabIndex: -1 }, "Home"),
    composeForm({ label: "New post", button: "Post", onPosted: () => void catchUp().catch(() => undefined) }),
    h("p", { class: "status-line" }, "Home timeline · ", live),
    feed.element,
  );
  void followLive(live);
}

/** Re-reads what came since, when coming back to the home view. */
export const revisitHome = () => void catchUp().catch((error: unknown) => sayError(error));
