#!/usr/bin/env node
// `npm run bench:logs`: the CPU one access log line costs a process, written the way the kit writes
// them (packages/kit/src/logger.ts: the lines of an event-loop turn joined into one synchronous
// stdout write) and the way pino writes by default (sonic-boom, one asynchronous write on libuv's
// thread pool per line), with the same fields and options. Each writer is a child process pinned to
// CPU 1 logging a fixed number of lines, so many per turn, to a pipe this process drains on CPU 0,
// as a container runtime drains a service's stdout; its own CPU (every thread's) is the figure.
// A third child formats the same lines and writes none: what is left above it is the writing.
// Alternating rounds, so that the machine's noise falls on all alike. Needs a build.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const TURNS = 20_000;
const ROUNDS = 3;
const PER_TURN = [1, 4, 16];

if (process.argv[2] === "--child") {
  const { createLogger } = require("@chirp/kit");
  const { pino } = require("pino");
  const [, , , writer, perTurnText] = process.argv;
  const perTurn = Number(perTurnText);
  const destinations = { pino: () => pino.destination({ dest: 1, sync: false }), none: () => ({ write: () => undefined }) };
  const log = writer === "kit" ? createLogger("bench", "info") : createLogger("bench", "info", destinations[writer]());
  // An access line as the gateway writes one for each call.
  const fields = { requestId: "0b7a0f53-3f8e-4f5e-9a43-0e1c0e3b6a1d", method: "chirp.loadtest.v1.LoadTestService/Noop", path: "direct", code: "OK", durationMs: 0.42 };
  const started = process.cpuUsage();
  let turn = 0;
  const step = () => {
    for (let i = 0; i < perTurn; i++) log.info(fields, "rpc finished");
    if (++turn < TURNS) return void setImmediate(step);
    // The last lines out before the clock stops: a turn for the kit's, the stream's drain for pino's.
    setTimeout(() => {
      const { user, system } = process.cpuUsage(started);
      process.stderr.write(`${JSON.stringify({ us: (user + system) / (TURNS * perTurn) })}\n`);
    }, 200);
  };
  step();
} else {
  const measure = (writer, perTurn) =>
    new Promise((resolve, reject) => {
      const child = spawn("taskset", ["-c", "1", process.execPath, new URL(import.meta.url).pathname, "--child", writer, String(perTurn)], { stdio: ["ignore", "pipe", "pipe"] });
      let lines = 0;
      let report = "";
      child.stdout.on("data", (chunk) => (lines += chunk.toString("latin1").split("\n").length - 1));
      child.stderr.on("data", (chunk) => (report += chunk));
      child.once("error", reject);
      child.once("close", (code) => {
        if (code !== 0 || lines !== (writer === "none" ? 0 : TURNS * perTurn)) return reject(new Error(`${writer}: exit ${code}, ${lines} lines of ${TURNS * perTurn}: ${report}`));
        resolve(JSON.parse(report).us);
      });
    });
  console.log(`bench:logs ${new Date().toISOString()}; Node ${process.version}; ${TURNS} turns per writer, ${ROUNDS} rounds; µs of CPU per line (the best round)`);
  console.log("\n| lines per turn | formatted, not written | pino's default writer | the kit's | writing alone: pino's | the kit's | the kit's / pino's |\n|---|---|---|---|---|---|---|");
  for (const perTurn of PER_TURN) {
    const best = { none: Infinity, pino: Infinity, kit: Infinity };
    for (let round = 0; round < ROUNDS; round++) {
      for (const writer of ["none", "pino", "kit"]) best[writer] = Math.min(best[writer], await measure(writer, perTurn));
    }
    const [pinoWrites, kitWrites] = [best.pino - best.none, best.kit - best.none];
    console.log(`| ${perTurn} | ${best.none.toFixed(2)} | ${best.pino.toFixed(2)} | ${best.kit.toFixed(2)} | ${pinoWrites.toFixed(2)} | ${kitWrites.toFixed(2)} | ${(kitWrites / pinoWrites).toFixed(2)} |`);
  }
}
