import { EnvReader, LOG_LEVELS, type Logger } from "@chirp/kit";

export interface TimelineConfig {
  serviceName: string;
  host: string;
  port: number;
  logLevel: (typeof LOG_LEVELS)[number];
  /** MongoDB when set; in-memory storage otherwise (development only). */
  mongo: { uri: string; database: string } | undefined;
  /** JetStream when set; an in-process bus otherwise (development only). */
  natsUrl: string | undefined;
  /** host:port of the services the timeline reads from. */
  upstreams: { users: string; tweets: string; graph: string };
  /** The durable JetStream consumer's name: every replica shares it, so each event is handled once. */
  consumerName: string;
  /** Authors with more followers than this are not fanned out; their posts are merged in at read time. */
  celebrityFollowers: number;
  /** How many of the newest entries each home timeline keeps. */
  timelineLength: number;
  /** How long public profiles asked of the users service are reused; 0 asks it every time. */
  profileCacheMs: number;
  shutdownDeadlineMs: number;
}

/**
 * Reads the service's settings from the environment. In production (NODE_ENV=production) the
 * development fallbacks are refused: MongoDB and NATS must be configured.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): TimelineConfig {
  const read = new EnvReader(env);
  const production = env.NODE_ENV === "production";
  const mongoUri = read.optionalString("MONGODB_URI");
  const natsUrl = read.optionalString("NATS_URL");
  if (production) {
    if (!mongoUri) read.problem("MONGODB_URI is required when NODE_ENV=production");
    if (!natsUrl) read.problem("NATS_URL is required when NODE_ENV=production");
  }
  const config: TimelineConfig = {
    serviceName: "timeline",
    host: read.string("GRPC_HOST", "0.0.0.0"),
    port: read.port("GRPC_PORT", 50054),
    logLevel: read.oneOf("LOG_LEVEL", LOG_LEVELS, "info"),
    mongo: mongoUri ? { uri: mongoUri, database: read.string("MONGODB_DATABASE", "chirp_timeline") } : undefined,
    natsUrl,
    upstreams: {
      users: read.string("USERS_ADDRESS", "127.0.0.1:50051"),
      tweets: read.string("TWEETS_ADDRESS", "127.0.0.1:50052"),
      graph: read.string("GRAPH_ADDRESS", "127.0.0.1:50053"),
    },
    consumerName: read.string("CONSUMER_NAME", "timeline"),
    celebrityFollowers: read.int("CELEBRITY_FOLLOWERS", 10_000, { min: 1 }),
    timelineLength: read.int("TIMELINE_LENGTH", 800, { min: 20, max: 10_000 }),
    profileCacheMs: read.int("PROFILE_CACHE_MS", 10_000, { min: 0, max: 3_600_000 }),
    shutdownDeadlineMs: read.int("SHUTDOWN_DEADLINE_MS", 15_000, { min: 1_000, max: 120_000 }),
  };
  if (!/^[A-Za-z0-9_-]+$/.test(config.consumerName)) read.problem(`CONSUMER_NAME may only hold letters, digits, "_" and "-", got "${config.consumerName}"`);
  read.done();
  return config;
}

/** Says out loud which development fallbacks are in use. */
export function warnAboutFallbacks(config: TimelineConfig, log: Logger): void {
  if (!config.mongo) log.warn("MONGODB_URI is not set: timelines are kept in memory and lost on exit");
  if (!config.natsUrl) log.warn("NATS_URL is not set: events come from an in-process bus that no other process sees");
}
