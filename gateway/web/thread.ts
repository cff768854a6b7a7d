// A post with what it replies to above it and the replies under it (#/tweet/<id>), and who liked
// it (#/tweet/<id>/likes).
import { Code, ConnectError } from "@connectrpc/connect";
import { PeopleView, type Tweet } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { learnPeople, tweets } from "./api.js";
import { h } from "./dom.js";
import { composeForm } from "./home.js";
import { explain } from "./messages.js";
import { pagedList } from "./paging.js";
import { personRow } from "./people.js";
import { authorsOf, postCard, postLink, showCounts, viewOf } from "./posts.js";

/** How far up a thread the page reads, one call each. */
const MAX_ANCESTORS = 10;
const GONE = "This post has been deleted, or never existed.";

export async function threadView(view: HTMLElement, id: string, replying: boolean) {
  const heading = h("h2", { tabIndex: -1 }, "Post");
  view.replaceChildren(heading, h("p", { class: "state", role: "status" }, "Loading…"));
  let tweet: Tweet;
  try {
    tweet = (await tweets.getTweet({ id })).tweet!;
  } catch (error) {
    view.replaceChildren(heading, h("p", { class: "state error" }, error instanceof ConnectError && error.code === Code.NotFound ? GONE : explain(error)));
    return heading;
  }
  // What it replies to, oldest first; a deleted link in the chain ends it.
  const ancestors: Tweet[] = [];
  let missingParent = false;
  for (let parent = tweet.replyToId; parent !== "" && ancestors.length < MAX_ANCESTORS; ) {
    try {
      const found = (await tweets.getTweet({ id: parent })).tweet!;
      ancestors.unshift(found);
      parent = found.replyToId;
    } catch (error) {
      if (!(error instanceof ConnectError && error.code === Code.NotFound)) throw error;
      missingParent = true;
      break;
    }
  }
  await learnPeople(authorsOf([tweet, ...ancestors]));
  const replies = pagedList({
    label: "Replies",
    empty: "No replies yet.",
    load: async (pageToken, list) => {
      const page = await tweets.listReplies({ tweetId: id, pageSize: 20, pageToken });
      await learnPeople(authorsOf(page.tweets));
      for (const reply of page.tweets) if (!list.querySelector(`[data-tweet="${reply.id}"]`)) list.append(postCard(viewOf(reply)));
      return page.nextPageToken;
    },
  });
  const reply = composeForm({
    replyTo: id,
    label: "Your reply",
    button: "Reply",
    onPosted: async (replyId) => {
      const posted = (await tweets.getTweet({ id: replyId })).tweet!;
      replies.list.append(postCard(viewOf(posted)));
      replies.refreshState();
      const parent = (await tweets.getTweet({ id })).tweet;
      if (parent) showCounts(parent);
    },
  });
  view.replaceChildren(
    heading,
    missingParent ? h("p", { class: "state" }, "The post this replies to has been deleted.") : "",
    h("ol", { class: "posts thread", "aria-label": "Earlier in the thread" }, ...ancestors.map((t) => postCard(viewOf(t)))),
    h("ol", { class: "posts", "aria-label": "The post" }, postCard(viewOf(tweet), { focus: true })),
    h("p", { class: "meta" }, h("a", { href: `${postLink(id)}/likes` }, "See who liked this")),
    reply,
    h("h3", {}, "Replies"),
    replies.element,
  );
  if (replying) reply.querySelector("textarea")!.focus();
  return replying ? undefined : heading;
}

export function likersView(view: HTMLElement, id: string) {
  const heading = h("h2", { tabIndex: -1 }, "Liked by");
  const likers = pagedList({
    label: "People who liked this post",
    empty: "Nobody has liked this post yet.",
    className: "people",
    about: { notFound: GONE },
    load: async (pageToken, list) => {
      const page = await tweets.listLikers({ tweetId: id, pageSize: 50, pageToken, view: PeopleView.PROFILES });
      for (const liker of page.likers) list.append(personRow(liker.user));
      return page.nextPageToken;
    },
  });
  view.replaceChildren(heading, h("p", {}, h("a", { href: postLink(id) }, "← Back to the post")), likers.element);
  return heading;
}
