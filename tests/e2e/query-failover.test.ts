import { until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";
import { everywherePolicy, labelledConfigMaps, placedOn, workMessagesOnceSent } from "../support/placed.js";

const LABEL = "either";
const TEMPLATES = 300;
const configMaps = labelledConfigMaps(LABEL, TEMPLATES);

describe("two query services: either serves the hub, and one killed mid-apply loses nothing", () => {
  const hub = new TestHub();
  const sims = ["qf-1", "qf-2"].map((name) => new KubeSim({ name, token: `t-${name}` }));
  let second: { baseUrl: string };
  let sql: postgres.Sql;
  const apply = (baseUrl: string, documents: string) =>
    hub.fetch("/api/v1/apply", {
      baseUrl,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ documents }),
    });

  beforeAll(async () => {
    for (const [i, sim] of sims.entries()) {
      await sim.start();
      generateCluster(sim, { seed: 700 + i, namespaces: ["default"], deploymentsPerNamespace: 2 });
    }
    await hub.start();
    second = await hub.startQuery("query-2");
    hub.startScheduler();
    await hub.registerPull(sims);
    sql = postgres(hub.databaseUrl, { max: 1, onnotice: () => {} });
  }, 120_000);
  afterAll(async () => {
    await sql?.end({ timeout: 2 });
    await hub.stop();
    await Promise.all(sims.map((s) => s.stop()));
  });

  it("places every template of an apply whose query service died after storing some of them", async () => {
    expect((await apply(hub.baseUrl, everywherePolicy("settings-from-either-query", LABEL))).status).toBe(
      200,
    );
    // Reads go on through the survivor while the other dies.
    let reading = true;
    const readFailures: string[] = [];
    const reads = (async () => {
      while (reading) {
        const response = await hub.fetch("/api/v1/clusters").catch((error: Error) => error);
        if (response instanceof Error || !response.ok)
          readFailures.push(response instanceof Error ? response.message : String(response.status));
      }
    })();
    const dying = apply(second.baseUrl, configMaps).then(
      (response) => `answered ${response.status}`,
      (error: Error) => `failed: ${error.message}`,
    );
    await until(
      async () => ((await sql`select count(*)::int as n from templates`)[0]?.n ?? 0) > 1,
      "the dying query service to store its first templates",
      30_000,
      5,
    );
    hub.queries[1]!.kill("SIGKILL");
    const stored = (await sql`select count(*)::int as n from templates`)[0]?.n as number;
    expect(await dying).toMatch(/^failed/);
    // The client does what any client does with a failed request: it sends it again, to the
    // service that is still up. What the dead one stored comes back unchanged.
    const retried = await apply(hub.baseUrl, configMaps);
    expect(retried.status).toBe(200);
    const { results } = (await retried.json()) as { results: string[] };
    const unchanged = results.filter((result) => result.endsWith("unchanged")).length;
    console.log(
      `query failover: killed with ${stored} of ${TEMPLATES} templates stored; the retry found ${unchanged} unchanged`,
    );
    expect(unchanged).toBeGreaterThan(0);
    await until(
      () => sims.every((sim) => placedOn(sim, LABEL) === TEMPLATES),
      "every ConfigMap on both clusters",
      60_000,
      100,
    );
    reading = false;
    await reads;
    expect(readFailures).toEqual([]);
    const works = await sql`select cluster from works where action = 'apply'`;
    expect(works).toHaveLength(TEMPLATES * sims.length);
    expect(await workMessagesOnceSent(hub, sql)).toBe(TEMPLATES * sims.length);
  }, 180_000);
});
