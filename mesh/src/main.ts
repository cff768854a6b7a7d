import { createLogger, exitAfterFlush, LOG_LEVELS, type LevelWithSilent } from "@chirp/kit";
import { seedDemo } from "./demo.js";
import { startMesh } from "./mesh.js";

/** `npm start`: the whole mesh in this process; `npm start -- --demo` adds demo data. */
async function main(): Promise<void> {
  const level = (LOG_LEVELS as readonly string[]).includes(process.env.LOG_LEVEL ?? "") ? (process.env.LOG_LEVEL as LevelWithSilent) : "info";
  const log = createLogger("mesh", level);
  const mesh = await startMesh({ env: process.env, log });
  const url = `http://localhost:${mesh.gateway.httpPort}`;
  if (process.argv.includes("--demo")) await seedDemo(url, log, mesh.roles);
  const storage = process.env.MONGODB_URI ? "MongoDB" : "memory";
  const events = process.env.NATS_URL ? "NATS JetStream" : "an in-process bus";
  process.stdout.write(
    `\nChirp is running (storage: ${storage}, events: ${events})\n` +
      `  web client and Connect (HTTP/1.1): ${url}\n` +
      `  gRPC, gRPC-Web and Connect (HTTP/2 cleartext): localhost:${mesh.gateway.http2Port}\n\n`,
  );
  const stop = (signal: NodeJS.Signals) => {
    log.info({ signal }, "shutting down");
    setTimeout(() => exitAfterFlush(log, 1), 15_000).unref();
    void mesh.stop().then(() => {
      log.info("shut down cleanly");
      exitAfterFlush(log, 0);
    });
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`chirp: failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
