import { describe, expect, it } from "vitest";
import {
  assessEvictionTasks,
  type ClusterCondition,
  type ClusterTaintPolicyDoc,
  conditionsMatch,
  conditionTaints,
  type EvictionTask,
  evictionsDue,
  fleetDisruption,
  readyCondition,
  taintsUnderPolicies,
} from "./cluster-health.js";
import type { Taint } from "./types.js";

const NOW = Date.parse("2026-12-04T12:00:00Z");
const ready = (status: ClusterCondition["status"]): ClusterCondition => ({
  type: "Ready",
  status,
  reason: "",
  message: "",
});

describe("a cluster's Ready condition and the taints it brings", () => {
  it.each([
    ["never heard from", undefined, "Unknown", "ClusterStatusNeverUpdated"],
    [
      "silent past the grace period",
      { lastHeardMs: NOW - 31_000, readyNodes: 3 },
      "Unknown",
      "ClusterStatusUnknown",
    ],
    ["heard from, no ready node", { lastHeardMs: NOW - 1_000, readyNodes: 0 }, "False", "ClusterNotReady"],
    ["heard from, nodes ready", { lastHeardMs: NOW - 29_000, readyNodes: 2 }, "True", "ClusterReady"],
  ] as const)("%s", (_, liveness, status, reason) => {
    const condition = readyCondition("eu-1", liveness, NOW, 30_000);
    expect(condition).toMatchObject({ type: "Ready", status, reason });
  });

  it.each([
    ["Unknown", [{ key: "cluster.karmada.io/unreachable", effect: "NoSchedule" }]],
    ["False", [{ key: "cluster.karmada.io/not-ready", effect: "NoSchedule" }]],
    ["True", []],
  ] as const)(
    "Ready=%s gives NoSchedule taints only, replacing the other automatic one",
    (status, expected) => {
      const before: Taint[] = [
        { key: "cluster.karmada.io/unreachable", effect: "NoSchedule" },
        { key: "cluster.karmada.io/not-ready", effect: "NoSchedule" },
        { key: "team", value: "a", effect: "NoExecute" },
      ];
      expect(conditionTaints(before, ready(status))).toEqual([
        { key: "team", value: "a", effect: "NoExecute" },
        ...expected,
      ]);
    },
  );
});

describe("ClusterTaintPolicy", () => {
  const policy = (spec: Partial<ClusterTaintPolicyDoc["spec"]>): ClusterTaintPolicyDoc => ({
    apiVersion: "policy.karmada.io/v1alpha1",
    kind: "ClusterTaintPolicy",
    metadata: { name: "p" },
    spec: { taints: [{ key: "failover", effect: "NoExecute" }], ...spec },
  });
  const addWhenUnknown = policy({
    addOnConditions: [{ conditionType: "Ready", operator: "NotIn", statusValues: ["True"] }],
    removeOnConditions: [{ conditionType: "Ready", operator: "In", statusValues: ["True"] }],
  });

  it.each([
    [
      "In matches a listed status",
      [{ conditionType: "Ready", operator: "In", statusValues: ["Unknown"] }],
      true,
    ],
    [
      "In misses another status",
      [{ conditionType: "Ready", operator: "In", statusValues: ["False"] }],
      false,
    ],
    ["NotIn matches", [{ conditionType: "Ready", operator: "NotIn", statusValues: ["True"] }], true],
    [
      "a condition the cluster lacks never matches",
      [{ conditionType: "Disk", operator: "NotIn", statusValues: ["True"] }],
      false,
    ],
    ["an empty list never matches", [], false],
    [
      "conditions are ANDed",
      [
        { conditionType: "Ready", operator: "In", statusValues: ["Unknown"] },
        { conditionType: "Ready", operator: "In", statusValues: ["False"] },
      ],
      false,
    ],
  ] as const)("%s", (_, match, expected) => {
    expect(conditionsMatch([ready("Unknown")], [...match] as never)).toBe(expected);
  });

  it("adds its taints once, with the time, and removes them when the cluster recovers", () => {
    const now = new Date(NOW);
    const added = taintsUnderPolicies({ name: "eu-1" }, [ready("Unknown")], [addWhenUnknown], now);
    expect(added).toEqual([{ key: "failover", effect: "NoExecute", timeAdded: now.toISOString() }]);
    const later = new Date(NOW + 60_000);
    expect(
      taintsUnderPolicies({ name: "eu-1", taints: added }, [ready("Unknown")], [addWhenUnknown], later),
    ).toEqual(added);
    expect(
      taintsUnderPolicies({ name: "eu-1", taints: added }, [ready("True")], [addWhenUnknown], later),
    ).toEqual([]);
  });

  it("touches only the clusters it targets, and leaves other taints alone", () => {
    const targeted = policy({
      ...addWhenUnknown.spec,
      targetClusters: { labelSelector: { matchLabels: { tier: "edge" } } },
    });
    const manual: Taint = { key: "maintenance", effect: "NoSchedule" };
    const now = new Date(NOW);
    expect(
      taintsUnderPolicies(
        { name: "core", labels: { tier: "core" }, taints: [manual] },
        [ready("Unknown")],
        [targeted],
        now,
      ),
    ).toEqual([manual]);
    expect(
      taintsUnderPolicies(
        { name: "edge", labels: { tier: "edge" }, taints: [manual] },
        [ready("Unknown")],
        [targeted],
        now,
      ),
    ).toEqual([manual, { key: "failover", effect: "NoExecute", timeAdded: now.toISOString() }]);
  });
});

