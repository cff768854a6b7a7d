import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SERVICES } from "@chirp/kit";
import { freePort, startCluster, type Cluster, type ClusterOptions } from "../cluster.js";
import { Workload, type Counts, type Delivery } from "./workload.js";

/**
 * npm run test:faults [-- --only 1,3 --quick]: the fault tests. Each scenario starts its own
 * cluster (startCluster: every catalogued service twice, two gateways, 3 NATS nodes with streams
 * replicated 3 times) on a MongoDB of its own (../shared/mongo/start on a free port, so the shared
 * one is never stopped), puts a steady load of posts and home-timeline reads on it through both
 * gateways, does harm, and then checks every home timeline: each acknowledged post in its author's
 * and every follower's timeline exactly once. It prints a table and exits non-zero when anything
 * acknowledged was lost or duplicated, or a scenario did not recover in time. Loopback only;
 * everything it starts it stops, by PID.
 */

const ROOT = resolve(__dirname, "../../..");
const SHARED = resolve(ROOT, "../shared");
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stdout.write(`[faults ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

interface Result {
  scenario: string;
  counts: Counts;
  delivery: Delivery;
  /** From the end of the harm to every acknowledged post delivered. */
  recoveryMs: number | undefined;
  /** From the restart to every process answering its health check. */
  healthyMs?: number;
  notes: string[];
}

const args = process.argv.slice(2);
const only = args.includes("--only") ? args[args.indexOf("--only") + 1]!.split(",").map(Number) : [1, 2, 3, 4];
const quick = args.includes("--quick");
const USERS = quick ? 8 : 12;
const FOLLOWERS = quick ? 4 : 6;
const SETTLE_MS = 240_000;

async function privateMongo(): Promise<{ uri: string; stop(): void; start(): void; port: number }> {
  const port = await freePort();
  const start = () => execFileSync("bash", [join(SHARED, "mongo/start"), String(port)], { stdio: ["ignore", "ignore", "inherit"] });
  const stop = () => execFileSync("bash", [join(SHARED, "mongo/stop"), String(port)], { stdio: "ignore" });
  start();
  return { uri: `mongodb://127.0.0.1:${port}/`, port, start, stop };
}

async function withCluster(name: string, mongodbUri: string, body: (cluster: Cluster, workload: Workload) => Promise<Omit<Result, "scenario" | "counts">>): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), `chirp-faults-${name.slice(0, 1)}-`));
  const run = Date.now().toString(36).slice(-5);
  const natsServer = execFileSync(join(SHARED, "nats/bin"), { encoding: "utf8" }).trim().split("\n").pop()!;
  const options: ClusterOptions = {
    mongodbUri,
    databasePrefix: `faults_${run}`,
    dir,
    natsServer,
    replicas: 2,
    gateways: 2,
    env: { LOG_LEVEL: "warn", PASSWORD_HASH_COST: "12", OUTBOX_POLL_MS: "500" },
    envOf: { gateway: { WRITES_PER_MINUTE: "1000000", WRITE_BURST: "1000000", READS_PER_MINUTE: "1000000", READ_BURST: "1000000", UPSTREAM_TIMEOUT_MS: "10000" } },
  };
  log(`${name}: starting the cluster (logs in ${dir}/logs)`);
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster(options);
    const workload = new Workload(cluster.gatewayUrls, run);
    await workload.setUp(USERS, FOLLOWERS);
    const outcome = await body(cluster, workload);
    return { scenario: name, counts: workload.counts, ...outcome };
  } finally {
    await cluster?.stop();
    // The logs stay when something failed, to be read.
    if (!process.exitCode) rmSync(dir, { recursive: true, force: true });
  }
}

/** Load for `ms` while `harm` runs; then the load stops and every timeline is checked until settled. */
async function underLoad(workload: Workload, harm: () => Promise<number>): Promise<{ delivery: Delivery; recoveryMs: number | undefined }> {
  workload.start(3, 150);
  await pause(5_000);
  const harmEndedAt = await harm();
  await pause(5_000);
  await workload.stop();
  const { delivery, settledMs } = await workload.settle(SETTLE_MS);
  return { delivery, recoveryMs: settledMs === undefined ? undefined : Date.now() - harmEndedAt };
}

async function timed(what: () => Promise<void>): Promise<number> {
  const started = Date.now();
  await what();
  return Date.now() - started;
}

