import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNkeyUser, natsIdentities, renderServerConfig } from "@atoll/bus";
import { freePort, type NatsServerProcess, startNatsServer, until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { TestHub } from "../support/hub.js";

// biome-ignore lint/suspicious/noExplicitAny: API answers are loose JSON
type Any = any;

/** Two sims' kubeconfigs merged into one file with a context each. */
function mergedKubeconfig(sims: KubeSim[]): string {
  const parts = sims.map((s) => YAML.parse(s.kubeconfig()));
  return YAML.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: parts.flatMap((p) => p.clusters),
    users: parts.flatMap((p) => p.users),
    contexts: parts.flatMap((p) => p.contexts),
    "current-context": parts[0].contexts[0].name,
  });
}

describe("cluster registry, pull mode and push mode against an authenticating NATS", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoll-registry-"));
  const hubKey = createNkeyUser();
  const hubCredentials = join(dir, "hub.nk");
  const secretKey = randomBytes(32).toString("base64");
  let nats: NatsServerProcess;
  let natsPort: number;
  let hub: TestHub;
  const pullSim = new KubeSim({ name: "pull-1", token: "pull-token" });
  const pushA = new KubeSim({ name: "push-a", token: "push-a-secret-token" });
  const pushB = new KubeSim({ name: "push-b", token: "push-b-secret-token" });

  /** Regenerates the server config from the registry and reloads it, as `atoll cluster nats-config` would. */
  async function syncNatsConfig(): Promise<void> {
    const { items } = await hub.get("/api/v1/clusters");
    const identities = natsIdentities(hubKey.getPublicKey(), items, hub.prefix);
    await nats.reload(
      renderServerConfig({ port: natsPort, host: "127.0.0.1", storeDir: join(dir, "js"), identities }),
    );
  }

  beforeAll(async () => {
    writeFileSync(hubCredentials, new TextDecoder().decode(hubKey.getSeed()));
    natsPort = await freePort();
    nats = await startNatsServer({
      port: natsPort,
      config: renderServerConfig({
        port: natsPort,
        host: "127.0.0.1",
        storeDir: join(dir, "js"),
        identities: [{ nkey: hubKey.getPublicKey(), description: "hub services" }],
      }),
    });
    hub = new TestHub({
      natsUrl: nats.url,
      env: { NATS_CREDENTIALS: hubCredentials, ATOLL_SECRET_KEY: secretKey },
    });
    await Promise.all([pullSim.start(), pushA.start(), pushB.start()]);
    generateCluster(pullSim, { seed: 21 });
    generateCluster(pushA, { seed: 22, namespaces: ["default", "prod"], deploymentsPerNamespace: 2 });
    generateCluster(pushB, { seed: 23, namespaces: ["default"], deploymentsPerNamespace: 2 });
    await hub.start();
  });
  afterAll(async () => {
    await hub.stop();
    await Promise.all([pullSim.stop(), pushA.stop(), pushB.stop()]);
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("registers a pull cluster and its agent syncs with only its credentials, under hub rules", async () => {
    const syncRules = YAML.stringify({
      rules: [
        { apiVersion: "v1", resource: "namespaces" },
        {
          apiVersion: "v1",
          resource: "pods",
          namespaces: { include: ["prod"] },
          trim: ["status.conditions"],
        },
      ],
    });
    const registered = await hub.send("POST", "/api/v1/clusters", {
      mode: "pull",
      name: "pull-1",
      region: "eu-west",
      labels: { env: "prod" },
      syncRules,
    });
    expect(registered.status).toBe(201);
    expect(registered.body.credentials).toMatch(/^SU/);
    const documents = YAML.parseAllDocuments(registered.body.manifest).map((d) => d.toJSON());
    expect(documents.map((d: Any) => d.kind)).toEqual([
      "Namespace",
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "ClusterRole",
      "ClusterRoleBinding",
      "ClusterRole",
      "ClusterRoleBinding",
      "Secret",
      "Deployment",
    ]);
    // Reading, applying and impersonating are separate roles, so an operator can withhold the last two.
    expect(documents.filter((d: Any) => d.kind === "ClusterRole").map((d: Any) => d.metadata.name)).toEqual([
      "atoll-agent-read",
      "atoll-agent-apply",
      "atoll-agent-gateway",
    ]);
    expect(documents.find((d: Any) => d.kind === "Secret").stringData["nats.nk"]).toBe(
      registered.body.credentials,
    );

    await syncNatsConfig();
    const credentials = join(dir, "pull-1.nk");
    writeFileSync(credentials, registered.body.credentials);
    hub.startAgent(pullSim, { ATOLL_MODE: "pull", NATS_CREDENTIALS: credentials });

    const prodPods = pullSim.store.list(pullSim.store.findType("", "v1", "pods")!, "prod").length;
    const namespaces = pullSim.store.count(pullSim.store.findType("", "v1", "namespaces")!);
    await until(
      async () => {
        const { items } = await hub.get("/api/v1/clusters");
        return items.find((c: Any) => c.name === "pull-1")?.objects === prodPods + namespaces;
      },
      "the pull cluster's selected objects in the index",
      60_000,
      200,
    );
    const pods = await hub.get("/api/v1/resources?cluster=pull-1&kind=Pod&limit=1000");
    expect(pods.items.length).toBe(prodPods);
    for (const pod of pods.items)
      expect([pod.namespace, pod.object.status.conditions]).toEqual(["prod", undefined]);
    const { items } = await hub.get("/api/v1/clusters");
    expect(items.find((c: Any) => c.name === "pull-1")).toMatchObject({
      registered: true,
      syncMode: "pull",
      region: "eu-west",
      labels: { env: "prod" },
    });
    // The live gateway reaches it through its agent, within the agent's NATS permissions.
    const live = await hub.get("/proxy/clusters/pull-1/api/v1/namespaces/prod/pods");
    expect(live.items.length).toBe(prodPods);
  });

  it("refuses an agent with a wrong credential and says so in its log", async () => {
    const wrong = join(dir, "wrong.nk");
    writeFileSync(wrong, new TextDecoder().decode(createNkeyUser().getSeed()));
    const agent = hub.startAgent(pullSim, { ATOLL_MODE: "pull", NATS_CREDENTIALS: wrong }, "agent-wrong");
    const code = await new Promise((resolve) => agent.process.once("exit", resolve));
    expect(code).toBe(1);
    expect(readFileSync(agent.log, "utf8")).toMatch(
      /refused the credentials of \\"agent\/pull-1\\".*check the credentials file/,
    );
  });

  it("registers every context of a push kubeconfig, syncs them from the hub, and never stores the kubeconfig in plain form", async () => {
    const registered = await hub.send("POST", "/api/v1/clusters", {
      mode: "push",
      kubeconfig: mergedKubeconfig([pushA, pushB]),
      provider: "onprem",
    });
    expect(registered).toEqual({ status: 201, body: { mode: "push", clusters: ["push-a", "push-b"] } });
    hub.startHubAgent();
    await hub.waitIndexed(pushA);
    await hub.waitIndexed(pushB);
    const sql = postgres(hub.databaseUrl, { max: 1 });
    const stored = await sql`select kubeconfig_sealed from clusters where name like 'push-%'`;
    await sql.end();
    for (const row of stored) {
      expect(row.kubeconfig_sealed).toMatch(/^v1:/);
      expect(row.kubeconfig_sealed).not.toContain("push-a-secret-token");
    }
  });

  it("delivers placed workloads to push clusters through the hub agent, and withdraws them", async () => {
    hub.startScheduler();
    const documents = `
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: greeting, namespace: default }
spec:
  resourceSelectors: [{ apiVersion: v1, kind: ConfigMap, name: greeting }]
  placement: { clusterAffinity: { clusterNames: [push-a, push-b] } }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: greeting, namespace: default }
data: { hello: from-the-hub }
`;
    const applied = await hub.send("POST", "/api/v1/apply", { documents });
    expect(applied.status, JSON.stringify(applied.body)).toBe(200);
    const greeting = (sim: KubeSim) =>
      sim.store
        .list(sim.store.findType("", "v1", "configmaps")!, "default")
        .map(({ object }) => object as { metadata: { name: string }; data?: Record<string, string> })
        .find((o) => o.metadata.name === "greeting");
    await until(
      () => [pushA, pushB].every((sim) => greeting(sim)?.data?.hello === "from-the-hub"),
      "the ConfigMap in both push clusters",
      60_000,
      200,
    );
    const withdrawn = await hub.send("POST", "/api/v1/delete", { documents });
    expect(withdrawn.status, JSON.stringify(withdrawn.body)).toBe(200);
    await until(() => [pushA, pushB].every((sim) => !greeting(sim)), "the ConfigMap withdrawn", 60_000, 200);
  });

  it("updates placement fields and refuses bad input with the field named", async () => {
    expect(
      (
        await hub.send("PATCH", "/api/v1/clusters/push-a", {
          labels: { tier: "gold" },
          region: "us-east",
          taints: [{ key: "maintenance", effect: "NoSchedule" }],
        })
      ).status,
    ).toBe(200);
    const { items } = await hub.get("/api/v1/clusters");
    expect(items.find((c: Any) => c.name === "push-a")).toMatchObject({
      labels: { tier: "gold" },
      region: "us-east",
      taints: [{ key: "maintenance", effect: "NoSchedule" }],
    });
    const bad = await hub.send("PATCH", "/api/v1/clusters/push-a", {
      taints: [{ key: "x", effect: "Sometimes" }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/taints\.0\.effect/);
    expect((await hub.send("PATCH", "/api/v1/clusters/nope", { region: "x" })).status).toBe(404);
    expect((await hub.send("POST", "/api/v1/clusters", { mode: "pull", name: "push-a" })).status).toBe(409);
    const rules = await hub.send("POST", "/api/v1/clusters", {
      mode: "pull",
      name: "bad-rules",
      syncRules: "rules: [ { resource: pods } ]",
    });
    expect(rules.status).toBe(400);
    expect(rules.body.detail).toMatch(/rules\[0\]\.apiVersion/);
  });

  it("deletes a cluster: sync stops, rows are purged and stay purged", async () => {
    const deleted = await hub.send("DELETE", "/api/v1/clusters/push-b");
    expect(deleted.status).toBe(200);
    expect(deleted.body.purged).toBe(pushB.store.count());
    pushB.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "after-delete", namespace: "default" },
    });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await hub.get("/api/v1/resources?cluster=push-b")).items).toEqual([]);
    const { items } = await hub.get("/api/v1/clusters");
    expect(items.map((c: Any) => c.name)).not.toContain("push-b");
    await hub.waitIndexed(pushA);
  });
});
