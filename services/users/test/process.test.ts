import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { UsersServiceClient } from "@chirp/proto/grpc/chirp/users/v1/users";

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

describe("the users service process", () => {
  let running: ChildProcessWithoutNullStreams | undefined;
  afterEach(() => running?.kill("SIGKILL"));

  it("is built", () => {
    expect(existsSync(MAIN)).toBe(true);
  });

  it("finishes an in-flight call on SIGTERM, then exits cleanly", async () => {
    // The production password cost makes CreateUser slow enough to still be running at SIGTERM.
    const service = launch({ GRPC_HOST: "127.0.0.1", GRPC_PORT: "0", PASSWORD_HASH_COST: "16" });
    running = service.child;
    await waitFor(() => service.logged("users service ready"));
    const port = (await waitFor(() => service.logged("gRPC server listening"))).port as number;

    const client = new UsersServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    const started = Date.now();
    const response = new Promise<string>((resolve, reject) => {
      const call = client.createUser(
        { username: "sigterm_user", email: "sigterm@example.org", password: "correct horse", displayName: "" },
        (error, result) => (error ? reject(error) : resolve(result.user!.username)),
      );
      // The server sends headers as soon as it takes the call: stop it while the hash is computed.
      call.on("metadata", () => service.child.kill("SIGTERM"));
    });

    expect(await response).toBe("sigterm_user");
    expect(await service.exited).toBe(0);
    client.close();
    const stopping = service.logged("shutting down")!;
    expect(stopping.signal).toBe("SIGTERM");
    const messages = service.lines.map((l) => JSON.parse(l) as { msg: string; method?: string });
    const finished = messages.findIndex((l) => l.msg === "rpc finished" && l.method === "/chirp.users.v1.UsersService/CreateUser");
    // The call really was in flight: it finished after shutdown began.
    expect(messages.findIndex((l) => l.msg === "shutting down")).toBeLessThan(finished);
    expect(service.logged("shut down cleanly")).toBeDefined();
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("refuses to start on invalid configuration, listing every problem", async () => {
    const service = launch({ NODE_ENV: "production", GRPC_PORT: "http" });
    running = service.child;
    expect(await service.exited).toBe(2);
    for (const name of ["GRPC_PORT", "MONGODB_URI", "NATS_URL", "AUTH_SIGNING_KEY"]) expect(service.stderr()).toContain(name);
  });
});
