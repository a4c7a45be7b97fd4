import { existsSync, readFileSync } from "node:fs";
import { type ServiceProcess, spawnService, until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";

const POLICY = `
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: { name: settings-everywhere }
spec:
  resourceSelectors: [{ apiVersion: v1, kind: ConfigMap, labelSelector: { matchLabels: { failover: "yes" } } }]
  placement: {}
`;

const configMaps = (from: number, count: number) =>
  Array.from(
    { length: count },
    (_, i) => `
apiVersion: v1
kind: ConfigMap
metadata: { name: settings-${from + i}, namespace: default, labels: { failover: "yes" } }
data: { n: "${from + i}" }
`,
  ).join("---");

describe("two schedulers: one leads, and the other takes over when it dies", () => {
  const hub = new TestHub();
  const sims = ["fo-1", "fo-2"].map((name) => new KubeSim({ name, token: `t-${name}` }));
  let standby: ServiceProcess;
  let sql: postgres.Sql;
  const leads = (service: ServiceProcess) =>
    existsSync(service.log) && readFileSync(service.log, "utf8").includes('"msg":"leading"');
  const placedOn = (sim: KubeSim) =>
    sim.store
      .list(sim.store.findType("", "v1", "configmaps")!, "default")
      .filter(
        ({ object }) =>
          (object as { metadata: { labels?: Record<string, string> } }).metadata.labels?.failover,
      ).length;

  beforeAll(async () => {
    for (const [i, sim] of sims.entries()) {
      await sim.start();
      generateCluster(sim, { seed: 500 + i, namespaces: ["default"], deploymentsPerNamespace: 1 });
    }
    await hub.start();
    const leader = hub.startScheduler();
    await until(() => leads(leader), "the first scheduler to lead", 30_000);
    standby = spawnService("scheduler-2", "@atoll/scheduler", hub.env(), hub.dir);
    for (const sim of sims) {
      const { status, body } = await hub.send("POST", "/api/v1/clusters", { mode: "pull", name: sim.name });
      expect(status, JSON.stringify(body)).toBe(201);
      hub.startAgent(sim);
    }
    for (const sim of sims) await hub.waitIndexed(sim, 60_000);
    sql = postgres(hub.databaseUrl, { max: 1, onnotice: () => {} });
  }, 120_000);
  afterAll(async () => {
    await sql?.end({ timeout: 2 });
    await standby?.stop();
    await hub.stop();
    await Promise.all(sims.map((s) => s.stop()));
  });

  it("places every template on every cluster exactly once through a SIGKILL of the leader mid-way", async () => {
    const apply = async (documents: string) => {
      const { status, body } = await hub.send("POST", "/api/v1/apply", { documents });
      expect(status, JSON.stringify(body)).toBe(200);
    };
    expect(leads(standby)).toBe(false);
    await apply(POLICY);
    await apply(configMaps(0, 60));
    // The leader dies with requests in hand; more arrive while nobody leads.
    hub.scheduler!.kill("SIGKILL");
    const killedAt = Date.now();
    await apply(configMaps(60, 60));
    await until(() => leads(standby), "the standby to lead", 30_000);
    // The lease is 3 s in the test hub; the standby tries every third of it.
    expect(Date.now() - killedAt).toBeLessThan(3_000 * 2 + 2_000);
    await until(() => sims.every((sim) => placedOn(sim) === 120), "every ConfigMap on both clusters", 60_000);
    const [bindings] =
      await sql`select count(*)::int as n, count(*) filter (where condition = 'Success')::int as ok from bindings`;
    expect(bindings).toEqual({ n: 120, ok: 120 });
    const works = await sql`select cluster, generation from works where action = 'apply'`;
    expect(works).toHaveLength(240);
    // Every work reached the bus, and the bus holds each exactly once: what the dead leader
    // committed but did not mark sent is relayed by the new one within a lease or two, and a
    // repeat of one it had sent is dropped by its message id.
    await until(
      async () =>
        (await sql`select count(*)::int as n from works where sent_generation < generation`)[0]?.n === 0,
      "every work marked sent",
      30_000,
      250,
    );
    const stream = await hub.bus.jsm.streams.info(hub.bus.names.streams.work);
    expect(stream.state.messages).toBe(240);
  });
});
