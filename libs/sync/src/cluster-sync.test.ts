import { randomBytes } from "node:crypto";
import { Bus } from "@atoll/bus";
import { until } from "@atoll/devkit";
import { KubeClient } from "@atoll/kube";
import { KubeSim } from "@atoll/kube-sim";
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
});
