import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Logger } from "../logger.js";

/**
 * Prometheus metrics, one registry per process: the embedded mesh runs every service in one
 * process, so every series carries a `service` label and each metric is made once, whoever asks
 * first. Recording is a map lookup and an add; nothing is computed until a scrape, and gauges that
 * read a state (outbox age, open streams) read it then.
 */
export const registry = new Registry();

let defaults = false;

/** Node's own series (event-loop delay, heap, GC, handles), added once per process. */
function nodeMetrics(): void {
  if (defaults) return;
  defaults = true;
  collectDefaultMetrics({ register: registry });
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Gauges whose value is read at scrape time from whoever registered a source for a label set. */
class ReadGauge {
  private readonly sources = new Map<string, { labels: Record<string, string>; read: () => number }>();
  readonly gauge: Gauge;

  constructor(name: string, help: string, labelNames: string[]) {
    const sources = this.sources;
    this.gauge = new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const { labels, read } of sources.values()) this.set(labels, read());
      },
    });
  }

  /** Reads `read()` at every scrape until the returned function is called. */
  source(labels: Record<string, string>, read: () => number): () => void {
    const key = JSON.stringify(labels);
    this.sources.set(key, { labels, read });
    return () => this.sources.delete(key);
  }
}

function build() {
  nodeMetrics();
  return {
    rpcDuration: new Histogram({
      name: "chirp_rpc_duration_seconds",
      help: "RPCs served, by method and status code (its _count is the rate): the gateway's per protocol call, each service's per gRPC call",
      labelNames: ["service", "method", "code"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    outboxPending: new ReadGauge("chirp_outbox_pending", "events recorded in the outbox and not yet published, as the relay last counted them (at most its batch size per pass)", ["service"]),
    outboxOldestAge: new ReadGauge("chirp_outbox_oldest_age_seconds", "age of the oldest unpublished outbox event (0 when none)", ["service"]),
    consumerPending: new Gauge({
      name: "chirp_consumer_pending",
      help: "messages waiting for a durable consumer, as JetStream said at the last delivery",
      labelNames: ["service", "consumer"],
      registers: [registry],
    }),
    consumerRedeliveries: new Counter({
      name: "chirp_consumer_redeliveries_total",
      help: "deliveries after the first, per event type",
      labelNames: ["service", "consumer", "event"],
      registers: [registry],
    }),
    consumerDeadLetters: new Counter({
      name: "chirp_consumer_dead_letters_total",
      help: "events given up after their last attempt and copied to the dead-letter stream",
      labelNames: ["service", "consumer", "event"],
      registers: [registry],
    }),
    consumerHandling: new Histogram({
      name: "chirp_consumer_handling_seconds",
      help: "time to handle one delivery, per event type and outcome (ok, failed)",
      labelNames: ["service", "consumer", "event", "outcome"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    fanOutLag: new Histogram({
      name: "chirp_fanout_lag_seconds",
      help: "from a post's creation to its last follower's timeline",
      labelNames: ["service"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    fanOutBatch: new Histogram({
      name: "chirp_fanout_batch_entries",
      help: "timeline entries written per fan-out batch",
      labelNames: ["service"],
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000],
      registers: [registry],
    }),
    celebrityMerges: new Counter({
      name: "chirp_celebrity_merges_total",
      help: "home timeline reads that merged celebrities' posts in at read time",
      labelNames: ["service"],
      registers: [registry],
    }),
    liveStreams: new ReadGauge("chirp_live_streams_open", "live timeline streams open", ["service"]),
    mongoConnections: new Gauge({
      name: "chirp_mongodb_pool_connections",
      help: "MongoDB driver pool connections: open, and checked out (in use)",
      labelNames: ["service", "state"],
      registers: [registry],
    }),
    natsConnected: new ReadGauge("chirp_nats_connected", "1 while the NATS connection is up, 0 while it is down or reconnecting", ["service"]),
  };
}

export type Metrics = ReturnType<typeof build>;

let metrics: Metrics | undefined;

/** The process's metrics, made on first use. */
export function kitMetrics(): Metrics {
  return (metrics ??= build());
}

/** The type label of an event: its subject without the `chirp.` prefix (a bounded set). */
export const eventLabel = (subject: string) => (subject.length <= 80 ? subject.replace(/^chirp\./, "") : "other");

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text format) on its own port, apart from any public one: only
 * the cluster's scraper should reach it. Anything else is 404.
 */
export async function serveMetrics(host: string, port: number, log: Logger): Promise<MetricsServer> {
  kitMetrics();
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (error: unknown) => {
        log.warn({ err: error }, "metrics could not be collected");
        res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  log.info({ port: bound }, "metrics listening on /metrics");
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
