import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { connect, type IncomingHttpHeaders } from "node:http2";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { checkHealth } from "../grpc/health-client.js";
import { meshTlsConnection } from "../grpc/tls.js";
import { testIdentityEnv, testTls } from "./identity.js";
import { startFakeUsers, type FakeUsers } from "./fake-users.js";
import { describeWith, type ServerVariable } from "./support.js";

/** One line of a service's JSON log. */
export interface LogLine {
  msg: string;
  method?: string;
  [key: string]: unknown;
}

/** A built service running as its own process, as Kubernetes runs it: its log, its stderr, its exit. */
export interface ServiceProcess {
  child: ChildProcessWithoutNullStreams;
  /** Every complete log line so far, in order. */
  lines: LogLine[];
  exited: Promise<number | null>;
  /** The first log line with this message. */
  logged(message: string): LogLine | undefined;
  /** Where in the log the first line with this message is (-1: not logged), to check the order of events. */
  indexOf(message: string, method?: string): number;
  running(): boolean;
  stderr(): string;
}

/**
 * Starts `node <main>` with only PATH and the given settings, so nothing of the test run's own
 * environment (MONGODB_URI, NATS_URL) leaks in unasked.
 */
export function launchService(main: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [main], { env: { PATH: process.env.PATH ?? "", ...env } });
  const lines: LogLine[] = [];
  let partialLine = "";
  let stderr = "";
  // A chunk may end inside a line.
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (partialLine + chunk).split("\n");
    partialLine = parts.pop()!;
    for (const line of parts.filter(Boolean)) {
      try {
        lines.push(JSON.parse(line) as LogLine);
      } catch {
        lines.push({ msg: "(not JSON)", line });
      }
    }
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  let exitCode: number | null | undefined;
  // "close", not "exit": "exit" can come before the last of stdout is read, and a check of the
  // log would then miss its last lines ("shut down cleanly").
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  return {
    child,
    lines,
    exited,
    logged: (message) => lines.find((l) => l.msg === message),
    indexOf: (message, method) => lines.findIndex((l) => l.msg === message && (method === undefined || l.method === method)),
    running: () => exitCode === undefined,
    stderr: () => stderr,
  };
}

/** Polls until `find` answers something, or fails naming what it waited for. */
export async function waitFor<T>(what: string, find: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A gRPC length-prefixed message: no compression, 4-byte big-endian length, the bytes. */
function grpcFrame(message: Uint8Array): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/**
 * A unary gRPC call over plain HTTP/2 whose request message is held back. A call is in flight
 * from its headers on, and the server cannot finish it before its message arrives, so it stays in
 * flight (across a SIGTERM, say) for as long as a test needs. Resolves once the server has the
 * call's headers.
 */
export async function holdUnaryCall(address: string, path: string, headers: Record<string, string> = {}) {
  // Over mutual TLS as the gateway, as the services under test expect (testIdentityEnv).
  const session = connect(`https://${address}`, { createConnection: meshTlsConnection(testTls("gateway"), path.split("/")[1]!.split(".")[1]!) });
  const connected = new Promise((resolve) => session.once("connect", resolve));
  const call = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers });
  const body: Buffer[] = [];
  call.on("data", (chunk: Buffer) => body.push(chunk));
  const trailers = new Promise<IncomingHttpHeaders>((resolve) => call.on("trailers", resolve));
  /** GOAWAY: the server takes no new calls and is draining the open ones. */
  const goaway = new Promise<void>((resolve) => session.on("goaway", () => resolve()));
  await connected;
  // A ping is answered after every frame sent before it: the server has the call.
  await new Promise<void>((resolve, reject) => session.ping((error) => (error ? reject(error) : resolve())));
  return {
    goaway,
    /** Sends the request message; answers the call's grpc-status and its response message. */
    async finish(message: Uint8Array): Promise<{ status: string | undefined; response: Buffer }> {
      call.end(grpcFrame(message));
      const status = (await trailers)["grpc-status"] as string | undefined;
      return { status, response: Buffer.concat(body).subarray(5) };
    },
    close: () => session.close(),
  };
}

/** A service process that says it is ready, and where it listens. */
export interface ReadyService {
  process: ServiceProcess;
  /** 127.0.0.1:<port> */
  address: string;
  /** Sends SIGTERM, as Kubernetes does to stop a pod. */
  terminate(): void;
}

/** What a drain scenario is given. */
export interface DrainContext {
  /** The stand-in users service, when the suite has one. */
  users: FakeUsers | undefined;
  /** The servers the scenario asked for. */
  servers: Partial<Record<ServerVariable, string>>;
}

/**
 * A call held in flight across SIGTERM. The suite launches the service, waits until it is ready
 * and serving health checks, runs the scenario, and then checks what every service owes a
 * SIGTERM: exit code 0, "shutting down" logged for the signal, "shut down cleanly" logged, and the
 * in-flight call (when `method` is named) finished after shutdown began (and, where the scenario
 * asks, was logged before shutdown ended).
 */
