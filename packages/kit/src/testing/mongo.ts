import { afterAll, beforeAll } from "@jest/globals";
import type { Db } from "mongodb";
import { connectMongo, type MongoConnection } from "../mongo/connect.js";
import { testLogger, uniqueName } from "./support.js";

/**
 * A database of its own for a test file's MongoDB suite (call it inside `describeWith`): made
 * before the tests, dropped after them. Read it through the returned function inside tests and hooks.
 */
export function testDatabase(uri: string, prefix: string): () => Db {
  let connection: MongoConnection | undefined;
  beforeAll(async () => {
    connection = await connectMongo(uri, uniqueName(prefix), testLogger());
  });
  afterAll(async () => {
    await connection?.db.dropDatabase();
    await connection?.close();
  });
  return () => {
    if (!connection) throw new Error("the test database is made in beforeAll: read it inside tests and hooks");
    return connection.db;
  };
}
