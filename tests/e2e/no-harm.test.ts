import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { freePort, type NatsServerProcess, startNatsServer, until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";
import { TcpProxy } from "../support/proxy.js";

// biome-ignore lint/suspicious/noExplicitAny: API answers and objects are loose JSON
type Any = any;

/**
 * Nothing Atoll does on its own removes a workload from a healthy cluster. Each fault below runs
 * while a watcher counts the objects Atoll placed on every healthy cluster ten times a second;
 * one disappearance fails the suite.
 */
const GRACE_SECONDS = 3;
const FAULT_MS = 3 * GRACE_SECONDS * 1000;
const CLUSTERS = [
  { name: "nh-a", region: "eu" },
  { name: "nh-b", region: "eu" },
  { name: "nh-c", region: "us" },
];

const POLICIES = `
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: web, namespace: shop }
spec:
  resourceSelectors: [{ apiVersion: apps/v1, kind: Deployment, name: web }]
  propagateDeps: true
  placement:
    replicaScheduling: { replicaSchedulingType: Divided, replicaDivisionPreference: Weighted }
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: pair, namespace: shop }
spec:
  resourceSelectors: [{ apiVersion: v1, kind: ConfigMap, name: pair }]
  placement:
    spreadConstraints:
      - { spreadByField: cluster, minGroups: 2 }
      - { spreadByField: region, minGroups: 1, maxGroups: 1 }
    replicaScheduling: { replicaSchedulingType: Duplicated }
`;
const TEMPLATES = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop, labels: { app: web } }
spec:
  replicas: 6
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: main, image: registry.example/web:1.0, envFrom: [{ configMapRef: { name: web-config } }] }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: web-config, namespace: shop }
data: { mode: calm }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: pair, namespace: shop }
data: { side: both }
`;
const FAILOVER_TAINT_POLICY = `
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterTaintPolicy
metadata: { name: failover }
spec:
  addOnConditions: [{ conditionType: Ready, operator: NotIn, statusValues: ["True"] }]
  removeOnConditions: [{ conditionType: Ready, operator: In, statusValues: ["True"] }]
  taints: [{ key: failover.example/unreachable, effect: NoExecute }]
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("placement does no harm", { timeout: 180_000 }, () => {
  let nats: NatsServerProcess;
  let natsStore = "";
  let proxy: TcpProxy;
  const sims = new Map(
    CLUSTERS.map((c) => [
      c.name,
      new KubeSim({ name: c.name, token: `t-${c.name}`, namespacesMustExist: true, workloads: true }),
    ]),
  );
  let hub: TestHub;
  let healthPort = 0;
  const schedulerEnv = {
    HEALTH_PORT: "",
    ATOLL_CLUSTER_GRACE_SECONDS: String(GRACE_SECONDS),
    ATOLL_CLUSTER_CHECK_MS: "300",
    ATOLL_NO_EXECUTE_EVICTION: "true",
    ATOLL_EVICTION_RATE: "5",
    ATOLL_EVICTION_GRACE_SECONDS: "60",
  };

  /** Atoll's objects in a sim: "Kind/name" → replicas (or 0). */
  const placed = (cluster: string): Map<string, number> => {
    const sim = sims.get(cluster)!;
    const out = new Map<string, number>();
    for (const [group, resource] of [
      ["apps", "deployments"],
      ["", "configmaps"],
    ] as const) {
      const type = sim.store.findType(group, "v1", resource)!;
      for (const { object } of sim.store.list(type, "shop") as { object: Any }[])
        if (object.metadata.labels?.["atoll.dev/managed-by"] === "atoll")
          out.set(`${object.kind}/${object.metadata.name}`, object.spec?.replicas ?? 0);
    }
    return out;
  };

  /** The uid of the Deployment Atoll placed in a sim, which a server-side apply keeps and a delete ends. */
  const placedUid = (cluster: string, name: string): string | undefined => {
    const sim = sims.get(cluster)!;
    const type = sim.store.findType("apps", "v1", "deployments")!;
    const found = (sim.store.list(type, "shop") as { object: Any }[]).find(
      ({ object }) =>
        object.metadata.name === name && object.metadata.labels?.["atoll.dev/managed-by"] === "atoll",
    );
    return found?.object.metadata.uid;
  };

  /**
   * Watches the healthy clusters while a fault runs: any object that was there and is gone is a
   * violation (a replica count may grow, as when replicas move in from an evicted cluster).
   */
  const watchHealthy = (healthy: string[]) => {
    const baseline = new Map(healthy.map((c) => [c, placed(c)]));
    const violations: string[] = [];
    const timer = setInterval(() => {
      for (const cluster of healthy)
        for (const key of baseline.get(cluster)!.keys())
          if (!placed(cluster).has(key)) violations.push(`${key} disappeared from ${cluster}`);
    }, 100);
    return {
      baseline,
      stop: () => {
        clearInterval(timer);
        return [...new Set(violations)];
      },
    };
  };

  const binding = (name: string): Promise<Any> => hub.get(`/api/v1/bindings/shop/${name}`);

  /** Every cluster is heard from and holds what it should. */
  const settle = async () => {
    await until(
      async () => (await hub.get("/api/v1/clusters")).items.every((c: Any) => c.online),
      "every cluster online again",
      60_000,
    );
    await until(
      () =>
        placed("nh-a").size === 3 &&
        placed("nh-b").size === 3 &&
        placed("nh-c").size === 2 &&
        [...CLUSTERS].reduce((sum, c) => sum + (placed(c.name).get("Deployment/web") ?? 0), 0) === 6,
      "the placement as first made",
      60_000,
    );
  };

  const apply = async (documents: string, path = "/api/v1/apply") => {
    const { status, body } = await hub.send("POST", path, { documents });
    expect(status, JSON.stringify(body)).toBe(200);
  };

  beforeAll(async () => {
    // The test's own store, which a NATS restart must find again (the server's own dir goes with it).
    natsStore = join(mkdtempSync(join(tmpdir(), "atoll-no-harm-")), "js");
    nats = await startNatsServer({ storeDir: natsStore });
    proxy = new TcpProxy(await freePort(), { host: "127.0.0.1", port: 5432 });
    await proxy.restore();
    hub = new TestHub({
      natsUrl: nats.url,
      env: {
        ATOLL_CLUSTER_GRACE_SECONDS: String(GRACE_SECONDS),
        ATOLL_ALLOW_NO_EXECUTE_TAINT_POLICY: "true",
      },
      serviceDatabaseUrl: (url) => url.replace(/@127\.0\.0\.1:5432\//, `@127.0.0.1:${proxy.port}/`),
    });
    for (const [i, c] of CLUSTERS.entries()) {
      const sim = sims.get(c.name)!;
      await sim.start();
      generateCluster(sim, { seed: 700 + i, namespaces: ["default"], deploymentsPerNamespace: 1, nodes: 2 });
    }
    await hub.start();
    healthPort = await freePort();
    schedulerEnv.HEALTH_PORT = String(healthPort);
    hub.startScheduler(schedulerEnv);
    for (const c of CLUSTERS) {
      const { status, body } = await hub.send("POST", "/api/v1/clusters", {
        mode: "pull",
        name: c.name,
        region: c.region,
      });
      expect(status, JSON.stringify(body)).toBe(201);
      hub.startAgent(sims.get(c.name)!);
    }
    for (const sim of sims.values()) await hub.waitIndexed(sim, 60_000);
    await apply(`${POLICIES}---${TEMPLATES}`);
    await settle();
    expect((await binding("pair-configmap")).clusters.map((c: Any) => c.name)).toEqual(["nh-a", "nh-b"]);
  }, 150_000);
  afterAll(async () => {
    await hub?.stop();
    await Promise.all([...sims.values()].map((s) => s.stop()));
    await proxy?.refuse();
    await nats?.stop();
    rmSync(dirname(natsStore), { recursive: true, force: true });
  });

  const names = CLUSTERS.map((c) => c.name);

  it("withdraws nothing while the indexer is stopped for three grace periods", async () => {
    const watch = watchHealthy(names);
    await hub.indexer.stop();
    await sleep(FAULT_MS);
    hub.startIndexer();
    await settle();
    expect(watch.stop()).toEqual([]);
  });

  it("withdraws nothing when the scheduler is killed and restarted", async () => {
    const watch = watchHealthy(names);
    hub.scheduler!.kill("SIGKILL");
    await sleep(GRACE_SECONDS * 1000);
    hub.startScheduler(schedulerEnv);
    await sleep(FAULT_MS);
    await settle();
    expect(watch.stop()).toEqual([]);
  });

  it("withdraws nothing when NATS restarts", async () => {
    const watch = watchHealthy(names);
    await nats.stop();
    await sleep(FAULT_MS);
    nats = await startNatsServer({ port: nats.port, storeDir: natsStore });
    await settle();
    expect(watch.stop()).toEqual([]);
  });

  it("withdraws nothing when the heartbeat bucket is deleted, and declares it again", async () => {
    const watch = watchHealthy(names);
    await hub.bus.jsm.streams.delete(`KV_${hub.bus.names.clustersBucket}`);
    await sleep(FAULT_MS);
    // The hub's watches noticed and declared the bucket again; the agents' heartbeats land in it.
    expect(
      (await hub.bus.jsm.streams.info(`KV_${hub.bus.names.clustersBucket}`)).state.messages,
    ).toBeGreaterThan(0);
    const after = await binding("web-deployment");
    await settle();
    expect(watch.stop()).toEqual([]);
    expect(after.clusters.map((c: Any) => c.name)).toEqual(names);
  });

  it("withdraws nothing while Postgres refuses connections for three grace periods", async () => {
    const watch = watchHealthy(names);
    await proxy.refuse();
    await sleep(FAULT_MS);
    await proxy.restore();
    await settle();
    expect(watch.stop()).toEqual([]);
  });

  it("moves nothing when one cluster's agent stops and no ClusterTaintPolicy asks for it", async () => {
    const watch = watchHealthy(["nh-a", "nh-b"]);
    await hub.agents.get("agent-nh-a")!.stop();
    await sleep(FAULT_MS);
    const web = await binding("web-deployment");
    const pair = await binding("pair-configmap");
    expect(web.clusters.map((c: Any) => c.name)).toEqual(names);
    // The case that used to withdraw from the healthy cluster: a spread over two clusters of one region.
    expect(pair.clusters.map((c: Any) => c.name)).toEqual(["nh-a", "nh-b"]);
    expect(web.clusterStatus.find((c: Any) => c.cluster === "nh-a")).toMatchObject({ reachable: false });
    hub.startAgent(sims.get("nh-a")!);
    await settle();
    expect(watch.stop()).toEqual([]);
  });

  it("with a ClusterTaintPolicy, moves a silent cluster's replicas gracefully: its copy stays until the new ones are ready", async () => {
    await apply(FAILOVER_TAINT_POLICY);
    const watch = watchHealthy(["nh-a", "nh-b"]);
    await hub.agents.get("agent-nh-c")!.stop();
    await until(
      async () => {
        const now = await binding("web-deployment");
        return (
          now.evictionTasks?.some((t: Any) => t.fromCluster === "nh-c") &&
          !now.clusters.some((c: Any) => c.name === "nh-c")
        );
      },
      "the eviction from nh-c",
      30_000,
    );
    const moving = await binding("web-deployment");
    expect(moving.evictionTasks[0]).toMatchObject({
      fromCluster: "nh-c",
      purgeMode: "Gracefully",
      reason: "TaintUntolerated",
    });
    expect(moving.clusters.map((c: Any) => c.name)).toEqual(["nh-a", "nh-b"]);
    expect(moving.clusters.reduce((s: number, c: Any) => s + c.replicas, 0)).toBe(6);
    // The new replicas come up on nh-a and nh-b; only then is nh-c's copy withdrawn.
    await until(
      () => (placed("nh-a").get("Deployment/web") ?? 0) + (placed("nh-b").get("Deployment/web") ?? 0) === 6,
      "six replicas on nh-a and nh-b",
      30_000,
    );
    await until(
      async () => (await binding("web-deployment")).evictionTasks.length === 0,
      "the eviction to end once the new replicas are ready",
      30_000,
    );
    const oldCopy = placedUid("nh-c", "web");
    expect(oldCopy).toBeDefined();
    hub.startAgent(sims.get("nh-c")!);
    // Back and ready, nh-c is placed on again, and its agent may take the withdrawal and the new
    // work in one batch, a few milliseconds apart: the old copy's uid, not a gap, shows it went.
    await until(
      () => placedUid("nh-c", "web") !== oldCopy,
      "nh-c's old copy withdrawn once it is back",
      30_000,
    );
    expect(watch.stop()).toEqual([]);
    await settle();
  });

  it("evicts nothing when every cluster goes silent at once, and says the hub doubts itself", async () => {
    // The failover ClusterTaintPolicy of the test before is still there, and eviction is on.
    const watch = watchHealthy(names);
    await Promise.all(names.map((name) => hub.agents.get(`agent-${name}`)!.stop()));
    await sleep(FAULT_MS);
    const ready = (await (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).json()) as Any;
    expect(ready.fleetDisruption).toMatch(/3 of 3 clusters went silent at once/);
    expect(ready.silentClusters).toEqual(names);
    // A binding placed meanwhile stays where it runs and says why nothing moves.
    await apply(
      TEMPLATES.replace("labels: { app: web } }", "labels: { app: web }, annotations: { rev: '2' } }"),
    );
    await until(
      async () => /went silent at once/.test((await binding("web-deployment")).message),
      "the binding to carry the disruption",
    );
    const web = await binding("web-deployment");
    expect(web.clusters.map((c: Any) => c.name)).toEqual(names);
    expect(web.evictionTasks).toEqual([]);
    for (const name of names) hub.startAgent(sims.get(name)!);
    await settle();
    await sleep(2000);
    expect(watch.stop()).toEqual([]);
    await apply(FAILOVER_TAINT_POLICY, "/api/v1/delete");
  });

  it("keeps bindings and member objects when the policy is deleted, and when an edit leaves no cluster fitting a spread", async () => {
    const healthy = names;
    const watch = watchHealthy(healthy);
    await apply(POLICIES.split("---")[1]!, "/api/v1/delete");
    await until(
      async () => (await binding("pair-configmap")).condition === "NoPolicy",
      "the pair binding to lose its policy",
    );
    await apply(
      POLICIES.split("---")[1]!.replace("minGroups: 1, maxGroups: 1", "minGroups: 3, maxGroups: 3"),
    );
    await until(
      async () =>
        (await binding("pair-configmap")).condition === "NoClusterFit" ||
        (await binding("pair-configmap")).condition === "Unschedulable",
      "the impossible spread to be reported",
    );
    const pair = await binding("pair-configmap");
    expect(pair.clusters.map((c: Any) => c.name)).toEqual(["nh-a", "nh-b"]);
    expect(pair.message).toMatch(/stays where it runs/);
    await sleep(2000);
    expect(watch.stop()).toEqual([]);
    await apply(POLICIES.split("---")[1]!);
  });

  it("places a template deleted and applied again, 20 times in a row, on every cluster each time", async () => {
    const template = TEMPLATES.split("---")[0]!;
    const everywhere = () => names.every((name) => placed(name).has("Deployment/web"));
    const nowhere = () => names.every((name) => !placed(name).has("Deployment/web"));
    for (let round = 0; round < 20; round++) {
      await apply(template, "/api/v1/delete");
      await until(nowhere, `round ${round}: withdrawn from every cluster`, 30_000);
      await apply(template);
      await until(everywhere, `round ${round}: on every cluster again`, 30_000);
    }
  });
});
