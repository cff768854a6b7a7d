import { pino, type DestinationStream, type Logger, type LevelWithSilent } from "pino";
import { activeSpanIds } from "./telemetry/context.js";

export type { Logger, LevelWithSilent };

export const LOG_LEVELS: readonly LevelWithSilent[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** Anything that might carry a credential is replaced before a log line is written. */
const REDACTED_PATHS = [
  "password",
  "*.password",
  "passwordHash",
  "*.passwordHash",
  "accessToken",
  "*.accessToken",
  "authorization",
  "*.authorization",
  'headers["authorization"]',
];

/** @param destination where lines go; stdout unless given (tests read them). */
export function createLogger(service: string, level: LevelWithSilent = "info", destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    // A line written inside a recorded span names it, so logs and traces join on trace_id. A new
    // object every time: pino merges the line's own fields into what the mixin returns.
    mixin: () => activeSpanIds() ?? {},
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Exits once every line logged so far is written. Lines go to stdout through sonic-boom's
 * asynchronous buffer, and `process.exit` while a write is in flight (stdout full, its reader slow)
 * loses that write's lines or puts the last lines ("shut down cleanly") before them. pino's
 * `flush(cb)` answers at once with the default buffer size, so this waits for the stream's own
 * "drain", which it emits when its buffer has emptied. Whether a write is in flight is sonic-boom's
 * `_writing`; a stream without it (a test's destination) is taken as written. Exits anyway after
 * `timeoutMs` should stdout never drain (its reader gone).
 */
export function exitAfterFlush(log: Logger, code: number, timeoutMs = 2_000): void {
  process.exitCode = code;
  const exit = () => process.exit(code);
  setTimeout(exit, timeoutMs).unref();
  const stream = (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { _writing?: boolean; once?: (event: string, listener: () => void) => void } | undefined;
  if (stream?._writing === true && typeof stream.once === "function") stream.once("drain", exit);
  else exit();
}
