import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { credentials, Metadata } from "@grpc/grpc-js";
import { newId } from "@chirp/kit";
import { STREAMS } from "@chirp/kit/events";
import { CALLER_ID_KEY, unary } from "@chirp/kit/grpc";
import { JetStreamBus } from "@chirp/kit/nats";
import { GraphServiceClient, type ListFollowerIdsResponse } from "@chirp/proto/grpc/chirp/graph/v1/graph";
import { describeWith, eventually, startFakeUsers, testLogger, uniqueName, type FakeUsers } from "@chirp/testing";
import { newUserIds, userCreated } from "./fixtures.js";

/** The built service as a real process: what Kubernetes starts and stops. `npm test` builds first. */
const MAIN = join(__dirname, "../dist/main.js");

function launch(env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? "", ...env } });
  type LogLine = { msg: string; method?: string; [key: string]: unknown };
  const lines: LogLine[] = [];
  let partialLine = "";
  let stderr = "";
  // A chunk may end inside a line.
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (partialLine + chunk).split("\n");
    partialLine = parts.pop()!;
    lines.push(...parts.filter(Boolean).map((line) => JSON.parse(line) as LogLine));
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const logged = (message: string) => lines.find((l) => l.msg === message);
  return { child, lines, exited, logged, running: () => exitCode === undefined, stderr: () => stderr };
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

describe("the graph service process", () => {
  let running: ChildProcessWithoutNullStreams | undefined;
  afterEach(() => running?.kill("SIGKILL"));

  it("is built", () => {
    expect(existsSync(MAIN)).toBe(true);
  });

  it("stops cleanly on SIGTERM when idle", async () => {
    const service = launch({ GRPC_HOST: "127.0.0.1", GRPC_PORT: "0" });
    running = service.child;
    await waitFor(() => service.logged("graph service ready"));
    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
    expect(service.logged("shutting down")?.signal).toBe("SIGTERM");
    expect(service.logged("shut down cleanly")).toBeDefined();
  });

  it("refuses to start on invalid configuration, listing every problem", async () => {
    const service = launch({ NODE_ENV: "production", GRPC_PORT: "http", USER_EVENTS_CONSUMER: "no.dots" });
    running = service.child;
    expect(await service.exited).toBe(2);
    for (const name of ["GRPC_PORT", "MONGODB_URI", "NATS_URL", "USER_EVENTS_CONSUMER"]) expect(service.stderr()).toContain(name);
  });

  describeWith(["NATS_URL"], "with users announced on JetStream", ({ NATS_URL }) => {
    const consumer = uniqueName("graph_process_test");
    let bus: JetStreamBus;
    /** Asked before each follow whether the follower's account is live. */
    let users: FakeUsers;

    beforeAll(async () => {
      bus = await JetStreamBus.connect(NATS_URL, "graph-process-test", testLogger());
      users = await startFakeUsers();
    });

    afterAll(async () => {
      await bus.manager.consumers.delete(STREAMS.users.name, consumer);
      await bus.close();
      await users.stop();
    });

    it("finishes a follower-id stream in flight on SIGTERM, then exits cleanly", async () => {
      const service = launch({ GRPC_HOST: "127.0.0.1", GRPC_PORT: "0", NATS_URL, USER_EVENTS_CONSUMER: consumer, USERS_ADDRESS: users.address });
      running = service.child;
      const port = (await waitFor(() => service.logged("gRPC server listening"))).port as number;
      await waitFor(() => service.logged("graph service ready"));
      // A tiny HTTP/2 window: a paused reader then holds the stream open with few followers.
      const client = new GraphServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), { "grpc-node.flow_control_window": 1_024 });
      const follow = (follower: string, followeeId: string) => {
        const metadata = new Metadata();
        metadata.set(CALLER_ID_KEY, follower);
        return unary(client, client.follow, { followeeId }, metadata);
      };

      // About 60 followers fill that window and the server's buffers; 200 leave a margin.
      const star = newId();
      await bus.publish(userCreated(star));
      const fans = newUserIds(200);
      await eventually(() => follow(fans[0]!, star), 15_000);
      await Promise.all(fans.slice(1).map((fan) => follow(fan, star)));

      const stream = client.listFollowerIds({ userId: star, batchSize: 1, resumeToken: "" });
      const received: string[] = [];
      const ended = new Promise<void>((resolve, reject) => stream.on("end", resolve).on("error", reject));
      stream.on("data", (batch: ListFollowerIdsResponse) => received.push(...batch.followerIds));
      await waitFor(() => (received.length > 0 ? true : undefined));
      stream.pause();
      service.child.kill("SIGTERM");
      await waitFor(() => service.logged("shutting down"));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(service.running()).toBe(true);

      stream.resume();
      await ended;
      client.close();
      expect(await service.exited).toBe(0);
      expect(received).toEqual([...fans].reverse());
      const finished = service.lines.findIndex((l) => l.msg === "rpc finished" && l.method === "/chirp.graph.v1.GraphService/ListFollowerIds");
      // The stream really was in flight: it finished after shutdown began.
      expect(service.lines.findIndex((l) => l.msg === "shutting down")).toBeLessThan(finished);
      expect(service.logged("shut down cleanly")).toBeDefined();
    });
  });
});
