import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, openSync, closeSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { addressVariable, createLogger, SERVICES } from "@chirp/kit";
import { checkHealth, MeshCertificateSet } from "@chirp/kit/grpc";
import { STREAMS } from "@chirp/kit/events";
import { DEFAULT_STREAM_SETTINGS, JetStreamBus } from "@chirp/kit/nats";

/**
 * The mesh as separate processes on one machine: a NATS JetStream cluster, each service of the
 * catalogue as N processes, and the gateway, all on loopback, started and stopped by PID. For
 * `npm run cluster`, the fault tests and the benchmark. The processes are the built `dist/main.js`
 * of each workspace, configured only through their environment, as a deployment runs them.
 */

const ROOT = resolve(__dirname, "../..");

export interface ClusterOptions {
  mongodbUri: string;
  /** Databases are `<prefix>_<service>`. */
  databasePrefix: string;
  /** Where NATS keeps its data and every process its log. */
  dir: string;
  /** The nats-server binary. */
  natsServer: string;
  natsNodes?: number;
  /** JetStream replication of every stream (at most natsNodes). */
  streamReplicas?: number;
  /** Replicas of each service: a default, and per service name. */
  replicas?: number;
  replicasOf?: Record<string, number>;
  gateways?: number;
  /** The first gateway's ports (0: any free one); further gateways take free ports. */
  gatewayHttp2Port?: number;
  gatewayHttpPort?: number;
  /** Extra environment for every Chirp process (LOG_LEVEL, limits, …). */
  env?: Record<string, string>;
  /** Extra environment per process kind: a service name or "gateway". */
  envOf?: Record<string, Record<string, string>>;
}

/** One process the cluster started: kill it (by its PID) and start it again on the same ports. */
export interface Member {
  /** "users", "gateway", "nats". */
  kind: string;
  index: number;
  /** What it serves on: host:port (gRPC), or the gateway's HTTP/1.1 URL, or the NATS URL. */
  address: string;
  pid(): number | undefined;
  running(): boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

export interface Cluster {
  natsUrl: string;
  nats: Member[];
  services: Member[];
  gateways: Member[];
  /** host:port lists of every service, as <NAME>_ADDRESS. */
  addresses: Record<string, string>;
  /** HTTP/1.1 base URLs of the gateways (Connect, /healthz). */
  gatewayUrls: string[];
  gatewayHttp2: string[];
  /** Waits until every process answers its health check. */
  ready(timeoutMs?: number): Promise<void>;
  /** SIGTERM to every process it started, SIGKILL to any still running after 20 s. */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(200);
  }
}