describe("fleet disruption", () => {
  const fleet = (statuses: ClusterCondition["status"][]) =>
    statuses.map((status, i) => ({ name: `c${i}`, ready: ready(status) }));

  it.each([
    ["one silent cluster of three", ["Unknown", "True", "True"], false],
    ["two silent clusters of three (67%)", ["Unknown", "Unknown", "True"], true],
    ["half of the fleet silent (below 55%)", ["Unknown", "True"], false],
    ["the whole fleet silent", ["Unknown", "Unknown", "Unknown", "Unknown"], true],
    ["clusters heard from but not ready are not silence", ["False", "False", "False"], false],
    ["a fleet of one that went silent", ["Unknown"], true],
  ] as const)("%s", (_, statuses, disrupted) => {
    const verdict = fleetDisruption(fleet([...statuses]));
    expect(verdict.disrupted).toBe(disrupted);
    expect(verdict.message === "").toBe(!disrupted);
  });
});

describe("the taint manager and graceful eviction", () => {
  const taint = (addedSecondsAgo: number): Taint => ({
    key: "failover",
    effect: "NoExecute",
    timeAdded: new Date(NOW - addedSecondsAgo * 1000).toISOString(),
  });
  const clusters = [
    { name: "a", taints: [taint(10)] },
    { name: "b", taints: [{ key: "quiet", effect: "NoSchedule" as const }] },
    { name: "c" },
  ];

  it.each([
    ["no toleration: due now", [], ["a"], -1],
    [
      "tolerated for 60 s, added 10 s ago: due in 50 s",
      [{ key: "failover", operator: "Exists", tolerationSeconds: 60 }],
      [],
      50_000,
    ],
    [
      "tolerated for 5 s, added 10 s ago: due now",
      [{ key: "failover", operator: "Exists", tolerationSeconds: 5 }],
      ["a"],
      -1,
    ],
    ["tolerated forever: never", [{ key: "failover", operator: "Exists" }], [], -1],
  ] as const)("%s", (_, tolerations, due, nextInMs) => {
    const verdict = evictionsDue(["a", "b", "c"], clusters, [...tolerations] as never, new Date(NOW));
    expect(verdict).toEqual({ due, nextInMs });
  });

  const task = (purgeMode: EvictionTask["purgeMode"], ageSeconds: number, grace?: number): EvictionTask => ({
    fromCluster: "a",
    purgeMode,
    reason: "TaintUntolerated",
    message: "",
    createdAt: new Date(NOW - ageSeconds * 1000).toISOString(),
    ...(grace === undefined ? {} : { gracePeriodSeconds: grace }),
  });

  it.each([
    ["Gracefully, new home not yet healthy", task("Gracefully", 10), false, "remaining"],
    ["Gracefully, new home healthy", task("Gracefully", 10), true, "ended"],
    ["Gracefully, grace period over", task("Gracefully", 30, 20), false, "ended"],
    ["Gracefully, default grace of 600 s not over", task("Gracefully", 599), false, "remaining"],
    ["Directly", task("Directly", 0), false, "ended"],
  ] as const)("%s", (_, evictionTask, healthy, where) => {
    const verdict = assessEvictionTasks([evictionTask], ["b", "c"], () => healthy, new Date(NOW));
    expect(verdict[where]).toEqual([evictionTask]);
  });

  it("never ends a graceful task while the workload has no new home", () => {
    const verdict = assessEvictionTasks([task("Gracefully", 10)], ["a"], () => true, new Date(NOW));
    expect(verdict.remaining).toHaveLength(1);
  });
});
