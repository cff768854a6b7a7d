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

describeInBrowser("the API reference page in headless Chromium against the embedded mesh", () => {
  let mesh: Mesh;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    mesh = await startMesh({ env: { PASSWORD_HASH_COST: "10", WEB_ROOT }, log: createLogger("mesh", "silent"), loopback: true });
    base = `http://127.0.0.1:${mesh.gateway.httpPort}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await mesh?.stop();
  });

  /** Opens an operation, presses "Try it out", sends `body` and returns the status and body shown. */
  async function tryIt(page: Page, path: string, body: unknown): Promise<{ status: string; body: string }> {
    const operation = page.locator(".opblock", { has: page.locator(`.opblock-summary-path[data-path="${path}"]`) });
    await operation.locator(".opblock-summary").click();
    await operation.locator("button.try-out__btn").click();
    await operation.locator("textarea.body-param__text").fill(JSON.stringify(body));
    await operation.locator("button.execute").click();
    const live = operation.locator(".live-responses-table .response");
    await live.waitFor({ timeout: 10_000 });
    return {
      status: (await live.locator(".response-col_status").first().textContent())!.trim(),
      body: (await live.locator(".response-col_description pre").first().textContent())!,
    };
  }

  it("renders the served document, with no request leaving the gateway, and its \"try it\" calls the gateway", async () => {
    const page = await (await browser.newContext()).newPage();
    const elsewhere: string[] = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(base)) elsewhere.push(request.url());
    });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    // The page works under its own Content Security Policy: nothing it needs is refused.
    const violations: string[] = [];
    await page.exposeFunction("reportViolation", (what: string) => violations.push(what));
    await page.addInitScript(() => {
      const scope = globalThis as unknown as {
        document: { addEventListener(type: string, listener: (event: { violatedDirective: string; blockedURI: string }) => void): void };
        reportViolation(what: string): void;
      };
      scope.document.addEventListener("securitypolicyviolation", (event) => scope.reportViolation(`${event.violatedDirective} ${event.blockedURI}`));
    });

    await page.goto(`${base}/reference`);
    expect(page.url()).toBe(`${base}/reference/`);
    await page.locator(".information-container .title", { hasText: "Chirp API" }).waitFor({ timeout: 15_000 });
    await page.locator('.opblock-summary-path[data-path="/chirp.users.v1.UsersService/Login"]').waitFor();
    const served = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(await page.locator(".opblock").count()).toBe(Object.keys(served.paths).length);
    // The proto3 JSON rules head the page.
    await page.locator(".information-container", { hasText: "64-bit integers are strings" }).waitFor();

    // Register through the API, then log in through the page.
    const register = await fetch(`${base}/chirp.users.v1.UsersService/CreateUser`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "ref_ann", email: "ref_ann@example.org", password: "correct horse" }),
    });
    expect(register.status).toBe(200);
    const login = await tryIt(page, "/chirp.users.v1.UsersService/Login", { usernameOrEmail: "ref_ann", password: "correct horse" });
    expect(login.status).toBe("200");
    const { accessToken, user } = JSON.parse(login.body);
    expect(user.username).toBe("ref_ann");

    // With the token from "Authorize", a signed-in call: a zero count is left out, so `{}`.
    await page.locator(".auth-wrapper button.authorize").click();
    await page.locator(".auth-container input").fill(accessToken);
    await page.locator(".auth-btn-wrapper button.authorize").click();
    await page.locator(".auth-btn-wrapper button.btn-done").click();
    const counts = await tryIt(page, "/chirp.graph.v1.GraphService/GetCounts", { userId: user.id });
    expect(counts).toEqual({ status: "200", body: "{}" });

    mkdirSync(OUTPUT, { recursive: true });
    const countsOperation = page.locator(".opblock", { has: page.locator('.opblock-summary-path[data-path="/chirp.graph.v1.GraphService/GetCounts"]') });
    await countsOperation.locator(".live-responses-table").scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(OUTPUT, "api-reference-try-it.png") });
    await page.locator(".information-container").scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(OUTPUT, "api-reference.png") });
    expect(existsSync(join(OUTPUT, "api-reference.png"))).toBe(true);
    expect(elsewhere).toEqual([]);
    expect(errors).toEqual([]);
    expect(violations).toEqual([]);
  }, 60_000);

  it("is served under the web client's strict policy (no inline code, calls to its own origin only) and cannot be framed", async () => {
    for (const path of ["/reference/", "/reference/init.js", "/reference/swagger-ui-bundle.js", "/reference/swagger-ui.css"]) {
      const response = await fetch(`${base}${path}`);
      expect(response.status).toBe(200);
      const policy = response.headers.get("content-security-policy")!;
      expect(policy).toContain("script-src 'self';");
      expect(policy).toContain("style-src 'self';");
      expect(policy).toContain("connect-src 'self'");
      expect(policy).toContain("frame-ancestors 'none'");
      expect(policy).not.toContain("unsafe");
      expect(response.headers.get("x-frame-options")).toBe("DENY");
    }
  });
});
