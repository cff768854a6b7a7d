import { EnvReader, LOG_LEVELS, type Logger } from "@chirp/kit";

export interface GraphConfig {
  serviceName: string;
  host: string;
  port: number;
  logLevel: (typeof LOG_LEVELS)[number];
  /** MongoDB when set; in-memory storage otherwise (development only). */
  mongo: { uri: string; database: string } | undefined;
  /** JetStream when set; an in-process bus otherwise (development only). */
  natsUrl: string | undefined;
  /** host:port of the users service, asked before every write whether the caller's account is live. */
  upstreams: { users: string };
  /** The durable consumer of UserCreated and UserDeleted: replicas share it, so each event reaches one of them. */
  userEventsConsumer: string;
  outboxPollMs: number;
  shutdownDeadlineMs: number;
}

/** What JetStream accepts as a durable consumer name, kept to characters safe everywhere. */
const CONSUMER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Reads the service's settings from the environment. In production (NODE_ENV=production) the
 * development fallbacks are refused: MongoDB and NATS must be configured.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): GraphConfig {
  const read = new EnvReader(env);
  const mongoUri = read.optionalString("MONGODB_URI");
  const natsUrl = read.optionalString("NATS_URL");
  if (env.NODE_ENV === "production") {
    if (!mongoUri) read.problem("MONGODB_URI is required when NODE_ENV=production");
    if (!natsUrl) read.problem("NATS_URL is required when NODE_ENV=production");
  }
  const userEventsConsumer = read.string("USER_EVENTS_CONSUMER", "graph_user_events");
  if (!CONSUMER_NAME.test(userEventsConsumer)) {
    read.problem(`USER_EVENTS_CONSUMER must be 1 to 64 letters, digits, "_" or "-", got "${userEventsConsumer}"`);
  }
  const config: GraphConfig = {
    serviceName: "graph",
    host: read.string("GRPC_HOST", "0.0.0.0"),
    port: read.port("GRPC_PORT", 50053),
    logLevel: read.oneOf("LOG_LEVEL", LOG_LEVELS, "info"),
    mongo: mongoUri ? { uri: mongoUri, database: read.string("MONGODB_DATABASE", "chirp_graph") } : undefined,
    natsUrl,
    upstreams: { users: read.string("USERS_ADDRESS", "127.0.0.1:50051") },
    userEventsConsumer,
    outboxPollMs: read.int("OUTBOX_POLL_MS", 1_000, { min: 50, max: 60_000 }),
    shutdownDeadlineMs: read.int("SHUTDOWN_DEADLINE_MS", 15_000, { min: 1_000, max: 120_000 }),
  };
  read.done();
  return config;
}

/** Says out loud which development fallbacks are in use. */
export function warnAboutFallbacks(config: GraphConfig, log: Logger): void {
  if (!config.mongo) log.warn("MONGODB_URI is not set: follows are kept in memory and lost on exit");
  if (!config.natsUrl) log.warn("NATS_URL is not set: events go to an in-process bus that no other process sees");
}
