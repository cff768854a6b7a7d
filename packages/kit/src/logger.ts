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
