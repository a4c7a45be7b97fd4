import { describe, expect, it } from "vitest";
import { type ClusterHeartbeatRow, recordHeartbeats } from "./clusters.js";
import { deleteCluster } from "./registry.js";
import { suiteDatabase } from "./testing.js";

const beat = (name: string, at: number, ready = true): ClusterHeartbeatRow => ({
  name,
  syncMode: "pull",
  ready,
  kubernetesVersion: "v1.31.0",
  status: { agentId: `agent-${at}` },
  lastHeartbeat: new Date(at),
});

describe("heartbeats recorded in batches", () => {
  const handle = suiteDatabase("heartbeats");
  const rows = async () =>
    (
      await handle.sql<{ name: string; ready: boolean; at: number }[]>`
        select name, ready, (extract(epoch from last_heartbeat) * 1000)::float8 as at from clusters order by name`
    ).map((row) => `${row.name} ${row.ready ? "ready" : "not ready"} @${row.at}`);

  it("records the latest beat of each cluster, registers new ones, ignores older beats and deleted clusters", async () => {
    await recordHeartbeats(handle.sql, [
      beat("a", 1000),
      beat("b", 1000),
      beat("a", 3000, false),
      beat("a", 2000),
    ]);
    expect(await rows()).toEqual(["a not ready @3000", "b ready @1000"]);
    await deleteCluster(handle.sql, "b");
    // An older beat of a, a newer one of a deleted cluster, and a cluster seen for the first time.
    await recordHeartbeats(handle.sql, [beat("a", 2500), beat("b", 5000), beat("c", 5000)]);
    expect(await rows()).toEqual(["a not ready @3000", "c ready @5000"]);
    await recordHeartbeats(handle.sql, [beat("a", 6000), beat("c", 6000, false)]);
    expect(await rows()).toEqual(["a ready @6000", "c not ready @6000"]);
  });
});
