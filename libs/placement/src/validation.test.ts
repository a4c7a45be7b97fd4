import { describe, expect, it } from "vitest";
import type { OverridePolicyDoc } from "./overrides.js";
import type { PropagationPolicyDoc } from "./propagation-policy.js";
import {
  labelSelectorErrors,
  objectMetaErrors,
  overridePolicyErrors,
  propagationPolicyErrors,
  validJsonPointer,
} from "./validation.js";

// biome-ignore lint/suspicious/noExplicitAny: specs under test are deliberately loose
type Any = any;

const pp = (spec: Any, kind: "PropagationPolicy" | "ClusterPropagationPolicy" = "PropagationPolicy") =>
  ({
    apiVersion: "policy.karmada.io/v1alpha1",
    kind,
    metadata: { name: "p", ...(kind === "PropagationPolicy" ? { namespace: "shop" } : {}) },
    spec: { resourceSelectors: [{ apiVersion: "apps/v1", kind: "Deployment", namespace: "shop" }], ...spec },
  }) as PropagationPolicyDoc;

const fields = (errors: { field: string }[]) => errors.map((e) => e.field);

/** One row per rule of Karmada's ValidatePropagationSpec, its webhook and its CRD schema. */
describe("PropagationPolicy validation, rule by rule as Karmada's", () => {
  it.each([
    ["a plain policy", {}, []],
    [
      "selector namespace other than the policy's",
      { resourceSelectors: [{ apiVersion: "v1", kind: "Pod", namespace: "other" }] },
      ["spec.resourceSelectors[0].namespace"],
    ],
    ["no selector", { resourceSelectors: [] }, ["spec.resourceSelectors"]],
    [
      "a selector without kind",
      { resourceSelectors: [{ apiVersion: "v1", namespace: "shop" }] },
      ["spec.resourceSelectors[0].kind"],
    ],
    [
      "preemption Always with an unnamed selector",
      { preemption: "Always" },
      ["spec.resourceSelectors[0].name"],
    ],
    [
      "preemption Always with named selectors",
      {
        preemption: "Always",
        resourceSelectors: [{ apiVersion: "v1", kind: "Pod", namespace: "shop", name: "a" }],
      },
      [],
    ],
    ["an unknown preemption", { preemption: "Sometimes" }, ["spec.preemption"]],
    ["an unknown conflictResolution", { conflictResolution: "Merge" }, ["spec.conflictResolution"]],
    ["an unknown activationPreference", { activationPreference: "Eager" }, ["spec.activationPreference"]],
    ["a priority beyond int32", { priority: 2 ** 31 }, ["spec.priority"]],
    [
      "suspension dispatching with clusters",
      { suspension: { dispatching: true, dispatchingOnClusters: { clusterNames: ["a"] } } },
      ["spec.suspension.suspension"],
    ],
    [
      "suspension dispatching false with clusters",
      { suspension: { dispatching: false, dispatchingOnClusters: { clusterNames: ["a"] } } },
      [],
    ],
    [
      "application failover without propagateDeps",
      { failover: { application: { decisionConditions: { tolerationSeconds: 10 }, purgeMode: "Directly" } } },
      ["spec.propagateDeps"],
    ],
    [
      "negative application tolerationSeconds",
      {
        propagateDeps: true,
        failover: { application: { decisionConditions: { tolerationSeconds: -1 }, purgeMode: "Directly" } },
      },
      ["spec.failover.application.decisionConditions.tolerationSeconds"],
    ],
    [
      "gracePeriodSeconds without Gracefully",
      { propagateDeps: true, failover: { application: { purgeMode: "Directly", gracePeriodSeconds: 10 } } },
      ["spec.failover.application.gracePeriodSeconds"],
    ],
    [
      "gracePeriodSeconds of 0",
      { propagateDeps: true, failover: { application: { purgeMode: "Gracefully", gracePeriodSeconds: 0 } } },
      ["spec.failover.application.gracePeriodSeconds"],
    ],
    [
      "a bad alias label in state preservation",
      {
        failover: {
          cluster: { statePreservation: { rules: [{ aliasLabelName: "bad key!", jsonPath: "{.a}" }] } },
        },
      },
      ["spec.failover.cluster.statePreservation.rules[0].aliasLabelName"],
    ],
    [
      "an unknown cluster purgeMode",
      { failover: { cluster: { purgeMode: "Never" } } },
      ["spec.failover.cluster.purgeMode"],
    ],
    [
      "clusterAffinity with clusterAffinities",
      { placement: { clusterAffinity: {}, clusterAffinities: [{ affinityName: "a" }] } },
      ["spec.placement"],
    ],
    [
      "an unsupported field selector key",
      {
        placement: {
          clusterAffinity: {
            fieldSelector: { matchExpressions: [{ key: "color", operator: "In", values: ["x"] }] },
          },
        },
      },
      ["spec.placement.clusterAffinity.fieldSelector"],
    ],
    [
      "an unsupported field selector operator",
      {
        placement: {
          clusterAffinity: { fieldSelector: { matchExpressions: [{ key: "region", operator: "Exists" }] } },
        },
      },
      ["spec.placement.clusterAffinity.fieldSelector"],
    ],
    [
      "an affinity name that is not a label key",
      { placement: { clusterAffinities: [{ affinityName: "not a key" }] } },
      ["spec.placement.clusterAffinities[0]"],
    ],
    [
      "an affinity name of 33 characters",
      { placement: { clusterAffinities: [{ affinityName: "a".repeat(33) }] } },
      ["spec.placement.clusterAffinities[0]"],
    ],
    [
      "two affinity terms with one name",
      { placement: { clusterAffinities: [{ affinityName: "a" }, { affinityName: "a" }] } },
      ["spec.placement.clusterAffinities"],
    ],
    [
      "overflow tiers with static weights",
      {
        placement: {
          clusterAffinities: [
            { affinityName: "a", clusterNames: ["x"], overflowAffinities: [{ affinityName: "b" }] },
          ],
        },
      },
      ["spec.placement.clusterAffinities[0].overflowAffinities"],
    ],
    [
      "overflow tiers on an empty term, with a repeated name",
      {
        placement: {
          replicaScheduling: { replicaSchedulingType: "Divided", replicaDivisionPreference: "Aggregated" },
          clusterAffinities: [{ affinityName: "a", overflowAffinities: [{ affinityName: "a" }] }],
        },
      },
      [
        "spec.placement.clusterAffinities[0].overflowAffinities",
        "spec.placement.clusterAffinities[0].overflowAffinities[0].affinityName",
      ],
    ],
    [
      "overflow tiers with dynamic weights",
      {
        placement: {
          replicaScheduling: {
            replicaSchedulingType: "Divided",
            replicaDivisionPreference: "Weighted",
            weightPreference: { dynamicWeight: "AvailableReplicas" },
          },
          clusterAffinities: [
            {
              affinityName: "a",
              clusterNames: ["x"],
              overflowAffinities: [{ affinityName: "b", clusterNames: ["y"] }],
            },
          ],
        },
      },
      [],
    ],
    [
      "spreadByField with spreadByLabel",
      { placement: { spreadConstraints: [{ spreadByField: "cluster", spreadByLabel: "x", minGroups: 1 }] } },
      ["spec.placement.spreadConstraints[0]"],
    ],
    [
      "negative minGroups",
      { placement: { spreadConstraints: [{ spreadByField: "cluster", minGroups: -1 }] } },
      ["spec.placement.spreadConstraints[0]"],
    ],
    [
      "maxGroups below minGroups",
      { placement: { spreadConstraints: [{ spreadByField: "cluster", minGroups: 3, maxGroups: 2 }] } },
      ["spec.placement.spreadConstraints[0]"],
    ],
    [
      "two cluster constraints",
      {
        placement: {
          spreadConstraints: [
            { spreadByField: "cluster", minGroups: 1 },
            { spreadByField: "cluster", minGroups: 2 },
          ],
        },
      },
      ["spec.placement.spreadConstraints"],
    ],
    [
      "a region constraint alone",
      { placement: { spreadConstraints: [{ spreadByField: "region", minGroups: 1 }] } },
      ["spec.placement.spreadConstraints"],
    ],
    [
      "an unknown spreadByField",
      { placement: { spreadConstraints: [{ spreadByField: "rack", minGroups: 1 }] } },
      ["spec.placement.spreadConstraints[0].spreadByField", "spec.placement.spreadConstraints"],
    ],
    [
      "workload affinity keys that are equal",
      {
        placement: {
          workloadAffinity: {
            affinity: { groupByLabelKey: "app" },
            antiAffinity: { groupByLabelKey: "app" },
          },
        },
      },
      ["spec.placement.workloadAffinity"],
    ],
    [
      "a workload affinity key that is not a label key",
      { placement: { workloadAffinity: { affinity: { groupByLabelKey: "a b" } } } },
      ["spec.placement.workloadAffinity.affinity.groupByLabelKey"],
    ],
    [
      "a toleration with Lt",
      { placement: { clusterTolerations: [{ key: "a", operator: "Lt", value: "1" }] } },
      ["spec.placement.clusterTolerations[0].operator"],
    ],
    [
      "a toleration Exists with a value (Karmada takes it)",
      { placement: { clusterTolerations: [{ key: "a", operator: "Exists", value: "1" }] } },
      [],
    ],
    [
      "an unknown replicaSchedulingType",
      { placement: { replicaScheduling: { replicaSchedulingType: "Spread" } } },
      ["spec.placement.replicaScheduling.replicaSchedulingType"],
    ],
    [
      "an unknown dynamicWeight",
      { placement: { replicaScheduling: { weightPreference: { dynamicWeight: "Free" } } } },
      ["spec.placement.replicaScheduling.weightPreference.dynamicWeight"],
    ],
    [
      "a weight of 1e308",
      {
        placement: {
          replicaScheduling: {
            weightPreference: { staticWeightList: [{ targetCluster: {}, weight: 1e308 }] },
          },
        },
      },
      ["spec.placement.replicaScheduling.weightPreference.staticWeightList[0].weight"],
    ],
  ])("%s", (_, spec, expected) => {
    expect(fields(propagationPolicyErrors(pp(spec)))).toEqual(expected);
  });

  it("refuses Karmada's reserved namespaces in a ClusterPropagationPolicy", () => {
    const doc = pp(
      { resourceSelectors: [{ apiVersion: "v1", kind: "Pod", namespace: "karmada-es-a" }] },
      "ClusterPropagationPolicy",
    );
    expect(fields(propagationPolicyErrors(doc))).toEqual(["spec.resourceSelectors[0].namespace"]);
  });
});

