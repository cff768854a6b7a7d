import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLogger } from "@chirp/kit";
import { TimelineService } from "@chirp/proto/es/chirp/timeline/v1/timeline_pb";
import { TweetsService } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { startMesh, type Mesh } from "../src/mesh.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WEB_ROOT = join(__dirname, "../../gateway/dist/web");
const OUTPUT = join(__dirname, "../../test-output");
const STREAM_LIFETIME_MS = 3_000;

/** Chromium comes from Debian's package; CI installs it, so there its absence is a failure. */
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === "true") throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium`);
const describeInBrowser = haveChromium ? describe : describe.skip;

describeInBrowser("the web client in headless Chromium against the embedded mesh", () => {
  let mesh: Mesh;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    mesh = await startMesh({
      env: {
        PASSWORD_HASH_COST: "10",
        WEB_ROOT,
        // Streams outlive the unary deadline, and end (to be reconnected) every few seconds.
        UPSTREAM_TIMEOUT_MS: "2000",
        STREAM_MAX_LIFETIME_MS: String(STREAM_LIFETIME_MS),
      },
      log: createLogger("mesh", "silent"),
      loopback: true,
    });
    url = `http://127.0.0.1:${mesh.gateway.httpPort}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 60_000);

  afterAll(async () => {
    // The mesh first: it ends the pages' live streams itself instead of writing into closed sockets.
    await mesh?.stop();
    await browser?.close();
  });

  async function register(username: string, prepare?: (page: Page) => Promise<void>): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    await prepare?.(page);
    await page.goto(url);
    await page.fill("#register-form [name=username]", username);
    await page.fill("#register-form [name=email]", `${username}@example.org`);
    await page.fill("#register-form [name=password]", "correct horse");
    await page.click("#register-form button");
    await page.waitForSelector(`#who:has-text("@${username}")`);
    await page.waitForSelector('#live:has-text("live")');
    return page;
  }

  /** Follows `username` from their profile page, then goes back home. */
  async function follow(page: Page, username: string) {
    await page.evaluate((hash) => (globalThis as unknown as { location: { hash: string } }).location.hash = hash, `#/profile/${username}`);
    await page.getByRole("button", { name: `Follow @${username}` }).click();
    await page.waitForSelector(`#message:has-text("You now follow @${username}.")`, { timeout: 10_000 });
    await page.evaluate(() => (globalThis as unknown as { location: { hash: string } }).location.hash = "#/");
    await page.waitForSelector("#home:not([hidden])");
  }

  it("shows a followed user's new post live, and likes and retweets it", async () => {
    const author = await register("browser_ann");
    const reader = await register("browser_ben");

    await follow(reader, "browser_ann");

    await author.fill("#compose-form [name=text]", "Hello from a real browser #e2e");
    await author.click("#compose-form button");

    const post = reader.locator("#timeline li", { hasText: "Hello from a real browser #e2e" });
    await post.waitFor({ timeout: 5_000 });
    await post.locator("button.like").click();
    await reader.waitForSelector('#timeline li button.like:has-text("♥ 1")');
    await post.locator("button.retweet").click();
    await reader.waitForSelector('#timeline li button.retweet:has-text("↻ 1")');

    mkdirSync(OUTPUT, { recursive: true });
    await reader.screenshot({ path: join(OUTPUT, "browser-timeline.png"), fullPage: true });
    expect(existsSync(join(OUTPUT, "browser-timeline.png"))).toBe(true);
    expect(await author.locator("#message").textContent()).toBe("");
  });

  it("puts posts made while its stream was down at the top, in order, once, and stays live", async () => {
    const author = await register("gap_ann");
    const reader = await register("gap_ben");
    await follow(reader, "gap_ann");

    const base = `http://127.0.0.1:${mesh.gateway.httpPort}`;
    const transport = createConnectTransport({ baseUrl: base, httpVersion: "1.1" });
    const tweets = createClient(TweetsService, transport);
    const timeline = createClient(TimelineService, transport);
    type WithSession = { sessionStorage: { getItem(key: string): string | null } };
    const tokenOf = async (page: Page) => ({
      authorization: `Bearer ${await page.evaluate(() => (globalThis as unknown as WithSession).sessionStorage.getItem("chirp.token"))}`,
    });
    const [asAuthor, asReader] = [await tokenOf(author), await tokenOf(reader)];
    const post = async (text: string) => (await tweets.createTweet({ text }, { headers: asAuthor })).tweet!.id;
    const texts = () => reader.locator("#timeline li .text").allTextContents();

    const before = await post("gap: before");
    await reader.locator("#timeline li", { hasText: "gap: before" }).waitFor({ timeout: 5_000 });

    // Hold the reader's next stream request: the page is then between two streams, as after a
    // dropped connection, until released.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    await reader.route("**/chirp.timeline.v1.TimelineService/StreamHomeTimeline", async (route) => {
      if (!held) {
        held = true;
        await released;
      }
      await route.continue();
    });
    // The current stream ends at its lifetime and the page asks for another.
    const deadline = Date.now() + STREAM_LIFETIME_MS * 3;
    while (!held && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(held).toBe(true);

    const during = [await post("gap: during 1"), await post("gap: during 2")];
    // Both are in the reader's timeline before the page may reconnect.
    for (const until = Date.now() + 10_000; ; ) {
      const { items } = await timeline.getHomeTimeline({ pageSize: 10 }, { headers: asReader });
      if (during.every((id) => items.some((item) => item.id === id))) break;
      expect(Date.now()).toBeLessThan(until);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await texts()).not.toContain("gap: during 1");
    release();

    await reader.locator("#timeline li", { hasText: "gap: during 2" }).waitFor({ timeout: 10_000 });
    await reader.locator("#timeline li", { hasText: "gap: during 1" }).waitFor({ timeout: 10_000 });
    expect((await texts()).slice(0, 3)).toEqual(["gap: during 2", "gap: during 1", "gap: before"]);
    expect(await reader.locator("#timeline li").evaluateAll((lis) => lis.slice(0, 3).map((li) => li.getAttribute("data-entry")))).toEqual([
      during[1],
      during[0],
      before,
    ]);

    // Live again: a new post comes on the stream, on top; a few more reconnects repeat nothing.
    await post("gap: after");
    await reader.locator("#timeline li", { hasText: "gap: after" }).waitFor({ timeout: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, STREAM_LIFETIME_MS * 2));
    expect(await texts()).toEqual(["gap: after", "gap: during 2", "gap: during 1", "gap: before"]);
    expect(await reader.locator("#live").textContent()).toBe("live");
  }, 60_000);

  describe("sessions", () => {
    type WithStorage = { sessionStorage: { getItem(key: string): string | null }; document: { cookie: string } };
    const tokenIn = (page: Page) => page.evaluate(() => (globalThis as unknown as WithStorage).sessionStorage.getItem("chirp.token"));
    /** Counts the page's RefreshSession requests from now on. */
    function refreshes(page: Page): () => number {
      let count = 0;
      page.on("request", (request) => {
        if (request.url().endsWith("/chirp.users.v1.UsersService/RefreshSession")) count += 1;
      });
      return () => count;
    }
    async function api(method: string, body: object, token: string) {
      const response = await fetch(`${url}chirp.users.v1.UsersService/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      return response.status;
    }

    it("keeps the refresh token where page scripts cannot read it, and a new tab resumes the session from it", async () => {
      const page = await register("cookie_cat");
      expect(await page.evaluate(() => (globalThis as unknown as WithStorage).document.cookie)).toBe("");
      const cookies = await page.context().cookies();
      expect(cookies.map((c) => [c.name, c.httpOnly, c.secure, c.sameSite, c.path])).toEqual([
        ["chirp_refresh", true, true, "Strict", "/chirp.users.v1.UsersService/RefreshSession"],
      ]);
      // A new tab has no access token of its own: it trades the cookie for one.
      const tab = await page.context().newPage();
      const counted = refreshes(tab);
      await tab.goto(url);
      await tab.waitForSelector('#who:has-text("@cookie_cat")');
      await tab.waitForSelector('#live:has-text("live")');
      expect(counted()).toBe(1);
    });

    it("refreshes silently before the access token expires, and carries on", async () => {
      const page = await register("silent_sam", (p) => p.clock.install());
      const counted = refreshes(page);
      const before = await tokenIn(page);
      // Access tokens live 15 minutes; the page refreshes a minute before.
      await page.clock.fastForward("14:05");
      await page.waitForFunction((old) => (globalThis as unknown as WithStorage).sessionStorage.getItem("chirp.token") !== old, before, { timeout: 10_000 });
      expect(counted()).toBe(1);
      expect(await api("GetUser", { id: "01J00000000000000000000000" }, (await tokenIn(page))!)).toBe(404);
      await page.fill("#compose-form [name=text]", "still here after a silent refresh");
      await page.click("#compose-form button");
      await page.locator("#timeline li", { hasText: "still here after a silent refresh" }).waitFor({ timeout: 10_000 });
      expect(await page.locator("#message").textContent()).toBe("");
      expect(await page.locator("#home").isVisible()).toBe(true);
      mkdirSync(OUTPUT, { recursive: true });
      await page.screenshot({ path: join(OUTPUT, "browser-silent-refresh.png"), fullPage: true });
    });

    it("retries a call refused as UNAUTHENTICATED once, after refreshing", async () => {
      const page = await register("retry_rita");
      await register("retry_rob");
      const counted = refreshes(page);
      // An access token the gateway refuses (as after the services restart with a new key).
      await page.evaluate(() => (globalThis as unknown as { sessionStorage: { setItem(key: string, value: string): void } }).sessionStorage.setItem("chirp.token", "not.a.token"));
      await follow(page, "retry_rob");
      // One refresh, or two when the live stream's reconnect (every 3 s here) met the bad token first.
      expect(counted()).toBeGreaterThanOrEqual(1);
      expect(counted()).toBeLessThanOrEqual(2);
      expect(await tokenIn(page)).not.toBe("not.a.token");
    });

    it("goes back to the login form with a clear message when the session is gone", async () => {
      const page = await register("gone_gus");
      const token = (await tokenIn(page))!;
      // The session ends elsewhere (a logout on another device, a password change, an admin).
      expect(await api("Logout", {}, token)).toBe(200);
      const started = Date.now();
      while ((await api("ListSessions", {}, token)) !== 401) {
        expect(Date.now() - started).toBeLessThan(5_000);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await page.fill("#compose-form [name=text]", "this should not be posted");
      await page.click("#compose-form button");
      await page.waitForSelector('#message:has-text("Your session has ended. Please log in again.")', { timeout: 10_000 });
      expect(await page.locator("#signin").isVisible()).toBe(true);
      expect(await page.locator("#home").isVisible()).toBe(false);
      expect(await tokenIn(page)).toBeNull();
      mkdirSync(OUTPUT, { recursive: true });
      await page.screenshot({ path: join(OUTPUT, "browser-session-ended.png"), fullPage: true });
      // Logging in again works from there.
      await page.fill("#login-form [name=login]", "gone_gus");
      await page.fill("#login-form [name=password]", "correct horse");
      await page.click("#login-form button");
      await page.waitForSelector('#who:has-text("@gone_gus")');
      expect(await page.locator("#message").textContent()).toBe("");
    });

    it("logs out: the session ends at the service and the cookie is cleared", async () => {
      const page = await register("bye_bea");
      const token = (await tokenIn(page))!;
      await page.click("#logout");
      await page.waitForSelector('#message:has-text("You have logged out.")');
      expect(await page.context().cookies()).toEqual([]);
      const started = Date.now();
      while ((await api("ListSessions", {}, token)) !== 401) {
        expect(Date.now() - started).toBeLessThan(5_000);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // A reload stays signed out, without a message: nobody is signed in here any more.
      await page.reload();
      await page.waitForSelector("#signin:not([hidden])");
      expect(await page.locator("#message").textContent()).toBe("");
    });
  });
});
