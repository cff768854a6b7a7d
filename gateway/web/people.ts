// People in lists (followers, following, likers, search results) and their profile pages.
import { Code, ConnectError } from "@connectrpc/connect";
import { PeopleView } from "@chirp/proto/es/chirp/graph/v1/graph_pb";
import type { User } from "@chirp/proto/es/chirp/users/v1/users_pb";
import { graph, learnPeople, remember, session, tweets, users } from "./api.js";
import { count, h } from "./dom.js";
import { explain, say, sayError } from "./messages.js";
import { pagedList } from "./paging.js";
import { authorsOf, postCard, profileLink, viewOf } from "./posts.js";

/** One person in a list: name, @username and bio, the name a link to their profile. */
export function personRow(user: User | undefined): HTMLLIElement {
  if (!user) return h("li", { class: "person" }, h("span", { class: "meta" }, "An account that has since been deleted"));
  remember(user);
  return h(
    "li",
    { class: "person", "data-user": user.username },
    h("a", { class: "author", href: profileLink(user.username) }, user.displayName || user.username),
    h("span", { class: "meta" }, ` @${user.username}`),
    user.bio && h("p", { class: "bio" }, user.bio),
  );
}

type Tab = "posts" | "followers" | "following";

export async function profileView(view: HTMLElement, username: string, tab: Tab) {
  const heading = h("h2", { tabIndex: -1 }, `@${username}`);
  view.replaceChildren(heading, h("p", { class: "state", role: "status" }, "Loading…"));
  let user: User;
  try {
    user = (await users.getUserByUsername({ username })).user!;
  } catch (error) {
    const missing = error instanceof ConnectError && (error.code === Code.NotFound || error.code === Code.InvalidArgument);
    view.replaceChildren(heading, h("p", { class: "state error" }, missing ? `Nobody here is called @${username}.` : explain(error)));
    return heading;
  }
  remember(user);
  const me = user.id === session.userId;
  const [counts, posts, relationship] = await Promise.all([
    graph.getCounts({ userId: user.id }),
    tweets.countTweets({ authorId: user.id }),
    me ? undefined : graph.getRelationship({ userId: session.userId, otherId: user.id }),
  ]);
  heading.textContent = user.displayName || user.username;
  const base = profileLink(user.username);
  const followers = h("a", { href: `${base}/followers` }, count(counts.followersCount, "follower"));
  const following = h("a", { href: `${base}/following` }, `${counts.followingCount} following`);

  let isFollowing = relationship?.following ?? false;
  const followButton = h("button", { type: "button", class: "follow", onclick: () => void toggleFollow() });
  const drawFollow = () => {
    followButton.textContent = isFollowing ? "Unfollow" : "Follow";
    followButton.setAttribute("aria-label", `${isFollowing ? "Unfollow" : "Follow"} @${user.username}`);
    followButton.classList.toggle("secondary", isFollowing);
  };
  drawFollow();
  let followerCount = counts.followersCount;
  async function toggleFollow() {
    if (followButton.dataset.busy) return;
    followButton.dataset.busy = "1";
    try {
      if (isFollowing) await graph.unfollow({ followeeId: user.id });
      else await graph.follow({ followeeId: user.id });
      isFollowing = !isFollowing;
      followerCount += isFollowing ? 1n : -1n;
      followers.textContent = count(followerCount, "follower");
      drawFollow();
      say(isFollowing ? `You now follow @${user.username}.` : `You no longer follow @${user.username}.`, "ok");
    } catch (error) {
      sayError(error, { notFound: `@${user.username} has deleted their account.` });
    } finally {
      delete followButton.dataset.busy;
    }
  }

  const tabs = h(
    "nav",
    { class: "tabs", "aria-label": "Profile sections" },
    ...(
      [
        ["posts", base, "Posts"],
        ["followers", `${base}/followers`, "Followers"],
        ["following", `${base}/following`, "Following"],
      ] as const
    ).map(([name, href, label]) => h("a", { href, "aria-current": name === tab ? "page" : undefined }, label)),
  );

  const list =
    tab === "posts"
      ? pagedList({
          label: `Posts by @${user.username}`,
          empty: me ? "You have not posted yet." : `@${user.username} has not posted yet.`,
          load: async (pageToken, into) => {
            const page = await tweets.listUserTweets({ userId: user.id, pageSize: 20, pageToken });
            await learnPeople(authorsOf(page.tweets));
            for (const tweet of page.tweets) into.append(postCard(viewOf(tweet)));
            return page.nextPageToken;
          },
        })
      : pagedList({
          label: tab === "followers" ? `People who follow @${user.username}` : `People @${user.username} follows`,
          empty: tab === "followers" ? `Nobody follows @${user.username} yet.` : `@${user.username} does not follow anyone yet.`,
          className: "people",
          load: async (pageToken, into) => {
            const request = { userId: user.id, pageSize: 50, pageToken, view: PeopleView.PROFILES };
            const page =
              tab === "followers"
                ? await graph.listFollowers(request).then((p) => ({ edges: p.followers, next: p.nextPageToken }))
                : await graph.listFollowing(request).then((p) => ({ edges: p.following, next: p.nextPageToken }));
            for (const edge of page.edges) into.append(personRow(edge.user));
            return page.next;
          },
        });
  view.replaceChildren(
    h(
      "section",
      { class: "profile", "aria-labelledby": "profile-name" },
      heading,
      h("p", { class: "meta" }, `@${user.username}`, !me && relationship?.followedBy ? h("span", { class: "badge" }, "Follows you") : ""),
      user.bio ? h("p", { class: "bio" }, user.bio) : h("p", { class: "meta" }, me ? "You have not written a bio yet." : "No bio yet."),
      h("p", { class: "counts" }, count(posts.count, "post"), " · ", followers, " · ", following),
      me ? h("a", { class: "button", href: "#/settings" }, "Edit profile") : followButton,
    ),
    tabs,
    list.element,
  );
  heading.id = "profile-name";
  return heading;
}
