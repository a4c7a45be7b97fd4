import {
  ClusterHeartbeatSchema,
  create,
  EventType,
  heartbeatCodec,
  ResourceEventBatchSchema,
  ResourceEventSchema,
  resourceBatchCodec,
} from "@atoll/contracts";
import { until } from "@atoll/devkit";
import { KubeClient, newSyncId } from "@atoll/kube";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";

// biome-ignore lint/suspicious/noExplicitAny: API answers are loose JSON
type Any = any;

describe("sims → agents → NATS → indexer → Postgres → query", () => {
  const hub = new TestHub();
  const simA = new KubeSim({ name: "sim-a", token: "token-a" });
  const simB = new KubeSim({ name: "sim-b", token: "token-b" });

  beforeAll(async () => {
    await Promise.all([simA.start(), simB.start()]);
    generateCluster(simA, { seed: 11, failures: { CrashLoopBackOff: 2 } });
    generateCluster(simB, { seed: 12, namespaces: ["default", "prod"], deploymentsPerNamespace: 3 });
    await hub.start();
    hub.startAgent(simA);
    hub.startAgent(simB);
    await hub.waitIndexed(simA);
    await hub.waitIndexed(simB);
  });
  afterAll(async () => {
    await hub.stop();
    await Promise.all([simA.stop(), simB.stop()]);
  });

  it("indexes exactly each sim's pods under its own cluster", async () => {
    const podType = simB.store.findType("", "v1", "pods")!;
    const page = await hub.get("/api/v1/resources?kind=Pod&cluster=sim-b&limit=1000");
    const expected = simB.store
      .list(podType)
      .map(({ object }) => object.metadata.uid)
      .sort();
    expect(page.items.map((i: Any) => i.uid).sort()).toEqual(expected);
    for (const item of page.items) expect(item.cluster).toBe("sim-b");
  });

  it("shows objects created, updated and deleted through a sim's API", async () => {
    const client = KubeClient.fromKubeconfig(simA.kubeconfig());
    const json = { "content-type": "application/json" };
    const created = await client.json<Any>({
      method: "POST",
      path: "/api/v1/namespaces/prod/configmaps",
      headers: json,
      body: JSON.stringify({
        metadata: { name: "e2e-config", labels: { owner: "e2e" } },
        data: { mode: "one" },
      }),
    });
    await until(
      async () =>
        (await hub.get("/api/v1/resources?cluster=sim-a&kind=ConfigMap&name=e2e-config")).items.length === 1,
      "the created ConfigMap",
    );

    await client.json({
      method: "PATCH",
      path: "/api/v1/namespaces/prod/configmaps/e2e-config",
      headers: { "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ data: { mode: "two" } }),
    });
    await until(async () => {
      const [item] = (await hub.get("/api/v1/resources?cluster=sim-a&kind=ConfigMap&name=e2e-config")).items;
      return item?.object.data.mode === "two";
    }, "the updated ConfigMap");
    const [updated] = (await hub.get("/api/v1/resources?cluster=sim-a&kind=ConfigMap&name=e2e-config")).items;
    expect(Number(updated.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    expect(updated.object.metadata.labels).toEqual({ owner: "e2e" });

    const deployment = (
      await hub.get("/api/v1/resources?cluster=sim-a&kind=Deployment&namespace=prod&limit=1")
    ).items[0];
    const owned = await hub.get(
      `/api/v1/resources?cluster=sim-a&kind=Pod&namespace=prod&labelSelector=app%3D${deployment.name}`,
    );
    expect(owned.items.length).toBeGreaterThan(0);
    await client.json({
      method: "DELETE",
      path: `/apis/apps/v1/namespaces/prod/deployments/${deployment.name}`,
    });
    await client.json({ method: "DELETE", path: "/api/v1/namespaces/prod/configmaps/e2e-config" });
    await until(async () => {
      const gone = await Promise.all([
        hub.get(`/api/v1/resources?cluster=sim-a&kind=Deployment&namespace=prod&name=${deployment.name}`),
        hub.get(
          `/api/v1/resources?cluster=sim-a&kind=Pod&namespace=prod&labelSelector=app%3D${deployment.name}`,
        ),
        hub.get("/api/v1/resources?cluster=sim-a&kind=ConfigMap&name=e2e-config"),
      ]);
      return gone.every((page) => page.items.length === 0);
    }, "the deleted deployment, its pods and the ConfigMap to leave the index");
    await hub.waitIndexed(simA);
  });

  it("answers filters: namespace, label selector, name wildcard and free text", async () => {
    const backend = await hub.get(
      "/api/v1/resources?cluster=sim-b&namespace=prod&labelSelector=tier%3Dbackend",
    );
    expect(backend.items.length).toBeGreaterThan(0);
    for (const item of backend.items) {
      expect(item.namespace).toBe("prod");
      expect(item.object.metadata.labels.tier).toBe("backend");
    }
    const wildcard = await hub.get("/api/v1/resources?cluster=sim-b&kind=pods&name=*-*");
    expect(wildcard.items.length).toBeGreaterThan(0);
    const text = await hub.get(`/api/v1/resources?q=${backend.items[0].name}`);
    expect(text.items.map((i: Any) => i.name)).toContain(backend.items[0].name);
  });

  it("searches by keyword across clusters, with totals and the equivalent SQL", async () => {
    const failing = await hub.get(
      `/api/v1/search?q=${encodeURIComponent("kind:pods status:CrashLoopBackOff")}`,
    );
    expect(failing.items.map((i: Any) => i.cluster)).toEqual(["sim-a", "sim-a"]);
    expect(failing).toMatchObject({ total: 2, totalIsEstimate: false, continue: null });
    expect(failing.sql).toBe("SELECT * FROM resources WHERE kind = 'Pod' AND status = 'CrashLoopBackOff'");
    const paged = await hub.get(`/api/v1/search?q=${encodeURIComponent("kind:Pod cluster:sim-b")}&limit=5`);
    expect(paged.items).toHaveLength(5);
    expect(paged.total).toBe(simB.store.count(simB.store.findType("", "v1", "pods")!));
    const next = await hub.get(
      `/api/v1/search?q=${encodeURIComponent("kind:Pod cluster:sim-b")}&limit=5&continue=${paged.continue}`,
    );
    expect(
      next.items[0].name > paged.items[4].name || next.items[0].namespace > paged.items[4].namespace,
    ).toBe(true);
    const unknown = await hub.fetch(`/api/v1/search?q=${encodeURIComponent("colour:red")}`);
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ code: "UNKNOWN_FILTER", position: 1 });
  });

  it("answers SQL, with aggregations, positions for errors and the allowed columns", async () => {
    const sql = "SELECT cluster, COUNT(*) FROM resources WHERE kind = 'Deployment' GROUP BY cluster";
    const counted = await hub.get(`/api/v1/search?mode=sql&q=${encodeURIComponent(sql)}`);
    const deployments = (sim: KubeSim) => sim.store.count(sim.store.findType("apps", "v1", "deployments")!);
    expect(counted.aggregations).toEqual(
      [
        { key: { cluster: "sim-a" }, count: deployments(simA) },
        { key: { cluster: "sim-b" }, count: deployments(simB) },
      ].sort((a, b) => b.count - a.count || a.key.cluster.localeCompare(b.key.cluster)),
    );
    const running = await hub.get(
      `/api/v1/search?mode=sql&q=${encodeURIComponent("SELECT * FROM resources WHERE cluster = 'sim-b' AND status.phase = 'Running' ORDER BY name DESC LIMIT 3")}`,
    );
    expect(running.items.map((i: Any) => i.name)).toEqual(
      [...running.items.map((i: Any) => i.name)].sort().reverse(),
    );
    expect(running.items).toHaveLength(3);
    const bad = await hub.fetch(
      `/api/v1/search?mode=sql&q=${encodeURIComponent("SELECT * FROM resources WHERE colour = 'red'")}`,
    );
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      code: "UNKNOWN_COLUMN",
      hint: expect.stringMatching(/labels\['k'\]/),
    });
    const syntax = await hub.fetch(
      `/api/v1/search?mode=sql&q=${encodeURIComponent("SELECT * FROM resources WHERE kind = ")}`,
    );
    expect(await syntax.json()).toMatchObject({ code: "SQL_SYNTAX", position: expect.any(Number) });
  });

  it("lists both clusters with heartbeat status", async () => {
    await until(
      async () => (await hub.get("/api/v1/clusters")).items.every((c: Any) => c.ready),
      "ready heartbeats",
    );
    const { items } = await hub.get("/api/v1/clusters");
    expect(items.map((c: Any) => c.name)).toEqual(["sim-a", "sim-b"]);
    for (const cluster of items) {
      expect(cluster.online).toBe(true);
      expect(cluster.kubernetesVersion).toBe("v1.30.0");
      expect(cluster.status.nodes).toEqual({ total: 3, ready: 3 });
      expect(cluster.status.allocatable.pods).toBe(330);
    }
  });

  it("indexes NUL characters as U+FFFD and objects too large for NATS in part, dead-letters an object that would forge rows, and keeps going", async () => {
    const client = KubeClient.fromKubeconfig(simB.kubeconfig());
    const post = (body: unknown) =>
      client.json({
        method: "POST",
        path: "/api/v1/namespaces/default/configmaps",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    await post({ metadata: { name: "with-nul", annotations: { note: "a\u0000b" } }, data: { k: "x\u0000" } });
    // An agent whose object text tries to close its own row and open one for another cluster.
    const forged =
      '{"metadata":{"name":"decoy"}}},{"c":"sim-a","u":"forged-uid","g":"","v":"v1","k":"ConfigMap",' +
      '"p":"configmaps","n":"default","m":"forged","rv":1,"s":"z","o":{"metadata":{"name":"forged"}}';
    const deadBefore = (await hub.bus.jsm.streams.info(hub.bus.names.streams.deadLetter)).state.messages;
    await hub.bus.publish(
      hub.bus.names.resources("sim-b"),
      resourceBatchCodec,
      create(ResourceEventBatchSchema, {
        cluster: "sim-b",
        events: [
          create(ResourceEventSchema, {
            type: EventType.ADDED,
            uid: "decoy-uid",
            version: "v1",
            kind: "ConfigMap",
            resource: "configmaps",
            namespace: "default",
            name: "decoy",
            resourceVersion: 1n,
            syncId: newSyncId(),
            object: new TextEncoder().encode(forged),
          }),
        ],
      }),
      "forged-batch",
    );
    // Larger than a NATS message, as a ConfigMap may be: indexed without its data.
    await post({
      metadata: { name: "huge", labels: { size: "huge" } },
      data: { blob: "x".repeat(1_200_000) },
    });
    await post({ metadata: { name: "after-forgery" }, data: { k: "v" } });
    await until(
      async () => (await hub.get("/api/v1/resources?kind=ConfigMap&name=after-forgery")).items.length === 1,
      "the ConfigMap created after the forged batch",
    );
    const [withNul] = (await hub.get("/api/v1/resources?cluster=sim-b&kind=ConfigMap&name=with-nul")).items;
    expect(withNul.object.metadata.annotations.note).toBe("a\ufffdb");
    expect(withNul.object.data.k).toBe("x\ufffd");
    const [huge] = (await hub.get("/api/v1/resources?cluster=sim-b&kind=ConfigMap&name=huge")).items;
    expect(huge.object.metadata.labels).toEqual({ size: "huge" });
    expect(Number(huge.object.metadata.annotations["atoll.dev/truncated-from-bytes"])).toBeGreaterThan(
      1_200_000,
    );
    expect(huge.object.data).toBeUndefined();
    for (const name of ["forged", "decoy"])
      expect((await hub.get(`/api/v1/resources?kind=ConfigMap&name=${name}`)).items).toEqual([]);
    const dead = await hub.bus.jsm.streams.info(hub.bus.names.streams.deadLetter);
    expect(dead.state.messages).toBe(deadBefore + 1);
    const message = await hub.bus.jsm.streams.getMessage(hub.bus.names.streams.deadLetter, {
      seq: dead.state.last_seq,
    });
    expect(message?.header.get("Atoll-Reason")).toMatch(/object decoy-uid is not valid JSON/);
  });

  it("says a new agent is starting at once, beats with capacity once it has counted the nodes, and the index keeps the full beat", async () => {
    const simC = new KubeSim({ name: "sim-c", token: "token-c" });
    await simC.start();
    try {
      generateCluster(simC, { seed: 13, nodes: 3 });
      const beats: { starting: boolean; ready: number; pods: bigint }[] = [];
      const watch = hub.bus.watchClusters(async (entry) => {
        if (entry.key !== "sim-c" || entry.operation !== "PUT") return;
        const beat = heartbeatCodec.decode(entry.value);
        beats.push({
          starting: beat.starting,
          ready: beat.nodes?.ready ?? 0,
          pods: beat.allocatable?.pods ?? 0n,
        });
      });
      hub.startAgent(simC);
      await until(() => beats.some((beat) => !beat.starting), "sim-c's first full heartbeat");
      watch.stop();
      await hub.agents.get("agent-sim-c")!.stop();
      // The first beat tells the hub the agent is up; it carries no capacity, since none is counted.
      expect(beats[0]).toEqual({ starting: true, ready: 0, pods: 0n });
      const full = beats.find((beat) => !beat.starting)!;
      expect(full.ready).toBe(3);
      expect(full.pods).toBeGreaterThan(0n);
      const indexedSimC = async () =>
        ((await hub.get("/api/v1/clusters")).items as Any[]).find((cluster) => cluster.name === "sim-c");
      await until(
        async () => (await indexedSimC())?.status?.nodes?.ready === 3,
        "sim-c's full beat in the index",
      );

      // An agent that restarts says it is starting again: the index keeps the full beat's capacity.
      // Once a later beat of sim-a is in the index, the indexer has read past sim-c's.
      const sentAt = Date.now();
      await hub.bus.putHeartbeat(
        "sim-c",
        heartbeatCodec.encode(
          create(ClusterHeartbeatSchema, { cluster: "sim-c", starting: true, sentAtMs: BigInt(sentAt) }),
        ),
      );
      await until(async () => {
        const simA = ((await hub.get("/api/v1/clusters")).items as Any[]).find((c) => c.name === "sim-a");
        return Date.parse(simA.lastHeartbeat) > sentAt;
      }, "a beat of sim-a after sim-c's starting beat");
      expect((await indexedSimC()).status.nodes).toEqual({ total: 3, ready: 3 });
    } finally {
      await simC.stop();
    }
  });

  it("rejects bad input with problem+json", async () => {
    const response = await hub.fetch(`/api/v1/resources?labelSelector=${encodeURIComponent("app in a,b")}`);
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    const problem = await response.json();
    expect(problem).toMatchObject({ status: 400, code: "INVALID_SELECTOR" });
    const badLimit = await hub.fetch(`/api/v1/resources?limit=0`);
    expect(((await badLimit.json()) as Any).code).toBe("INVALID_LIMIT");
    const badToken = await hub.fetch(`/api/v1/resources?continue=garbage`);
    expect(((await badToken.json()) as Any).code).toBe("INVALID_CONTINUE");
  });
});
