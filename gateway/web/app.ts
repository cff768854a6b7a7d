// The Chirp web client: plain DOM over the generated Connect clients, no framework (the whole page
// is a few views; see gateway/README.md for its size). Views are addressed by the URL's hash:
// #/ home, #/tweet/<id>, #/profile/<username>[/followers|/following], #/tag/<tag>,
// #/search/<words>, #/notifications, #/settings.
import { COOKIE_MODE, deviceLabel, millis, onSessionEnded, refresh, scheduleRefresh, session, stopRefreshing, users } from "./api.js";
import { $, field, h } from "./dom.js";
import { revisitHome, startHome, stopHome } from "./home.js";
import { explain, say, sayError } from "./messages.js";
import { followNotifications, leaveNotifications, notificationsView, stopNotifications } from "./notifications.js";
import { profileView } from "./people.js";
import { searchView, tagView } from "./search.js";
import { settingsView } from "./settings.js";
import { likersView, threadView } from "./thread.js";

const signedIn = () => session.token !== "";

/** Back to the login form, saying why. */
function signedOut(why: string) {
  stopRefreshing();
  stopHome();
  stopNotifications();
  session.clear();
  $("#page").replaceChildren();
  $("#app").hidden = true;
  $("#signin").hidden = false;
  $("#who").textContent = "";
  say(why, "info");
}
onSessionEnded(signedOut);

async function logOut() {
  // Ends the session at the service (and the gateway clears the cookie); signed out here whatever it answers.
  await users.logout({}, COOKIE_MODE).catch(() => undefined);
  signedOut("You have logged out.");
  history.replaceState(null, "", "#/");
}

/** Runs a sign-in form's action, saying in plain words what went wrong. */
function onSubmit(selector: string, action: (form: HTMLFormElement) => Promise<void>, about: Parameters<typeof explain>[1] = {}) {
  $<HTMLFormElement>(selector).addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    const button = (event.target as HTMLFormElement).querySelector("button")!;
    button.setAttribute("aria-busy", "true");
    try {
      await action(event.target as HTMLFormElement);
    } catch (error) {
      sayError(error, about);
    } finally {
      button.removeAttribute("aria-busy");
    }
  });
}

async function logIn(login: string, password: string) {
  const answer = await users.login({ usernameOrEmail: login, password, deviceLabel: deviceLabel() }, COOKIE_MODE);
  session.save(answer.accessToken, millis(answer.expiresAt), answer.user);
  await showApp();
}

onSubmit("#register-form", async (form) => {
  await users.createUser({ username: field(form, "username"), email: field(form, "email"), password: field(form, "password") });
  await logIn(field(form, "username"), field(form, "password"));
});
onSubmit("#login-form", (form) => logIn(field(form, "login"), field(form, "password")), {
  unauthenticated: "That username or email and password do not match an account.",
});
$("#logout").addEventListener("click", () => void logOut());

/** Shows the signed-in page: the header's name, the home view started once, the current route. */
async function showApp() {
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#who").textContent = `@${session.username}`;
  $<HTMLAnchorElement>("#nav-profile").href = `#/profile/${encodeURIComponent(session.username)}`;
  scheduleRefresh();
  startHome();
  void followNotifications();
  await route();
}

/** The view a hash names, drawn into #page (or the kept #home); it returns what to focus. */
async function route() {
  if (!signedIn()) return;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  const [name = "", arg = "", sub = ""] = parts;
  const page = $("#page");
  const home = $("#home");
  const onHome = name === "";
  home.hidden = !onHome;
  page.hidden = onHome;
  for (const link of document.querySelectorAll<HTMLAnchorElement>("#nav a")) {
    const current = link.getAttribute("href")!.replace(/^#\/?/, "").split("/")[0] === name && (name !== "profile" || arg === session.username);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (name !== "notifications") leaveNotifications();
  let focus: HTMLElement | undefined;
  try {
    if (onHome) {
      revisitHome();
      focus = $("#home h2");
    } else if (name === "tweet" && arg) focus = sub === "likes" ? likersView(page, arg) : await threadView(page, arg, sub === "reply");
    else if (name === "profile" && arg) focus = await profileView(page, arg, sub === "followers" || sub === "following" ? sub : "posts");
    else if (name === "tag" && arg) focus = tagView(page, arg);
    else if (name === "search") focus = searchView(page, arg);
    else if (name === "settings") focus = await settingsView(page, () => void logOut());
    else if (name === "notifications") focus = notificationsView(page);
    else {
      page.replaceChildren(h("h2", { tabIndex: -1 }, "Not found"), h("p", {}, "There is no such page here. ", h("a", { href: "#/" }, "Go home")));
      focus = $("h2", page);
    }
  } catch (error) {
    page.replaceChildren(h("h2", { tabIndex: -1 }, "Something went wrong"), h("p", { class: "state error" }, explain(error)));
    focus = $("h2", page);
  }
  // Keyboard and screen-reader users land on the new view's heading, as after a page load.
  if (focus && routed > 0) focus.focus({ preventScroll: onHome });
  if (!onHome) window.scrollTo(0, 0);
  routed += 1;
}
let routed = 0;

window.addEventListener("hashchange", () => void route());
// Nothing fails silently or as a raw error: a rejection nobody handled is said in plain words.
window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  sayError(event.reason);
});

/**
 * On opening: with a token still good for a while, carry on; otherwise the cookie may still hold a
 * session (another tab, an earlier visit, a restart of the services): refresh, or show the login
 * form, saying the session ended if someone had signed in here.
 */
async function resume() {
  const fresh = session.token !== "" && session.userId !== "" && session.expiresAt - Date.now() > 5_000;
  if (!fresh) {
    if (!localStorage.getItem("chirp.signedIn")) return;
    if ((await refresh()) !== "ok") return;
  }
  await showApp();
}

resume().catch((error: unknown) => sayError(error));
