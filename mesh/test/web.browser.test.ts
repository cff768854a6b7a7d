import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { createLogger } from "@chirp/kit";
import { startMesh, type Mesh } from "../src/mesh.js";

/*
 * Every page and action of the web client, driven as two people (ada and bob, with cal to make a
 * group) in headless Chromium against the embedded mesh, at desktop width and at 375 px. It
 * asserts on what a person sees (texts, pressed states, where the focus is), on the keyboard, and
 * on the headers that keep the page from running foreign code or being framed. Screenshots go to
 * test-output/web-*.png.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WEB_ROOT = join(__dirname, "../../gateway/dist/web");
const OUTPUT = join(__dirname, "../../test-output");
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 740 };

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === "true") throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium`);
const describeInBrowser = haveChromium ? describe : describe.skip;

/** What the page showed in its message area, and what broke the policy or threw, since it opened. */
interface Watched {
  messages: string[];
  violations: string[];
  errors: string[];
}
/*
 * The browser globals the functions run in the page use: this file compiles without the DOM
 * library (the rest of the tests run in Node), so they are declared loosely here.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const window: { __watched: Watched; location: { hash: string } };
declare const document: any;
declare const getComputedStyle: (element: unknown) => { color: string; outlineStyle: string };
declare const MutationObserver: any;
declare const location: { hash: string };

/** Words a person should never read: field names, codes, ids. */
const RAW = /\b[a-z]+_[a-z_]+\b|\[[a-z_]+\]|INVALID|NOT_FOUND|UNAUTHENTICATED|PERMISSION|\b[a-z]+Id\b|\b[0-9A-HJKMNP-TV-Z]{26}\b/;

