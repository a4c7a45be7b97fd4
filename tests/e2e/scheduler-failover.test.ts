import { existsSync, readFileSync } from "node:fs";
import { type ServiceProcess, spawnService, until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";
import { everywherePolicy, labelledConfigMaps, placedOn, workMessagesOnceSent } from "../support/placed.js";

const LABEL = "failover";

describe("two schedulers: one leads, and the other takes over when it dies", () => {
  const hub = new TestHub();
  const sims = ["fo-1", "fo-2"].map((name) => new KubeSim({ name, token: `t-${name}` }));
  let standby: ServiceProcess;
  let sql: postgres.Sql;
  const leads = (service: ServiceProcess) =>
    existsSync(service.log) && readFileSync(service.log, "utf8").includes('"msg":"leading"');
  beforeAll(async () => {
    for (const [i, sim] of sims.entries()) {
      await sim.start();
      generateCluster(sim, { seed: 500 + i, namespaces: ["default"], deploymentsPerNamespace: 1 });
    }
    await hub.start();
    const leader = hub.startScheduler();
    await until(() => leads(leader), "the first scheduler to lead", 30_000);
    standby = spawnService("scheduler-2", "@atoll/scheduler", hub.env(), hub.dir);
    await hub.registerPull(sims);
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
    await apply(everywherePolicy("settings-everywhere", LABEL));
    await apply(labelledConfigMaps(LABEL, 60));
    // The leader dies with requests in hand; more arrive while nobody leads.
    hub.scheduler!.kill("SIGKILL");
    const killedAt = Date.now();
    await apply(labelledConfigMaps(LABEL, 60, 60));
    await until(() => leads(standby), "the standby to lead", 30_000);
    // The lease is 3 s in the test hub; the standby tries every third of it.
    expect(Date.now() - killedAt).toBeLessThan(3_000 * 2 + 2_000);
    await until(
      () => sims.every((sim) => placedOn(sim, LABEL) === 120),
      "every ConfigMap on both clusters",
      60_000,
    );
    const [bindings] =
      await sql`select count(*)::int as n, count(*) filter (where condition = 'Success')::int as ok from bindings`;
    expect(bindings).toEqual({ n: 120, ok: 120 });
    const works = await sql`select cluster, generation from works where action = 'apply'`;
    expect(works).toHaveLength(240);
    // Every work reached the bus, and the bus holds each exactly once: what the dead leader
    // committed but did not mark sent is relayed by the new one within a lease or two, and a
    // repeat of one it had sent is dropped by its message id.
    expect(await workMessagesOnceSent(hub, sql)).toBe(240);
  });
});
