import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { TestHub } from "../support/hub.js";
import { kubectl } from "../support/kubectl.js";

// biome-ignore lint/suspicious/noExplicitAny: API answers are loose JSON
type Any = any;

const crd = (
  plural: string,
  kind: string,
  scope: "Namespaced" | "Cluster",
  names: { shortNames?: string[]; categories?: string[] } = {},
) => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${plural}.example.com` },
  spec: {
    group: "example.com",
    scope,
    names: { plural, singular: kind.toLowerCase(), kind, ...names },
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        additionalPrinterColumns: [
          { name: "Size", type: "integer", jsonPath: ".spec.size" },
          { name: "Colour", type: "string", jsonPath: ".spec.colour", priority: 1 },
          { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
        ],
      },
    ],
  },
});

describe("sync rules: every resource of a group version (CRDs included), namespace exclusion", () => {
  const hub = new TestHub();
  const sim = new KubeSim({ name: "rules-sim", token: "rules" });

  beforeAll(async () => {
    await sim.start();
    generateCluster(sim, {
      seed: 81,
      namespaces: ["default", "kube-system", "prod"],
      deploymentsPerNamespace: 2,
    });
    sim.apply(crd("widgets", "Widget", "Namespaced", { shortNames: ["wd"], categories: ["all"] }));
    // Synced, with nothing to sync yet.
    sim.apply(crd("sprockets", "Sprocket", "Namespaced"));
    for (const name of ["w1", "w2"])
      sim.apply({
        apiVersion: "example.com/v1",
        kind: "Widget",
        metadata: { name, namespace: "prod" },
        spec: { size: 1 },
      });
    const rules = join(hub.dir, "rules.yaml");
    writeFileSync(
      rules,
      YAML.stringify({
        rules: [
          { apiVersion: "example.com/v1", resource: "*" },
          { apiVersion: "v1", resource: "configmaps", namespaces: { exclude: ["kube-system"] } },
          { apiVersion: "apiextensions.k8s.io/v1", resource: "customresourcedefinitions" },
        ],
      }),
    );
    await hub.start();
    hub.startAgent(sim, { ATOLL_SYNC_RULES: rules, ATOLL_REDISCOVER_MS: "500" });
  });
  afterAll(async () => {
    await hub.stop();
    await sim.stop();
  });

  const names = async (query: string) =>
    ((await hub.get(`/api/v1/resources?cluster=rules-sim&${query}&limit=1000`)).items as Any[])
      .map((i) => `${i.namespace}/${i.name}`)
      .sort();

  it("syncs the custom resources and only the configmaps outside kube-system", async () => {
    await until(async () => (await names("kind=Widget")).length === 2, "the widgets");
    const expected = sim.store
      .list(sim.store.findType("", "v1", "configmaps")!)
      .map(({ object }) => `${object.metadata.namespace}/${object.metadata.name}`)
      .filter((n) => !n.startsWith("kube-system/"))
      .sort();
    await until(async () => (await names("kind=ConfigMap")).length === expected.length, "the configmaps");
    expect(await names("kind=ConfigMap")).toEqual(expected);
    expect(await names("kind=Pod")).toEqual([]);
  });

  it("starts syncing a CRD created after the agent started", async () => {
    sim.apply(crd("gadgets", "Gadget", "Cluster"));
    sim.apply({ apiVersion: "example.com/v1", kind: "Gadget", metadata: { name: "g1" }, spec: {} });
    await until(
      async () => (await names("kind=Gadget")).length === 1,
      "the gadget, after rediscovery",
      20_000,
    );
    expect(await names("kind=Gadget")).toEqual(["/g1"]);
  });

  it("prints custom resources with their CRD's additionalPrinterColumns through kubectl", async () => {
    await until(async () => (await names("kind=CustomResourceDefinition")).length >= 1, "the CRD");
    const kubeconfig = join(hub.dir, "index.kubeconfig");
    writeFileSync(kubeconfig, hub.kubeconfig("/k8s/all"));
    const out = await kubectl(kubeconfig, ["get", "widgets", "-n", "prod"]);
    const [header, ...rows] = out.trim().split("\n");
    expect(header).toMatch(/^CLUSTER\s+NAME\s+SIZE\s+AGE$/);
    expect(rows.sort()).toEqual([
      expect.stringMatching(/^rules-sim\s+w1\s+1\s+\d+[smhd]$/),
      expect.stringMatching(/^rules-sim\s+w2\s+1\s+\d+[smhd]$/),
    ]);
    const wide = await kubectl(kubeconfig, ["get", "widgets", "-n", "prod", "-o", "wide"]);
    expect(wide.split("\n")[0]).toMatch(/^CLUSTER\s+NAME\s+SIZE\s+COLOUR\s+AGE$/);
    // A value the path does not reach is null, which kubectl prints as blank, as for the API server.
    expect(wide).toMatch(/w1\s+1\s+\d+[smhd]\n/);
  });

  it("describes custom resources to kubectl as their CRD does, and serves synced types with no objects", async () => {
    const kubeconfig = join(hub.dir, "index.kubeconfig");
    writeFileSync(kubeconfig, hub.kubeconfig("/k8s/all"));
    // The CRD's short name and its "all" category.
    expect(
      (await kubectl(kubeconfig, ["get", "wd", "-n", "prod", "-o", "name"])).trim().split("\n").sort(),
    ).toEqual(["widget.example.com/w1", "widget.example.com/w2"]);
    expect(await kubectl(kubeconfig, ["get", "all", "-n", "prod", "-o", "name"])).toContain(
      "widget.example.com/w1",
    );
    const resources = await kubectl(kubeconfig, ["api-resources", "--api-group", "example.com"]);
    expect(resources).toMatch(/^widgets\s+wd\s+example\.com\/v1\s+true\s+Widget$/m);
    // Synced but empty: listed as nothing, not refused as unknown; never synced: refused.
    expect(resources).toMatch(/^sprockets\s+example\.com\/v1\s+true\s+Sprocket$/m);
    expect((await kubectl(kubeconfig, ["get", "sprockets", "-A"])).trim()).toBe("");
    await expect(kubectl(kubeconfig, ["get", "cronjobs", "-A"])).rejects.toThrow(
      /doesn't have a resource type "cronjobs"/,
    );
  });
});
