import { describe, expect, it } from "vitest";
import { authorityCovers, clustersBeyond, overrideReach, placementReach } from "./authority.js";
import type { OverridePolicyDoc } from "./overrides.js";
import type { ClusterInfo, Placement } from "./types.js";

const FLEET: ClusterInfo[] = [
  { name: "sim-1", labels: { env: "prod" }, region: "eu" },
  { name: "sim-2", labels: { env: "prod" }, region: "us" },
  { name: "sim-3", labels: { env: "dev" }, region: "eu" },
];

describe("placementReach", () => {
  it.each<[string, Placement | undefined, string[]]>([
    ["no placement selects every cluster", undefined, ["sim-1", "sim-2", "sim-3"]],
    ["no affinity selects every cluster", { clusterTolerations: [] }, ["sim-1", "sim-2", "sim-3"]],
    ["cluster names", { clusterAffinity: { clusterNames: ["sim-2"] } }, ["sim-2"]],
    [
      "a label selector",
      { clusterAffinity: { labelSelector: { matchLabels: { env: "prod" } } } },
      ["sim-1", "sim-2"],
    ],
    [
      "exclusions",
      { clusterAffinity: { labelSelector: { matchLabels: { env: "prod" } }, exclude: ["sim-1"] } },
      ["sim-2"],
    ],
    [
      "every term and overflow tier of clusterAffinities",
      {
        clusterAffinities: [
          {
            affinityName: "primary",
            clusterNames: ["sim-1"],
            overflowAffinities: [{ affinityName: "burst", clusterNames: ["sim-3"] }],
          },
          {
            affinityName: "backup",
            fieldSelector: { matchExpressions: [{ key: "region", operator: "In", values: ["us"] }] },
          },
        ],
      },
      ["sim-1", "sim-2", "sim-3"],
    ],
    ["a name no cluster has", { clusterAffinity: { clusterNames: ["ghost"] } }, []],
  ])("%s", (_name, placement, expected) => {
    expect(placementReach(placement, FLEET)).toEqual(expected);
  });
});

describe("overrideReach", () => {
  const policy = (spec: OverridePolicyDoc["spec"]): OverridePolicyDoc =>
    ({
      apiVersion: "policy.karmada.io/v1alpha1",
      kind: "OverridePolicy",
      metadata: { name: "o" },
      spec,
    }) as never;
  it.each<[string, OverridePolicyDoc, string[]]>([
    [
      "a rule without a target reaches every cluster",
      policy({ overrideRules: [{ overriders: {} }] }),
      ["sim-1", "sim-2", "sim-3"],
    ],
    [
      "targeted rules add up",
      policy({
        overrideRules: [
          { targetCluster: { clusterNames: ["sim-1"] }, overriders: {} },
          { targetCluster: { labelSelector: { matchLabels: { env: "dev" } } }, overriders: {} },
        ],
      }),
      ["sim-1", "sim-3"],
    ],
    [
      "the deprecated single target",
      policy({ targetCluster: { clusterNames: ["sim-2"] }, overriders: {} }),
      ["sim-2"],
    ],
    ["no rules reach nothing", policy({}), []],
  ])("%s", (_name, doc, expected) => {
    expect(overrideReach(doc, FLEET)).toEqual(expected);
  });
});

describe("authority", () => {
  it("covers named clusters, or every cluster with *", () => {
    expect(authorityCovers({ appliedBy: "a", clusters: ["sim-1"] }, "sim-1")).toBe(true);
    expect(authorityCovers({ appliedBy: "a", clusters: ["sim-1"] }, "sim-2")).toBe(false);
    expect(authorityCovers({ appliedBy: "a", clusters: ["*"] }, "later")).toBe(true);
  });
  it.each([
    [["*"], ["*"], []],
    [["sim-1"], ["*"], ["*"]],
    [["sim-1"], ["sim-1", "sim-2"], ["sim-2"]],
    [["sim-1", "sim-2"], ["sim-2"], []],
  ])("%j leaves out what %j reaches beyond it", (outer, inner, beyond) => {
    expect(clustersBeyond(outer, inner)).toEqual(beyond);
  });
});