/** Retries `check` until it passes, for at most `ms`: what a person sees settles a moment after an action. */
async function eventually(check: () => Promise<void>, ms = 10_000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
const trimmed = async (locator: Locator) => (await locator.allTextContents()).map((t) => t.replace(/\s+/g, " ").trim());
/** The locator's elements read `expected` (one text, or one per element). */
const see = (locator: Locator, expected: string | string[]) =>
  eventually(async () => expect(await trimmed(locator)).toEqual(Array.isArray(expected) ? expected : [expected]));
const attr = (locator: Locator, name: string, value: string) => eventually(async () => expect(await locator.getAttribute(name)).toBe(value));
const focused = (locator: Locator) =>
  eventually(async () => expect(await locator.evaluate((el) => (el === document.activeElement ? "focused" : `focus on ${document.activeElement?.outerHTML.slice(0, 80)} at ${location.hash}, home hidden: ${document.getElementById("home").hidden}`))).toBe("focused"));
const visible = (locator: Locator) => locator.waitFor({ state: "visible", timeout: 10_000 });
const hidden = (locator: Locator) => locator.waitFor({ state: "hidden", timeout: 10_000 });
const countIs = (locator: Locator, n: number) => eventually(async () => expect(await locator.count()).toBe(n));
const contains = (locator: Locator, text: string) => eventually(async () => expect((await trimmed(locator)).join(" ")).toContain(text));

describeInBrowser("the web client, every page and action, in headless Chromium", () => {
  jest.setTimeout(60_000);
  let mesh: Mesh;
  let browser: Browser;
  let url: string;
  const pages: Page[] = [];
  let ada: Page;
  let bob: Page;
  let cal: Page;
  /** Ids of posts made along the way, by name. */
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    mesh = await startMesh({
      env: { PASSWORD_HASH_COST: "10", WEB_ROOT, READ_BURST: "2000", WRITE_BURST: "500",
        // Actors' names as they are now, not as the notifications service last cached them.
        PROFILE_CACHE_MS: "0", STREAM_MAX_LIFETIME_MS: "20000" },
      log: createLogger("mesh", "silent"),
      loopback: true,
    });
    url = `http://127.0.0.1:${mesh.gateway.httpPort}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    mkdirSync(OUTPUT, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await mesh?.stop();
    await browser?.close();
  });

  async function open(viewport = DESKTOP): Promise<Page> {
    const context: BrowserContext = await browser.newContext({ viewport });
    const page = await context.newPage();
    // Injected by the browser's debugging protocol, not by the page: the policy does not apply to it.
    await page.addInitScript(() => {
      const watched: Watched = { messages: [], violations: [], errors: [] };
      window.__watched = watched;
      document.addEventListener("securitypolicyviolation", (event: { violatedDirective: string; blockedURI: string }) => watched.violations.push(`${event.violatedDirective} ${event.blockedURI}`));
      new MutationObserver(() => {
        const text = document.getElementById("message")?.textContent ?? "";
        if (text) watched.messages.push(text);
      }).observe(document, { subtree: true, childList: true, characterData: true });
    });
    page.on("pageerror", (error) => void page.evaluate((m) => window.__watched.errors.push(m), error.message).catch(() => undefined));
    page.on("dialog", (dialog) => void dialog.accept());
    pages.push(page);
    await page.goto(url);
    return page;
  }

  async function register(page: Page, username: string) {
    await page.getByLabel("Username (3 to 15 letters, digits or underscores)").fill(username);
    await page.getByLabel("Email", { exact: true }).fill(`${username}@example.org`);
    await page.getByLabel("Password (8 characters or more)").fill("correct horse");
    await page.getByRole("button", { name: "Register" }).click();
    await page.waitForSelector(`#who:has-text("@${username}")`, { timeout: 10_000 });
    await page.waitForSelector('#live:has-text("live")', { timeout: 10_000 });
  }

  async function logIn(page: Page, username: string) {
    await page.getByLabel("Username or email").fill(username);
    await page.getByLabel("Password", { exact: true }).fill("correct horse");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForSelector(`#who:has-text("@${username}")`, { timeout: 10_000 });
  }

  /** Goes to a view by its address, as a link would. */
  async function go(page: Page, hash: string) {
    await page.evaluate((h) => (window.location.hash = h), hash);
    if (hash === "#/") await page.waitForSelector("#home:not([hidden])");
    else await page.waitForSelector("#page:not([hidden]) h2");
    await page.waitForFunction(() => !document.querySelector("#page:not([hidden]) > .state, #page:not([hidden]) h2 + .state")?.textContent?.startsWith("Loading"), undefined, { timeout: 10_000 });
  }

  async function message(page: Page, text: string, kind: "error" | "ok" | "info") {
    const area = page.locator("#message");
    await page.waitForFunction((t) => document.getElementById("message")?.textContent === t, text, { timeout: 10_000 });
    expect(await area.getAttribute("class")).toBe(kind);
    const colour = await area.evaluate((el) => getComputedStyle(el).color);
    // Only errors are in the error colour (#b3261e).
    if (kind === "error") expect(colour).toBe("rgb(179, 38, 30)");
    else expect(colour).not.toBe("rgb(179, 38, 30)");
    // In view, wherever the page is scrolled: the message sits at the top of the screen.
    const box = (await area.boundingBox())!;
    expect(box.y).toBeGreaterThanOrEqual(0);
    expect(box.y).toBeLessThan(120);
  }

  const post = (page: Page, text: string): Locator => page.locator("li.post", { has: page.locator(".text", { hasText: text }) }).first();

  async function compose(page: Page, text: string) {
    await page.locator("#compose-form textarea").fill(text);
    await page.locator("#compose-form").getByRole("button", { name: "Post" }).click();
    // Shown as stored: NFC-normalised and trimmed.
    const shown = text.normalize("NFC").trim();
    await post(page, shown).waitFor({ timeout: 10_000 });
    return (await post(page, shown).getAttribute("data-tweet"))!;
  }

  async function shot(page: Page, name: string) {
    await page.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true });
  }

  it("serves its pages with a Content Security Policy and framing protection, the reference with its own", async () => {
    for (const path of ["", "app.js", "style.css"]) {
      const response = await fetch(`${url}${path}`);
      expect(response.status).toBe(200);
      const policy = response.headers.get("content-security-policy")!;
      expect(policy).toContain("default-src 'none'");
      expect(policy).toContain("script-src 'self'");
      expect(policy).toContain("style-src 'self';");
      expect(policy).toContain("connect-src 'self'");
      expect(policy).toContain("frame-ancestors 'none'");
      expect(policy).not.toContain("unsafe");
      expect(response.headers.get("x-frame-options")).toBe("DENY");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    }
    const reference = await fetch(`${url}reference/`);
    expect(reference.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(reference.headers.get("x-frame-options")).toBe("DENY");

    // Another page framing Chirp gets nothing of it.
    const framer = await (await browser.newContext()).newPage();
    await framer.setContent(`<iframe src="${url}" width="400" height="300"></iframe>`);
    await framer.waitForTimeout(1_000);
    const frame = framer.frames()[1]!;
    expect(await frame.locator("#register-form").count()).toBe(0);
    await framer.context().close();
  });

  it("says in plain words what is wrong at sign-in, and shows a new person's empty home", async () => {
    ada = await open();
    await ada.getByLabel("Username (3 to 15 letters, digits or underscores)").fill("a!");
    await ada.getByLabel("Email", { exact: true }).fill("ada@example.org");
    await ada.getByLabel("Password (8 characters or more)").fill("correct horse");
    await ada.getByRole("button", { name: "Register" }).click();
    await message(ada, "The username must be 3 to 15 letters, digits or underscores.", "error");
    await register(ada, "ada");
    await ada.getByText("Nothing here yet. Post something, or find people to follow with Search.").waitFor();
    await shot(ada, "web-empty-home");

    bob = await open();
    await bob.getByLabel("Username (3 to 15 letters, digits or underscores)").fill("ada");
    await bob.getByLabel("Email", { exact: true }).fill("other@example.org");
    await bob.getByLabel("Password (8 characters or more)").fill("correct horse");
    await bob.getByRole("button", { name: "Register" }).click();
    await message(bob, "That username is taken. Please choose another.", "error");
    await bob.getByLabel("Username or email").fill("ada");
    await bob.getByLabel("Password", { exact: true }).fill("wrong horse");
    await bob.getByRole("button", { name: "Log in" }).click();
    await message(bob, "That username or email and password do not match an account.", "error");
    await shot(bob, "web-signin-error");
    await register(bob, "bob");
    cal = await open();
    await register(cal, "cal");
  });

  it("counts characters as the tweets service does, and refuses too long a post before sending it", async () => {
    const box = cal.locator("#compose-form textarea");
    const counter = cal.locator("#compose-form .counter");
    await see(counter, "280 characters left");
    await box.fill("x".repeat(281));
    await see(counter, "1 character too many");
    let sent = 0;
    cal.on("request", (request) => void (request.url().endsWith("/CreateTweet") && (sent += 1)));
    await cal.locator("#compose-form").getByRole("button", { name: "Post" }).click();
    await message(cal, "Your post must be at most 280 characters.", "error");
    expect(sent).toBe(0);
    // A letter with a combining accent, a family emoji and a flag are one character each, after
    // the same normalisation and trimming as the service's.
    await box.fill(`  ${"e\u0301".repeat(100)}${"👩‍👩‍👧‍👦".repeat(100)}${"🇫🇷".repeat(80)}  `);
    await see(counter, "0 characters left");
    const id = await compose(cal, `${"e\u0301".repeat(100)}${"👩‍👩‍👧‍👦".repeat(100)}${"🇫🇷".repeat(80)}`);
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
    await see(counter, "280 characters left");
    await cal.locator(`li.post[data-tweet="${id}"] button.delete`).click();
    await message(cal, "Your post has been deleted.", "ok");
    expect(await cal.locator(`li.post[data-tweet="${id}"]`).count()).toBe(0);
  });

  it("follows from a profile with the keyboard; the followed posts come into home, new ones live", async () => {
    ids.hello = await compose(ada, "Hello #chirp world, hi @bob");
    await go(bob, "#/profile/ada");
    await see(bob.locator("#page h2"), "ada");
    await see(bob.locator(".counts"), "1 post · 0 followers · 0 following");
    await visible(bob.getByText("No bio yet."));
    await visible(post(bob, "Hello #chirp world"));
    const follow = bob.getByRole("button", { name: "Follow @ada" });
    await follow.focus();
    await bob.keyboard.press("Enter");
    await message(bob, "You now follow @ada.", "ok");
    await see(bob.locator(".counts"), "1 post · 1 follower · 0 following");
    await focused(bob.getByRole("button", { name: "Unfollow @ada" }));
    await shot(bob, "web-profile");

    await go(bob, "#/");
    await post(bob, "Hello #chirp world").waitFor({ timeout: 10_000 });
    ids.live = await compose(ada, "Live from ada");
    await post(bob, "Live from ada").waitFor({ timeout: 10_000 });
    expect(await bob.locator("#timeline li .text").allTextContents()).toEqual(["Live from ada", "Hello #chirp world, hi @bob"]);
  });

  it("likes and unlikes, retweets and undoes, with the keyboard, and says so calmly", async () => {
    const hello = post(bob, "Hello #chirp world");
    const like = hello.locator("button.like");
    await like.focus();
    await bob.keyboard.press("Enter");
    await see(like, "♥ 1");
    await attr(like, "aria-pressed", "true");
    await attr(like, "aria-label", "Like (1 like)");
    await focused(like);
    await bob.keyboard.press("Space");
    await see(like, "♥ 0");
    await attr(like, "aria-pressed", "false");

    const retweet = hello.locator("button.retweet");
    await retweet.click();
    await see(retweet, "↻ 1");
    await attr(retweet, "aria-pressed", "true");
    await message(bob, "Retweeted to your followers.", "ok");
    // The retweet comes into bob's own timeline too, with the same state.
    await bob.locator("li.post .meta", { hasText: "bob retweeted" }).waitFor({ timeout: 10_000 });
    await shot(bob, "web-home");
    await retweet.click();
    await see(retweet, "↻ 0");
    await attr(retweet, "aria-pressed", "false");
  });

  it("replies from a post into its thread, and shows the thread from the reply", async () => {
    await post(bob, "Hello #chirp world").getByRole("link", { name: "Reply (0 replies)" }).click();
    await bob.waitForURL(/#\/tweet\/[0-9A-Z]{26}\/reply$/);
    const reply = bob.locator("#reply-form textarea");
    await focused(reply);
    await reply.fill("Nice one @ada #chirp");
    await bob.locator("#reply-form").getByRole("button", { name: "Reply" }).click();
    const replies = bob.getByRole("list", { name: "Replies" });
    await replies.locator("li.post", { hasText: "Nice one @ada #chirp" }).waitFor();
    ids.reply = (await replies.locator("li.post").first().getAttribute("data-tweet"))!;
    await see(bob.locator("li.post.focus .reply"), "↩ 1");

    await go(ada, `#/tweet/${ids.reply}`);
    await see(ada.getByRole("list", { name: "Earlier in the thread" }).locator("li.post .text"), ["Hello #chirp world, hi @bob"]);
    await see(ada.locator("li.post.focus .text"), "Nice one @ada #chirp");
    await contains(ada.locator("li.post.focus"), "Replying to a post");
    await shot(ada, "web-thread");
    // The mention in a post is a link to the profile.
    await ada.getByRole("list", { name: "Earlier in the thread" }).getByRole("link", { name: "@bob" }).click();
    await ada.waitForURL(/#\/profile\/bob$/);
    await see(ada.locator("#page h2"), "bob");
    await focused(ada.locator("#page h2"));
  });

  it("finds posts by tag and people by name", async () => {
    await go(bob, "#/search");
    await bob.getByLabel("Search for a tag or a person").fill("#chirp");
    await bob.getByLabel("Search for a tag or a person").press("Enter");
    await bob.waitForURL(/#\/tag\/chirp$/);
    const tagged = bob.getByRole("list", { name: "Posts tagged #chirp" });
    await see(tagged.locator("li.post .text"), ["Nice one @ada #chirp", "Hello #chirp world, hi @bob"]);
    await shot(bob, "web-tag");
    await bob.getByLabel("Search for a tag or a person").fill("ad");
    await bob.getByRole("button", { name: "Search" }).click();
    await see(bob.getByRole("list", { name: "People" }).locator("li.person"), ["ada @ada"]);
    await go(bob, "#/tag/nothing_here");
    await bob.getByText("No posts are tagged #nothing_here yet.").waitFor();
    // A tag in a post is a link to its search.
    await go(bob, "#/");
    await post(bob, "Hello #chirp world").getByRole("link", { name: "#chirp" }).click();
    await bob.waitForURL(/#\/tag\/chirp$/);
  });

  it("edits a profile, with counted fields, and the new name shows in the follower lists", async () => {
    await go(bob, "#/settings");
    const name = bob.getByLabel("Display name");
    await name.fill("B".repeat(51));
    await see(bob.locator("#profile-form .counter").first(), "1 character too many");
    await bob.getByRole("button", { name: "Save profile" }).click();
    await message(bob, "The display name must be at most 50 characters.", "error");
    await name.fill("Bob Builder");
    await bob.getByLabel("Bio").fill("Builds things.");
    await bob.getByRole("button", { name: "Save profile" }).click();
    await message(bob, "Your profile has been saved.", "ok");
    await shot(bob, "web-settings");

    await go(ada, "#/profile/ada/followers");
    const followers = ada.getByRole("list", { name: "People who follow @ada" });
    await see(followers.locator("li.person"), ["Bob Builder @bobBuilds things."]);
    await shot(ada, "web-followers");
    await go(ada, "#/profile/bob/following");
    await see(ada.getByRole("list", { name: "People @bob follows" }).locator("li.person .author"), ["ada"]);
    await go(ada, "#/profile/bob");
    await see(ada.locator("#page h2"), "Bob Builder");
    await see(ada.locator(".profile .bio"), "Builds things.");
    await see(ada.locator(".profile .badge"), "Follows you");
  });

  it("tells of follows, replies and grouped likes, filters them, marks them read, and keeps the badge live", async () => {
    const badge = ada.locator("#unread");
    // bob followed ada and replied to her (the reply also mentions her: a reply only).
    await see(badge, "2");
    await go(bob, "#/");
    await post(bob, "Hello #chirp world").locator("button.like").click();
    await go(cal, "#/profile/ada");
    await post(cal, "Hello #chirp world").locator("button.like").click();
    await see(post(cal, "Hello #chirp world").locator("button.like"), "♥ 2");
    await see(badge, "3");
    // Who liked it, by name.
    await go(ada, `#/tweet/${ids.hello}/likes`);
    await see(ada.getByRole("list", { name: "People who liked this post" }).locator("li.person .author"), ["cal", "Bob Builder"]);

    await ada.getByRole("link", { name: /^Notifications/ }).click();
    await ada.waitForURL(/#\/notifications$/);
    const list = ada.getByRole("list", { name: "Notifications" });
    await see(list.locator("li .sentence"), ["cal and Bob Builder liked your post.", "Bob Builder replied to your post.", "Bob Builder followed you."]);
    await countIs(list.locator("li.unread"), 3);
    await contains(list.locator("li").first(), "Hello #chirp world, hi @bob");
    await shot(ada, "web-notifications");

    await ada.getByRole("button", { name: "Follows" }).click();
    await attr(ada.getByRole("button", { name: "Follows" }), "aria-pressed", "true");
    await see(ada.getByRole("list", { name: "Notifications" }).locator("li .sentence"), ["Bob Builder followed you."]);
    await ada.getByRole("button", { name: "All", exact: true }).click();
    await countIs(ada.getByRole("list", { name: "Notifications" }).locator("li"), 3);

    await ada.getByRole("button", { name: "Mark all as read" }).click();
    await message(ada, "Notifications marked as read.", "ok");
    await hidden(badge);
    await countIs(ada.getByRole("list", { name: "Notifications" }).locator("li.unread"), 0);

    // Live: a retweet by cal shows on the open page and on the badge, without a reload.
    await post(cal, "Hello #chirp world").locator("button.retweet").click();
    await see(badge, "1");
    await see(ada.getByRole("list", { name: "Notifications" }).locator("li .sentence").first(), "cal retweeted your post.");
  });

  it("takes a deleted post off the page; liking a copy still on another page removes it there too", async () => {
    await go(ada, "#/");
    await post(ada, "Live from ada").getByRole("button", { name: "Delete" }).click();
    await message(ada, "Your post has been deleted.", "ok");
    await countIs(post(ada, "Live from ada"), 0);

    await go(bob, "#/");
    const stale = post(bob, "Live from ada");
    await visible(stale);
    await stale.locator("button.like").click();
    await message(bob, "That post has been deleted.", "info");
    await countIs(post(bob, "Live from ada"), 0);
    await go(bob, `#/tweet/${ids.live}`);
    await bob.getByText("This post has been deleted, or never existed.").waitFor();
  });

  it("lists where one is signed in, ends another session, unfollows, and logs out", async () => {
    const other = await open();
    await logIn(other, "ada");
    await go(ada, "#/settings");
    const sessions = ada.getByRole("list", { name: "Signed-in devices" });
    await countIs(sessions.locator("li"), 2);
    await contains(sessions.locator("li[data-current]"), "(this device)");
    await sessions.getByRole("button", { name: /^End the session on/ }).click();
    await message(ada, "That device has been signed out.", "ok");
    await countIs(sessions.locator("li"), 1);
    // The other device finds its session gone at its next call.
    await other.evaluate(() => (window.location.hash = "#/profile/ada"));
    await other.waitForSelector("#signin:not([hidden])", { timeout: 10_000 });
    await see(other.locator("#message"), "Your session has ended. Please log in again.");

    await go(bob, "#/profile/ada");
    await bob.getByRole("button", { name: "Unfollow @ada" }).click();
    await message(bob, "You no longer follow @ada.", "ok");
    await see(bob.locator(".counts"), "1 post · 0 followers · 0 following");
    await visible(bob.getByRole("button", { name: "Follow @ada" }));

    // A wrong current password is said so, in words.
    await go(cal, "#/settings");
    await cal.getByLabel("Current password").fill("not my password");
    await cal.getByLabel("New password (8 characters or more)").fill("a new horse battery");
    await cal.getByRole("button", { name: "Change password" }).click();
    await message(cal, "Your current password is not right.", "error");

    await cal.locator("#logout").click();
    await message(cal, "You have logged out.", "info");
    await visible(cal.locator("#signin"));
    await hidden(cal.locator("#app"));
  });

  it("says plainly when a person or a page is not there", async () => {
    await go(bob, "#/profile/nobody_here");
    await bob.getByText("Nobody here is called @nobody_here.").waitFor();
    await go(bob, "#/nowhere");
    await bob.getByText("There is no such page here.").waitFor();
  });

  it("is usable from the keyboard: every control is named, focus is visible, views take the focus", async () => {
    await go(bob, "#/");
    const unnamed = await bob.evaluate(() =>
      [...document.querySelectorAll("#app:not([hidden]) button, #app:not([hidden]) a[href], #app:not([hidden]) input, #app:not([hidden]) textarea")]
        .filter((el: any) => el.offsetParent !== null)
        .filter((el: any) => {
          const label = el.getAttribute("aria-label") ?? (el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : "") ?? "";
          return (label || el.textContent || "").trim() === "";
        })
        .map((el: any) => el.outerHTML.slice(0, 80)),
    );
    expect(unnamed).toEqual([]);
    // Freshly loaded (the session resumes), the first Tab reaches the skip link; then the main
    // navigation, in order.
    await bob.reload();
    await bob.waitForSelector('#live:has-text("live")', { timeout: 10_000 });
    await bob.keyboard.press("Tab");
    await focused(bob.getByRole("link", { name: "Skip to content" }));
    const reached: string[] = [];
    for (let i = 0; i < 8; i++) {
      await bob.keyboard.press("Tab");
      reached.push(await bob.evaluate(() => document.activeElement.textContent.trim()));
    }
    // (ada mentioned bob in her first post, unread: the link carries the count.)
    expect(reached.slice(0, 7)).toEqual(["Chirp", "Home", "Notifications 1", "Search", "Profile", "Settings", "Log out"]);
    expect(await bob.evaluate(() => document.activeElement.tagName)).toBe("TEXTAREA");
    // A visible focus ring.
    expect(await bob.evaluate(() => getComputedStyle(document.activeElement).outlineStyle)).toBe("solid");
    // Back to "Profile" (past "Log out" and "Settings"); following it with Enter moves the focus
    // to the new view's heading.
    for (let i = 0; i < 3; i++) await bob.keyboard.press("Shift+Tab");
    await focused(bob.locator("#nav-profile"));
    await bob.keyboard.press("Enter");
    await bob.waitForURL(/#\/profile\/bob$/);
    await see(bob.locator("#page h2"), "Bob Builder");
    await focused(bob.locator("#page h2"));
  });

  it("fits a 375 px phone screen on every view", async () => {
    const phone = await open(PHONE);
    await logIn(phone, "bob");
    const views: [string, string][] = [
      ["#/", "home"],
      ["#/profile/ada", "profile"],
      [`#/tweet/${ids.hello}`, "thread"],
      ["#/tag/chirp", "tag"],
      ["#/notifications", "notifications"],
      ["#/settings", "settings"],
    ];
    for (const [hash, name] of views) {
      await go(phone, hash);
      // Replies stay out of home timelines, and bob no longer follows ada: he posts from the phone.
      if (hash === "#/") await compose(phone, "Posted from a phone");
      const { scroll, client } = await phone.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
      expect([name, scroll]).toEqual([name, client]);
      await shot(phone, `web-phone-${name}`);
    }
    await visible(phone.locator("#logout"));
    const like = post(phone, "Posted from a phone").locator("button.like");
    await go(phone, "#/");
    const before = await like.getAttribute("aria-pressed");
    await like.click();
    await attr(like, "aria-pressed", before === "true" ? "false" : "true");
  });

  it("broke no policy, threw nothing, and never showed a field name or code", async () => {
    for (const page of pages) {
      if (page.isClosed()) continue;
      const watched = await page.evaluate(() => window.__watched);
      expect(watched.violations).toEqual([]);
      expect(watched.errors).toEqual([]);
      for (const text of watched.messages) expect(text).not.toMatch(RAW);
    }
  });
});
