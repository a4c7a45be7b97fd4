import { randomBytes } from "node:crypto";
import { until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";

// biome-ignore lint/suspicious/noExplicitAny: API answers and objects are loose JSON
type Any = any;

/** Four clusters that differ in labels, region, zone and capacity; edge-1 is tainted. */
const CLUSTERS = [
  { name: "eu-1", region: "eu", zone: "eu-a", labels: { env: "prod" }, nodes: 4 },
  { name: "eu-2", region: "eu", zone: "eu-b", labels: { env: "prod" }, nodes: 2 },
  { name: "us-1", region: "us", zone: "us-a", labels: { env: "prod" }, nodes: 3 },
  {
    name: "edge-1",
    region: "us",
    zone: "us-b",
    labels: { env: "edge" },
    nodes: 1,
    taints: [{ key: "edge", value: "true", effect: "NoSchedule" }],
  },
];

const documents = (replicas: number) => `
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: web, namespace: shop }
spec:
  resourceSelectors: [{ apiVersion: apps/v1, kind: Deployment, name: web }]
  placement:
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
          - { targetCluster: { labelSelector: { matchLabels: { env: prod } } }, weight: 1 }
          - { targetCluster: { clusterNames: [eu-1] }, weight: 2 }
          - { targetCluster: { clusterNames: [edge-1] }, weight: 5 }
---
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterOverridePolicy
metadata: { name: us-registry }
spec:
  resourceSelectors: [{ apiVersion: apps/v1, kind: Deployment }]
  overrideRules:
    - targetCluster: { fieldSelector: { matchExpressions: [{ key: region, operator: In, values: [us] }] } }
      overriders:
        imageOverrider: [{ component: Registry, operator: replace, value: mirror.us.example }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop, labels: { app: web } }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: main, image: registry.example/web:1.0 }]
`;

describe("placement across four clusters", () => {
  // The query service reads the same grace period as the scheduler, for the bindings' cluster health.
  const hubKey = randomBytes(32).toString("base64");
  const hub = new TestHub({ env: { ATOLL_CLUSTER_GRACE_SECONDS: "4", ATOLL_SECRET_KEY: hubKey } });
  const registered = new Map<string, Any>();
  const sims = new Map(
    CLUSTERS.map((c) => [
      c.name,
      new KubeSim({ name: c.name, token: `t-${c.name}`, namespacesMustExist: true }),
    ]),
  );

  /** The web Deployment in a sim, if any. */
  const deployment = (name: string): Any =>
    sims
      .get(name)!
      .store.list(sims.get(name)!.store.findType("apps", "v1", "deployments")!, "shop")
      .map(({ object }) => object)
      .find((d: Any) => d.metadata.name === "web");
  const replicasEverywhere = () =>
    Object.fromEntries(CLUSTERS.map((c) => [c.name, deployment(c.name)?.spec?.replicas ?? 0]));

  beforeAll(async () => {
    for (const [i, c] of CLUSTERS.entries()) {
      const sim = sims.get(c.name)!;
      await sim.start();
      generateCluster(sim, {
        seed: 300 + i,
        namespaces: ["default", "shop"],
        deploymentsPerNamespace: 1,
        nodes: c.nodes,
      });
    }
    await hub.start();
    hub.startScheduler({ ATOLL_CLUSTER_GRACE_SECONDS: "4", ATOLL_CLUSTER_CHECK_MS: "500" });
    for (const c of CLUSTERS) {
      const { status, body } = await hub.send("POST", "/api/v1/clusters", {
        mode: "pull",
        name: c.name,
        labels: c.labels,
        region: c.region,
        zone: c.zone,
        ...(c.taints ? { taints: c.taints } : {}),
      });
      expect(status, JSON.stringify(body)).toBe(201);
      registered.set(c.name, body);
      hub.startAgent(sims.get(c.name)!);
    }
    for (const sim of sims.values()) await hub.waitIndexed(sim, 60_000);
  }, 120_000);
  afterAll(async () => {
    await hub.stop();
    await Promise.all([...sims.values()].map((s) => s.stop()));
  });

  const apply = async (replicas: number) => {
    const { status, body } = await hub.send("POST", "/api/v1/apply", { documents: documents(replicas) });
    expect(status, JSON.stringify(body)).toBe(200);
  };

  it("lands a Divided/Weighted Deployment with the expected split, the US image rewritten, the tainted cluster left out", async () => {
    await apply(8);
    // Weights: eu-1 2 (the larger matching entry), eu-2 1, us-1 1; edge-1 does not tolerate its taint.
    await until(
      () =>
        JSON.stringify(replicasEverywhere()) ===
        JSON.stringify({ "eu-1": 4, "eu-2": 2, "us-1": 2, "edge-1": 0 }),
      "the 4/2/2 split",
      30_000,
    );
    expect(deployment("us-1").spec.template.spec.containers[0].image).toBe("mirror.us.example/web:1.0");
    expect(deployment("eu-1").spec.template.spec.containers[0].image).toBe("registry.example/web:1.0");
    const binding = await hub.get("/api/v1/bindings/shop/web-deployment");
    expect(binding.rejected["edge-1"]).toBe(
      "TaintToleration: cluster(s) had untolerated taint {edge=true:NoSchedule}",
    );
    await until(
      async () => {
        const b = await hub.get("/api/v1/bindings/shop/web-deployment");
        return ["eu-1", "eu-2", "us-1"].every((c) => b.aggregatedStatus[c]?.applied === true);
      },
      "every cluster to report the work applied",
      30_000,
    );
    // The binding is searchable like any object, with its per-cluster status, once the
    // scheduler's next pass over the bindings written since has indexed the last report.
    const search = () =>
      hub.get(
        `/api/v1/search?mode=sql&q=${encodeURIComponent("SELECT * FROM resources WHERE kind = 'ResourceBinding' AND namespace = 'shop' AND status.conditions[*].reason = 'Success'")}`,
      );
    const everyClusterApplied = [
      ["eu-1", true],
      ["eu-2", true],
      ["us-1", true],
    ];
    const applied = (found: Any) =>
      found.items[0]?.object.status.aggregatedStatus.map((a: Any) => [a.clusterName, a.applied]);
    await until(
      async () => JSON.stringify(applied(await search())) === JSON.stringify(everyClusterApplied),
      "the indexed binding to show every cluster's report",
      10_000,
    );
    const found = await search();
    expect(found.items.map((i: Any) => `${i.cluster} ${i.name}`)).toEqual(["atoll.hub web-deployment"]);
    expect(applied(found)).toEqual(everyClusterApplied);
  });

  it("places a Secret whose values are sealed in the hub's database and on the bus, and open only in its clusters", async () => {
    const password = "correct-horse-battery-staple";
    const { status, body } = await hub.send("POST", "/api/v1/apply", {
      documents: `
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: db, namespace: shop }
spec:
  resourceSelectors: [{ apiVersion: v1, kind: Secret, name: db }]
  placement: { clusterAffinity: { clusterNames: [eu-1, us-1] } }
---
apiVersion: v1
kind: Secret
metadata: { name: db, namespace: shop }
type: Opaque
data: { password: ${Buffer.from(password).toString("base64")} }
stringData: { user: shop-admin }
`,
    });
    expect(status, JSON.stringify(body)).toBe(200);
    const secret = (cluster: string): Any =>
      sims
        .get(cluster)!
        .store.list(sims.get(cluster)!.store.findType("", "v1", "secrets")!, "shop")
        .map(({ object }) => object)
        .find((s: Any) => s.metadata.name === "db");
    await until(
      () => secret("eu-1") !== undefined && secret("us-1") !== undefined,
      "the Secret in both clusters",
      30_000,
    );
    for (const cluster of ["eu-1", "us-1"]) {
      expect(Buffer.from(secret(cluster).data.password, "base64").toString()).toBe(password);
      expect(secret(cluster).data.user ?? secret(cluster).stringData?.user).toBeDefined();
    }
    expect(secret("eu-2")).toBeUndefined();

    // At rest and in flight the values are sealed: the template, the works, the WORK stream.
    const sql = postgres(hub.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const templates = await sql`select document from templates where kind = 'Secret'`;
      const works = await sql`select manifests from works where manifests::text like '%"Secret"%'`;
      expect([templates.length, works.length]).toEqual([1, 2]);
      const stored = JSON.stringify([templates, works]);
      expect(stored).toMatch(/atoll-sealed:/);
      for (const plain of [password, Buffer.from(password).toString("base64"), "shop-admin"])
        expect(stored).not.toContain(plain);
    } finally {
      await sql.end({ timeout: 1 });
    }
    const stream = hub.bus.names.streams.work;
    const { state } = await hub.bus.jsm.streams.info(stream);
    let secretWorks = 0;
    for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
      const message = await hub.bus.jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
      const text = message ? Buffer.from(message.data).toString("latin1") : "";
      if (!text.includes('"Secret"')) continue;
      secretWorks += 1;
      expect(text).not.toContain(password);
      expect(text).not.toContain(Buffer.from(password).toString("base64"));
      expect(text).not.toContain("shop-admin");
    }
    expect(secretWorks).toBeGreaterThanOrEqual(2);
    // Each cluster's registration hands its agent the one key that opens its own works.
    expect(registered.get("eu-1").workKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(registered.get("eu-1").workKey).not.toBe(registered.get("us-1").workKey);
    expect(registered.get("eu-1").manifest).toContain("ATOLL_WORK_KEY");
  });

  it("keeps each cluster's status current after the apply, and applies a deleted copy again", async () => {
    const binding = () => hub.get("/api/v1/bindings/shop/web-deployment");
    const health = async () =>
      Object.fromEntries((await binding()).clusterStatus.map((c: Any) => [c.cluster, c.health]));
    // Applied moments ago: no replica is ready yet anywhere.
    expect(Object.values(await health()).some((h) => h === "Healthy")).toBe(false);
    // The member clusters finish their rollouts after the work was applied and reported.
    for (const name of ["eu-1", "eu-2", "us-1"]) {
      const sim = sims.get(name)!;
      const current = deployment(name);
      const replicas = current.spec.replicas;
      sim.store.update(
        sim.store.findType("apps", "v1", "deployments")!,
        {
          ...current,
          status: { replicas, readyReplicas: replicas, availableReplicas: replicas, observedGeneration: 1 },
        },
        "shop",
        "status",
      );
    }
    await until(
      async () => Object.values(await health()).every((h) => h === "Healthy"),
      "every cluster to report the rollout finished",
      30_000,
    );
    expect((await binding()).aggregatedStatus["eu-1"].manifests[0].status.readyReplicas).toBe(4);

    // The agent hears its placed Deployments on the watch its sync already runs, as a shared
    // informer would: one watch of deployments per member cluster, none selecting Atoll's alone.
    for (const name of ["eu-1", "eu-2", "us-1"]) {
      const watches = sims
        .get(name)!
        .openWatchUrls()
        .filter((url) => url.startsWith("/apis/apps/v1/deployments?"));
      expect(watches, name).toHaveLength(1);
      expect(watches[0], name).not.toMatch(/labelSelector/);
    }

    // Someone deletes the copy in eu-2: the agent puts it back.
    const eu2 = sims.get("eu-2")!;
    const deleted = deployment("eu-2").metadata.uid;
    eu2.store.delete(eu2.store.findType("apps", "v1", "deployments")!, "shop", "web");
    await until(
      () => deployment("eu-2") !== undefined && deployment("eu-2").metadata.uid !== deleted,
      "eu-2's copy back",
      30_000,
    );
    expect(deployment("eu-2").spec.replicas).toBe(2);
    await until(async () => (await health())["eu-2"] === "Unhealthy", "eu-2 to report the new copy", 30_000);
  });

  it("re-splits the replicas when the template scales", async () => {
    await apply(12);
    await until(
      () =>
        JSON.stringify(replicasEverywhere()) ===
        JSON.stringify({ "eu-1": 6, "eu-2": 3, "us-1": 3, "edge-1": 0 }),
      "the 6/3/3 split",
      30_000,
    );
  });

  it("keeps a silent cluster's replicas where they are, says it cannot hear from it, and matches the binding when it returns", async () => {
    const agent = hub.agents.get("agent-us-1")!;
    await agent.stop();
    const binding = () => hub.get("/api/v1/bindings/shop/web-deployment");
    await until(
      async () => (await binding()).clusterStatus.find((c: Any) => c.cluster === "us-1")?.reachable === false,
      "us-1 to be reported unreachable",
      30_000,
    );
    // Three grace periods later nothing moved: no ClusterTaintPolicy asks for it (Karmada ≥1.14).
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    const kept = await binding();
    expect(kept.clusters).toEqual([
      { name: "eu-1", replicas: 6 },
      { name: "eu-2", replicas: 3 },
      { name: "us-1", replicas: 3 },
    ]);
    const silent = kept.clusterStatus.find((c: Any) => c.cluster === "us-1");
    expect(silent).toMatchObject({ placed: true, reachable: false, health: "Unknown" });
    expect(silent.reason).toMatch(/^no heartbeat from cluster us-1 since /);
    expect(kept.readiness.unknownClusters).toEqual(["us-1"]);
    expect(JSON.stringify(replicasEverywhere())).toBe(
      JSON.stringify({ "eu-1": 6, "eu-2": 3, "us-1": 3, "edge-1": 0 }),
    );

    hub.startAgent(sims.get("us-1")!);
    await until(
      async () => {
        const b = await binding();
        const share = b.clusters.find((c: Any) => c.name === "us-1")?.replicas ?? 0;
        return (
          b.aggregatedStatus["us-1"]?.applied === true && (deployment("us-1")?.spec?.replicas ?? 0) === share
        );
      },
      "us-1 to match its binding",
      60_000,
    );
  });

  it("creates a template's namespace in a member cluster that lacks it, as Karmada does", async () => {
    const { status, body } = await hub.send("POST", "/api/v1/apply", {
      documents: `
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: settings, namespace: fresh }
spec:
  resourceSelectors: [{ apiVersion: v1, kind: ConfigMap, name: settings }]
  placement: { clusterAffinity: { clusterNames: [eu-2] } }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: settings, namespace: fresh }
data: { mode: calm }
`,
    });
    expect(status, JSON.stringify(body)).toBe(200);
    const sim = sims.get("eu-2")!;
    await until(
      () => sim.store.tryGet(sim.store.findType("", "v1", "configmaps")!, "fresh", "settings") !== undefined,
      "the ConfigMap in eu-2",
      30_000,
    );
    const namespace = sim.store.get(sim.store.findType("", "v1", "namespaces")!, undefined, "fresh");
    expect(namespace.metadata.labels).toEqual({ "atoll.dev/created-by": "atoll" });
    await until(
      async () =>
        (await hub.get("/api/v1/bindings/fresh/settings-configmap")).aggregatedStatus["eu-2"]?.applied ===
        true,
      "eu-2 to report it applied",
      30_000,
    );
  });

  it("keeps reporting a cluster's status after its agent restarts", async () => {
    const binding = () => hub.get("/api/v1/bindings/shop/web-deployment");
    const agentOfEu1 = async () =>
      (await hub.get("/api/v1/clusters")).items.find((c: Any) => c.name === "eu-1")?.status?.agentId;
    const oldAgent = await agentOfEu1();
    await hub.agents.get("agent-eu-1")!.stop();
    hub.startAgent(sims.get("eu-1")!);
    // The scheduler sees a new agent in eu-1's heartbeat and sends it its works again.
    await until(async () => ![undefined, oldAgent].includes(await agentOfEu1()), "eu-1's new agent");
    const sim = sims.get("eu-1")!;
    await until(
      async () => {
        // A rollout finishing after the restart is reported by the new agent.
        const replicas = deployment("eu-1").spec.replicas;
        sim.store.update(
          sim.store.findType("apps", "v1", "deployments")!,
          {
            ...deployment("eu-1"),
            status: { replicas, readyReplicas: replicas, availableReplicas: replicas, observedGeneration: 2 },
          },
          "shop",
          "status",
        );
        const now = await binding();
        return (
          now.aggregatedStatus["eu-1"]?.manifests?.[0]?.status?.observedGeneration === 2 &&
          now.clusterStatus.find((c: Any) => c.cluster === "eu-1").health === "Healthy"
        );
      },
      "eu-1's status after the restart",
      30_000,
    );
  });
});
