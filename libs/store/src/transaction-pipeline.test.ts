import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { temporaryDatabase } from "./db.js";

/**
 * postgres.js pipelines queries on a connection and reserves the connection for a transaction
 * when its BEGIN is written. When the BEGIN was the query that filled the pipeline, it skipped
 * the reservation: the transaction failed with UNSAFE_TRANSACTION, and stayed open on a
 * connection the pool then gave to other queries (porsager/postgres#823, #1189). The indexer met
 * it at 5,000 clusters. See patches/README.md.
 */
describe("a transaction whose BEGIN fills a connection's pipeline", () => {
  let database: { url: string; drop(): Promise<void> };

  beforeAll(async () => {
    database = await temporaryDatabase("txpipeline");
    await (async () => {
      const setup = postgres(database.url, { max: 1, onnotice: () => {} });
      await setup`create table marks (note text)`;
      await setup.end({ timeout: 2 });
    })();
  });
  afterAll(async () => {
    await database.drop();
  });

  it("is reserved for the transaction even when the connection takes no more queries after it", async () => {
    // With no pipelining, every query fills the pipeline: the failure of a loaded pool, every time.
    // postgres.js reads max_pipeline, though its types leave it out.
    const options = { max: 2, max_pipeline: 0, onnotice: () => {} };
    const unpipelined = postgres(database.url, options);
    try {
      const result = await unpipelined.begin(
        async (tx) => (await tx<{ ok: number }[]>`select 1 as ok`)[0]!.ok,
      );
      expect(result).toBe(1);
    } finally {
      await unpipelined.end({ timeout: 2 });
    }
  });
});
