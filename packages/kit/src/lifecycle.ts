import type { Logger } from "./logger.js";

interface Step {
  name: string;
  stop: () => Promise<void> | void;
}

/**
 * Ordered shutdown. Resources register as they start; on SIGTERM or SIGINT they stop in reverse
 * order (so the gRPC server stops taking calls and drains before the databases it uses close),
 * within a deadline after which the process exits anyway.
 */
export class Lifecycle {
  private readonly steps: Step[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly deadlineMs = 15_000,
  ) {}

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

  /** Exits the process after a graceful stop on SIGTERM/SIGINT, or a forced one past the deadline. */
  exitOnSignals(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      this.log.info({ signal }, "shutting down");
      const force = setTimeout(() => {
        this.log.error({ deadlineMs: this.deadlineMs }, "shutdown deadline passed; exiting");
        process.exit(1);
      }, this.deadlineMs);
      force.unref();
      void this.stop().then(() => {
        this.log.info("shut down cleanly");
        process.exit(0);
      });
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  }
}
