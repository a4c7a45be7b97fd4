import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { temporaryDatabase } from "./db.js";

/**
 * The indexer writes each batch in a transaction; when Postgres drops the connection under it,
 * the transaction must fail like any other error so the batch is retried, and the process must
 * live on (see patches/README.md).
 */
describe("a connection lost mid-transaction", () => {
  let database: { url: string; drop(): Promise<void> };
  let sql: postgres.Sql;
  let killer: postgres.Sql;

  beforeAll(async () => {
    database = await temporaryDatabase("connloss");
    sql = postgres(database.url, { max: 2, onnotice: () => {} });
    killer = postgres(database.url, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql.end({ timeout: 2 });
    await killer.end({ timeout: 2 });
    await database.drop();
  });

  it("rejects the transaction, and the pool serves the next query", async () => {
    let backend: number | undefined;
    const transaction = sql.begin(async (tx) => {
      const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
      backend = row!.pid;
      await tx`select pg_sleep(5)`;
    });
    while (backend === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    await killer`select pg_terminate_backend(${backend})`;

    await expect(transaction).rejects.toThrow();
    // Let any write the driver deferred to the next turn of the event loop run.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const rows = await sql<{ ok: number }[]>`select 1 as ok`;
    expect(rows[0]?.ok).toBe(1);
  });
});
