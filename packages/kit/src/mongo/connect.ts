import { MongoClient, MongoServerError, type Db } from "mongodb";
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
 * The name of the unique index a write collided with, or undefined when the error is not a
 * duplicate key. MongoDB names it in `keyPattern`; FerretDB only in the message text.
 */
export function duplicateKeyIndex(error: unknown): string | undefined {
  if (!(error instanceof MongoServerError) || error.code !== 11000) return undefined;
  return /index: (\S+)/.exec(error.message)?.[1] ?? Object.keys((error as { keyPattern?: object }).keyPattern ?? {}).join("_");
}
