import { randomBytes } from "node:crypto";
import { Bus } from "@atoll/bus";
import { heartbeatCodec } from "@atoll/contracts";
import { until } from "@atoll/devkit";
import { KubeClient } from "@atoll/kube";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import { silentLogger } from "@atoll/log";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterSync } from "./cluster-sync.js";

describe("a cluster's sync", () => {
  const sim = new KubeSim({ name: "first-beat", token: "t" });
  let bus: Bus;
  beforeAll(async () => {
    await sim.start();
    bus = await Bus.connect({
      url: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
      name: "cluster-sync-test",
      prefix: `t${randomBytes(4).toString("hex")}`,
      logger: silentLogger(),
    });
    await bus.ensureTopology();
  });
  afterAll(async () => {
    await bus.removeTopology();
    await bus.close();
    await sim.stop();
  });

  it("starts though the bus refuses its first heartbeat, and beats again on schedule", async () => {
    const putHeartbeat = bus.putHeartbeat.bind(bus);
    let refused = 0;
    bus.putHeartbeat = async (cluster, bytes) => {
      // As JetStream does while the clusters bucket has no leader, a NATS server having just died.
      if (refused === 0) {
        refused += 1;
        throw new Error("jetstream is not enabled");
      }
      return putHeartbeat(cluster, bytes);
    };
    const sync = new ClusterSync({
      cluster: "first-beat",
      client: KubeClient.fromKubeconfig(sim.kubeconfig()),
      bus,
      logger: silentLogger(),
      mode: "push",
      agentVersion: "test",
      heartbeatIntervalMs: 200,
    });
    await sync.start();
    expect(refused).toBe(1);
    const heartbeats = await bus.clusters();
    await until(
      async () => (await heartbeats.get("first-beat")) !== null,
      "a heartbeat after the refused one",
      10_000,
      50,
    );
    await sync.stop();
  });

  it("says it is starting before its pods are listed, without capacity, then beats in full", async () => {
    const sim = new KubeSim({ name: "slow-list", token: "t" });
    await sim.start();
    generateCluster(sim, { seed: 5, nodes: 2 });
    const client = KubeClient.fromKubeconfig(sim.kubeconfig());
    // The pods list is held until the first heartbeat is on the bus, as in a cluster of many pods.
    let releasePods!: () => void;
    const podsHeld = new Promise<void>((resolve) => (releasePods = resolve));
    const json = client.json.bind(client);
    client.json = (async (request: Parameters<typeof client.json>[0]) => {
      if (request.path.startsWith("/api/v1/pods")) await podsHeld;
      return json(request);
    }) as typeof client.json;
    const beats: { starting: boolean; ready: number; pods: bigint }[] = [];
    const watch = bus.watchClusters(async (entry) => {
      if (entry.key !== "slow-list" || entry.operation !== "PUT") return;
      const beat = heartbeatCodec.decode(entry.value);
      beats.push({
        starting: beat.starting,
        ready: beat.nodes?.ready ?? 0,
        pods: beat.allocatable?.pods ?? 0n,
      });
      releasePods();
    });
    const sync = new ClusterSync({
      cluster: "slow-list",
      client,
      bus,
      logger: silentLogger(),
      mode: "push",
      agentVersion: "test",
      heartbeatIntervalMs: 60_000,
    });
    try {
      await sync.start();
      await until(() => beats.length >= 2, "a full heartbeat after the starting one", 20_000, 50);
      expect(beats[0]).toEqual({ starting: true, ready: 0, pods: 0n });
      expect(beats[1]!.starting).toBe(false);
      expect(beats[1]!.ready).toBe(2);
      expect(beats[1]!.pods).toBeGreaterThan(0n);
    } finally {
      watch.stop();
      await sync.stop();
      await sim.stop();
    }
  });
});