describe("OverridePolicy validation, rule by rule as Karmada's", () => {
  const op = (spec: Any) =>
    ({ kind: "OverridePolicy", metadata: { name: "o", namespace: "shop" }, spec }) as OverridePolicyDoc;
  const rule = (overriders: Any, targetCluster?: Any) => ({
    overrideRules: [{ overriders, ...(targetCluster ? { targetCluster } : {}) }],
  });

  it.each([
    ["a plain policy", rule({ plaintext: [{ path: "/spec/replicas", operator: "replace", value: 2 }] }), []],
    [
      "targetCluster with overrideRules",
      { targetCluster: { clusterNames: ["a"] }, ...rule({}) },
      ["spec.targetCluster"],
    ],
    [
      "overriders with overrideRules",
      { overriders: { plaintext: [{ path: "/a", operator: "remove" }] }, ...rule({}) },
      ["spec.overriders"],
    ],
    [
      "a bad deprecated targetCluster",
      { targetCluster: { fieldSelector: { matchExpressions: [{ key: "color", operator: "In" }] } } },
      ["spec.targetCluster.fieldSelector"],
    ],
    ["a rule without overriders", { overrideRules: [{}] }, ["spec.overrideRules[0].overriders"]],
    [
      "a label key that is not one",
      rule({ labelsOverrider: [{ operator: "add", value: { "bad key": "v" } }] }),
      ["spec.overrideRules[0].overriders.labelsOverrider[0].value"],
    ],
    [
      "a label value too long",
      rule({ labelsOverrider: [{ operator: "add", value: { k: "v".repeat(64) } }] }),
      ["spec.overrideRules[0].overriders.labelsOverrider[0].value[k]"],
    ],
    [
      "an annotation key that is not one",
      rule({ annotationsOverrider: [{ operator: "add", value: { "a/b/c": "v" } }] }),
      ["spec.overrideRules[0].overriders.annotationsOverrider[0].value"],
    ],
    [
      "an image predicate that is not a pointer",
      rule({
        imageOverrider: [{ component: "Tag", operator: "replace", value: "v2", predicate: { path: "spec" } }],
      }),
      ["spec.overrideRules[0].overriders.imageOverrider[0].predicate.path"],
    ],
    [
      "a field overrider with json and yaml",
      rule({
        fieldOverrider: [
          {
            fieldPath: "/data/a",
            json: [{ subPath: "/x", operator: "remove" }],
            yaml: [{ subPath: "/y", operator: "remove" }],
          },
        ],
      }),
      ["spec.overrideRules[0].overriders.fieldOverrider[0]"],
    ],
    [
      "a field overrider with neither",
      rule({ fieldOverrider: [{ fieldPath: "/data/a" }] }),
      ["spec.overrideRules[0].overriders.fieldOverrider[0]"],
    ],
    [
      "a field path with a bad escape",
      rule({ fieldOverrider: [{ fieldPath: "/data/a~2", json: [{ subPath: "/x", operator: "remove" }] }] }),
      ["spec.overrideRules[0].overriders.fieldOverrider[0].fieldPath"],
    ],
    [
      "patch operations without or with a value against their operator",
      rule({
        fieldOverrider: [
          {
            fieldPath: "/data/a",
            yaml: [
              { subPath: "/x", operator: "add" },
              { subPath: "/y", operator: "remove", value: 1 },
            ],
          },
        ],
      }),
      [
        "spec.overrideRules[0].overriders.fieldOverrider[0].yaml[0].value",
        "spec.overrideRules[0].overriders.fieldOverrider[0].yaml[1].value",
      ],
    ],
    [
      "a target cluster with a bad field selector",
      rule({}, { fieldSelector: { matchExpressions: [{ key: "zone", operator: "Gt" }] } }),
      ["spec.overrideRules[0].targetCluster.fieldSelector"],
    ],
    [
      "a selector in another namespace",
      { resourceSelectors: [{ apiVersion: "v1", kind: "Pod", namespace: "other" }], ...rule({}) },
      ["spec.resourceSelectors[0].namespace"],
    ],
  ])("%s", (_, spec, expected) => {
    expect(fields(overridePolicyErrors(op(spec)))).toEqual(expected);
  });
});

