import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { createLogger } from "@chirp/kit";
import { startMesh, type Mesh } from "../src/mesh.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WEB_ROOT = join(__dirname, "../../gateway/dist/web");
const OUTPUT = join(__dirname, "../../test-output");

/** Chromium comes from Debian's package; CI installs it, so there its absence is a failure. */
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === "true") throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium`);
const describeInBrowser = haveChromium ? describe : describe.skip;

describeInBrowser("the web client in headless Chromium against the embedded mesh", () => {
  let mesh: Mesh;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    mesh = await startMesh(
      { PATH: process.env.PATH, HTTP_HOST: "127.0.0.1", HTTP_PORT: "0", HTTP2_PORT: "0", PASSWORD_HASH_COST: "10", WEB_ROOT },
      createLogger("mesh", "silent"),
    );
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
});
