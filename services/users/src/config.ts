import {
  AUTH_PUBLIC_KEY,
  callerTokenSettings,
  defineConfig,
  LOG_LEVEL,
  mongoDatabase,
  MONGODB_PASSWORD,
  MONGODB_USERNAME,
  OUTBOX_POLL_MS,
  serviceSettings,
  setting,
  type ConfigOf,
} from "@chirp/kit";

/**
 * The users service's settings. In production (NODE_ENV=production) the development fallbacks are
 * refused: MongoDB, NATS and the signing key must be configured.
 */
export const schema = defineConfig({
  ...serviceSettings("users", 50051),
  // It verifies the tokens it signs itself; other keys are for a rotation of the signing key.
  tokens: {
    ...callerTokenSettings(),
    publicKeysPem: AUTH_PUBLIC_KEY.with({ fallback: undefined, production: undefined, unset: "only its own signing key's tokens verify" }),
  },
  auth: {
    signingKeyPem: setting.optionalSecret("AUTH_SIGNING_KEY", {
      doc: "PKCS#8 PEM Ed25519 private key the tokens are signed with",
      unset: "a throwaway key",
      fallback: "tokens are signed with a throwaway key",
      production: { required: true },
    }),
    tokenTtlSeconds: setting.int("AUTH_TOKEN_TTL_SECONDS", { default: 900, min: 60, max: 86_400, doc: "access token lifetime" }),
    refreshTtlSeconds: setting.int("REFRESH_TOKEN_TTL_SECONDS", {
      default: 30 * 86_400,
      min: 300,
      max: 365 * 86_400,
      doc: "a session ends when not refreshed for this long (each refresh starts it again)",
    }),
  },
  passwordHashCost: setting.int("PASSWORD_HASH_COST", { default: 15, min: 4, max: 20, production: { min: 14 }, doc: "log2 of scrypt's N" }),
  outboxPollMs: OUTBOX_POLL_MS,
});

export type UsersConfig = ConfigOf<typeof schema>;

export const loadConfig = schema.load;

/** What the admin command needs: the service's database, named by the same variables as for the service. */
export const databaseSchema = defineConfig({
  // Quiet by default: the command prints its own answer.
  logLevel: LOG_LEVEL.with({ default: "warn" }),
  mongo: {
    // In memory, the accounts live inside the running process: no other process can reach them.
    uri: setting.requiredText("MONGODB_URI", { doc: "MongoDB connection string", required: "roles are stored with the accounts in the service's MongoDB database" }),
    database: mongoDatabase("chirp_users"),
    username: MONGODB_USERNAME,
    password: MONGODB_PASSWORD,
  },
});

export type UsersDatabaseConfig = ConfigOf<typeof databaseSchema>;

export const loadDatabaseConfig = databaseSchema.load;
