/**
 * The indexer's cross-object passes, on a thread of their own: a pass over a 100k-object cluster
 * computes for seconds, and on the indexer's own thread it held every cluster's batches (and so
 * the index's freshness) for that long. Each request names a cluster; the answer says how many
 * objects were judged, or why the pass failed.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { InsightConfig } from "@atoll/insight";
import { openDatabase } from "@atoll/store";
import { runCrossObjectPass } from "./cross-pass.js";

export interface CrossPassRequest {
  cluster: string;
}
export type CrossPassAnswer = { objects: number } | { error: string };

const { databaseUrl, insight } = workerData as { databaseUrl: string; insight?: InsightConfig };
// Opened as the indexer opens its own, so values are read and written the same way.
const { sql } = await openDatabase(databaseUrl, { migrate: false, maxConnections: 1 });

parentPort?.on("message", async ({ cluster }: CrossPassRequest) => {
  let answer: CrossPassAnswer;
  try {
    answer = { objects: await runCrossObjectPass(sql, cluster, insight) };
  } catch (error) {
    answer = { error: (error as Error).message };
  }
  parentPort?.postMessage(answer);
});
