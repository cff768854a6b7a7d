import { ConfigError } from "./config.js";
import { createLogger, exitAfterFlush, type Logger, type LevelWithSilent } from "./logger.js";

interface Step {
  name: string;
  stop: () => Promise<void> | void;
}

/**
 * Ordered shutdown. Resources register as they start; on SIGTERM or SIGINT they stop in reverse
 * order, so the gRPC server stops taking calls and drains before the databases it uses close.
 */
export class Lifecycle {
  private readonly steps: Step[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly log: Logger) {}

  onStop(name: string, stop: Step["stop"]): void {
    this.steps.push({ name, stop });
  }

  /** Runs every stop step once, newest first; later calls wait for the same shutdown. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const step of [...this.steps].reverse()) {
        try {
          await step.stop();
          this.log.debug({ step: step.name }, "stopped");
        } catch (error) {
          this.log.error({ err: error, step: step.name }, "stop step failed");
        }
      }
    })();
    return this.stopping;
  }
}

export interface ServiceSettings {
  serviceName: string;
  logLevel: LevelWithSilent;
  shutdownDeadlineMs: number;
}

/**
 * A service's `main`: reads its configuration (exit code 2 with every problem listed when it is
 * invalid), starts it, and on SIGTERM or SIGINT stops it gracefully, or exits anyway once the
 * deadline passes.
 */
export function runService<C extends ServiceSettings>(
  load: () => C,
  start: (config: C, log: Logger) => Promise<{ stop(): Promise<void> }>,
): void {
  let config: C;
  try {
    config = load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  const log = createLogger(config.serviceName, config.logLevel);
  start(config, log).then(
    (app) => {
      const onSignal = (signal: NodeJS.Signals) => {
        log.info({ signal }, "shutting down");
        setTimeout(() => {
          log.error({ deadlineMs: config.shutdownDeadlineMs }, "shutdown deadline passed; exiting");
          exitAfterFlush(log, 1);
        }, config.shutdownDeadlineMs).unref();
        void app.stop().then(() => {
          log.info("shut down cleanly");
          exitAfterFlush(log, 0);
        });
      };
      process.once("SIGTERM", onSignal);
      process.once("SIGINT", onSignal);
    },
    (error: unknown) => {
      log.fatal({ err: error }, "failed to start");
      exitAfterFlush(log, 1);
    },
  );
}
