import { afterAll, beforeAll } from "vitest";
import { type DatabaseHandle, type OpenOptions, openDatabase, temporaryDatabase } from "./db.js";

/**
 * A database of its own for one test suite: made (migrated) before its tests, closed and dropped
 * after them. Call it inside a describe block; the handle it answers is usable from the suite's
 * own beforeAll on, which vitest runs after this one.
 */
export function suiteDatabase(purpose: string, options: OpenOptions = {}): DatabaseHandle & { url: string } {
  let database: { url: string; drop(): Promise<void> } | undefined;
  let opened: DatabaseHandle | undefined;
  beforeAll(async () => {
    database = await temporaryDatabase(purpose);
    opened = await openDatabase(database.url, { migrate: false, ...options });
  });
  afterAll(async () => {
    await opened?.close();
    await database?.drop();
  });
  const open = () => {
    if (!opened || !database)
      throw new Error(`the ${purpose} database is not open yet: use it from a hook or a test`);
    return { opened, database };
  };
  return {
    get db() {
      return open().opened.db;
    },
    get sql() {
      return open().opened.sql;
    },
    get url() {
      return open().database.url;
    },
    close: async () => await open().opened.close(),
  };
}
