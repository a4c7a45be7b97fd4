import { randomBytes } from "node:crypto";
import { Bus } from "@atoll/bus";
import {
  ConflictResolution,
  create,
  ManifestState,
  WorkAction,
  WorkSchema,
  workCodec,
  workStatusCodec,
} from "@atoll/contracts";
import { until } from "@atoll/devkit";
import { KubeClient } from "@atoll/kube";
import { KubeSim } from "@atoll/kube-sim";
import { silentLogger } from "@atoll/log";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkApplier } from "./applier.js";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("a work's status report", () => {
  const prefix = `ws${randomBytes(4).toString("hex")}`;
  const sim = new KubeSim({ name: "ws-a" });
  let bus: Bus;
  let applier: { stop(): Promise<void> };

  beforeAll(async () => {
    await sim.start();
    bus = await Bus.connect({ url: NATS_URL, name: "work-status-test", prefix, logger: silentLogger() });
    await bus.ensureTopology();
  });
  afterAll(async () => {
    await applier?.stop();
    await bus?.removeTopology();
    await bus?.close();
    await sim.stop();
  });

  it("is sent once the status stream is back, though the work was applied while it was gone", async () => {
    // The status stream without a leader, as while the NATS server that led it is replaced.
    await bus.jsm.streams.delete(bus.names.streams.workStatus);
    applier = await new WorkApplier({
      cluster: "ws-a",
      client: KubeClient.fromKubeconfig(sim.kubeconfig()),
      bus,
      logger: silentLogger(),
    }).start();
    const manifest = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "settings",
        namespace: "default",
        labels: { "app.kubernetes.io/managed-by": "atoll" },
      },
      data: { level: "info" },
    };
    await bus.publish(
      bus.names.work("ws-a"),
      workCodec,
      create(WorkSchema, {
        cluster: "ws-a",
        name: "default/settings-configmap",
        generation: 1n,
        action: WorkAction.APPLY,
        manifests: [new TextEncoder().encode(JSON.stringify(manifest))],
        conflictResolution: ConflictResolution.OVERWRITE,
      }),
      "ws-a:default/settings-configmap:1",
    );
    const configMaps = sim.store.findType("", "v1", "configmaps")!;
    await until(() => sim.store.list(configMaps, "default").length > 0, "the work applied");
    // Its report fails for a while; then the stream is there again.
    await sleep(1_500);
    await bus.ensureTopology();
    await until(
      async () => (await bus.jsm.streams.info(bus.names.streams.workStatus)).state.messages > 0,
      "the work's status report",
      30_000,
    );
    const report = await bus.jsm.streams.getMessage(bus.names.streams.workStatus, { seq: 1 });
    const status = workStatusCodec.decode(report!.data);
    expect(status.workName).toBe("default/settings-configmap");
    expect(status.generation).toBe(1n);
    expect(status.manifests.map((m) => m.state)).toEqual([ManifestState.APPLIED]);
  }, 60_000);
});
