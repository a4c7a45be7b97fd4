import { rejectionsByCluster } from "@atoll/placement";
import type { ClusterReachability } from "@atoll/store";
import { describe, expect, it } from "vitest";
import { bindingWithin, clusterStatuses } from "./binding-status.js";

const seen = (name: string, online = true, ready = true): ClusterReachability => ({
  name,
  online,
  ready,
  lastHeartbeat: "2026-11-22T07:00:00.000Z",
});

describe("a binding's status per cluster", () => {
  const binding = {
    clusters: [{ name: "eu-1" }, { name: "eu-2" }, { name: "us-1" }, { name: "new-1" }],
    aggregatedStatus: {
      "eu-1": { applied: true, healthy: true },
      "eu-2": {
        applied: true,
        healthy: false,
        manifests: [
          { kind: "Service", name: "web", healthy: true },
          { kind: "Deployment", name: "web", healthy: false, message: "1/3 replicas ready" },
        ],
      },
      "us-1": { applied: true, healthy: true },
      // Still reported, no longer placed: its copy is being removed.
      "ap-1": { applied: true, healthy: true },
    },
  };

  it("is Unknown, not its last Healthy report, where the hub hears nothing or the agent cannot reach its API server", () => {
    const statuses = clusterStatuses(binding, [
      seen("eu-1"),
      seen("eu-2"),
      seen("us-1", false),
      seen("ap-1", true, false),
      seen("new-1"),
    ]);
    expect(statuses.map((s) => [s.cluster, s.placed, s.applied, s.reachable, s.health])).toEqual([
      ["ap-1", false, true, false, "Unknown"],
      ["eu-1", true, true, true, "Healthy"],
      ["eu-2", true, true, true, "Unhealthy"],
      ["new-1", true, false, true, "Unknown"],
      ["us-1", true, true, false, "Unknown"],
    ]);
    const reason = (cluster: string) => statuses.find((s) => s.cluster === cluster)?.reason;
    expect(reason("us-1")).toBe(
      "no heartbeat from cluster us-1 since 2026-11-22T07:00:00.000Z; its last report may be out of date",
    );
    expect(reason("ap-1")).toBe("the agent of cluster ap-1 cannot reach its API server");
    expect(reason("eu-2")).toBe("Deployment web: 1/3 replicas ready");
    expect(reason("new-1")).toBe("waiting for the agent's first report");
    expect(reason("eu-1")).toBeUndefined();
  });

  it("treats a cluster missing from the registry as never heard from", () => {
    const [status] = clusterStatuses({ clusters: [{ name: "gone" }], aggregatedStatus: {} }, []);
    expect(status).toMatchObject({ cluster: "gone", reachable: false, health: "Unknown" });
    expect(status!.reason).toBe("no heartbeat from cluster gone yet; its last report may be out of date");
  });
});

describe("a binding seen from some clusters", () => {
  const binding = {
    clusters: [
      { name: "sim-1", replicas: 2 },
      { name: "sim-2", replicas: 1 },
    ],
    rejected: { "cluster(s) had untolerated taint": ["sim-3"] },
    aggregatedStatus: { "sim-1": { applied: true }, "sim-2": { applied: false }, "sim-4": { applied: true } },
    evictionTasks: [{ fromCluster: "sim-4", reason: "TaintUntolerated" }],
    condition: "Success",
    message: "placed on sim-1 (2), sim-2 (1); leaving sim-4 (TaintUntolerated, Gracefully)",
    policy: "PropagationPolicy/web/spread",
  };
  it.each([
    [["sim-1"], ["sim-1"], [], ["sim-1"], [], "Success: placed on sim-1;"],
    [
      ["sim-3", "sim-4"],
      [],
      ["sim-3"],
      ["sim-4"],
      ["sim-4"],
      "Success: placed on none of the clusters you may read;",
    ],
    [[], [], [], [], [], "Success: placed on none"],
  ])("seeing %j shows only their part", (visible, clusters, rejected, statuses, evictions, message) => {
    const seen = bindingWithin(binding, (c) => visible.includes(c));
    expect(seen.clusters.map((c) => c.name)).toEqual(clusters);
    expect(Object.keys(rejectionsByCluster(seen.rejected))).toEqual(rejected);
    expect(Object.keys(seen.aggregatedStatus)).toEqual(statuses);
    expect(seen.evictionTasks.map((t) => t.fromCluster)).toEqual(evictions);
    expect(seen.message.startsWith(message)).toBe(true);
    for (const hidden of ["sim-1", "sim-2", "sim-3", "sim-4"].filter((c) => !visible.includes(c)))
      expect(JSON.stringify(seen)).not.toContain(hidden);
    expect(seen.policy).toBe(binding.policy);
  });
});
