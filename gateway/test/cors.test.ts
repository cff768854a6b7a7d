import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { cors } from "@connectrpc/connect";
import { withCors } from "../src/http.js";

const APP = "https://app.chirp.test";
/** What the gateway adds to connect-es's lists: the token in, the request id both ways, the retry hint out. */
const OWN_ALLOWED_HEADERS = ["Authorization", "X-Request-Id"];
const OWN_EXPOSED_HEADERS = ["Retry-After", "X-Request-Id"];

const listed = (value: string | null) => (value ?? "").split(",").map((name) => name.trim().toLowerCase()).filter(Boolean);
const lower = (names: readonly string[]) => names.map((name) => name.toLowerCase());

describe("CORS", () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer(
      withCors([APP], (_req, res) => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("served");
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const preflight = (origin: string) =>
    fetch(`${base}/chirp.users.v1.UsersService/Login`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type, authorization" },
    });

  it("answers a listed origin's preflight with every method and header connect-es lists, and the gateway's own", async () => {
    const response = await preflight(APP);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP);
    expect(response.headers.get("vary")).toBe("Origin");
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    expect(response.headers.get("access-control-max-age")).toBe("7200");
    expect(listed(response.headers.get("access-control-allow-methods")).sort()).toEqual(lower(cors.allowedMethods).sort());
    expect(listed(response.headers.get("access-control-allow-headers")).sort()).toEqual(lower([...cors.allowedHeaders, ...OWN_ALLOWED_HEADERS]).sort());
  });

  it("lets a listed origin read every header connect-es lists, and the gateway's own", async () => {
    const response = await fetch(`${base}/chirp.users.v1.UsersService/Login`, { method: "POST", headers: { origin: APP } });
    expect(await response.text()).toBe("served");
    expect(response.headers.get("access-control-allow-origin")).toBe(APP);
    expect(listed(response.headers.get("access-control-expose-headers")).sort()).toEqual(lower([...cors.exposedHeaders, ...OWN_EXPOSED_HEADERS]).sort());
  });

  it("refuses any other origin's preflight and gives its requests no CORS headers", async () => {
    const refused = await preflight("https://evil.test");
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    const request = await fetch(`${base}/chirp.users.v1.UsersService/Login`, { method: "POST", headers: { origin: "https://evil.test" } });
    expect(await request.text()).toBe("served");
    expect(request.headers.get("access-control-allow-origin")).toBeNull();
    expect(request.headers.get("access-control-expose-headers")).toBeNull();
  });
});
