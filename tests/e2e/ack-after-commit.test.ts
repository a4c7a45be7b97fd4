import { until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";

/**
 * Holds an exclusive lock on the resources table so the indexer's transaction cannot commit,
 * then proves from the consumer's own state that nothing was acked, and that a crash at that
 * point loses nothing: the message comes back to the next indexer.
 */
describe("the indexer acks only after its rows are committed", () => {
  const hub = new TestHub();
  const sim = new KubeSim({ name: "ack-sim", token: "ack" });
  let blocker: postgres.Sql;

  beforeAll(async () => {
    await sim.start();
    generateCluster(sim, { seed: 5, namespaces: ["default"], deploymentsPerNamespace: 2 });
    await hub.start();
    hub.startAgent(sim);
    await hub.waitIndexed(sim);
    blocker = postgres(hub.databaseUrl, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await blocker.end({ timeout: 2 });
    await hub.stop();
    await sim.stop();
  });

  const consumer = () => hub.bus.jsm.consumers.info(hub.bus.names.streams.resources, `indexer-${sim.name}`);
  const lastSeq = async () =>
    (await hub.bus.jsm.streams.info(hub.bus.names.streams.resources)).state.last_seq;

  it("holds the ack while the transaction is blocked, and redelivers after an indexer crash", async () => {
    const configMaps = sim.store.findType("", "v1", "configmaps")!;
    let reserved: postgres.ReservedSql | undefined = await blocker.reserve();
    await reserved`begin`;
    await reserved`lock table resources in access exclusive mode`;

    const before = await lastSeq();
    const created = sim.store.create(configMaps, {
      metadata: { name: "held-back", namespace: "default" },
      data: { a: "1" },
    });
    await until(async () => (await lastSeq()) > before, "the agent to publish the change");
    const target = await lastSeq();
    await until(
      async () => (await consumer()).delivered.stream_seq >= target,
      "the indexer to receive the change",
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const blocked = await consumer();
    expect(blocked.ack_floor.stream_seq).toBeLessThan(target);
    expect(blocked.num_ack_pending).toBeGreaterThan(0);

    hub.indexer.kill("SIGKILL");
    await new Promise((resolve) => hub.indexer.process.once("exit", resolve));
    await reserved`rollback`;
    reserved.release();
    reserved = undefined;
    const rows = await blocker`select 1 from resources where uid = ${created.metadata.uid}`;
    expect(rows).toHaveLength(0);
    expect((await consumer()).ack_floor.stream_seq).toBeLessThan(target);

    hub.startIndexer();
    await until(
      async () => (await blocker`select 1 from resources where uid = ${created.metadata.uid}`).length === 1,
      "the redelivered change to be indexed by the new indexer",
      30_000,
    );
    await until(async () => (await consumer()).ack_floor.stream_seq >= target, "the ack after commit");
    await hub.waitIndexed(sim);
  });
});
