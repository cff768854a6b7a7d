import { pino, type DestinationStream, type Logger, type LevelWithSilent } from "pino";
import { activeSpanIds } from "./telemetry/context.js";

export type { Logger, LevelWithSilent };

export const LOG_LEVELS: readonly LevelWithSilent[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * Anything that might carry a credential is replaced before a log line is written: these keys at
 * the top of a line (or of a child logger's bindings) and one level down (`err.password`,
 * `headers.authorization`). pino's own `redact` did the same by path and cost about three times
 * the rest of a line (some 4–15 µs a line, two lines per forwarded call); this is one pass over
 * the line's keys and copies only what it changes, leaving the caller's objects untouched.
 */
const SECRET_KEYS = new Set(["password", "passwordHash", "accessToken", "authorization"]);
export const REDACTED = "[redacted]";

/** `object` with every secret key replaced, one level deep; `object` itself when it holds none. */
export function redactSecrets<T extends Record<string, unknown>>(object: T): T {
  let out: Record<string, unknown> | undefined;
  for (const key in object) {
    if (!Object.prototype.hasOwnProperty.call(object, key)) continue;
    const value = object[key];
    let replaced: unknown = value;
    if (SECRET_KEYS.has(key)) replaced = REDACTED;
    else if (value !== null && typeof value === "object" && !Array.isArray(value)) replaced = withoutSecrets(value as Record<string, unknown>);
    if (replaced !== value) (out ??= { ...object })[key] = replaced;
  }
  return (out ?? object) as T;
}

/** One level: the secret keys of `inner` replaced in a copy that keeps its prototype (an Error stays one, message and stack included). */
function withoutSecrets(inner: Record<string, unknown>): Record<string, unknown> {
  let found = false;
  for (const key in inner) {
    if (SECRET_KEYS.has(key) && Object.prototype.hasOwnProperty.call(inner, key)) {
      found = true;
      break;
    }
  }
  if (!found) return inner;
  const copy = Object.create(Object.getPrototypeOf(inner) as object | null, Object.getOwnPropertyDescriptors(inner)) as Record<string, unknown>;
  // An error's stack may be an accessor that answers only for the error itself (Node 24): copied
  // as the text it reads now.
  if (inner instanceof Error) Object.defineProperty(copy, "stack", { value: inner.stack, enumerable: false, writable: true, configurable: true });
  for (const key of SECRET_KEYS) {
    if (Object.prototype.hasOwnProperty.call(copy, key)) Object.defineProperty(copy, key, { value: REDACTED, enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

/**
 * Where every logger given no destination writes: stdout, the lines of one event-loop turn joined
 * into one write at the turn's end. pino's own default (sonic-boom, asynchronous) sends each line
 * to libuv's thread pool as a write of its own, and measures the growing buffer again for each
 * line: 2–12 µs of CPU a line besides its JSON, against 0.2–6.6 µs here (`npm run
 * bench:logs`). process.stdout writes files and pipes synchronously on Linux, so a line is out by
 * the end of its turn, in order, whichever logger of the process wrote it; what is still waiting
 * when the process exits is written by the exit handler.
 */
class StdoutLines implements DestinationStream {
  private lines: string[] = [];

  write(line: string): void {
    if (this.lines.push(line) === 1) setImmediate(this.flush);
  }

  /** Writes the lines waiting, if any. */
  readonly flush = (): void => {
    if (this.lines.length === 0) return;
    const text = this.lines.length === 1 ? this.lines[0]! : this.lines.join("");
    this.lines = [];
    process.stdout.write(text);
  };
}

let stdoutLines: StdoutLines | undefined;
function sharedStdout(): StdoutLines {
  if (!stdoutLines) {
    stdoutLines = new StdoutLines();
    process.on("exit", stdoutLines.flush);
  }
  return stdoutLines;
}

/**
 * pino's isoTime, written once per millisecond: a busy process logs several lines a millisecond,
 * and formatting the date was over half of a line's JSON in a gateway profile (about 1 % of
 * the gateway's CPU).
 */
let timeMs = NaN;
let timeField = "";
function isoTime(): string {
  const now = Date.now();
  if (now !== timeMs) {
    timeMs = now;
    timeField = `,"time":"${new Date(now).toISOString()}"`;
  }
  return timeField;
}

/** @param destination where lines go; stdout unless given (tests read them). */
export function createLogger(service: string, level: LevelWithSilent = "info", destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    timestamp: isoTime,
    formatters: { level: (label) => ({ level: label }), bindings: redactSecrets, log: redactSecrets },
    // A line written inside a recorded span names it, so logs and traces join on trace_id. A new
    // object every time: pino merges the line's own fields into what the mixin returns.
    mixin: () => activeSpanIds() ?? {},
  };
  const logger = pino(options, destination ?? sharedStdout());
  // pino formats only the root's bindings: a child's go through its `child`, which every
  // descendant inherits from this one.
  const child = logger.child as unknown as (this: unknown, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => Logger;
  logger.child = function (this: unknown, bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions) {
    return child.call(this, redactSecrets(bindings), childOptions);
  } as unknown as Logger["child"];
  return logger;
}

/**
 * Exits once every line logged so far is written: the lines of this turn (StdoutLines), and then
 * whatever stdout still holds, should it be asynchronous here (a pipe on another platform), once it
 * drains. `process.exit` alone would lose those lines. Exits anyway after `timeoutMs` should stdout
 * never drain (its reader gone). A logger with a destination of its own (a test's) is taken as written.
 */
export function exitAfterFlush(log: Logger, code: number, timeoutMs = 2_000): void {
  process.exitCode = code;
  const exit = () => process.exit(code);
  setTimeout(exit, timeoutMs).unref();
  const stream = (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  if (stream !== stdoutLines || !stdoutLines) return exit();
  stdoutLines.flush();
  if (process.stdout.writableLength > 0) process.stdout.once("drain", exit);
  else exit();
}
