import { describe, expect, it } from "vitest";
import { listRejections, rejectionsByCluster } from "./rejections.js";
import {
  assumeReplicas,
  type ClusterState,
  FilterMemo,
  failureClearsResult,
  replicaRequests,
  scheduleBinding,
} from "./schedule.js";
import { type Placement, PlacementError } from "./types.js";

const capacity = (pods: number, cpuMillis = 64_000) => ({
  allocatable: { cpuMillis, memoryBytes: 2 ** 36, pods },
  allocated: { cpuMillis: 0, memoryBytes: 0, pods: 0 },
  allocating: { cpuMillis: 0, memoryBytes: 0, pods: 0 },
});

const CLUSTERS: ClusterState[] = [
  { name: "eu-1", labels: { env: "prod" }, region: "eu", zones: ["eu-a"], provider: "aws", ...capacity(100) },
  { name: "eu-2", labels: { env: "prod" }, region: "eu", zones: ["eu-b"], provider: "gcp", ...capacity(20) },
  { name: "us-1", labels: { env: "prod" }, region: "us", zones: ["us-a"], provider: "aws", ...capacity(60) },
  {
    name: "edge-1",
    labels: { env: "edge" },
    region: "us",
    zones: ["us-b"],
    taints: [{ key: "edge", value: "true", effect: "NoSchedule" }],
    ...capacity(100),
  },
];

const deployment = (replicas: number, cpu = "100m") => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "shop" },
  spec: {
    replicas,
    template: { spec: { containers: [{ name: "main", image: "web:1", resources: { requests: { cpu } } }] } },
  },
});

const divided = (extra: Partial<Placement> = {}): Placement => ({
  replicaScheduling: {
    replicaSchedulingType: "Divided",
    replicaDivisionPreference: "Weighted",
    weightPreference: { dynamicWeight: "AvailableReplicas" },
  },
  ...extra,
});

