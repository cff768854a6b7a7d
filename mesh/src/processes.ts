import { spawn, type ChildProcess } from "node:child_process";
import { createPublicKey } from "node:crypto";
import { createServer } from "node:net";
import { join } from "node:path";
import { addressVariable, createLogger, generateSigningKeyPair, SERVICES, type ConsumingServiceName, type Logger, type ServiceName } from "@chirp/kit";
import { checkHealth, MeshCertificateSet } from "@chirp/kit/grpc";
import { CONSUMED_SUBJECTS, prepareRun } from "./mesh.js";

type Env = Record<string, string | undefined>;

export interface MeshProcessesOptions {
  /** Settings every process gets (MONGODB_URI and NATS_URL are required), as each reads its own. */
  env: Env;
  /** A run of its own, as startMesh's `run`: databases `<run>_<service>`, consumers made at the streams' end. */
  run: string;
  log?: Logger;
  /** How long each process may take to be ready. */
  readyTimeoutMs?: number;
  /**
   * Another gateway entry point than gateway/dist/main.js, run the same way (the benchmark's,
   * which adds its do-nothing upstream to the catalogued ones).
   */
  gatewayEntry?: string;
  /**
   * Runs once the services are ready and before the gateway starts, with what a process of the
   * caller's own needs to join the mesh (the CA issues it a certificate; the key verifies the
   * callers' tokens); what it returns is added to the gateway's settings. Whatever it starts is
   * the caller's to stop.
   */
  beforeGateway?: (run: { certificates: MeshCertificateSet; publicKeyPem: string }) => Promise<Env>;
}

export interface MeshProcess {
  name: ServiceName | "gateway";
  pid: number;
  /** Where its /metrics is served, on 127.0.0.1. */
  metricsPort: number;
  /** Its gRPC port (a service), or its HTTP/1.1 port (the gateway). */
  port: number;
  /** The last lines of its log, for a failure's message. */
  logTail(): string;
}

export interface MeshProcesses {
  processes: MeshProcess[];
  gateway: { httpPort: number; http2Port: number };
  databases: Record<ServiceName, string>;
  consumers: Record<ConsumingServiceName, string>;
  /** The run's mesh CA and workload certificates (a benchmark or test calls a service directly as a workload). */
  certificates: MeshCertificateSet;
  /** SIGTERM to the gateway, then to the services in reverse order, each awaited; then the run's consumers and databases go. */
  stop(): Promise<void>;
}

const ROOT = join(__dirname, "../..");

/** A port the system says is free now, on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The mesh as Kubernetes runs it, on one machine: every catalogued service and the gateway a
 * process of its own, each from its built `dist/` (run `npm run build` first), with its own gRPC
 * or HTTP ports, its own /metrics port (METRICS_PORT), its own MongoDB and NATS connections and
 * its own tracer. For what is only seen from outside a process: one /metrics per process, spans
 * reported under each process's name. Listens on 127.0.0.1 only; `stop` ends what it started, by
 * PID.
 */
export async function startMeshProcesses(options: MeshProcessesOptions): Promise<MeshProcesses> {
  const { env, run, log = createLogger("mesh", "info"), readyTimeoutMs = 60_000 } = options;
  if (!env.MONGODB_URI || !env.NATS_URL) throw new Error("startMeshProcesses needs MONGODB_URI and NATS_URL: processes share nothing else");
  const signingKey = generateSigningKeyPair().privateKeyPem;
  const publicKey = createPublicKey(signingKey).export({ type: "spki", format: "pem" }).toString();
  const databases = Object.fromEntries(SERVICES.map(({ name }) => [name, `${run}_${name}`])) as Record<ServiceName, string>;
  const consumers = Object.fromEntries([...CONSUMED_SUBJECTS.keys()].map((name) => [name, `${run}_${name}`])) as Record<ConsumingServiceName, string>;

  // A throwaway mesh CA: each process speaks mutual TLS as its own workload.
  const certificates = new MeshCertificateSet();
  const cleanups: Array<() => Promise<unknown>> = [async () => certificates.remove()];
  const children: Array<{ process: MeshProcess; child: ChildProcess; exited: Promise<void> }> = [];
  const stop = async () => {
    for (const { child, exited } of children.splice(0).reverse()) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(killer);
    }
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => log.warn({ err: error }, "run cleanup failed"));
  };

  const launch = async (name: ServiceName | "gateway", args: string[], own: Env, port: number, metricsPort: number, ready: () => Promise<boolean>) => {
    // Only PATH and what is given: nothing of this process's environment leaks in unasked.
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? "", ...env, ...own, METRICS_PORT: String(metricsPort) }, stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const keep = (chunk: Buffer) => {
      tail.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      tail.splice(0, Math.max(0, tail.length - 40));
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const process_: MeshProcess = { name, pid: child.pid!, metricsPort, port, logTail: () => tail.join("\n") };
    children.push({ process: process_, child, exited });
    const deadline = Date.now() + readyTimeoutMs;
    while (!(await ready().catch(() => false))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited before it was ready:\n${process_.logTail()}`);
      if (Date.now() > deadline) throw new Error(`${name} was not ready within ${readyTimeoutMs / 1000} s:\n${process_.logTail()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return process_;
  };

  try {
    await prepareRun(env, databases, consumers, cleanups, false, log);
    const addresses: Env = {};
    for (const service of SERVICES) {
      const { name } = service;
      const [port, metricsPort] = [await freePort(), await freePort()];
      const consumer = consumers[name as ConsumingServiceName];
      // The consumer's name goes to its setting where the service has one, else to the launcher.
      const consumerSetting = "consumer" in service ? ("setting" in service.consumer ? { [service.consumer.setting]: consumer } : { MESH_CONSUMER_NAME: consumer }) : {};
      const own: Env = {
        ...addresses,
        ...consumerSetting,
        ...certificates.envOf(name),
        GRPC_HOST: "127.0.0.1",
        GRPC_PORT: String(port),
        MONGODB_DATABASE: databases[name],
        AUTH_PUBLIC_KEY: publicKey,
      };
      // The private key to the signer alone, as in the cluster.
      if (name === "users") own.AUTH_SIGNING_KEY = signingKey;
      await launch(name, [join(ROOT, "mesh/dist/service-process.js"), name], own, port, metricsPort, async () => (await checkHealth(`127.0.0.1:${port}`, service.grpcService, 1_000, { tls: certificates.filesOf("gateway"), workload: name })) === "SERVING");
      addresses[addressVariable(name)] = `127.0.0.1:${port}`;
    }
    const [httpPort, http2Port, metricsPort] = [await freePort(), await freePort(), await freePort()];
    const extra = options.beforeGateway ? await options.beforeGateway({ certificates, publicKeyPem: publicKey }) : {};
    const own: Env = { ...extra, ...addresses, HTTP_HOST: "127.0.0.1", HTTP_PORT: String(httpPort), HTTP2_PORT: String(http2Port), AUTH_PUBLIC_KEY: publicKey, ...certificates.envOf("gateway") };
    await launch("gateway", [options.gatewayEntry ?? join(ROOT, "gateway/dist/main.js")], own, httpPort, metricsPort, async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`, { signal: AbortSignal.timeout(1_000) })).status === 200);
    return { processes: children.map((c) => c.process), gateway: { httpPort, http2Port }, databases, consumers, certificates, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