describe("JSON pointers", () => {
  it.each([
    ["", true],
    ["/a/b", true],
    ["/a~0b/~1c", true],
    ["a/b", false],
    ["/a~2", false],
    ["/a~", false],
  ])("%j is valid: %s", (pointer, valid) => {
    expect(validJsonPointer(pointer)).toBe(valid);
  });
});

describe("object names and label selectors, as kube-apiserver checks them", () => {
  it.each([
    [{ kind: "ConfigMap", metadata: { name: "web-config.v2", namespace: "shop" } }, []],
    [{ kind: "ConfigMap", metadata: { name: "Bad_Name!", namespace: "shop" } }, ["metadata.name"]],
    [{ kind: "ConfigMap", metadata: { name: "ok", namespace: "../kube-system" } }, ["metadata.namespace"]],
    [{ kind: "Namespace", metadata: { name: "a.b" } }, ["metadata.name"]],
    [{ kind: "Service", metadata: { name: "1st", namespace: "shop" } }, ["metadata.name"]],
    [{ kind: "ClusterRoleBinding", metadata: { name: "system:admins" } }, []],
    [{ kind: "ClusterRoleBinding", metadata: { name: "../x" } }, ["metadata.name"]],
    [{ kind: "Deployment", metadata: { name: "x".repeat(254), namespace: "shop" } }, ["metadata.name"]],
    [{ kind: "Deployment", metadata: { name: 7, namespace: "shop" } }, ["metadata.name"]],
  ])("%j", (doc, expected) => {
    expect(fields(objectMetaErrors(doc as never))).toEqual(expected);
  });

  it.each([
    ["an empty key", { matchExpressions: [{ key: "", operator: "Exists" }] }, ["s.matchExpressions[0].key"]],
    [
      "an unknown operator",
      { matchExpressions: [{ key: "a", operator: "Gt", values: ["1"] }] },
      ["s.matchExpressions[0].operator"],
    ],
    [
      "In without values",
      { matchExpressions: [{ key: "a", operator: "In" }] },
      ["s.matchExpressions[0].values"],
    ],
    [
      "Exists with values",
      { matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] },
      ["s.matchExpressions[0].values"],
    ],
    ["a label value too long", { matchLabels: { a: "v".repeat(64) } }, ["s.matchLabels"]],
    [
      "a good selector",
      {
        matchLabels: { "app.kubernetes.io/name": "web" },
        matchExpressions: [{ key: "tier", operator: "NotIn", values: ["edge"] }],
      },
      [],
    ],
  ])("%s", (_, selector, expected) => {
    expect(fields(labelSelectorErrors(selector as never, "s"))).toEqual(expected);
  });

  it("checks the label selectors of resource selectors and cluster affinities", () => {
    const doc = pp({
      resourceSelectors: [
        {
          apiVersion: "v1",
          kind: "Pod",
          namespace: "shop",
          labelSelector: { matchExpressions: [{ key: "", operator: "In", values: ["a"] }] },
        },
      ],
      placement: { clusterAffinity: { labelSelector: { matchLabels: { "bad key": "x" } } } },
    });
    expect(fields(propagationPolicyErrors(doc))).toEqual([
      "spec.placement.clusterAffinity.labelSelector.matchLabels",
      "spec.resourceSelectors[0].labelSelector.matchExpressions[0].key",
    ]);
  });
});
