import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type NatsServerProcess, startNatsServer, until } from "@atoll/devkit";
import { type Churn, generateCluster, KubeSim, startChurn } from "@atoll/kube-sim";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";
import { differences, indexState, simState } from "../support/state.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Three sims under continuous churn; the agent, the indexer, NATS and Postgres are each killed
 * and brought back in turn. Once churn stops, the index must equal the sims exactly.
 */
describe("exactness after crashes", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoll-exact-"));
  const sims = [1, 2, 3].map((i) => new KubeSim({ name: `exact-${i}`, token: `t${i}`, eventWindow: 2000 }));
  let nats: NatsServerProcess;
  let natsPort: number;
  let hub: TestHub;
  let sql: postgres.Sql;
  let admin: postgres.Sql;
  const churns: Churn[] = [];

  beforeAll(async () => {
    natsPort = await freePort();
    nats = await startNatsServer({ port: natsPort, storeDir: join(dir, "js") });
    hub = new TestHub({ natsUrl: nats.url });
    await Promise.all(sims.map((s) => s.start()));
    for (const [i, sim] of sims.entries()) {
      generateCluster(sim, {
        seed: 40 + i,
        namespaces: ["default", "a", "b", "c", "d", "e"],
        deploymentsPerNamespace: 40,
        maxReplicas: 4,
      });
    }
    await hub.start();
    for (const sim of sims) hub.startAgent(sim);
    for (const sim of sims) await hub.waitIndexed(sim, 90_000);
    sql = postgres(hub.databaseUrl, { max: 2, onnotice: () => {} });
    admin = postgres(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres", {
      max: 1,
      onnotice: () => {},
    });
  });
  afterAll(async () => {
    for (const churn of churns) churn.stop();
    await sql?.end({ timeout: 2 });
    await admin?.end({ timeout: 2 });
    await hub.stop();
    await Promise.all(sims.map((s) => s.stop()));
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("holds exactly each sim's objects at their latest versions", async () => {
    const _total = sims.reduce((n, s) => n + s.store.count(), 0);
    expect(Math.min(...sims.map((s) => s.store.count()))).toBeGreaterThan(2000);
    for (const [i, sim] of sims.entries()) churns.push(startChurn(sim, { ratePerSecond: 40, seed: 7 + i }));
    await sleep(2000);

    // The agent: killed outright, restarted; it relists and the sweep removes what vanished.
    hub.agents.get("agent-exact-1")!.kill("SIGKILL");
    await sleep(2500);
    hub.startAgent(sims[0]!);
    await sleep(2500);

    // The indexer, mid-batch: the uncommitted batch is redelivered to its successor, in order.
    hub.indexer.kill("SIGKILL");
    await sleep(1500);
    hub.startIndexer();
    await sleep(2500);

    // NATS: agents keep retrying their publishes with the same message ids until it is back.
    nats.process.kill("SIGKILL");
    await sleep(2500);
    nats = await startNatsServer({ port: natsPort, storeDir: join(dir, "js") });
    await sleep(4000);

    // Postgres: the database refuses connections for a while; the indexer stops acking and retries.
    const database = new URL(hub.databaseUrl).pathname.slice(1);
    await admin.unsafe(`alter database "${database}" allow_connections false`);
    await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${database}`;
    await sleep(3000);
    await admin.unsafe(`alter database "${database}" allow_connections true`);
    await sleep(2500);

    for (const churn of churns) churn.stop();
    const changes = churns.reduce((n, c) => n + c.changes, 0);
    expect(changes).toBeGreaterThan(1000);

    const expected = simState(sims);
    let problems: string[] = [];
    await until(
      async () => {
        problems = differences(expected, await indexState(sql).catch(() => new Map()));
        return problems.length === 0;
      },
      "the index to converge",
      90_000,
      500,
    ).catch(() => undefined);
    if (problems.length > 0) {
      const dlq = await hub.bus.jsm.streams.info(hub.bus.names.streams.deadLetter);
      const kinds = await sql`select kind, count(*)::int as n from resource_changes group by 1`;
      console.log(JSON.stringify({ deadLettered: dlq.state.messages, kinds }));
      for (const problem of problems.slice(0, 5)) {
        const uid = problem.split("/")[1]!.split(/[@:]/)[0]!;
        for (const sim of sims)
          for (const type of sim.store.types())
            for (const { object } of sim.store.list(type))
              if (object.metadata.uid === uid)
                console.log(
                  problem,
                  type.kind,
                  object.metadata.name,
                  JSON.stringify(object.metadata.annotations ?? {}),
                );
        console.log(
          uid,
          JSON.stringify(
            await sql`select change_type, resource_version::int, time from resource_changes where uid = ${uid} order by id`,
          ),
        );
      }
    }
    expect(problems.slice(0, 20)).toEqual([]);
  });
});
