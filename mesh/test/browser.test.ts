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

  async function register(username: string): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    await page.goto(url);
    await page.fill("#register-form [name=username]", username);
    await page.fill("#register-form [name=email]", `${username}@example.org`);
    await page.fill("#register-form [name=password]", "correct horse");
    await page.click("#register-form button");
    await page.waitForSelector(`#who:has-text("@${username}")`);
    await page.waitForSelector('#live:has-text("live")');
    return page;
  }

  it("shows a followed user's new post live, and likes and retweets it", async () => {
    const author = await register("browser_ann");
    const reader = await register("browser_ben");

    await reader.fill("#follow-form [name=username]", "browser_ann");
    await reader.click("#follow-form button");
    await reader.waitForSelector('#message:has-text("You now follow @browser_ann")', { timeout: 10_000 });

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
    await reader.fill("#follow-form [name=username]", "gap_ann");
    await reader.click("#follow-form button");
    await reader.waitForSelector('#message:has-text("You now follow @gap_ann")', { timeout: 10_000 });

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
});
