import { until } from "@atoll/devkit";
import { type Churn, generateCluster, KubeSim, startChurn } from "@atoll/kube-sim";
import { Kvm } from "@nats-io/kv";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";
import { convergence } from "../support/state.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("several indexers share the clusters, one reader per cluster", () => {
  const hub = new TestHub();
  const sims = [1, 2, 3, 4].map((i) => new KubeSim({ name: `multi-${i}`, token: `m${i}` }));
  const churns: Churn[] = [];
  let sql: postgres.Sql;

  const owners = async () => {
    const leases = await new Kvm(hub.bus.js).open(`${hub.prefix}_indexer_leases`);
    const byCluster = new Map<string, string>();
    for await (const key of await leases.keys()) {
      const entry = await leases.get(key);
      if (entry?.operation === "PUT") byCluster.set(key, entry.string());
    }
    return byCluster;
  };

  beforeAll(async () => {
    await Promise.all(sims.map((s) => s.start()));
    for (const [i, sim] of sims.entries())
      generateCluster(sim, { seed: 60 + i, namespaces: ["default", "a", "b"], deploymentsPerNamespace: 6 });
    await hub.start();
    hub.startIndexer("indexer-2");
    for (const sim of sims) hub.startAgent(sim);
    for (const sim of sims) await hub.waitIndexed(sim);
    sql = postgres(hub.databaseUrl, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    for (const churn of churns) churn.stop();
    await sql?.end({ timeout: 2 });
    await hub.stop();
    await Promise.all(sims.map((s) => s.stop()));
  });

  it("splits the clusters evenly between two indexers", async () => {
    await until(
      async () => {
        const counts = [...(await owners()).values()].reduce(
          (m, id) => m.set(id, (m.get(id) ?? 0) + 1),
          new Map<string, number>(),
        );
        return counts.size === 2 && [...counts.values()].every((n) => n === 2);
      },
      "two owners with two clusters each",
      30_000,
      200,
    );
  });

  it("hands a dead indexer's clusters to the survivor and stays exact", async () => {
    for (const [i, sim] of sims.entries()) churns.push(startChurn(sim, { ratePerSecond: 30, seed: 70 + i }));
    await sleep(1500);
    const before = await owners();
    const victim = hub.indexers[0]!;
    victim.kill("SIGKILL");
    await sleep(5000);
    for (const churn of churns) churn.stop();
    await until(
      async () => new Set((await owners()).values()).size === 1 && (await owners()).size === 4,
      "one owner of all four clusters",
      30_000,
      200,
    );
    expect(new Set(before.values()).size).toBe(2);
    expect(await convergence(sql, sims, 60_000, 300)).toEqual([]);
  });
});
