import { describe, expect, it } from "vitest";
import type { OverridePolicyDoc } from "./overrides.js";
import type { TemplateDoc } from "./policy.js";
import { renderWorks } from "./works.js";

// biome-ignore lint/suspicious/noExplicitAny: the cases read into loose JSON
type Loose = any;

const template: TemplateDoc = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "shop", uid: "u-1", resourceVersion: "7" },
  spec: { replicas: 6, template: { spec: { containers: [{ name: "main", image: "registry.eu/web:1.0" }] } } },
};
const config: TemplateDoc = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "web-config", namespace: "shop" },
  data: { mode: "calm" },
} as TemplateDoc;

const usMirror: OverridePolicyDoc = {
  kind: "ClusterOverridePolicy",
  metadata: { name: "us-mirror" },
  spec: {
    overrideRules: [
      {
        targetCluster: { labelSelector: { matchLabels: { region: "us" } } },
        overriders: { imageOverrider: [{ component: "Registry", operator: "replace", value: "mirror.us" }] },
      },
    ],
  },
};
/** A rule that cannot apply to a Deployment: the path it replaces is not there. */
const broken: OverridePolicyDoc = {
  kind: "ClusterOverridePolicy",
  metadata: { name: "broken" },
  spec: {
    overrideRules: [
      {
        targetCluster: { clusterNames: ["ap-1"] },
        overriders: { plaintext: [{ path: "/spec/missing/field", operator: "replace", value: 1 }] },
      },
    ],
  },
};

const cluster = (name: string, region: string) => ({ name, labels: { region } });

describe("renderWorks", () => {
  const works = renderWorks({
    template,
    dependencies: [config],
    overridePolicies: [usMirror, broken],
    binding: "shop.web-deployment",
    targets: [
      { cluster: cluster("eu-1", "eu"), replicas: 2 },
      { cluster: cluster("eu-2", "eu"), replicas: 2 },
      { cluster: cluster("us-1", "us"), replicas: 2 },
      { cluster: cluster("eu-3", "eu"), replicas: 1 },
      { cluster: cluster("ap-1", "ap"), replicas: 1 },
    ],
  }) as Loose[];

  it("renders each cluster's share with its own overrides, labelled as Atoll's", () => {
    const [eu1, , us1, eu3] = works;
    expect(eu1.manifests.map((m: Loose) => m.kind)).toEqual(["Deployment", "ConfigMap"]);
    expect(eu1.manifests[0].spec.replicas).toBe(2);
    expect(eu3.manifests[0].spec.replicas).toBe(1);
    expect(eu1.manifests[0].spec.template.spec.containers[0].image).toBe("registry.eu/web:1.0");
    expect(us1.manifests[0].spec.template.spec.containers[0].image).toBe("mirror.us/web:1.0");
    expect(us1.appliedOverrides).toEqual(["ClusterOverridePolicy/us-mirror"]);
    expect(eu1.appliedOverrides).toEqual([]);
    expect(eu1.manifests[0].metadata).toEqual({
      name: "web",
      namespace: "shop",
      labels: { "atoll.dev/managed-by": "atoll", "atoll.dev/binding": "shop.web-deployment" },
    });
    expect(eu1.manifests[1].metadata.labels["atoll.dev/binding"]).toBe("shop.web-deployment");
  });

  it("renders clusters with the same share and rules once, and no others alike", () => {
    expect(works[1]).toBe(works[0]);
    expect(works[2]).not.toBe(works[0]);
    expect(works[3]).not.toBe(works[0]);
    expect(works[4]).not.toBe(works[3]);
  });

  it("fails only the cluster whose rule cannot apply", () => {
    expect(works[4].error.message).toMatch(/missing/);
    expect(works.filter((w: Loose) => "error" in w)).toHaveLength(1);
  });

  it("leaves the template as it was", () => {
    expect(template.spec?.replicas).toBe(6);
    expect(template.metadata.uid).toBe("u-1");
    expect((template.metadata as Loose).labels).toBeUndefined();
  });

  it("renders a cluster alone as it does among others", () => {
    const [alone] = renderWorks({
      template,
      dependencies: [config],
      overridePolicies: [usMirror, broken],
      binding: "shop.web-deployment",
      targets: [{ cluster: cluster("us-1", "us"), replicas: 2 }],
    }) as Loose[];
    expect(alone).toEqual(works[2]);
    const [failed] = renderWorks({
      template,
      overridePolicies: [usMirror, broken],
      binding: "shop.web-deployment",
      targets: [{ cluster: cluster("ap-1", "ap"), replicas: 1 }],
    }) as Loose[];
    expect(failed.error.message).toMatch(/missing/);
  });
});
