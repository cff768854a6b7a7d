// One post on screen, wherever it is listed (home, a profile, a thread, a tag), and what can be
// done to it. Every copy of a post on the page carries data-tweet, so a like, a retweet or a delete
// shows on all of them at once.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Tweet } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import type { User } from "@chirp/proto/es/chirp/users/v1/users_pb";
import { millis, personOf, session, tweets } from "./api.js";
import { count, h, when } from "./dom.js";
import { say, sayError } from "./messages.js";

export interface PostView {
  /** The post shown: for a retweet, the original. */
  tweet: Tweet;
  author?: User;
  retweetedBy?: User;
  /** The entry's own id (a timeline entry, a retweet), when it differs from the post's. */
  entry?: string;
}

/** A post as a list returns it (ListUserTweets, SearchTweets…): retweets carry their original. */
export function viewOf(tweet: Tweet): PostView {
  if (tweet.retweetedTweet) {
    const original = tweet.retweetedTweet;
    return { tweet: original, author: personOf(original.authorId), retweetedBy: personOf(tweet.authorId), entry: tweet.id };
  }
  return { tweet, author: personOf(tweet.authorId), entry: tweet.id };
}

/** The authors a page of tweets names, to fetch before drawing it. */
export const authorsOf = (list: Tweet[]) => list.flatMap((t) => [t.authorId, t.retweetedTweet?.authorId ?? ""]);

export const profileLink = (username: string) => `#/profile/${encodeURIComponent(username)}`;
export const tagLink = (tag: string) => `#/tag/${encodeURIComponent(tag)}`;
export const postLink = (id: string) => `#/tweet/${id}`;

/** A person's name as a link to their profile; an account deleted since reads as such. */
export function personName(user: User | undefined): HTMLElement {
  if (!user) return h("span", { class: "author" }, "a deleted account");
  return h("a", { class: "author", href: profileLink(user.username) }, user.displayName || user.username);
}

/**
 * The text, with the hashtags and mentions the tweets service found in it (Tweet.tags, .mentions)
 * as links: the service's own parse decides, the page only finds them again in the text.
 */
