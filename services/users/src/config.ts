import { EnvReader, LOG_LEVELS, type Logger } from "@chirp/kit";

export interface UsersConfig {
  serviceName: string;
  host: string;
  port: number;
  logLevel: (typeof LOG_LEVELS)[number];
  /** MongoDB when set; in-memory storage otherwise (development only). */
  mongo: { uri: string; database: string } | undefined;
  /** JetStream when set; an in-process bus otherwise (development only). */
  natsUrl: string | undefined;
  auth: {
    /** PKCS#8 PEM Ed25519 key; a throwaway key is generated when unset (development only). */
    signingKeyPem: string | undefined;
    issuer: string;
    audience: string;
    tokenTtlSeconds: number;
  };
  /** log2 of scrypt's cost parameter N. */
  passwordHashCost: number;
  outboxPollMs: number;
  shutdownDeadlineMs: number;
}

const DEFAULT_DATABASE = "chirp_users";

/**
 * Reads the service's settings from the environment. In production (NODE_ENV=production) the
 * development fallbacks are refused: MongoDB, NATS and the signing key must be configured.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): UsersConfig {
  const read = new EnvReader(env);
  const production = env.NODE_ENV === "production";
  const mongoUri = read.optionalString("MONGODB_URI");
  const natsUrl = read.optionalString("NATS_URL");
  const signingKeyPem = read.optionalSecret("AUTH_SIGNING_KEY");
  if (production) {
    if (!mongoUri) read.problem("MONGODB_URI is required when NODE_ENV=production");
    if (!natsUrl) read.problem("NATS_URL is required when NODE_ENV=production");
    if (!signingKeyPem) read.problem("AUTH_SIGNING_KEY (or AUTH_SIGNING_KEY_FILE) is required when NODE_ENV=production");
  }
  const config: UsersConfig = {
    serviceName: "users",
    host: read.string("GRPC_HOST", "0.0.0.0"),
    port: read.port("GRPC_PORT", 50051),
    logLevel: read.oneOf("LOG_LEVEL", LOG_LEVELS, "info"),
    mongo: mongoUri ? { uri: mongoUri, database: read.string("MONGODB_DATABASE", DEFAULT_DATABASE) } : undefined,
    natsUrl,
    auth: {
      signingKeyPem,
      issuer: read.string("AUTH_ISSUER", "chirp"),
      audience: read.string("AUTH_AUDIENCE", "chirp"),
      tokenTtlSeconds: read.int("AUTH_TOKEN_TTL_SECONDS", 900, { min: 60, max: 86_400 }),
    },
    passwordHashCost: read.int("PASSWORD_HASH_COST", 15, { min: production ? 14 : 4, max: 20 }),
    outboxPollMs: read.int("OUTBOX_POLL_MS", 1_000, { min: 50, max: 60_000 }),
    shutdownDeadlineMs: read.int("SHUTDOWN_DEADLINE_MS", 15_000, { min: 1_000, max: 120_000 }),
  };
  read.done();
  return config;
}

/** What the admin command needs: the service's database, named by the same variables as for the service. */
export interface UsersDatabaseConfig {
  logLevel: (typeof LOG_LEVELS)[number];
  mongo: { uri: string; database: string };
}

export function loadDatabaseConfig(env: Record<string, string | undefined> = process.env): UsersDatabaseConfig {
  const read = new EnvReader(env);
  const mongoUri = read.optionalString("MONGODB_URI");
  // In memory, the accounts live inside the running process: no other process can reach them.
  if (!mongoUri) read.problem("MONGODB_URI is required: roles are stored with the accounts in the service's MongoDB database");
  const config: UsersDatabaseConfig = {
    // Quiet by default: the command prints its own answer.
    logLevel: read.oneOf("LOG_LEVEL", LOG_LEVELS, "warn"),
    mongo: { uri: mongoUri ?? "", database: read.string("MONGODB_DATABASE", DEFAULT_DATABASE) },
  };
  read.done();
  return config;
}

/** Says out loud which development fallbacks are in use. */
export function warnAboutFallbacks(config: UsersConfig, log: Logger): void {
  if (!config.mongo) log.warn("MONGODB_URI is not set: accounts are kept in memory and lost on exit");
  if (!config.natsUrl) log.warn("NATS_URL is not set: events go to an in-process bus that no other process sees");
  if (!config.auth.signingKeyPem) log.warn("AUTH_SIGNING_KEY is not set: tokens are signed with a throwaway key");
}
