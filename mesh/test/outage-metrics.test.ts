/**
 * What an operator sees during a NATS outage, from the processes' own /metrics: the mesh runs as
 * separate processes on MongoDB and on a NATS JetStream server of this test's own (stopped and
 * started again here, which the shared one must never be). While NATS is down every process
 * reports its connection down, a post is still accepted and waits in tweets' outbox, whose pending
 * count and oldest age show it; once NATS is back the relay publishes it, the gauges fall back,
 * and the post reaches its follower's timeline.
 *
 * The nats-server binary comes from NATS_SERVER_BIN or ../shared/nats/bin; without one the suite
 * is reported as skipped, with the reason.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createLogger } from "@chirp/kit";
import { describeWith, eventually, scrapeMetrics, seriesValue, uniqueName } from "@chirp/kit/testing";
import { startMeshProcesses, type MeshProcesses } from "../src/processes.js";
import { publicApi } from "./public-api.js";

function natsServerBinary(): string | undefined {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  const script = resolve(__dirname, "../../../shared/nats/bin");
  if (!existsSync(script)) return undefined;
  const result = spawnSync(script, { encoding: "utf8", timeout: 600_000 });
  const path = result.stdout.trim().split("\n").at(-1);
  return result.status === 0 && path && existsSync(path) ? path : undefined;
}

const binary = natsServerBinary();
const title = "metrics through a NATS outage, the mesh as separate processes";
if (!binary) {
  describe.skip(`${title} (SKIPPED: no nats-server binary: set NATS_SERVER_BIN or provide ../shared/nats/bin)`, () => {
    it("needs nats-server", () => undefined);
  });
} else {
  // MONGODB_URI for the data; NATS_URL only gates the suite as every JetStream suite is gated
  // (the processes use this test's own server).
  describeWith(["MONGODB_URI", "NATS_URL"], title, ({ MONGODB_URI }) => {
    const store = mkdtempSync(join(tmpdir(), "chirp-outage-nats-"));
    let port = 0;
    let nats: ChildProcess | undefined;
    let mesh: MeshProcesses;
    let api: string;

    const answers = () =>
      new Promise<boolean>((done) => {
        const socket = connect(port, "127.0.0.1", () => (socket.destroy(), done(true)));
        socket.on("error", () => done(false));
      });
    async function startNats(): Promise<void> {
      nats = spawn(binary!, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store], { stdio: "ignore" });
      await eventually(async () => expect(await answers()).toBe(true), 10_000, 100);
    }
    async function stopNats(): Promise<void> {
      const running = nats;
      nats = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((done) => running.once("exit", done));
      running.kill("SIGTERM");
      await exited;
    }

    beforeAll(async () => {
      const probe = createServer();
      await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
      port = (probe.address() as { port: number }).port;
      await new Promise((done) => probe.close(done));
      await startNats();
      mesh = await startMeshProcesses({
        env: { MONGODB_URI, NATS_URL: `nats://127.0.0.1:${port}`, PASSWORD_HASH_COST: "4", OUTBOX_POLL_MS: "200" },
        run: uniqueName("outage"),
        log: createLogger("mesh", "silent"),
      });
      api = `http://127.0.0.1:${mesh.gateway.httpPort}`;
    }, 120_000);

    afterAll(async () => {
      // NATS up again first, so the processes and the run's cleanup find it.
      if (!nats) await startNats().catch(() => undefined);
      await mesh?.stop();
      await stopNats();
      rmSync(store, { recursive: true, force: true });
    }, 120_000);

    const ok = (method: string, body: object, token?: string) => publicApi(api).ok(method, body, token);
    const account = (name: string) => publicApi(api).account(name);

    const tweets = async () => scrapeMetrics(mesh.processes.find((p) => p.name === "tweets")!.metricsPort);
    const gauge = async (name: string) => seriesValue(await tweets(), name, { service: "tweets" });

    it("shows the connection down and the post waiting in the outbox, then both recovered and the post delivered", async () => {
      const author = await account("author");
      const reader = await account("reader");
      await publicApi(api).follow(reader, author);
      await eventually(async () => expect(await gauge("chirp_outbox_pending")).toBe(0), 10_000, 100);
      expect(await gauge("chirp_nats_connected")).toBe(1);

      await stopNats();
      for (const process of mesh.processes.filter((p) => p.name !== "gateway")) {
        await eventually(async () => expect([process.name, seriesValue(await scrapeMetrics(process.metricsPort), "chirp_nats_connected")]).toEqual([process.name, 0]), 10_000, 100);
      }
      const posted = await ok("chirp.tweets.v1.TweetsService/CreateTweet", { text: "written during the outage" }, author.token);
      await eventually(async () => expect(await gauge("chirp_outbox_pending")).toBeGreaterThanOrEqual(1), 10_000, 100);
      const age = await gauge("chirp_outbox_oldest_age_seconds");
      expect(age).toBeGreaterThan(0);
      // The oldest waits on: its age grows with the outage.
      await new Promise((done) => setTimeout(done, 1_500));
      expect(await gauge("chirp_outbox_oldest_age_seconds")).toBeGreaterThan(age + 1);

      await startNats();
      await eventually(async () => expect(await gauge("chirp_nats_connected")).toBe(1), 20_000, 200);
      await eventually(async () => {
        expect(await gauge("chirp_outbox_pending")).toBe(0);
        expect(await gauge("chirp_outbox_oldest_age_seconds")).toBe(0);
      }, 30_000, 200);
      await eventually(async () => {
        const home = await ok("chirp.timeline.v1.TimelineService/GetHomeTimeline", { pageSize: 5 }, reader.token);
        expect(JSON.stringify(home)).toContain(posted.tweet.id);
      }, 30_000, 200);
    }, 120_000);
  });
}
