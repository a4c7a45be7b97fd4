import { silentLogger } from "@atoll/log";
import { ChangeFeed, type DatabaseHandle } from "@atoll/store";
import { buildQueryApp, type QueryAppOptions } from "./app.js";

/**
 * The query app over a test database, quiet and with a healthy bus; tests add what they are
 * about (auth, registry, relations, a failing bus).
 */
export function testQueryApp(handle: DatabaseHandle, options: Partial<QueryAppOptions> = {}) {
  return buildQueryApp({
    db: handle.db,
    sql: handle.sql,
    changes: new ChangeFeed(handle.sql, { logger: silentLogger() }),
    logger: silentLogger(),
    checkBus: async () => {},
    ...options,
  });
}