describe("scheduling a binding", () => {
  it("divides by free capacity among the clusters the filters let through, and says why others were not", () => {
    const result = scheduleBinding({
      template: deployment(18),
      placement: divided(),
      clusters: CLUSTERS,
      uid: "u1",
    });
    // Free pods 100 : 20 : 60 → 18 replicas split 10 : 2 : 6.
    expect(result.clusters).toEqual([
      { name: "eu-1", replicas: 10 },
      { name: "eu-2", replicas: 2 },
      { name: "us-1", replicas: 6 },
    ]);
    expect(result.rejected).toEqual({
      "TaintToleration: cluster(s) had untolerated taint {edge=true:NoSchedule}": ["edge-1"],
    });
  });

  it("honours tolerations, static weights and affinity by region", () => {
    const result = scheduleBinding({
      template: deployment(6),
      placement: {
        clusterAffinity: {
          fieldSelector: { matchExpressions: [{ key: "region", operator: "In", values: ["us"] }] },
        },
        clusterTolerations: [{ key: "edge", operator: "Exists", effect: "NoSchedule" }],
        replicaScheduling: {
          replicaSchedulingType: "Divided",
          replicaDivisionPreference: "Weighted",
          weightPreference: {
            staticWeightList: [
              { targetCluster: { clusterNames: ["us-1"] }, weight: 2 },
              { targetCluster: { clusterNames: ["edge-1"] }, weight: 1 },
            ],
          },
        },
      },
      clusters: CLUSTERS,
      uid: "u1",
    });
    expect(result.clusters).toEqual([
      { name: "edge-1", replicas: 2 },
      { name: "us-1", replicas: 4 },
    ]);
    expect(Object.keys(rejectionsByCluster(result.rejected)).sort()).toEqual(["eu-1", "eu-2"]);
  });

  it("keeps what runs when scaling up, and moves a lost cluster's replicas", () => {
    const previous = {
      clusters: [
        { name: "eu-1", replicas: 10 },
        { name: "eu-2", replicas: 2 },
        { name: "us-1", replicas: 6 },
      ],
    };
    const scaled = scheduleBinding({
      template: deployment(24),
      placement: divided(),
      clusters: CLUSTERS,
      uid: "u1",
      previous,
    });
    const total = (r: typeof scaled) => r.clusters.reduce((s, c) => s + (c.replicas ?? 0), 0);
    expect(total(scaled)).toBe(24);
    for (const c of previous.clusters)
      expect(scaled.clusters.find((x) => x.name === c.name)!.replicas).toBeGreaterThanOrEqual(c.replicas);
    const withoutUs = scheduleBinding({
      template: deployment(18),
      placement: divided(),
      clusters: CLUSTERS.filter((c) => c.name !== "us-1"),
      uid: "u1",
      previous,
    });
    expect(total(withoutUs)).toBe(18);
    expect(withoutUs.clusters.find((c) => c.name === "eu-1")!.replicas).toBeGreaterThan(10);
  });

  it("falls back to the next affinity term, and reports why nothing fits", () => {
    const placement: Placement = {
      clusterAffinities: [
        { affinityName: "gpu", labelSelector: { matchLabels: { gpu: "true" } } },
        { affinityName: "prod", labelSelector: { matchLabels: { env: "prod" } } },
      ],
    };
    const result = scheduleBinding({ template: deployment(2), placement, clusters: CLUSTERS, uid: "u1" });
    expect(result.observedAffinityName).toBe("prod");
    expect(result.clusters.map((c) => c.name)).toEqual(["eu-1", "eu-2", "us-1"]);
    expect(() =>
      scheduleBinding({
        template: deployment(2),
        placement: { clusterAffinity: { clusterNames: ["nowhere"] } },
        clusters: CLUSTERS,
        uid: "u1",
      }),
    ).toThrow(
      "0/4 clusters are available: 3 cluster(s) did not match the placement cluster affinity constraint, 1 cluster(s) had untolerated taint {edge=true:NoSchedule}.",
    );
  });

  it("checks that the API is served, and sends non-workloads everywhere unsized", () => {
    const crd = { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } };
    const clusters = CLUSTERS.slice(0, 3).map((c, i) => ({
      ...c,
      enabledApis: i === 0 ? ["example.com/v1/widgets"] : ["v1/pods"],
    }));
    const result = scheduleBinding({ template: crd, placement: {}, clusters, uid: "u2" });
    expect(result.clusters).toEqual([{ name: "eu-1" }]);
    expect(rejectionsByCluster(result.rejected)["eu-2"]).toBe(
      "APIEnablement: cluster(s) did not have the API resource",
    );
  });

  it("keeps a workload on a cluster tainted NoExecute or unreachable: the filter only guards new clusters", () => {
    const previous = {
      clusters: [
        { name: "eu-1", replicas: 10 },
        { name: "eu-2", replicas: 2 },
        { name: "us-1", replicas: 6 },
      ],
    };
    const tainted = CLUSTERS.map((c) =>
      c.name === "us-1"
        ? {
            ...c,
            taints: [
              { key: "cluster.karmada.io/unreachable", effect: "NoSchedule" as const },
              { key: "failover", effect: "NoExecute" as const },
            ],
          }
        : c,
    );
    const kept = scheduleBinding({
      template: deployment(18),
      placement: divided(),
      clusters: tainted,
      uid: "u1",
      previous,
    });
    expect(kept.clusters).toEqual(previous.clusters);
    // A cluster the workload does not run on yet stays out.
    const fresh = scheduleBinding({
      template: deployment(18),
      placement: divided(),
      clusters: tainted,
      uid: "u1",
    });
    expect(fresh.clusters.map((c) => c.name)).toEqual(["eu-1", "eu-2"]);
    expect(rejectionsByCluster(fresh.rejected)["us-1"]).toBe(
      "TaintToleration: cluster(s) had untolerated taint {cluster.karmada.io/unreachable=:NoSchedule}",
    );
    // Evicting (the taint manager's decision) is what moves it.
    const evicted = scheduleBinding({
      template: deployment(18),
      placement: divided(),
      clusters: tainted,
      uid: "u1",
      previous,
      evicting: ["us-1"],
    });
    expect(evicted.clusters.map((c) => c.name)).toEqual(["eu-1", "eu-2"]);
    expect(evicted.clusters.reduce((s, c) => s + (c.replicas ?? 0), 0)).toBe(18);
  });

  it("says which failures may clear a result: only the policy or the clusters' own labels", () => {
    const previous = { clusters: [{ name: "eu-1" }, { name: "us-1" }] };
    const fail = (placement: Placement, clusters = CLUSTERS) => {
      try {
        scheduleBinding({ template: deployment(4), placement, clusters, uid: "u3", previous });
      } catch (error) {
        if (error instanceof PlacementError) return failureClearsResult(error, ["eu-1", "us-1"]);
        throw error;
      }
      throw new Error("expected the scheduling to fail");
    };
    // The policy now selects a label no cluster has: the user moved it, so it may leave.
    expect(fail({ clusterAffinity: { labelSelector: { matchLabels: { env: "nowhere" } } } })).toBe(true);
    // A spread constraint no set of clusters meets keeps what runs.
    expect(
      fail({
        spreadConstraints: [
          { spreadByField: "cluster", minGroups: 9, maxGroups: 9 },
          { spreadByField: "region", minGroups: 3, maxGroups: 3 },
        ],
        replicaScheduling: { replicaSchedulingType: "Duplicated" },
      }),
    ).toBe(false);
    // Too little capacity keeps what runs.
    const full = CLUSTERS.map((c) => ({ ...c, ...capacity(0) }));
    expect(fail(divided(), full)).toBe(false);
    // A cluster that still matches the policy keeps the workload whatever its taints say.
    const mixed = CLUSTERS.map((c) => ({
      ...c,
      labels: c.name === "eu-1" ? { env: "gone" } : c.labels,
      taints: [{ key: "maintenance", effect: "NoSchedule" as const }],
    }));
    const kept = scheduleBinding({
      template: deployment(4),
      placement: { clusterAffinity: { labelSelector: { matchLabels: { env: "prod" } } } },
      clusters: mixed,
      uid: "u3",
      previous,
    });
    expect(kept.clusters.map((c) => c.name)).toEqual(["us-1"]);
  });

  it("decides the same with a batch's shared filter verdicts as without them, whatever each template runs on", () => {
    const withApis = CLUSTERS.map((c) =>
      c.name === "us-1"
        ? { ...c, enabledApis: ["v1/configmaps"] }
        : { ...c, enabledApis: ["apps/v1/deployments"] },
    );
    const shared = divided();
    const tolerant = divided({ clusterTolerations: [{ key: "other", operator: "Exists" }] });
    const cases: [string, Parameters<typeof scheduleBinding>[0]][] = [
      ["a new template", { template: deployment(12), placement: shared, clusters: withApis, uid: "a" }],
      [
        "one running on a tainted cluster without the API",
        {
          template: deployment(12),
          placement: shared,
          clusters: withApis,
          uid: "b",
          previous: {
            clusters: [
              { name: "edge-1", replicas: 6 },
              { name: "us-1", replicas: 6 },
            ],
          },
        },
      ],
      [
        "one being evicted from a cluster",
        {
          template: deployment(12),
          placement: tolerant,
          clusters: withApis,
          uid: "c",
          previous: { clusters: [{ name: "eu-1", replicas: 12 }] },
          evicting: ["eu-1"],
        },
      ],
      [
        "a ConfigMap, another resource under the same placement",
        {
          template: {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: "settings", namespace: "shop" },
          },
          placement: shared,
          clusters: withApis,
          uid: "d",
        },
      ],
    ];
    const memo = new FilterMemo();
    for (const [what, input] of cases) {
      const alone = scheduleBinding(input);
      // Twice with the memo: once filling it, once reading what the other cases left in it.
      expect(scheduleBinding({ ...input, memo }), what).toEqual(alone);
      expect(scheduleBinding({ ...input, memo }), what).toEqual(alone);
    }
    expect(rejectionsByCluster(scheduleBinding({ ...cases[1]![1], memo }).rejected)).not.toHaveProperty(
      "edge-1",
    );
  });

  it("names the clusters a spread left out as the feasible list its batch-mates share, less its own", () => {
    const memo = new FilterMemo();
    const spread = divided({ spreadConstraints: [{ spreadByField: "cluster", maxGroups: 1 }] });
    const notSelected = "not selected under the spread constraints";
    const [first, second] = [18, 6].map((replicas) =>
      scheduleBinding({
        template: deployment(replicas),
        placement: spread,
        clusters: CLUSTERS,
        uid: "u",
        memo,
      }),
    );
    const taken = (result: typeof first) => result!.clusters.map((c) => c.name);
    expect(taken(first)).toEqual(["eu-1"]);
    // One list for both, frozen, so neither binding's rejections can change the other's.
    const [one, two] = [first, second].map((result) => result!.rejected[notSelected]);
    expect(one && "of" in one && two && "of" in two && one.of === two.of).toBe(true);
    expect(Object.isFrozen(one && "of" in one ? one.of : undefined)).toBe(true);
    for (const result of [first!, second!])
      expect(listRejections(result.rejected)[notSelected]).toEqual(
        ["eu-1", "eu-2", "us-1"].filter((name) => !taken(result).includes(name)),
      );
    expect(rejectionsByCluster(first!.rejected)).toMatchObject({ "eu-2": notSelected, "us-1": notSelected });
  });

  it("sees capacity taken by the batch's earlier templates though it shares their candidates", () => {
    // As the scheduler places a batch: each decision's replicas are assumed on its clusters, and
    // the next template, asking as much or more per replica, must see the room that is left.
    const clusters = CLUSTERS.map((c) => ({ ...c }));
    const memo = new FilterMemo();
    const outcome = (input: Parameters<typeof scheduleBinding>[0]) => {
      try {
        return scheduleBinding(input);
      } catch (error) {
        return (error as Error).message;
      }
    };
    const outcomes: unknown[] = [];
    // Aggregated: each template fills the roomiest cluster first, so taken room sends the next elsewhere.
    const aggregated: Placement = {
      replicaScheduling: { replicaSchedulingType: "Divided", replicaDivisionPreference: "Aggregated" },
    };
    for (const [i, cpu] of ["16", "16", "8", "16", "100m", "16"].entries()) {
      const template = deployment(4, cpu);
      const input = { template, placement: aggregated, clusters, uid: `u-${i}` };
      const shared = outcome({ ...input, memo });
      expect(shared, `template ${i}`).toEqual(outcome(input));
      outcomes.push(shared);
      if (typeof shared === "string") continue;
      for (const target of shared.clusters) {
        const at = clusters.findIndex((c) => c.name === target.name);
        clusters[at] = assumeReplicas(clusters[at]!, replicaRequests(template)!, target.replicas ?? 0);
      }
    }
    // The room taken changed the decisions: the same template went elsewhere, then nowhere.
    expect(outcomes[1]).not.toEqual(outcomes[0]);
    expect(outcomes.at(-1)).toMatch(/not enough/);
  });
});