export interface DrainScenario {
  title: string;
  /** Servers it needs: without them it is reported as skipped, never as passed. */
  servers?: ServerVariable[];
  /** Its own settings, given the servers. */
  env?: (context: DrainContext) => Record<string, string>;
  /** The full method path ("/pkg.Service/Method") of the call held in flight. */
  method?: string;
  /** Also check that the held call's "rpc finished" comes before "shut down cleanly". */
  finishedBeforeStopped?: boolean;
  timeoutMs?: number;
  /** Holds a call in flight, calls `terminate()`, and checks what the caller got. */
  run(service: ReadyService, context: DrainContext): Promise<void>;
}

export interface ServiceProcessSpec {
  /** The name it logs by: "<service> service ready". */
  service: string;
  /** Its gRPC service's full name, as health checks ask for it. */
  grpcService: string;
  /** The service's folder; dist/main.js is the built entry point. */
  dir: string;
  /** A stand-in users service (USERS_ADDRESS) for services that ask users about callers. */
  usersStandIn?: boolean;
  /**
   * Invalid settings beside GRPC_PORT=http, under NODE_ENV=production: the process must exit with
   * code 2 and name each of them, GRPC_PORT, MONGODB_URI, NATS_URL and `required`.
   */
  invalid: { settings: Record<string, string>; required?: string[] };
  drains: DrainScenario[];
}

/**
 * The built service as a real process, what Kubernetes starts and stops: it is built, refuses
 * invalid configuration listing every problem, serves health checks once ready, and on SIGTERM
 * lets in-flight calls finish before it exits cleanly. `npm test` builds first.
 */
export function serviceProcessSuite(spec: ServiceProcessSpec): void {
  const main = join(spec.dir, "dist/main.js");

  describe(`the ${spec.service} service process`, () => {
    const launched: ServiceProcess[] = [];
    let users: FakeUsers | undefined;
    if (spec.usersStandIn) {
      beforeAll(async () => {
        users = await startFakeUsers();
      });
      afterAll(() => users?.stop());
    }
    afterEach(() => {
      for (const service of launched.splice(0)) service.child.kill("SIGKILL");
    });

    const launch = (env: Record<string, string>) => {
      const service = launchService(main, env);
      launched.push(service);
      return service;
    };

    it("is built", () => {
      expect(existsSync(main)).toBe(true);
    });

    it("refuses to start on invalid configuration, listing every problem", async () => {
      const service = launch({ NODE_ENV: "production", GRPC_PORT: "http", ...spec.invalid.settings });
      expect(await service.exited).toBe(2);
      // Plaintext gRPC is a development fallback: production refuses it (TLS_CERT_FILE).
      const named = ["GRPC_PORT", "MONGODB_URI", "NATS_URL", "TLS_CERT_FILE", ...Object.keys(spec.invalid.settings), ...(spec.invalid.required ?? [])];
      for (const name of new Set(named)) expect(service.stderr()).toContain(name);
    });

    for (const scenario of spec.drains) {
      const body = (servers: Partial<Record<ServerVariable, string>>) => {
        it(
          scenario.title,
          async () => {
            const context: DrainContext = { users, servers };
            const service = launch({
              GRPC_HOST: "127.0.0.1",
              GRPC_PORT: "0",
              ...testIdentityEnv(spec.service),
              ...(users && { USERS_ADDRESS: users.address }),
              ...scenario.env?.(context),
            });
            const port = (await waitFor("gRPC server listening", () => service.logged("gRPC server listening"))).port as number;
            await waitFor(`${spec.service} service ready`, () => service.logged(`${spec.service} service ready`));
            const address = `127.0.0.1:${port}`;
            // A generous deadline: a loaded machine may take a while to open the first connection.
            const tls = { tls: testTls("gateway"), workload: spec.service };
            expect([await checkHealth(address, "", 5_000, tls), await checkHealth(address, spec.grpcService, 5_000, tls)]).toEqual(["SERVING", "SERVING"]);

            await scenario.run({ process: service, address, terminate: () => service.child.kill("SIGTERM") }, context);

            expect(await service.exited).toBe(0);
            expect(service.logged("shutting down")?.signal).toBe("SIGTERM");
            const stopping = service.indexOf("shutting down");
            const stopped = service.indexOf("shut down cleanly");
            expect(stopped).toBeGreaterThan(stopping);
            if (scenario.method) {
              // The call really was in flight: it finished after shutdown began, and before it ended.
              const finished = service.indexOf("rpc finished", scenario.method);
              expect(stopping).toBeLessThan(finished);
              if (scenario.finishedBeforeStopped) expect(finished).toBeLessThan(stopped);
            }
          },
          scenario.timeoutMs,
        );
      };
      if (scenario.servers?.length) describeWith(scenario.servers, scenario.title, (servers) => body(servers));
      else body({});
    }
  });
}
