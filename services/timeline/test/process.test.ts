import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { credentials, Metadata, type StatusObject } from "@grpc/grpc-js";
import { CALLER_ID_KEY } from "@chirp/kit/grpc";
import { TimelineServiceClient } from "@chirp/proto/grpc/chirp/timeline/v1/timeline";

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

describe("the timeline service process", () => {
  let running: ChildProcessWithoutNullStreams | undefined;
  afterEach(() => running?.kill("SIGKILL"));

  it("is built", () => {
    expect(existsSync(MAIN)).toBe(true);
  });

  it("ends open streams on SIGTERM instead of waiting out the drain, then exits cleanly", async () => {
    const service = launch({ GRPC_HOST: "127.0.0.1", GRPC_PORT: "0" });
    running = service.child;
    await waitFor(() => service.logged("timeline service ready"));
    const port = (await waitFor(() => service.logged("gRPC server listening"))).port as number;

    const client = new TimelineServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    const metadata = new Metadata();
    metadata.set(CALLER_ID_KEY, "01M83VMQVV99P26KZM1TRZB034");
    const stream = client.streamHomeTimeline({}, metadata);
    stream.on("data", () => undefined);
    const finished = new Promise<StatusObject>((resolve) => stream.on("status", resolve));
    await new Promise((resolve) => stream.once("metadata", resolve));

    const stopping = Date.now();
    service.child.kill("SIGTERM");
    expect((await finished).code).toBe(0);
    expect(await service.exited).toBe(0);
    // Well inside the server's 10 s drain: the open stream did not hold the shutdown up.
    expect(Date.now() - stopping).toBeLessThan(5_000);
    client.close();
    expect(service.logged("shutting down")?.signal).toBe("SIGTERM");
    expect(service.logged("shut down cleanly")).toBeDefined();
  });

  it("refuses to start on invalid configuration, listing every problem", async () => {
    const service = launch({ NODE_ENV: "production", GRPC_PORT: "http", CELEBRITY_FOLLOWERS: "lots" });
    running = service.child;
    expect(await service.exited).toBe(2);
    for (const name of ["GRPC_PORT", "MONGODB_URI", "NATS_URL", "CELEBRITY_FOLLOWERS"]) expect(service.stderr()).toContain(name);
  });
});