const scenarios: Record<number, (mongo: Awaited<ReturnType<typeof privateMongo>>) => Promise<Result>> = {
  1: (mongo) =>
    withCluster("1. kill -9 one replica of each service in turn", mongo.uri, async (cluster, workload) => {
      const notes: string[] = [];
      let healthyMs = 0;
      const outcome = await underLoad(workload, async () => {
        for (const kind of [...SERVICES.map((s) => s.name), "gateway"]) {
          const victim = [...cluster.services, ...cluster.gateways].find((m) => m.kind === kind && m.index === 0)!;
          const errorsBefore = workload.counts.clientErrors;
          log(`  kill -9 ${kind} 1 (pid ${victim.pid()})`);
          await victim.kill("SIGKILL");
          await pause(4_000);
          await victim.start();
          const ms = await timed(() => cluster.ready(60_000));
          healthyMs = Math.max(healthyMs, ms);
          await pause(2_000);
          notes.push(`${kind}: ${workload.counts.clientErrors - errorsBefore} client errors`);
        }
        return Date.now();
      });
      return { ...outcome, healthyMs, notes };
    }),
  2: (mongo) =>
    withCluster("2. kill -9 one of three NATS nodes", mongo.uri, async (cluster, workload) => {
      const node = cluster.nats[0]!;
      let healthyMs = 0;
      const outcome = await underLoad(workload, async () => {
        log(`  kill -9 NATS node 1 (pid ${node.pid()})`);
        await node.kill("SIGKILL");
        await pause(10_000);
        await node.start();
        healthyMs = await timed(() => cluster.ready(60_000));
        return Date.now();
      });
      return { ...outcome, healthyMs, notes: ["node down 10 s, then restarted"] };
    }),
  3: (mongo) =>
    withCluster("3. all of NATS stopped 15 s, then MongoDB 10 s", mongo.uri, async (cluster, workload) => {
      const outcome = await underLoad(workload, async () => {
        log("  stopping every NATS node");
        await Promise.all(cluster.nats.map((n) => n.kill("SIGTERM")));
        await pause(15_000);
        for (const n of cluster.nats) await n.start();
        await cluster.ready(60_000);
        await pause(5_000);
        log("  stopping MongoDB");
        mongo.stop();
        await pause(10_000);
        mongo.start();
        return Date.now();
      });
      return { ...outcome, notes: [] };
    }),
  4: (mongo) =>
    withCluster("4. kill -9 the whole mesh mid fan-out, restarted", mongo.uri, async (cluster, workload) => {
      const chirp = [...cluster.services, ...cluster.gateways];
      let healthyMs = 0;
      const outcome = await underLoad(workload, async () => {
        // A burst of posts, so fan-outs are in hand when everything dies.
        await Promise.all(workload.users.map((u) => workload.post(u)));
        log("  kill -9 every Chirp process");
        await Promise.all(chirp.map((m) => m.kill("SIGKILL")));
        const killedAt = Date.now();
        for (const m of chirp) await m.start();
        healthyMs = await timed(() => cluster.ready(60_000));
        return killedAt;
      });
      return { ...outcome, healthyMs, notes: ["restarted at once"] };
    }),
};

function table(results: Result[]): string {
  const rows = results.map((r) =>
    [
      r.scenario,
      r.counts.acknowledgedPosts,
      r.delivery.expected,
      r.delivery.lost,
      r.delivery.duplicated,
      r.recoveryMs === undefined ? "not settled" : `${(r.recoveryMs / 1000).toFixed(1)} s`,
      r.healthyMs === undefined ? "" : `${(r.healthyMs / 1000).toFixed(1)} s`,
      r.counts.clientErrors,
      r.counts.abandonedPosts,
      r.delivery.unacknowledgedDelivered,
      r.notes.join("; "),
    ].join(" | "),
  );
  return [
    "| scenario | acknowledged posts | timeline entries expected | lost | duplicated | recovered (all delivered) after | processes healthy after | client errors | posts abandoned | unacknowledged posts delivered | notes |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r} |`),
  ].join("\n");
}

async function main() {
  const mongo = await privateMongo();
  log(`private MongoDB on port ${mongo.port}`);
  const results: Result[] = [];
  try {
    for (const n of only) {
      const result = await scenarios[n]!(mongo);
      log(`${result.scenario}: ${JSON.stringify({ ...result.counts, ...result.delivery, recoveryMs: result.recoveryMs, healthyMs: result.healthyMs })}`);
      results.push(result);
    }
  } finally {
    mongo.stop();
    rmSync(`/tmp/devdb-${mongo.port}`, { recursive: true, force: true });
  }
  console.log(`\n${table(results)}\n`);
  const failed = results.filter((r) => r.delivery.lost > 0 || r.delivery.duplicated > 0 || r.recoveryMs === undefined || r.counts.abandonedPosts > 0);
  if (failed.length > 0) {
    console.error(`FAILED: ${failed.map((r) => r.scenario).join("; ")}`);
    process.exit(1);
  }
  console.log("every scenario: nothing acknowledged lost or duplicated, and recovered");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
