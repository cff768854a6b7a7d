import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { SERVICES } from "@chirp/kit";
import { startCluster } from "./cluster.js";

/**
 * npm run cluster [-- --replicas 2 --replicas-of timeline=1 --gateways 1 --nats-nodes 3 --fresh]:
 * the mesh as separate processes on loopback, on the MongoDB at MONGODB_URI, until Ctrl-C.
 */
function parse(argv: string[]) {
  const options = { replicas: 2, replicasOf: {} as Record<string, number>, gateways: 1, natsNodes: 3, fresh: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const count = (v: string, max: number) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${arg}: ${v} is not a whole number from 1 to ${max}`);
      return n;
    };
    if (arg === "--replicas") options.replicas = count(value(), 8);
    else if (arg === "--gateways") options.gateways = count(value(), 8);
    else if (arg === "--nats-nodes") options.natsNodes = count(value(), 5);
    else if (arg === "--fresh") options.fresh = true;
    else if (arg === "--replicas-of") {
      const [name, n] = value().split("=");
      if (!SERVICES.some((s) => s.name === name)) throw new Error(`--replicas-of: no service "${name}" in the catalogue`);
      options.replicasOf[name!] = count(n ?? "", 8);
    } else throw new Error(`unknown option ${arg}`);
  }
  return options;
}

async function main() {
  const mongodbUri = process.env.MONGODB_URI;
  if (!mongodbUri) throw new Error("set MONGODB_URI: the cluster keeps its data in MongoDB");
  const natsServer = process.env.NATS_SERVER ?? execFileSync(resolve(__dirname, "../../../shared/nats/bin"), { encoding: "utf8" }).trim().split("\n").pop()!;
  const options = parse(process.argv.slice(2));
  const dir = resolve(__dirname, "../../.cluster");
  if (options.fresh) rmSync(dir, { recursive: true, force: true });
  const started = Date.now();
  const cluster = await startCluster({
    mongodbUri,
    databasePrefix: process.env.MONGODB_DATABASE_PREFIX ?? "chirp_cluster",
    dir,
    natsServer,
    natsNodes: options.natsNodes,
    streamReplicas: Math.min(3, options.natsNodes),
    replicas: options.replicas,
    replicasOf: options.replicasOf,
    gateways: options.gateways,
    gatewayHttp2Port: 8080,
    gatewayHttpPort: 8081,
  });
  const line = (m: { kind: string; index: number; address: string; pid(): number | undefined }) => `  ${`${m.kind} ${m.index + 1}`.padEnd(12)} pid ${String(m.pid()).padEnd(8)} ${m.address}`;
  console.log(`Chirp cluster is running (${((Date.now() - started) / 1000).toFixed(1)} s to start; logs in ${join(dir, "logs")})`);
  for (const m of [...cluster.nats, ...cluster.services, ...cluster.gateways]) console.log(line(m));
  console.log(`  web client and Connect: ${cluster.gatewayUrls[0]}   gRPC: ${cluster.gatewayHttp2[0]}   Ctrl-C stops everything`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log("stopping every process it started…");
    await cluster.stop();
    console.log("stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
