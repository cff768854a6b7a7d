import { MongoClient, MongoServerError, type Collection, type Db, type Document, type Filter, type IndexDescription } from "mongodb";
import type { Logger } from "../logger.js";

export interface MongoConnection {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/** Connects and checks the server answers; each service passes its own database name. */
export async function connectMongo(uri: string, database: string, log: Logger, appName = database): Promise<MongoConnection> {
  const client = new MongoClient(uri, { appName, serverSelectionTimeoutMS: 10_000 });
  await client.connect();
  const db = client.db(database);
  await db.command({ ping: 1 });
  log.info({ database }, "connected to MongoDB");
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
