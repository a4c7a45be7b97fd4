import { until } from "@atoll/devkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Obj, SimStore } from "./store.js";
import { WorkloadController } from "./workloads.js";

describe("the sim's workload controller", () => {
  let store: SimStore;
  let controller: WorkloadController;
  const type = (group: string, resource: string) => store.findType(group, "v1", resource)!;
  const list = (group: string, resource: string) =>
    store.list(type(group, resource), "shop").map(({ object }) => object);
  const get = (group: string, resource: string, name: string) =>
    store.get(type(group, resource), "shop", name);
  const template = (image: string) => ({
    metadata: { labels: { app: "web" } },
    spec: { containers: [{ name: "main", image }] },
  });
  const update = (group: string, resource: string, name: string, spec: Obj) => {
    const current = get(group, resource, name);
    store.update(type(group, resource), { ...current, spec: { ...current.spec, ...spec } }, "shop");
  };
  const settledAt = (object: Obj) => object.status?.observedGeneration === object.metadata.generation;

  beforeEach(() => {
    store = new SimStore();
    for (const name of ["node-a", "node-b"]) store.create(type("", "nodes"), { metadata: { name } });
    controller = new WorkloadController(store, 5);
    controller.start();
  });
  afterEach(() => controller.stop());

  it("runs a Deployment's replicas through a ReplicaSet, scales it, and replaces its pods on a new template", async () => {
    store.create(
      type("apps", "deployments"),
      {
        metadata: { name: "web" },
        spec: { replicas: 3, selector: { matchLabels: { app: "web" } }, template: template("web:1") },
      },
      "shop",
    );
    await until(() => settledAt(get("apps", "deployments", "web")), "the rollout");
    expect(get("apps", "deployments", "web").status).toMatchObject({
      replicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
    });
    const replicaSet = list("apps", "replicasets")[0]!;
    expect(replicaSet.metadata.ownerReferences[0]).toMatchObject({ kind: "Deployment", name: "web" });
    const pods = list("", "pods");
    expect(pods).toHaveLength(3);
    for (const pod of pods) {
      expect(pod.metadata.ownerReferences[0].uid).toBe(replicaSet.metadata.uid);
      expect(pod.metadata.labels).toEqual({
        app: "web",
        "pod-template-hash": replicaSet.metadata.labels["pod-template-hash"],
      });
      expect(["node-a", "node-b"]).toContain(pod.spec.nodeName);
      expect(pod.status.phase).toBe("Running");
    }

    update("apps", "deployments", "web", { replicas: 1 });
    await until(() => settledAt(get("apps", "deployments", "web")), "the scale-down");
    expect(list("", "pods")).toHaveLength(1);

    update("apps", "deployments", "web", { template: template("web:2") });
    await until(() => settledAt(get("apps", "deployments", "web")), "the new template");
    const replicaSets = list("apps", "replicasets");
    expect(replicaSets).toHaveLength(1);
    expect(replicaSets[0]!.metadata.uid).not.toBe(replicaSet.metadata.uid);
    expect(list("", "pods").map((p) => p.spec.containers[0].image)).toEqual(["web:2"]);
  });

  it("names a StatefulSet's pods by ordinal and removes the highest on scale-down", async () => {
    store.create(
      type("apps", "statefulsets"),
      { metadata: { name: "db" }, spec: { replicas: 3, template: template("db:1") } },
      "shop",
    );
    await until(() => settledAt(get("apps", "statefulsets", "db")), "the pods");
    expect(
      list("", "pods")
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(["db-0", "db-1", "db-2"]);
    update("apps", "statefulsets", "db", { replicas: 1 });
    await until(() => settledAt(get("apps", "statefulsets", "db")), "the scale-down");
    expect(list("", "pods").map((p) => p.metadata.name)).toEqual(["db-0"]);
    expect(get("apps", "statefulsets", "db").status).toMatchObject({ replicas: 1, readyReplicas: 1 });
  });

  it("runs a DaemonSet's pod on every node", async () => {
    store.create(
      type("apps", "daemonsets"),
      { metadata: { name: "agent" }, spec: { template: template("agent:1") } },
      "shop",
    );
    await until(() => settledAt(get("apps", "daemonsets", "agent")), "the pods");
    expect(
      list("", "pods")
        .map((p) => p.spec.nodeName)
        .sort(),
    ).toEqual(["node-a", "node-b"]);
    expect(get("apps", "daemonsets", "agent").status).toMatchObject({
      desiredNumberScheduled: 2,
      numberReady: 2,
    });
  });

  it("counts pods that exist already as they are, ready or not", async () => {
    const replicaSet = store.create(
      type("apps", "replicasets"),
      { metadata: { name: "old" }, spec: { replicas: 2, template: template("old:1") } },
      "shop",
    );
    store.create(
      type("", "pods"),
      {
        metadata: {
          name: "old-crashing",
          ownerReferences: [
            { apiVersion: "apps/v1", kind: "ReplicaSet", name: "old", uid: replicaSet.metadata.uid },
          ],
        },
        status: { phase: "Running", conditions: [{ type: "Ready", status: "False" }] },
      },
      "shop",
    );
    await until(() => settledAt(get("apps", "replicasets", "old")), "the status");
    expect(get("apps", "replicasets", "old").status).toMatchObject({ replicas: 2, readyReplicas: 1 });
  });
});
