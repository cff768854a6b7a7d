import { MongoClient, MongoServerError, type MongoClientOptions, type Collection, type Db, type Document, type Filter, type IndexDescription } from "mongodb";
import type { Logger } from "../logger.js";
import { SpanKind, SpanStatusCode, startChildSpan, type Span } from "../telemetry/context.js";
import { kitMetrics } from "../telemetry/metrics.js";

export interface MongoConnection {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/** What a service's connection reports: spans when it traces, its pool in the metrics. */
export interface MongoObservation {
  service: string;
  traced: boolean;
}

/** A service's own MongoDB user; both or neither. */
export interface MongoCredentials {
  username?: string | undefined;
  password?: string | undefined;
}

/**
 * The driver's options for a user: authenticated against the service's own database (where its
 * user is made, with rights on that database only), unless the URI names its own `authSource`.
 */
export function credentialOptions(uri: string, database: string, credentials: MongoCredentials = {}): MongoClientOptions {
  const { username, password } = credentials;
  if (username === undefined && password === undefined) return {};
  if (!username || !password) throw new Error("MONGODB_USERNAME and MONGODB_PASSWORD go together: set both or neither");
  const named = /[?&]authSource=/i.test(uri);
  return { auth: { username, password }, ...(named ? {} : { authSource: database }) };
}

/** Connects and checks the server answers; each service passes its own database name (and its user, when it has one). */
export async function connectMongo(
  uri: string,
  database: string,
  log: Logger,
  appName = database,
  observation?: MongoObservation,
  credentials?: MongoCredentials,
): Promise<MongoConnection> {
  const client = new MongoClient(uri, { appName, serverSelectionTimeoutMS: 10_000, monitorCommands: observation?.traced ?? false, ...credentialOptions(uri, database, credentials) });
  if (observation) observe(client, observation);
  const db = client.db(database);
  try {
    await client.connect();
    await db.command({ ping: 1 });
  } catch (error) {
    // A refused user or an unreachable server: nothing is left open behind the failed start.
    await client.close().catch(() => undefined);
    throw error;
  }
  // The user's name, never its password.
  log.info({ database, ...(credentials?.username ? { user: credentials.username } : {}) }, "connected to MongoDB");
  return { client, db, close: () => client.close() };
}

/**
 * For a duplicate-key error, the name of the unique index the write collided with: "" when the
 * server does not say (MongoDB names it, FerretDB does not). undefined for any other error.
 */
export function duplicateKeyIndex(error: unknown): string | undefined {
  if (!(error instanceof MongoServerError) || error.code !== 11000) return undefined;
  return /index: (\S+)/.exec(error.message)?.[1] ?? "";
}

/**
 * Creates the indexes a collection needs at start-up, skipping those that exist by name. One
 * index per command: FerretDB fails on a multi-index createIndexes whose indexes already exist.
 */
export async function ensureIndexes<T extends Document>(collection: Collection<T>, indexes: IndexDescription[]): Promise<void> {
  const existing = new Set(
    (await collection.listIndexes().toArray().catch((error: unknown) => {
      if (error instanceof MongoServerError && error.codeName === "NamespaceNotFound") return [];
      throw error;
    })).map((index) => index.name as string),
  );
  for (const index of indexes) {
    if (!index.name) throw new Error("every index needs a name");
    if (!existing.has(index.name)) await collection.createIndexes([index]);
  }
}

/**
 * How many documents matching `match` hold each of `values` in `field`, in one grouped query
 * (an index on `field` answers it): the counts stores show beside lists, such as a tweet's likes.
 * Values no document holds are absent from the map.
 */
export async function countBy<T extends Document>(collection: Collection<T>, field: string, values: string[], match: Filter<T> = {}): Promise<Map<string, number>> {
  if (values.length === 0) return new Map();
  const rows = await collection
    .aggregate<{ _id: string; n: number }>([{ $match: { ...match, [field]: { $in: values } } }, { $group: { _id: `$${field}`, n: { $sum: 1 } } }])
    .toArray();
  return new Map(rows.map((row) => [row._id, row.n]));
}

/**
 * A client span per command issued inside a recorded span (the driver announces a command in the
 * async context of the operation that sent it), and the pool's open and checked-out connections.
 * Command monitoring is only switched on when the service traces.
 */
function observe(client: MongoClient, { service, traced }: MongoObservation): void {
  const pool = kitMetrics().mongoConnections;
  const open = pool.labels({ service, state: "open" });
  const inUse = pool.labels({ service, state: "in_use" });
  client.on("connectionCreated", () => open.inc());
  client.on("connectionClosed", () => open.dec());
  client.on("connectionCheckedOut", () => inUse.inc());
  client.on("connectionCheckedIn", () => inUse.dec());
  if (!traced) return;
  const spans = new Map<number, Span>();
  client.on("commandStarted", (event) => {
    const target = event.command[event.commandName];
    const collection = typeof target === "string" ? target.slice(0, 100) : undefined;
    const child = startChildSpan(`${event.commandName} ${event.databaseName}${collection ? `.${collection}` : ""}`, SpanKind.CLIENT, {
      "db.system.name": "mongodb",
      "db.namespace": event.databaseName,
      "db.operation.name": event.commandName,
      ...(collection ? { "db.collection.name": collection } : {}),
    });
    if (child) spans.set(event.requestId, child.span);
  });
  client.on("commandSucceeded", (event) => {
    spans.get(event.requestId)?.end();
    spans.delete(event.requestId);
  });
  client.on("commandFailed", (event) => {
    const span = spans.get(event.requestId);
    if (!span) return;
    span.setStatus({ code: SpanStatusCode.ERROR, message: String(event.failure?.message ?? "failed").slice(0, 200) });
    span.end();
    spans.delete(event.requestId);
  });
}
