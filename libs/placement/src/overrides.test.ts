import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { applyOverriders, applyRules, type OverridePolicyDoc, overridePlan, rulesFor } from "./overrides.js";

// biome-ignore lint/suspicious/noExplicitAny: the cases read into loose JSON
type Loose = any;

const deployment = () => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "shop", labels: { app: "web" } },
  spec: {
    replicas: 3,
    template: {
      spec: {
        containers: [
          { name: "main", image: "registry.eu/web:1.0", command: ["serve"], args: ["--a", "--b"] },
          { name: "sidecar", image: "envoy:1.30" },
        ],
      },
    },
  },
});

describe("overriders", () => {
  it.each([
    [
      "plaintext replace",
      { plaintext: [{ path: "/spec/replicas", operator: "replace", value: 5 }] },
      (d: Loose) => d.spec.replicas,
      5,
    ],
    [
      "command add to a named container",
      { commandOverrider: [{ containerName: "main", operator: "add", value: ["--verbose"] }] },
      (d: Loose) => d.spec.template.spec.containers[0].command,
      ["serve", "--verbose"],
    ],
    [
      "command add creates the field",
      { commandOverrider: [{ containerName: "sidecar", operator: "add", value: ["envoy"] }] },
      (d: Loose) => d.spec.template.spec.containers[1].command,
      ["envoy"],
    ],
    [
      "args remove every occurrence",
      { argsOverrider: [{ containerName: "main", operator: "remove", value: ["--a"] }] },
      (d: Loose) => d.spec.template.spec.containers[0].args,
      ["--b"],
    ],
    [
      "labels add, replace and remove",
      {
        labelsOverrider: [
          { operator: "add", value: { "topology.example.com/zone": "z1" } },
          { operator: "replace", value: { app: "web-eu", missing: "x" } },
          { operator: "remove", value: { nothere: "" } },
        ],
      },
      (d: Loose) => d.metadata.labels,
      { app: "web-eu", "topology.example.com/zone": "z1" },
    ],
    [
      "annotations add creates the map",
      { annotationsOverrider: [{ operator: "add", value: { owner: "team-a" } }] },
      (d: Loose) => d.metadata.annotations,
      { owner: "team-a" },
    ],
    [
      "image registry replaced on every container",
      { imageOverrider: [{ component: "Registry", operator: "replace", value: "registry.us" }] },
      (d: Loose) => d.spec.template.spec.containers.map((c: Loose) => c.image),
      ["registry.us/web:1.0", "registry.us/envoy:1.30"],
    ],
  ] as const)("%s", (_, overriders, read, expected) => {
    const before = deployment();
    const after = applyOverriders(before, overriders as never);
    expect(read(after)).toEqual(expected);
    expect(before).toEqual(deployment());
  });

  it("patches JSON and YAML embedded in string fields", () => {
    const configMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "cfg" },
      data: { "db.yaml": "host: db.eu\nport: 5432\n", "app.json": '{"debug":false}' },
    };
    const after = applyOverriders(configMap, {
      fieldOverrider: [
        { fieldPath: "/data/db.yaml", yaml: [{ subPath: "/host", operator: "replace", value: "db.us" }] },
        { fieldPath: "/data/app.json", json: [{ subPath: "/debug", operator: "replace", value: true }] },
      ],
    });
    expect(YAML.parse(after.data["db.yaml"])).toEqual({ host: "db.us", port: 5432 });
    expect(JSON.parse(after.data["app.json"])).toEqual({ debug: true });
    expect(() =>
      applyOverriders(configMap, { fieldOverrider: [{ fieldPath: "/metadata", json: [] }] }),
    ).toThrow(/not a string field/);
  });

  it("rejects a plaintext patch on a path that does not exist", () => {
    expect(() =>
      applyOverriders(deployment(), { plaintext: [{ path: "/spec/nope/x", operator: "replace", value: 1 }] }),
    ).toThrow(/does not exist/);
  });
});

describe("override policies", () => {
  const policy = (
    kind: OverridePolicyDoc["kind"],
    name: string,
    spec: OverridePolicyDoc["spec"],
    namespace?: string,
  ): OverridePolicyDoc => ({
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}) },
    spec,
  });
  const image = (value: string) => ({
    imageOverrider: [{ component: "Registry" as const, operator: "replace" as const, value }],
  });

  it("applies cluster-wide policies first, then the namespace's, most specific last", () => {
    const policies = [
      policy(
        "OverridePolicy",
        "by-name",
        {
          resourceSelectors: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web" }],
          overrideRules: [
            {
              targetCluster: { labelSelector: { matchLabels: { region: "us" } } },
              overriders: image("by-name.us"),
            },
          ],
        },
        "shop",
      ),
      policy("OverridePolicy", "all-in-shop", { overrideRules: [{ overriders: image("all.shop") }] }, "shop"),
      policy(
        "OverridePolicy",
        "other-namespace",
        { overrideRules: [{ overriders: image("wrong") }] },
        "elsewhere",
      ),
      policy("ClusterOverridePolicy", "fleet", { overrideRules: [{ overriders: image("fleet.example") }] }),
    ];
    const forCluster = (cluster: { name: string; labels: Record<string, string> }) =>
      applyRules(deployment(), rulesFor(overridePlan(deployment(), policies), cluster));
    const us = forCluster({ name: "us-1", labels: { region: "us" } });
    expect(us.manifest.spec.template.spec.containers[0].image).toBe("by-name.us/web:1.0");
    expect(us.applied).toEqual([
      "ClusterOverridePolicy/fleet",
      "OverridePolicy/shop/all-in-shop",
      "OverridePolicy/shop/by-name",
    ]);
    const eu = forCluster({ name: "eu-1", labels: { region: "eu" } });
    expect(eu.manifest.spec.template.spec.containers[0].image).toBe("all.shop/web:1.0");
  });
});
