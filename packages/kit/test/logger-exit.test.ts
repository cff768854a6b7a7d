import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";

const kit = join(__dirname, "..", "dist", "index.js");

/** Runs a script that logs `count` lines through the kit's logger, the last one just before it exits. */
function logThenExit(count: number, code: number): Promise<{ exitCode: number | null; lines: string[] }> {
  const script = `
    const { createLogger, exitAfterFlush } = require(${JSON.stringify(kit)});
    const log = createLogger("exit-test");
    const filler = "x".repeat(200);
    for (let i = 0; i < ${count}; i++) log.info({ i, filler }, "line");
    // By now the slow reader has let stdout fill: a write is in flight (or waiting to be retried).
    setTimeout(() => {
      log.info("last");
      exitAfterFlush(log, ${code});
    }, 50);
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    // Read slowly, as a busy log collector would, so the writer's buffer fills and writes are in flight at exit.
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 1);
    });
    child.once("error", reject);
    child.once("close", (exitCode) => resolve({ exitCode, lines: out.split("\n").filter(Boolean) }));
  });
}

describe("exitAfterFlush", () => {
  it("exits with the code given once every line logged before it is written, in order", async () => {
    const { exitCode, lines } = await logThenExit(5_000, 3);
    expect(exitCode).toBe(3);
    const messages = lines.map((line) => JSON.parse(line) as { msg: string; i?: number });
    expect(messages).toHaveLength(5_001);
    expect(messages.at(-1)!.msg).toBe("last");
    expect(messages.slice(0, -1).map((m) => m.i)).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
  }, 30_000);
});