function richText(tweet: Tweet): HTMLElement {
  const paragraph = h("p", { class: "text" });
  const tags = new Set(tweet.tags);
  const mentions = new Set(tweet.mentions.map((m) => m.toLowerCase()));
  for (const piece of tweet.text.split(/([#@][\p{L}\p{M}\p{N}_]+)/u)) {
    const word = piece.slice(1);
    if (piece.startsWith("#") && tags.has(word.normalize("NFC").toLowerCase())) paragraph.append(h("a", { href: tagLink(word.toLowerCase()) }, piece));
    else if (piece.startsWith("@") && mentions.has(word.toLowerCase())) paragraph.append(h("a", { href: profileLink(word) }, piece));
    else if (piece !== "") paragraph.append(piece);
  }
  return paragraph;
}

/**
 * The counts and flags of the posts this page acted on, as the service last answered: a copy that
 * arrives later (another entry of the same post on the stream, a page read before) shows them.
 */
const acted = new Map<string, Tweet>();

export function postCard(view: PostView, options: { focus?: boolean } = {}): HTMLLIElement {
  const { author, retweetedBy } = view;
  const tweet = acted.get(view.tweet.id) ?? view.tweet;
  const created = new Date(millis(tweet.createdAt));
  const own = tweet.authorId === session.userId;
  const li = h(
    "li",
    { class: options.focus ? "post focus" : "post", "data-tweet": tweet.id, "data-entry": view.entry ?? tweet.id },
    retweetedBy && h("div", { class: "meta" }, "↻ ", personName(retweetedBy), " retweeted"),
    tweet.replyToId && h("div", { class: "meta" }, h("a", { href: postLink(tweet.replyToId) }, "Replying to a post")),
    h(
      "div",
      { class: "byline" },
      personName(author),
      h("span", { class: "meta" }, author ? ` @${author.username} · ` : " · ", h("a", { href: postLink(tweet.id), title: created.toLocaleString() }, h("time", { dateTime: created.toISOString() }, when(created)))),
    ),
    richText(tweet),
    h(
      "div",
      { class: "actions" },
      h("a", { class: "reply", href: `${postLink(tweet.id)}/reply` }, ""),
      h("button", { type: "button", class: "like", onclick: () => void toggleLike(li) }),
      h("button", { type: "button", class: "retweet", onclick: () => void toggleRetweet(li) }),
      own && h("button", { type: "button", class: "delete", onclick: () => void remove(tweet.id) }, "Delete"),
    ),
  );
  drawCounts(li, tweet);
  return li;
}

function drawCounts(li: HTMLElement, tweet: Tweet) {
  li.dataset.liked = String(tweet.likedByMe);
  li.dataset.retweeted = String(tweet.retweetedByMe);
  const reply = li.querySelector<HTMLAnchorElement>(".reply")!;
  reply.textContent = `↩ ${tweet.replyCount}`;
  reply.setAttribute("aria-label", `Reply (${count(tweet.replyCount, "reply", "replies")})`);
  const like = li.querySelector<HTMLButtonElement>(".like")!;
  like.textContent = `♥ ${tweet.likeCount}`;
  like.setAttribute("aria-label", `Like (${count(tweet.likeCount, "like")})`);
  like.setAttribute("aria-pressed", String(tweet.likedByMe));
  like.classList.toggle("on", tweet.likedByMe);
  const retweet = li.querySelector<HTMLButtonElement>(".retweet")!;
  retweet.textContent = `↻ ${tweet.retweetCount}`;
  retweet.setAttribute("aria-label", `Retweet (${count(tweet.retweetCount, "retweet")})`);
  retweet.setAttribute("aria-pressed", String(tweet.retweetedByMe));
  retweet.classList.toggle("on", tweet.retweetedByMe);
}

/** Shows a post's new counts on every copy of it on the page. */
export function showCounts(tweet: Tweet) {
  acted.set(tweet.id, tweet);
  for (const li of document.querySelectorAll<HTMLElement>(`[data-tweet="${tweet.id}"]`)) drawCounts(li, tweet);
}

/** Takes a deleted post off the page, every copy of it, and lets the lists it was in know. */
export function removeTweet(id: string) {
  for (const li of document.querySelectorAll<HTMLElement>(`[data-tweet="${id}"]`)) {
    const list = li.parentElement;
    li.remove();
    list?.dispatchEvent(new CustomEvent("chirp:removed", { bubbles: true }));
  }
}

const GONE = "That post has been deleted.";

/** Runs an action on a post; a post deleted meanwhile leaves the page instead of failing loudly. */
async function onPost(id: string, action: () => Promise<void>) {
  try {
    await action();
  } catch (error) {
    if (error instanceof ConnectError && error.code === Code.NotFound) {
      removeTweet(id);
      say(GONE);
    } else sayError(error, { notFound: GONE });
  }
}

async function toggleLike(li: HTMLElement) {
  const id = li.dataset.tweet!;
  // Busy rather than disabled: a disabled button loses the keyboard focus.
  if (li.dataset.busy) return;
  li.dataset.busy = "1";
  await onPost(id, async () => {
    const { tweet } = li.dataset.liked === "true" ? await tweets.unlikeTweet({ tweetId: id }) : await tweets.likeTweet({ tweetId: id });
    showCounts(tweet!);
  });
  delete li.dataset.busy;
}

async function toggleRetweet(li: HTMLElement) {
  const id = li.dataset.tweet!;
  if (li.dataset.busy) return;
  li.dataset.busy = "1";
  await onPost(id, async () => {
    if (li.dataset.retweeted === "true") showCounts((await tweets.unretweet({ tweetId: id })).tweet!);
    else {
      showCounts((await tweets.retweet({ tweetId: id })).retweet!.retweetedTweet!);
      say("Retweeted to your followers.", "ok");
    }
  });
  delete li.dataset.busy;
}

async function remove(id: string) {
  if (!confirm("Delete this post? This cannot be undone.")) return;
  await onPost(id, async () => {
    await tweets.deleteTweet({ id });
    removeTweet(id);
    say("Your post has been deleted.", "ok");
  });
}
