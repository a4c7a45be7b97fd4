import { BUILTIN_RESOURCE_TYPES } from "@atoll/kube";
import { describe, expect, it } from "vitest";
import { defaultSyncRules, parseSyncRules, planReflectors, SyncRulesError, trimObject } from "./rules.js";

const served = [
  ...BUILTIN_RESOURCE_TYPES,
  {
    group: "example.com",
    version: "v1",
    resource: "widgets",
    kind: "Widget",
    namespaced: true,
    shortNames: [],
    categories: [],
  },
  {
    group: "example.com",
    version: "v1",
    resource: "gadgets",
    kind: "Gadget",
    namespaced: false,
    shortNames: [],
    categories: [],
  },
];

describe("parseSyncRules", () => {
  it("reads every field", () => {
    const [rule] = parseSyncRules(`
rules:
  - apiVersion: apps/v1
    resource: deployments
    namespaces: { include: [prod, staging] }
    labelSelector: tier=backend
    fieldSelector: metadata.name!=skip
    trim: [status.conditions, "metadata.annotations[deployment.kubernetes.io/revision]"]
`);
    expect(rule).toMatchObject({
      apiVersion: "apps/v1",
      resource: "deployments",
      includeNamespaces: ["prod", "staging"],
      excludeNamespaces: [],
      labelSelector: "tier=backend",
      fieldSelector: "metadata.name!=skip",
      trimPaths: ["status.conditions", "metadata.annotations[deployment.kubernetes.io/revision]"],
    });
  });

  it.each([
    ["rules: {}", /top-level "rules" list/],
    ["rules: [ { resource: pods } ]", /rules\[0\]\.apiVersion: required/],
    ["rules: [ { apiVersion: v1 } ]", /rules\[0\]\.resource: required/],
    [
      "rules: [ { apiVersion: v1, resource: pods, namespaces: { include: [a], exclude: [b] } } ]",
      /include or exclude, not both/,
    ],
    ["rules: [ { apiVersion: v1, resource: pods, labelSelector: 'a in b' } ]", /rules\[0\]\.labelSelector/],
    ["rules: [ { apiVersion: v1, resource: pods, trim: status } ]", /rules\[0\]\.trim: must be a list/],
    ["rules: [ : ", /not valid YAML/],
    [`rules: ${"[".repeat(40_000)}`, /nests collections more than 64 deep/],
    [`a: &a x\nrules: [${Array(500).fill("*a").join(",")}]`, /more than 100 aliases/],
  ])("rejects %j, naming the field", (text, message) => {
    expect(() => parseSyncRules(text)).toThrow(SyncRulesError);
    expect(() => parseSyncRules(text)).toThrow(message);
  });
});

describe("planReflectors", () => {
  const plan = (text: string) => planReflectors(parseSyncRules(text), served);

  it("defaults to one reflector per built-in type", () => {
    const { plans, unmatched } = planReflectors(defaultSyncRules(), served);
    expect(plans.map((p) => p.type.resource)).toEqual(BUILTIN_RESOURCE_TYPES.map((t) => t.resource));
    expect(unmatched).toEqual([]);
  });

  it("expands * to every served resource of the group version, CRDs included", () => {
    const { plans } = plan("rules: [ { apiVersion: example.com/v1, resource: '*' } ]");
    expect(plans.map((p) => p.type.kind).sort()).toEqual(["Gadget", "Widget"]);
  });

  it("makes one reflector per included namespace and excludes namespaces by field selector", () => {
    const { plans } = plan(`
rules:
  - { apiVersion: v1, resource: pods, namespaces: { include: [a, b] }, labelSelector: app=web }
  - { apiVersion: v1, resource: configmaps, namespaces: { exclude: [kube-system, kube-public] }, fieldSelector: metadata.name!=x }
  - { apiVersion: v1, resource: nodes, namespaces: { include: [ignored] } }
`);
    expect(plans.map((p) => [p.type.resource, p.namespace ?? "*", p.labelSelector, p.fieldSelector])).toEqual(
      [
        ["pods", "a", "app=web", ""],
        ["pods", "b", "app=web", ""],
        [
          "configmaps",
          "*",
          "",
          "metadata.name!=x,metadata.namespace!=kube-system,metadata.namespace!=kube-public",
        ],
        ["nodes", "*", "", ""],
      ],
    );
  });

  it.each([
    ["rules: [ { apiVersion: v1, resource: pods }, { apiVersion: v1, resource: pods, labelSelector: a=b } ]"],
    [
      "rules: [ { apiVersion: v1, resource: pods, namespaces: { include: [a] } }, { apiVersion: v1, resource: '*' } ]",
    ],
    [
      "rules: [ { apiVersion: v1, resource: pods, namespaces: { include: [a] } }, { apiVersion: v1, resource: pods, namespaces: { include: [a] } } ]",
    ],
  ])("refuses overlapping rules: %s", (text) => {
    expect(() => plan(text)).toThrow(/both sync v1 pods.*merge them/);
  });

  it("allows disjoint namespaces for one type and reports rules that match nothing", () => {
    const { plans, unmatched } = plan(`
rules:
  - { apiVersion: v1, resource: pods, namespaces: { include: [a] } }
  - { apiVersion: v1, resource: pods, namespaces: { include: [b] } }
  - { apiVersion: nope.io/v1, resource: things }
`);
    expect(plans).toHaveLength(2);
    expect(unmatched).toEqual([2]);
  });
});

describe("trimObject", () => {
  it("removes nested paths, including keys with dots, and leaves the input alone", () => {
    const object = {
      metadata: { annotations: { "a.b/c": "x", keep: "y" } },
      status: { conditions: [1], phase: "Running" },
    };
    expect(trimObject(object, ["status.conditions", "metadata.annotations[a.b/c]", "spec.missing"])).toEqual({
      metadata: { annotations: { keep: "y" } },
      status: { phase: "Running" },
    });
    expect(object.status.conditions).toEqual([1]);
  });
});
