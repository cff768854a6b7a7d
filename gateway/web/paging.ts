// A list read a page at a time through the API's cursors (page_token / next_page_token), with
// the states people need to see: loading, nothing there, a failure they can retry, more to come.
// The next page loads when the end of the list scrolls into view, or from the "Show more" button
// (which keyboards and screen readers reach too).
import { h } from "./dom.js";
import { explain, type About } from "./messages.js";

export interface PagedList {
  element: HTMLElement;
  list: HTMLOListElement;
  /** Empties the list and reads it again from the first page. */
  reload(): void;
  /** Says whether the list is empty, after something was added or taken out of it. */
  refreshState(): void;
}

export function pagedList(options: {
  label: string;
  /** Said when the list holds nothing. */
  empty: string;
  /** Reads the page at `pageToken` ("" for the first), adds its entries to `list`, returns the next token. */
  load: (pageToken: string, list: HTMLOListElement) => Promise<string>;
  about?: About;
  className?: string;
}): PagedList {
  const list = h("ol", { class: options.className ?? "posts", "aria-label": options.label });
  const state = h("p", { class: "state", role: "status" });
  const more = h("button", { type: "button", class: "more", hidden: true, onclick: () => void next() }, "Show more");
  const element = h("div", { class: "paged" }, list, state, more);
  let token = "";
  let done = false;
  let loading = false;
  let generation = 0;

  const refreshState = () => {
    if (loading) return;
    state.replaceChildren(list.children.length === 0 && done ? options.empty : "");
    state.className = "state";
  };

  async function next() {
    if (loading || done) return;
    loading = true;
    const mine = generation;
    more.hidden = true;
    state.className = "state";
    state.replaceChildren("Loading…");
    try {
      const following = await options.load(token, list);
      if (mine !== generation) return;
      token = following;
      done = following === "";
      loading = false;
      more.hidden = done;
      refreshState();
    } catch (error) {
      if (mine !== generation) return;
      loading = false;
      state.className = "state error";
      state.replaceChildren(explain(error, options.about), " ", h("button", { type: "button", class: "link", onclick: () => void next() }, "Try again"));
    }
  }

  // Loads the next page once the button (the end of the list) comes within a screen of view.
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting) && element.isConnected) void next();
  }, { rootMargin: "0px 0px 600px 0px" });
  observer.observe(more);
  list.addEventListener("chirp:removed", refreshState);

  const reload = () => {
    generation += 1;
    token = "";
    done = false;
    loading = false;
    list.replaceChildren();
    void next();
  };
  reload();
  return { element, list, reload, refreshState };
}