/** A process started from a command, its output appended to a log file, restartable. */
function member(kind: string, index: number, address: string, command: string, args: string[], env: Record<string, string>, log: string, healthy: () => Promise<boolean>): Member & { healthy(): Promise<boolean> } {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  return {
    kind,
    index,
    address,
    pid: () => child?.pid,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    healthy,
    async start() {
      const fd = openSync(log, "a");
      try {
        child = spawn(command, args, { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", fd, fd] });
      } finally {
        closeSync(fd);
      }
      const started = child;
      exited = new Promise((r) => started.once("exit", () => r()));
    },
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolveOk) => {
    const req = httpGet(url, { timeout: 2_000 }, (res) => {
      res.resume();
      resolveOk(res.statusCode === 200);
    });
    req.on("error", () => resolveOk(false));
    req.on("timeout", () => req.destroy());
  });
}

/** The node answers, and its cluster has a JetStream leader (a stream can be made). */
async function jetStreamReady(url: string): Promise<boolean> {
  const bus = await JetStreamBus.connect(url, "chirp-cluster-probe", createLogger("cluster", "silent"));
  try {
    await bus.manager.getAccountInfo();
    return true;
  } finally {
    await bus.connection.close();
  }
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const nodes = options.natsNodes ?? 3;
  const streamReplicas = options.streamReplicas ?? Math.min(3, nodes);
  if (streamReplicas > nodes) throw new Error(`streams replicated ${streamReplicas} times need as many NATS nodes, not ${nodes}`);
  mkdirSync(join(options.dir, "logs"), { recursive: true });

  // NATS: one node, or a cluster whose nodes route to each other.
  const clientPorts = await Promise.all(Array.from({ length: nodes }, freePort));
  const routePorts = await Promise.all(Array.from({ length: nodes }, freePort));
  const nats = clientPorts.map((port, i) => {
    const storeDir = join(options.dir, `nats-${i + 1}`);
    mkdirSync(storeDir, { recursive: true });
    const conf = join(options.dir, `nats-${i + 1}.conf`);
    const cluster =
      nodes > 1
        ? `cluster {\n  name: chirp\n  listen: 127.0.0.1:${routePorts[i]}\n  routes: [${routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(", ")}]\n}\n`
        : "";
    writeFileSync(conf, `server_name: n${i + 1}\nlisten: 127.0.0.1:${port}\njetstream {\n  store_dir: "${storeDir}"\n  max_memory_store: 64MB\n  max_file_store: 2GB\n}\n${cluster}`);
    const url = `nats://127.0.0.1:${port}`;
    return member("nats", i, url, options.natsServer, ["-c", conf], {}, join(options.dir, "logs", `nats-${i + 1}.log`), () => jetStreamReady(url));
  });
  const natsUrl = nats.map((n) => n.address).join(",");

  // Ports first, so every process knows every other's addresses from the start.
  const replicasOf = (name: string) => options.replicasOf?.[name] ?? options.replicas ?? 2;
  const ports: Record<string, number[]> = {};
  for (const { name } of SERVICES) ports[name] = await Promise.all(Array.from({ length: replicasOf(name) }, freePort));
  const addresses = Object.fromEntries(SERVICES.map(({ name }) => [addressVariable(name), ports[name]!.map((p) => `127.0.0.1:${p}`).join(",")]));

  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  // Every process verifies the callers' tokens, and speaks mutual TLS with a certificate of a
  // throwaway mesh CA naming its workload (replicas of one service share theirs), in the run's directory.
  const certificates = new MeshCertificateSet(join(options.dir, "tls"));
  const common = {
    NATS_URL: natsUrl,
    STREAM_REPLICAS: String(streamReplicas),
    LOG_LEVEL: "info",
    AUTH_PUBLIC_KEY: publicKey.export({ type: "spki", format: "pem" }).toString(),
    ...addresses,
    ...options.env,
  };

  const services = SERVICES.flatMap(({ name, grpcService }) =>
    ports[name]!.map((port, i) => {
      const address = `127.0.0.1:${port}`;
      const env = {
        ...common,
        GRPC_HOST: "127.0.0.1",
        GRPC_PORT: String(port),
        MONGODB_URI: options.mongodbUri,
        MONGODB_DATABASE: `${options.databasePrefix}_${name}`,
        ...certificates.envOf(name),
        ...(name === "users" ? { AUTH_SIGNING_KEY: privateKey.export({ type: "pkcs8", format: "pem" }).toString() } : {}),
        ...options.envOf?.[name],
      };
      const main = join(ROOT, "services", name, "dist", "main.js");
      return member(name, i, address, process.execPath, [main], env, join(options.dir, "logs", `${name}-${i + 1}.log`), async () => (await checkHealth(address, grpcService, 2_000, { tls: certificates.filesOf("gateway"), workload: name })) === "SERVING");
    }),
  );

  const gatewayCount = options.gateways ?? 1;
  const gatewayPorts: Array<[number, number]> = [];
  for (let i = 0; i < gatewayCount; i++) {
    const http2 = i === 0 && options.gatewayHttp2Port ? options.gatewayHttp2Port : await freePort();
    const http = i === 0 && options.gatewayHttpPort ? options.gatewayHttpPort : await freePort();
    gatewayPorts.push([http2, http]);
  }
  const gateways = gatewayPorts.map(([http2, http], i) => {
    const env = {
      ...common,
      HTTP_HOST: "127.0.0.1",
      HTTP2_PORT: String(http2),
      HTTP_PORT: String(http),
      ...certificates.envOf("gateway"),
      ...options.envOf?.gateway,
    };
    const url = `http://127.0.0.1:${http}`;
    return member("gateway", i, url, process.execPath, [join(ROOT, "gateway", "dist", "main.js")], env, join(options.dir, "logs", `gateway-${i + 1}.log`), () => httpOk(`${url}/healthz`));
  });

  const all = [...nats, ...services, ...gateways];
  const ready = async (timeoutMs = 60_000) => {
    // A process that exited (a service gives up when NATS or MongoDB does not answer at start) is
    // started again, as Kubernetes would restart its container.
    const healthy = (m: (typeof all)[number]) => async () => {
      if (!m.running()) await m.start();
      return m.healthy();
    };
    for (const m of all) await until(`${m.kind} ${m.index + 1} (${m.address})`, healthy(m), timeoutMs);
  };
  const stop = async () => {
    const chirp = [...gateways, ...services];
    await Promise.all(chirp.map((m) => stopMember(m)));
    await Promise.all(nats.map((m) => stopMember(m)));
  };

  try {
    for (const n of nats) await n.start();
    for (const n of nats) await until(`NATS node ${n.index + 1} with JetStream`, () => n.healthy(), 30_000);
    // The streams made (replicated) once here, before a dozen processes would all declare them at once.
    await until("the streams", () => declareStreams(natsUrl, streamReplicas), 30_000);
    for (const s of services) await s.start();
    for (const g of gateways) await g.start();
    await ready();
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    natsUrl,
    nats,
    services,
    gateways,
    addresses,
    gatewayUrls: gateways.map((g) => g.address),
    gatewayHttp2: gatewayPorts.map(([http2]) => `127.0.0.1:${http2}`),
    ready,
    stop,
  };
}

async function declareStreams(natsUrl: string, replicas: number): Promise<boolean> {
  const bus = await JetStreamBus.connect(natsUrl, "chirp-cluster-admin", createLogger("cluster", "silent"));
  try {
    await bus.ensureStreams(Object.values(STREAMS), { ...DEFAULT_STREAM_SETTINGS, replicas });
    return true;
  } finally {
    await bus.connection.close();
  }
}

/** SIGTERM (a drain), then SIGKILL after 20 s. */
async function stopMember(m: Member): Promise<void> {
  if (!m.running()) return;
  const force = setTimeout(() => void m.kill("SIGKILL"), 20_000);
  await m.kill("SIGTERM");
  clearTimeout(force);
}
