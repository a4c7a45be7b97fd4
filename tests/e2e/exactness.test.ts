import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  create,
  EventType,
  ResourceEventBatchSchema,
  ResourceEventSchema,
  resourceBatchCodec,
} from "@atoll/contracts";
import {
  freePort,
  type NatsServerProcess,
  type PostgresServerProcess,
  startNatsServer,
  startPostgresServer,
  until,
} from "@atoll/devkit";
import { newSyncId } from "@atoll/kube";
import { type Churn, generateCluster, KubeSim, startChurn } from "@atoll/kube-sim";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";
import { convergence } from "../support/state.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Three sims under continuous churn (updates, deletes, creates and recreations under the same
 * name); the agent, the indexer, NATS and a private PostgreSQL server are each killed outright
 * and brought back, and the indexer goes down together with NATS once. Poison arrives among the
 * faults. Once churn stops, the index must equal the sims exactly and the dead-letter stream must
 * hold the poison and nothing else.
 */
describe("exactness after crashes", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoll-exact-"));
  const sims = [1, 2, 3].map((i) => new KubeSim({ name: `exact-${i}`, token: `t${i}`, eventWindow: 2000 }));
  let nats: NatsServerProcess;
  let natsPort: number;
  let pg: PostgresServerProcess;
  let hub: TestHub;
  let sql: postgres.Sql;
  const churns: Churn[] = [];

  beforeAll(async () => {
    pg = await startPostgresServer();
    natsPort = await freePort();
    nats = await startNatsServer({ port: natsPort, storeDir: join(dir, "js") });
    hub = new TestHub({ natsUrl: nats.url, postgresUrl: pg.url });
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
  });
  afterAll(async () => {
    for (const churn of churns) churn.stop();
    await sql?.end({ timeout: 2 });
    await hub?.stop();
    await Promise.all(sims.map((s) => s.stop()));
    await nats?.stop();
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Poison published among the faults, by the bytes the dead-letter stream must hold. */
  const poison: { subject: string; data: Uint8Array }[] = [];
  const inject = async (sim: KubeSim, data: Uint8Array) => {
    const subject = hub.bus.names.resources(sim.name);
    await hub.bus.js.publish(subject, data);
    poison.push({ subject, data });
  };
  const batch = (cluster: string, name: string, object: string) =>
    resourceBatchCodec.encode(
      create(ResourceEventBatchSchema, {
        cluster,
        agentId: "poisoner",
        events: [
          create(ResourceEventSchema, {
            version: "v1",
            syncId: newSyncId(),
            type: EventType.ADDED,
            kind: "ConfigMap",
            resource: "configmaps",
            namespace: "default",
            name,
            uid: `poison-${name}`,
            resourceVersion: 1n,
            object: new TextEncoder().encode(object),
          }),
        ],
      }),
    );

  /** Kills PostgreSQL while one of the indexer's statements or transactions is open. */
  const crashPostgresMidBatch = async () => {
    const database = new URL(hub.databaseUrl).pathname.slice(1);
    const watcher = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      await until(
        async () =>
          (
            await watcher`select 1 from pg_stat_activity where datname = ${database}
              and backend_type = 'client backend' and state in ('active', 'idle in transaction')
              and query ~* '^\\s*(insert|update|delete|with)'`
          ).length > 0,
        "the indexer to be mid-batch",
        20_000,
        2,
      );
      pg.crash();
    } finally {
      await watcher.end({ timeout: 0 }).catch(() => {});
    }
  };

  it("holds exactly each sim's objects at their latest versions, and dead-letters only the poison", async () => {
    expect(Math.min(...sims.map((s) => s.store.count()))).toBeGreaterThan(2000);
    const deadBefore = (await hub.bus.jsm.streams.info(hub.bus.names.streams.deadLetter)).state.last_seq;
    for (const [i, sim] of sims.entries()) churns.push(startChurn(sim, { ratePerSecond: 40, seed: 7 + i }));
    await sleep(2000);

    // The agent: killed outright, restarted; it relists and the sweep removes what vanished.
    // Poison arrives meanwhile: an object nesting 20,000 levels.
    hub.agents.get("agent-exact-1")!.kill("SIGKILL");
    await inject(
      sims[0]!,
      batch(
        sims[0]!.name,
        "deep",
        `{"metadata":{"name":"deep"},"data":${"[".repeat(20_000)}${"]".repeat(20_000)}}`,
      ),
    );
    await sleep(2500);
    hub.startAgent(sims[0]!);
    await sleep(2500);

    // The indexer, mid-batch: the uncommitted batch is redelivered to its successor, in order.
    hub.indexer.kill("SIGKILL");
    await sleep(1500);
    hub.startIndexer();
    await sleep(2500);

    // The indexer and NATS together: agents keep retrying their publishes with the same message
    // ids until NATS is back, and the new indexer takes over the leases once it can reach it.
    hub.indexer.kill("SIGKILL");
    nats.process.kill("SIGKILL");
    await nats.stop(); // the killed server's folder (its log) goes; the stream store is the test's
    await sleep(2500);
    nats = await startNatsServer({ port: natsPort, storeDir: join(dir, "js") });
    await sleep(1000);
    hub.startIndexer();
    await until(
      () =>
        inject(sims[1]!, new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])).then(
          () => true,
          () => false,
        ),
      "NATS to take a publish again",
      30_000,
      250,
    );
    await sleep(3000);

    // PostgreSQL, killed with its backends mid-transaction and down for 5 s: the indexer retries
    // without acking, and a batch naming another cluster is dead-lettered meanwhile all the same.
    await crashPostgresMidBatch();
    await inject(sims[2]!, batch(sims[0]!.name, "elsewhere", '{"metadata":{"name":"elsewhere"}}'));
    await sleep(5000);
    await pg.restart();
    await sleep(3000);

    for (const churn of churns) churn.stop();
    const changes = churns.reduce((n, c) => n + c.changes, 0);
    expect(changes).toBeGreaterThan(1000);

    expect(await convergence(sql, sims, 90_000, 500)).toEqual([]);

    // The dead letters are the poison, each once, and no message that was merely caught in a fault.
    const { items } = await hub.bus.deadLetters({ afterSeq: deadBefore, limit: 1000 });
    const letters = items.map((letter) => ({
      subject: letter.subject,
      data: Buffer.from(letter.data).toString("base64"),
      reason: letter.reason,
    }));
    const injected = poison.map(({ subject, data }) => ({
      subject,
      data: Buffer.from(data).toString("base64"),
    }));
    // First whatever was not poison, with the reason it was given, then the poison, each once.
    expect(
      letters.filter((l) => !injected.some((p) => p.data === l.data && p.subject === l.subject)),
    ).toEqual([]);
    expect(letters.map(({ subject, data }) => ({ subject, data })).sort(byData)).toEqual(
      injected.sort(byData),
    );
    expect(letters.map((l) => l.reason).sort()).toEqual([
      expect.stringMatching(/batch names cluster "exact-1" but arrived on/),
      expect.stringMatching(/nests deeper than 100 levels/),
      expect.stringMatching(/^undecodable atoll\.v1\.ResourceEventBatch/),
    ]);
  });
});

const byData = (a: { data: string }, b: { data: string }) => a.data.localeCompare(b.data);
