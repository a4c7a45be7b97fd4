import { type NatsClusterProcess, startNatsCluster, until } from "@atoll/devkit";
import { type Churn, generateCluster, KubeSim, startChurn } from "@atoll/kube-sim";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";
import { everywherePolicy, labelledConfigMaps, placedOn, workMessagesOnceSent } from "../support/placed.js";
import { convergence, simState } from "../support/state.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const LABEL = "replicated";
const TEMPLATES = 80;

describe("the whole hub on a three-server NATS cluster, through a server's SIGKILL mid-sync and mid-placement", () => {
  let cluster: NatsClusterProcess;
  let hub: TestHub;
  const sims = [1, 2, 3].map((i) => new KubeSim({ name: `nc-${i}`, token: `nc${i}` }));
  const churns: Churn[] = [];
  let sql: postgres.Sql;

  /** The server that leads a stream (a bucket is the stream KV_<bucket>), by its index in the cluster. */
  const leaderOf = async (stream: string) => {
    const leader = (await hub.bus.jsm.streams.info(stream)).cluster?.leader;
    expect(cluster.names, `${stream} has a leader`).toContain(leader);
    return cluster.names.indexOf(leader!);
  };
  /** What the hub's services and the NATS servers logged, for a failure's message. */
  const logged = () => `${hub.problemsLogged()}\n${cluster.problemsLogged()}`;
  /**
   * Every stream and bucket of the hub, and every durable consumer of them, has all three copies
   * current again. Consumers count: each is a raft group of its own, and one still catching up on
   * the restarted server when the next server dies has lost two of three (its agent's works stall).
   */
  let behind = "";
  const allCaughtUp = async () => {
    const current = (cluster?: { replicas?: { name: string; current: boolean; offline?: boolean }[] }) => {
      const replicas = cluster?.replicas ?? [];
      behind = JSON.stringify(replicas);
      return replicas.length === 2 && replicas.every((replica) => replica.current && !replica.offline);
    };
    for await (const info of hub.bus.jsm.streams.list()) {
      if (!info.config.name.includes(hub.prefix)) continue;
      if (!current(info.cluster)) {
        behind = `stream ${info.config.name}: ${behind}`;
        return false;
      }
      for await (const consumer of hub.bus.jsm.consumers.list(info.config.name))
        if (consumer.config.durable_name && !current(consumer.cluster)) {
          behind = `consumer ${info.config.name} > ${consumer.name}: ${behind}`;
          return false;
        }
    }
    return true;
  };
  /** Waits until every copy is current, or fails naming the first one behind. */
  const untilCaughtUp = (what: string) =>
    until(
      // Just after a restart, JetStream may not answer the listing itself: that is not caught up yet.
      () =>
        allCaughtUp().catch((error: Error) => {
          behind = `the listing failed: ${error.message}`;
          return false;
        }),
      what,
      60_000,
      500,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; behind: ${behind}\n${logged()}`);
    });
  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    hub = new TestHub({
      natsUrl: cluster.url,
      env: { ATOLL_BUS_REPLICAS: "3", ATOLL_BUS_REPLICA_STUCK_MS: "5000" },
    });
    for (const [i, sim] of sims.entries()) {
      await sim.start();
      generateCluster(sim, {
        seed: 900 + i,
        namespaces: ["default", "a", "b", "c"],
        deploymentsPerNamespace: 15,
      });
    }
    await hub.start();
    hub.startScheduler();
    await hub.registerPull(sims, { agents: false });
    sql = postgres(hub.databaseUrl, { max: 1, onnotice: () => {} });
  }, 120_000);
  afterAll(async () => {
    for (const churn of churns) churn.stop();
    await sql?.end({ timeout: 2 });
    await hub?.stop();
    await Promise.all(sims.map((s) => s.stop()));
    await cluster?.stop();
  });

  it("keeps three copies of every stream and bucket the hub declares, leases and leadership included", async () => {
    for await (const info of hub.bus.jsm.streams.list()) {
      if (info.config.name.includes(hub.prefix)) expect(info.config.num_replicas, info.config.name).toBe(3);
    }
    // The buckets the indexer and scheduler open for themselves, not only those of ensureTopology.
    const { leasesBucket, membersBucket } = hub.bus.names;
    for (const bucket of [leasesBucket, membersBucket, hub.bus.names.leaderBucket("scheduler")]) {
      await until(
        () =>
          hub.bus.jsm.streams.info(`KV_${bucket}`).then(
            () => true,
            () => false,
          ),
        `the ${bucket} bucket`,
        30_000,
      );
      expect((await hub.bus.jsm.streams.info(`KV_${bucket}`)).config.num_replicas, bucket).toBe(3);
    }
  });

  it("indexes every cluster exactly when the server leading the indexer's leases dies mid-sync", async () => {
    for (const sim of sims) hub.startAgent(sim);
    await until(
      async () => ((await sql`select count(*)::int as n from resources`)[0]?.n ?? 0) >= 100,
      "the first objects in the index",
      60_000,
      20,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${logged()}`);
    });
    const victim = await leaderOf(`KV_${hub.bus.names.leasesBucket}`);
    const [{ n: indexedAtKill }] = (await sql`select count(*)::int as n from resources`) as unknown as [
      { n: number },
    ];
    cluster.kill(victim);
    let problems: string[];
    try {
      for (const [i, sim] of sims.entries())
        churns.push(startChurn(sim, { ratePerSecond: 20, seed: 910 + i }));
      await sleep(4_000);
      for (const churn of churns) churn.stop();
      problems = await convergence(sql, sims, 90_000);
    } finally {
      // Even when this test fails, the next one must start from three servers, not lose a second.
      await cluster.restart(victim);
    }
    expect(problems, logged()).toEqual([]);
    const expected = simState(sims);
    console.log(
      `nats cluster: killed ${cluster.names[victim]} with ${indexedAtKill} of ${expected.size} objects indexed`,
    );
    expect(indexedAtKill).toBeLessThan(expected.size);
    await untilCaughtUp("the restarted server to catch up on every stream and consumer");
  }, 240_000);

  it("delivers every work once when the server leading the scheduler's leadership dies mid-placement", async () => {
    const apply = async (documents: string) => {
      const { status, body } = await hub.send("POST", "/api/v1/apply", { documents });
      expect(status, JSON.stringify(body)).toBe(200);
    };
    // The agents the sync test started; run alone, this test starts them.
    for (const sim of sims) if (!hub.agents.has(`agent-${sim.name}`)) hub.startAgent(sim);
    // One server lost at a time: a copy still catching up when the next one dies is a second loss.
    await untilCaughtUp("every copy current before a server dies");
    await apply(everywherePolicy("replicated-settings", LABEL));
    await apply(labelledConfigMaps(LABEL, TEMPLATES));
    const victim = await leaderOf(`KV_${hub.bus.names.leaderBucket("scheduler")}`);
    cluster.kill(victim);
    await until(
      () => sims.every((sim) => placedOn(sim, LABEL) === TEMPLATES),
      "every ConfigMap on every cluster",
      90_000,
    ).catch((error: Error) => {
      const placed = sims.map((sim) => `${sim.name}: ${placedOn(sim, LABEL)}`).join(", ");
      throw new Error(`${error.message} (placed: ${placed}; killed ${cluster.names[victim]})\n${logged()}`);
    });
    const [bindings] =
      await sql`select count(*)::int as n, count(*) filter (where condition = 'Success')::int as ok from bindings`;
    expect(bindings).toEqual({ n: TEMPLATES, ok: TEMPLATES });
    const works = await sql`select cluster from works where action = 'apply'`;
    expect(works).toHaveLength(TEMPLATES * sims.length);
    // Once each: a publish retried across the failover carries the same message id.
    expect(await workMessagesOnceSent(hub, sql)).toBe(TEMPLATES * sims.length);
    // A stream without a leader for a few seconds is an outage, not any message's fault.
    const deadLetters = await hub.bus.jsm.streams.info(hub.bus.names.streams.deadLetter);
    expect(deadLetters.state.messages).toBe(0);
    await cluster.restart(victim);
  }, 180_000);
});
