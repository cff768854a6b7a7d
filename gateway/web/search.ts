// Search: people by the start of their username, posts by tag (#/search/<words>, #/tag/<tag>).
import { learnPeople, tweets, users } from "./api.js";
import { h } from "./dom.js";
import { pagedList } from "./paging.js";
import { personRow } from "./people.js";
import { authorsOf, postCard, tagLink, viewOf } from "./posts.js";

/** What SearchUsers takes: up to 15 letters, digits or underscores. */
const NAME_PREFIX = /^[A-Za-z0-9_]{1,15}$/;
/** What a tag is made of (the tweets service checks it again). */
const TAG = /^[\p{L}\p{M}\p{N}_]{1,100}$/u;

function searchForm(query: string): HTMLFormElement {
  const input = h("input", { id: "search-query", name: "q", type: "search", value: query, placeholder: "#tag or username", autocomplete: "off" });
  const form = h(
    "form",
    { id: "search-form", role: "search" },
    h("label", { for: "search-query", class: "visually-hidden" }, "Search for a tag or a person"),
    input,
    h("button", { type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const words = input.value.trim();
    location.hash = words.startsWith("#") ? tagLink(words.slice(1).toLowerCase()) : `#/search/${encodeURIComponent(words)}`;
  });
  return form;
}

function taggedPosts(tag: string) {
  return pagedList({
    label: `Posts tagged #${tag}`,
    empty: `No posts are tagged #${tag} yet.`,
    load: async (pageToken, list) => {
      const page = await tweets.searchTweets({ tag, pageSize: 20, pageToken });
      await learnPeople(authorsOf(page.tweets));
      for (const tweet of page.tweets) list.append(postCard(viewOf(tweet)));
      return page.nextPageToken;
    },
  });
}

export function tagView(view: HTMLElement, tag: string) {
  const heading = h("h2", { tabIndex: -1 }, `#${tag}`);
  const valid = TAG.test(tag);
  view.replaceChildren(
    searchForm(`#${tag}`),
    heading,
    valid ? taggedPosts(tag).element : h("p", { class: "state error" }, "A tag is made of letters, digits and underscores only."),
  );
  return heading;
}

export function searchView(view: HTMLElement, query: string) {
  const heading = h("h2", { tabIndex: -1 }, query ? `Results for “${query}”` : "Search");
  const words = query.replace(/^@/, "");
  const sections: (HTMLElement | string)[] = [];
  if (query === "") sections.push(h("p", { class: "meta" }, "Find people by the start of their username, or posts by #tag."));
  else {
    if (NAME_PREFIX.test(words)) {
      const people = pagedList({
        label: "People",
        empty: `Nobody’s username starts with “${words}”.`,
        className: "people",
        load: async (pageToken, list) => {
          const page = await users.searchUsers({ usernamePrefix: words, pageSize: 20, pageToken });
          for (const user of page.users) list.append(personRow(user));
          return page.nextPageToken;
        },
      });
      sections.push(h("h3", {}, "People"), people.element);
    }
    if (TAG.test(words.toLowerCase()) && !query.startsWith("@")) sections.push(h("h3", {}, `Posts tagged #${words.toLowerCase()}`), taggedPosts(words.toLowerCase()).element);
    if (sections.length === 0) sections.push(h("p", { class: "state" }, "Search for a username (letters, digits, underscores) or a #tag."));
  }
  view.replaceChildren(searchForm(query), heading, ...sections);
  return heading;
}
