import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { connect, type IncomingHttpHeaders } from "node:http2";
import { join } from "node:path";
import { CALLER_ID_KEY } from "@chirp/kit/grpc";
import { CreateTweetRequest, CreateTweetResponse } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import { startFakeUsers } from "@chirp/testing";
import { newUserId } from "./fixtures.js";

/** The built service as a real process: what Kubernetes starts and stops. `npm test` builds first. */
const MAIN = join(__dirname, "../dist/main.js");

function launch(env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? "", ...env } });
  const lines: string[] = [];
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => lines.push(...chunk.split("\n").filter(Boolean)));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const logged = (message: string) => lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === message);
  return { child, lines, exited, logged, stderr: () => stderr };
}

async function waitFor<T>(find: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A gRPC length-prefixed message: no compression, 4-byte big-endian length, the bytes. */
function grpcFrame(message: Uint8Array): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

describe("the tweets service process", () => {
  let running: ChildProcessWithoutNullStreams | undefined;
  /** Asked before each post whether its author's account is live. */
  let users: Awaited<ReturnType<typeof startFakeUsers>>;
  beforeAll(async () => {
    users = await startFakeUsers();
  });
  afterAll(() => users.stop());
  afterEach(() => running?.kill("SIGKILL"));

  it("is built", () => {
    expect(existsSync(MAIN)).toBe(true);
  });

  it("finishes a call in flight at SIGTERM, then exits cleanly", async () => {
    const service = launch({ GRPC_HOST: "127.0.0.1", GRPC_PORT: "0", USERS_ADDRESS: users.address });
    running = service.child;
    await waitFor(() => service.logged("tweets service ready"));
    const port = (await waitFor(() => service.logged("gRPC server listening"))).port as number;

    // A call is in flight from its headers on; the server cannot finish it before its message
    // arrives, so holding the message back keeps it in flight for as long as the test needs.
    const session = connect(`http://127.0.0.1:${port}`);
    const connected = new Promise((resolve) => session.once("connect", resolve));
    const author = newUserId();
    const call = session.request({
      ":method": "POST",
      ":path": "/chirp.tweets.v1.TweetsService/CreateTweet",
      "content-type": "application/grpc",
      te: "trailers",
      [CALLER_ID_KEY]: author,
    });
    const body: Buffer[] = [];
    call.on("data", (chunk: Buffer) => body.push(chunk));
    const trailers = new Promise<IncomingHttpHeaders>((resolve) => call.on("trailers", resolve));
    const goaway = new Promise((resolve) => session.on("goaway", resolve));
    // A ping is answered after every frame sent before it: the server has the call.
    await connected;
    await new Promise<void>((resolve, reject) => session.ping((error) => (error ? reject(error) : resolve())));

    service.child.kill("SIGTERM");
    // GOAWAY: the server takes no new calls and is draining the open ones.
    await goaway;
    call.end(grpcFrame(CreateTweetRequest.encode({ text: "posted while draining", replyToId: "", tags: [], idempotencyKey: "" }).finish()));

    expect((await trailers)["grpc-status"]).toBe("0");
    const { tweet } = CreateTweetResponse.decode(Buffer.concat(body).subarray(5));
    expect(tweet).toMatchObject({ authorId: author, text: "posted while draining" });
    session.close();
    expect(await service.exited).toBe(0);

    expect(service.logged("shutting down")?.signal).toBe("SIGTERM");
    const messages = service.lines.map((l) => JSON.parse(l) as { msg: string; method?: string });
    const finished = messages.findIndex((l) => l.msg === "rpc finished" && l.method === "/chirp.tweets.v1.TweetsService/CreateTweet");
    expect(messages.findIndex((l) => l.msg === "shutting down")).toBeLessThan(finished);
    expect(finished).toBeLessThan(messages.findIndex((l) => l.msg === "shut down cleanly"));
    // The post asked the users service about its author while the server was draining.
    expect(users.calls).toBe(1);
  });

  it("refuses to start on invalid configuration, listing every problem", async () => {
    const service = launch({ NODE_ENV: "production", GRPC_PORT: "http", OUTBOX_POLL_MS: "0" });
    running = service.child;
    expect(await service.exited).toBe(2);
    for (const name of ["GRPC_PORT", "OUTBOX_POLL_MS", "MONGODB_URI", "NATS_URL"]) expect(service.stderr()).toContain(name);
  });
});
