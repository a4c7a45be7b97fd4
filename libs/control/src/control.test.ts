import { randomBytes } from "node:crypto";
import { Bus } from "@atoll/bus";
import {
  ClusterHeartbeatSchema,
  create,
  heartbeatCodec,
  ManifestState,
  ManifestStatusSchema,
  type Work,
  WorkAction,
  WorkStatusSchema,
  workCodec,
  workStatusCodec,
} from "@atoll/contracts";
import { until } from "@atoll/devkit";
import { silentLogger } from "@atoll/log";
import { DocumentsError, rejectionsByCluster } from "@atoll/placement";
import {
  getBinding,
  getTemplate,
  indexQueuedBindings,
  listWorks,
  recordHeartbeat,
  recordWorkStatus,
  registerCluster,
  saveBindings,
  updateCluster,
} from "@atoll/store";
import { suiteDatabase } from "@atoll/store/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyDocuments, fleetWriter, WriteForbiddenError, type Writer } from "./apply.js";
import { FleetHealth, followHeartbeats } from "./fleet.js";
import { PlacementController, restartedAgents } from "./scheduler.js";
import { recordWorkStatuses } from "./status.js";

/** The tests of placement apply as the hub would, over every cluster. */
const WRITER = fleetWriter("test");

const DOCUMENTS = `
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: web, namespace: shop }
spec:
  resourceSelectors: [{ apiVersion: apps/v1, kind: Deployment, name: web }]
  propagateDeps: true
  placement:
    clusterAffinity: { labelSelector: { matchLabels: { env: prod } } }
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
          - { targetCluster: { clusterNames: [eu] }, weight: 2 }
          - { targetCluster: { clusterNames: [us] }, weight: 1 }
---
apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: { name: us-mirror, namespace: shop }
spec:
  overrideRules:
    - targetCluster: { clusterNames: [us] }
      overriders:
        imageOverrider: [{ component: Registry, operator: replace, value: mirror.us.example }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop }
spec:
  replicas: 6
  template:
    spec:
      containers: [{ name: main, image: registry.example/web:1, envFrom: [{ configMapRef: { name: web-config } }] }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: web-config, namespace: shop }
data: { mode: fast }
`;

describe("the placement control plane", { timeout: 30_000 }, () => {
  const handle = suiteDatabase("control");
  let bus: Bus;
  const works: Work[] = [];
  const fleet = new FleetHealth();
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    bus = await Bus.connect({
      url: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
      name: "control-test",
      prefix: `t${randomBytes(4).toString("hex")}`,
      logger: silentLogger(),
    });
    await bus.ensureTopology();
    for (const [name, labels] of [
      ["eu", { env: "prod" }],
      ["us", { env: "prod" }],
      ["dev", { env: "dev" }],
    ] as const) {
      await registerCluster(handle.sql, { name, syncMode: "push", labels });
      await recordHeartbeat(handle.sql, {
        name,
        syncMode: "push",
        ready: true,
        kubernetesVersion: "v1.30.0",
        lastHeartbeat: new Date(),
        status: { allocatable: { cpuMillis: 8000, memoryBytes: 2 ** 34, pods: 110 } },
      });
      fleet.observe(name, Date.now(), {
        nodes: { total: 1, ready: 1 },
        allocatable: { cpuMillis: 8000, memoryBytes: 2 ** 34, pods: 110 },
      });
    }
    const consumption = await bus.consume({
      stream: bus.names.streams.work,
      durable: "test-works",
      filterSubject: bus.names.all("work"),
      codec: workCodec,
      handler: async (deliveries) => {
        works.push(...deliveries.map((d) => d.data));
      },
    });
    stops.push(() => consumption.stop());
    const recorder = await recordWorkStatuses(handle.sql, bus, silentLogger());
    stops.push(() => recorder.stop());
  });
  afterAll(async () => {
    for (const stop of stops) await stop();
    await bus.removeTopology();
    await bus.close();
  });

  const controller = () =>
    new PlacementController({ sql: handle.sql, bus, logger: silentLogger(), fleet, graceSeconds: 3600 });
  const manifestsFor = (cluster: string) =>
    works
      .filter((w) => w.cluster === cluster)
      .at(-1)!
      .manifests.map((m) => JSON.parse(new TextDecoder().decode(m)));

  it("stores what is applied, schedules it, and sends each cluster its share with overrides and dependencies", async () => {
    const { results } = await applyDocuments(handle.sql, bus, DOCUMENTS, WRITER);
    expect(results).toEqual([
      "PropagationPolicy shop/web: created",
      "OverridePolicy shop/us-mirror: created",
      "Deployment shop/web: created",
      "ConfigMap shop/web-config: created",
    ]);
    // As kubectl apply says it: the same documents again change nothing; an edit configures.
    expect(
      (await applyDocuments(handle.sql, bus, DOCUMENTS, WRITER)).results.every((r) =>
        r.endsWith(": unchanged"),
      ),
    ).toBe(true);
    await controller().place({ apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "web" });
    const binding = await getBinding(handle.sql, "shop", "web-deployment");
    expect(binding).toMatchObject({
      policy: "PropagationPolicy/shop/web",
      condition: "Success",
      clusters: [
        { name: "eu", replicas: 4 },
        { name: "us", replicas: 2 },
      ],
      rejected: {
        "ClusterAffinity: cluster(s) did not match the placement cluster affinity constraint": ["dev"],
      },
    });
    await until(() => works.length >= 2, "two works");
    const [eu, us] = [manifestsFor("eu"), manifestsFor("us")];
    expect(eu.map((m: { kind: string }) => m.kind)).toEqual(["Deployment", "ConfigMap"]);
    expect(eu[0].spec.replicas).toBe(4);
    expect(us[0].spec.replicas).toBe(2);
    expect(eu[0].spec.template.spec.containers[0].image).toBe("registry.example/web:1");
    expect(us[0].spec.template.spec.containers[0].image).toBe("mirror.us.example/web:1");
    expect(eu[0].metadata.labels["atoll.dev/managed-by"]).toBe("atoll");
  });

  it("refuses a Secret template when the hub has no key to seal its values, and stores nothing", async () => {
    const secret = `apiVersion: v1
kind: Secret
metadata: { name: plain, namespace: default }
stringData: { token: do-not-store-me }
`;
    const refused = await applyDocuments(handle.sql, bus, secret, WRITER).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DocumentsError);
    expect((refused as DocumentsError).message).toMatch(/Secret default\/plain: .*set ATOLL_SECRET_KEY/);
    expect(await handle.sql`select 1 from templates where name = 'plain'`).toHaveLength(0);
  });

  it("says created, configured, unchanged and deleted as kubectl apply does", async () => {
    const probe = (value: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: outcome-probe, namespace: probe }\ndata: { k: "${value}" }\n`;
    const said = async (text: string, remove = false) =>
      (await applyDocuments(handle.sql, bus, text, WRITER, { remove })).results;
    expect(await said(probe("a"))).toEqual(["ConfigMap probe/outcome-probe: created"]);
    expect(await said(probe("a"))).toEqual(["ConfigMap probe/outcome-probe: unchanged"]);
    expect(await said(probe("b"))).toEqual(["ConfigMap probe/outcome-probe: configured"]);
    expect(await said(probe("b"), true)).toEqual(["ConfigMap probe/outcome-probe: deleted"]);
  });

  it("records agents' reports on the binding and ignores stale ones", async () => {
    const report = (cluster: string, generation: number, status = "") =>
      bus.publish(
        bus.names.workStatus(cluster),
        workStatusCodec,
        create(WorkStatusSchema, {
          cluster,
          workName: "shop/web-deployment",
          generation: BigInt(generation),
          manifests: [
            create(ManifestStatusSchema, {
              kind: "Deployment",
              name: "web",
              state: ManifestState.APPLIED,
              healthy: true,
              status: new TextEncoder().encode(status),
            }),
          ],
        }),
        `${cluster}:${generation}:${Math.random()}`,
      );
    const generation = works.find((w) => w.cluster === "eu")!.generation;
    await report("eu", Number(generation));
    await until(
      async () => Boolean((await getBinding(handle.sql, "shop", "web-deployment"))?.aggregatedStatus.eu),
      "eu's status",
    );
    expect((await getBinding(handle.sql, "shop", "web-deployment"))!.aggregatedStatus.eu).toMatchObject({
      applied: true,
      healthy: true,
    });
    expect(
      (await listWorks(handle.sql, "shop", "web-deployment")).find((w) => w.cluster === "eu")!.applied,
    ).toBe(true);

    // A report that cannot be read is set aside; one carrying a NUL character is stored.
    const deadBefore = (await bus.jsm.streams.info(bus.names.streams.deadLetter)).state.messages;
    await report("eu", Number(generation), '{"phase":"Run');
    await report("eu", Number(generation), JSON.stringify({ message: "bad\u0000byte" }));
    await until(async () => {
      const eu = (await listWorks(handle.sql, "shop", "web-deployment")).find((w) => w.cluster === "eu");
      return JSON.stringify(eu?.status ?? []).includes("bad\ufffdbyte");
    }, "the report with a NUL character");
    const dead = await bus.jsm.streams.info(bus.names.streams.deadLetter);
    expect(dead.state.messages).toBe(deadBefore + 1);
    const message = await bus.jsm.streams.getMessage(bus.names.streams.deadLetter, {
      seq: dead.state.last_seq,
    });
    expect(message?.header.get("Atoll-Reason")).toMatch(/the status of Deployment \/web is not JSON/);
  });

  it("sends a restarted agent every work its cluster should run, once per agent", async () => {
    const euWorks = () => works.filter((w) => w.cluster === "eu");
    const before = euWorks().length;
    const current = (await listWorks(handle.sql, "shop", "web-deployment")).find((w) => w.cluster === "eu")!;
    expect(await controller().resendWorks("eu", "agent-2")).toBe(1);
    await until(() => euWorks().length === before + 1, "the resent work");
    expect(euWorks().at(-1)).toMatchObject({
      name: "shop/web-deployment",
      generation: BigInt(current.generation),
    });
    // The same agent asking twice gets it once: the stream drops the repeat.
    await controller().resendWorks("eu", "agent-2");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(euWorks().length).toBe(before + 1);
  });

  it("publishes works a stopped scheduler committed but never published, once", async () => {
    // A scheduler that stopped between its commit and its publish: the decision is saved, and
    // placing again changes nothing, so nothing else would ever send it.
    const binding = (await getBinding(handle.sql, "shop", "web-deployment"))!;
    const manifests = {
      dev: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "stranded", namespace: "shop" } }],
    };
    const [saved] = await saveBindings(handle.sql, [{ binding, manifests, keep: ["eu", "us"] }]);
    expect(saved!.map((w) => w.cluster)).toEqual(["dev"]);
    const devWorks = () =>
      works.filter((w) => w.cluster === "dev" && w.generation === BigInt(saved![0]!.generation));
    expect(await controller().relayUnsentWorks(60_000)).toBe(0);
    expect(await controller().relayUnsentWorks(0)).toBe(1);
    await until(() => devWorks().length === 1, "the stranded work");
    expect(await controller().relayUnsentWorks(0)).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(devWorks().length).toBe(1);
    // Put back as the other tests expect it.
    await controller().place({ apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "web" });
  });

  /**
   * Deployments whose replicas ask one CPU each, by name and replica count, in a namespace of
   * their own whose policy packs each one onto eu or us (Aggregated).
   */
  const applyPacked = (namespace: string, replicas: Record<string, number>) =>
    applyDocuments(
      handle.sql,
      bus,
      `
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: packed, namespace: ${namespace} }
spec:
  resourceSelectors: [{ apiVersion: apps/v1, kind: Deployment }]
  placement:
    clusterAffinity: { clusterNames: [eu, us] }
    replicaScheduling: { replicaSchedulingType: Divided, replicaDivisionPreference: Aggregated }
${Object.entries(replicas)
  .map(
    ([name, count]) => `---
apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  replicas: ${count}
  template:
    spec:
      containers: [{ name: main, image: job:1, resources: { requests: { cpu: "1" } } }]
`,
  )
  .join("")}`,
      WRITER,
    );

  it("counts replicas it just placed against the cluster, so the next decisions do not pile onto it", async () => {
    await applyPacked("batch", { a: 6, b: 6, c: 6 });
    const placedOn = async (name: string) =>
      (await getBinding(handle.sql, "batch", `${name}-deployment`))!.clusters.map(
        (c) => `${c.name}:${c.replicas}`,
      );
    const key = (name: string) => ({ apiVersion: "apps/v1", kind: "Deployment", namespace: "batch", name });
    // Each cluster has 8 CPUs free by its heartbeat: six 1-CPU replicas fit once per cluster.
    const scheduler = controller();
    const batch = await scheduler.loadContext();
    await scheduler.place(key("a"), batch);
    await scheduler.place(key("b"), batch);
    expect([...(await placedOn("a")), ...(await placedOn("b"))].sort()).toEqual(["eu:6", "us:6"]);
    // The next batch, before any heartbeat counts those pods, knows the clusters are full.
    await scheduler.place(key("c"));
    expect(await getBinding(handle.sql, "batch", "c-deployment")).toMatchObject({
      condition: "Unschedulable",
    });
  });

  it("indexes each binding as a ResourceBinding of the hub, with its aggregated status", async () => {
    await indexQueuedBindings(handle.sql);
    const [row] = await handle.sql`
      select object from resources where cluster = 'atoll.hub' and kind = 'ResourceBinding'
        and namespace = 'shop' and name = 'web-deployment'`;
    const binding = await getBinding(handle.sql, "shop", "web-deployment");
    expect(row?.object).toMatchObject({
      apiVersion: "work.karmada.io/v1alpha2",
      metadata: { annotations: { "atoll.dev/policy": binding!.policy } },
      spec: { resource: { kind: "Deployment", name: "web" }, clusters: binding!.clusters },
      status: { conditions: [{ type: "Scheduled", status: "True", reason: "Success" }] },
    });
    expect(Object.keys(binding!.aggregatedStatus).length).toBeGreaterThan(0);
    expect(row?.object.status.aggregatedStatus.map((s: { clusterName: string }) => s.clusterName)).toEqual(
      Object.keys(binding!.aggregatedStatus).sort(),
    );
  });

  it("keeps what runs, and says why, when a cluster's work would not fit in one bus message", async () => {
    const configMap = (name: string, bytes: number) => `
apiVersion: v1
kind: ConfigMap
metadata: { name: ${name}, namespace: shop }
data: { blob: "${"x".repeat(bytes)}" }
`;
    await applyDocuments(
      handle.sql,
      bus,
      `
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: blobs, namespace: shop }
spec:
  resourceSelectors: [{ apiVersion: v1, kind: ConfigMap, name: big }, { apiVersion: v1, kind: ConfigMap, name: huge }]
  placement: { clusterAffinity: { clusterNames: [eu] } }
---${configMap("big", 10)}`,
      WRITER,
    );
    const place = (name: string) =>
      controller().place({ apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name });
    await place("big");
    const placed = await listWorks(handle.sql, "shop", "big-configmap");
    expect(placed.map((w) => w.cluster)).toEqual(["eu"]);
    const sent = async () => (await bus.jsm.streams.info(bus.names.streams.work)).state.messages;
    const published = await sent();

    const tooBig = bus.maxPayload() + 1000;
    await applyDocuments(handle.sql, bus, configMap("big", tooBig), WRITER);
    await place("big");
    const big = await getBinding(handle.sql, "shop", "big-configmap");
    expect(big).toMatchObject({ condition: "WorkTooLarge", clusters: [{ name: "eu" }] });
    expect(big!.message).toMatch(
      /work for cluster eu takes \d+ bytes, more than the \d+ one NATS message may carry/,
    );
    expect(await listWorks(handle.sql, "shop", "big-configmap")).toEqual(placed);

    await applyDocuments(handle.sql, bus, configMap("huge", tooBig), WRITER);
    await place("huge");
    expect(await getBinding(handle.sql, "shop", "huge-configmap")).toMatchObject({
      condition: "WorkTooLarge",
      clusters: [],
    });
    expect(await listWorks(handle.sql, "shop", "huge-configmap")).toEqual([]);
    expect(await sent()).toBe(published);

    // Back within the limit, the binding places again.
    await applyDocuments(handle.sql, bus, configMap("big", 20), WRITER);
    await place("big");
    expect(await getBinding(handle.sql, "shop", "big-configmap")).toMatchObject({ condition: "Success" });
    expect((await getBinding(handle.sql, "shop", "big-configmap"))!.scheduledAt).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    );
    expect(await sent()).toBe(published + 1);
  });

  it("places batches in turn: a template an earlier batch holds is decided again from what that batch wrote", async () => {
    await applyPacked("turns", { held: 6, other: 1 });
    const key = (name: string) => ({ apiVersion: "apps/v1", kind: "Deployment", namespace: "turns", name });
    const before = works.length;
    // The second batch arrives while the first still holds "held". Had it read "held" before the
    // first wrote it, the six CPUs the first assumed on its cluster would send it to the other one.
    const scheduler = controller();
    const turns = await Promise.all([
      scheduler.placeInTurn([key("held")]),
      scheduler.placeInTurn([key("other"), key("held")]),
    ]);
    expect(turns).toEqual([[], []]);
    const held = (await getBinding(handle.sql, "turns", "held-deployment"))!;
    expect(held.generation).toBe(2);
    expect(held.clusters).toHaveLength(1);
    expect(held.clusters[0]!.replicas).toBe(6);
    expect((await getBinding(handle.sql, "turns", "other-deployment"))!.condition).toBe("Success");
    const heldWorks = await listWorks(handle.sql, "turns", "held-deployment");
    expect(heldWorks.map((w) => [w.cluster, w.action])).toEqual([[held.clusters[0]!.name, "apply"]]);
    await until(() => works.length >= before + 2, "the two works on the bus");
    expect(works.slice(before).filter((w) => w.action === WorkAction.DELETE)).toEqual([]);
  });

  it("re-splits on scale, and withdraws everywhere when the template is deleted", async () => {
    await applyDocuments(handle.sql, bus, DOCUMENTS.replace("replicas: 6", "replicas: 9"), WRITER);
    await controller().place({ apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "web" });
    expect((await getBinding(handle.sql, "shop", "web-deployment"))!.clusters).toEqual([
      { name: "eu", replicas: 6 },
      { name: "us", replicas: 3 },
    ]);
    const before = works.length;
    await applyDocuments(handle.sql, bus, DOCUMENTS.split("---")[2]!, WRITER, { remove: true });
    await controller().place({ apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "web" });
    await until(
      () => works.slice(before).filter((w) => w.action === WorkAction.DELETE).length === 2,
      "two deletes",
    );
    expect(await getBinding(handle.sql, "shop", "web-deployment")).toBeUndefined();
    await indexQueuedBindings(handle.sql);
    const [mirror] =
      await handle.sql`select count(*)::int as n from resources where cluster = 'atoll.hub' and name = 'web-deployment'`;
    expect(mirror?.n).toBe(0);
  });

  it("keeps a claimed template with its policy unless a policy with preemption Always names it", async () => {
    const key = { apiVersion: "v1", kind: "ConfigMap", namespace: "team", name: "settings" };
    const policyOf = async () => (await getBinding(handle.sql, "team", "settings-configmap"))?.policy;
    const propagation = (kind: string, name: string, extra: string) => `
apiVersion: policy.karmada.io/v1alpha1
kind: ${kind}
metadata: {name: ${name}${kind === "PropagationPolicy" ? ", namespace: team" : ""}}
spec:
  resourceSelectors: [{apiVersion: v1, kind: ConfigMap${extra.includes("preemption") ? ", name: settings" : ""}}]
  placement: {clusterAffinity: {clusterNames: [eu]}}
  ${extra}`;
    await applyDocuments(
      handle.sql,
      bus,
      `${propagation("ClusterPropagationPolicy", "everything", "priority: 0")}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: team}
data: {a: "1"}`,
      WRITER,
    );
    await controller().place(key);
    expect(await policyOf()).toBe("ClusterPropagationPolicy/everything");
    // A namespaced policy that matches too does not take a claimed template by itself ...
    await applyDocuments(handle.sql, bus, propagation("PropagationPolicy", "quiet", "priority: 5"), WRITER);
    await controller().place(key);
    expect(await policyOf()).toBe("ClusterPropagationPolicy/everything");
    // ... but one with preemption Always that names it does, whatever the priorities.
    await applyDocuments(
      handle.sql,
      bus,
      propagation("PropagationPolicy", "takeover", "preemption: Always"),
      WRITER,
    );
    await controller().place(key);
    expect(await policyOf()).toBe("PropagationPolicy/team/takeover");
  });

  /** A policy and a ServiceAccount (no other policy here selects one) in their own namespace, placed on eu and us. */
  const lifecycleDocs = (ns: string, spec = "") => `
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: keep, namespace: ${ns} }
spec:
  resourceSelectors: [{ apiVersion: v1, kind: ServiceAccount, name: settings }]
  placement: { clusterAffinity: { clusterNames: [eu, us] } }
  ${spec}
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: settings, namespace: ${ns}, labels: { a: "1" } }
`;
  const settings = (ns: string) => ({
    apiVersion: "v1",
    kind: "ServiceAccount",
    namespace: ns,
    name: "settings",
  });
  const worksOf = (ns: string) => listWorks(handle.sql, ns, "settings-serviceaccount");

  it("keeps the binding and every member copy when only the policy is deleted", async () => {
    await applyDocuments(handle.sql, bus, lifecycleDocs("orphan"), WRITER);
    await controller().place(settings("orphan"));
    const placed = await worksOf("orphan");
    expect(placed.map((w) => [w.cluster, w.action])).toEqual([
      ["eu", "apply"],
      ["us", "apply"],
    ]);
    await applyDocuments(handle.sql, bus, lifecycleDocs("orphan").split("---")[0]!, WRITER, { remove: true });
    await controller().place(settings("orphan"));
    expect(await worksOf("orphan")).toEqual(placed);
    expect(await getBinding(handle.sql, "orphan", "settings-serviceaccount")).toMatchObject({
      condition: "NoPolicy",
      clusters: [{ name: "eu" }, { name: "us" }],
    });
    // Another policy claims it and places it as before, without a withdrawal in between.
    await applyDocuments(handle.sql, bus, lifecycleDocs("orphan").split("---")[0]!, WRITER);
    await controller().place(settings("orphan"));
    expect((await worksOf("orphan")).map((w) => [w.cluster, w.action, w.generation])).toEqual(
      placed.map((w) => [w.cluster, w.action, w.generation]),
    );
  });

  it("numbers works so that a deleted and re-applied template always moves forward on each cluster", async () => {
    const seen = new Map<string, number[]>();
    const record = async () => {
      for (const work of await worksOf("again"))
        seen.set(work.cluster, [...(seen.get(work.cluster) ?? []), work.generation]);
    };
    for (let round = 0; round < 5; round++) {
      await applyDocuments(handle.sql, bus, lifecycleDocs("again"), WRITER);
      await controller().place(settings("again"));
      expect((await worksOf("again")).every((w) => w.action === "apply")).toBe(true);
      await record();
      await applyDocuments(handle.sql, bus, lifecycleDocs("again").split("---")[1]!, WRITER, {
        remove: true,
      });
      await controller().place(settings("again"));
      await record();
    }
    expect([...seen.keys()].sort()).toEqual(["eu", "us"]);
    for (const generations of seen.values()) {
      expect(generations).toHaveLength(10);
      expect(generations.every((g, i) => i === 0 || g > generations[i - 1]!)).toBe(true);
    }
  });

  it("marks the deletes of a template whose policy preserves resources, so agents leave the objects", async () => {
    // The works arrive on the bus in their own time: they are told apart by action, not by order.
    const kept = (action: WorkAction) =>
      works.filter((w) => w.name === "kept/settings-serviceaccount" && w.action === action);
    await applyDocuments(handle.sql, bus, lifecycleDocs("kept", "preserveResourcesOnDeletion: true"), WRITER);
    await controller().place(settings("kept"));
    await until(() => kept(WorkAction.APPLY).length === 2, "two applies");
    expect(kept(WorkAction.APPLY).map((w) => w.preserveResources)).toEqual([false, false]);
    await applyDocuments(handle.sql, bus, lifecycleDocs("kept").split("---")[1]!, WRITER, { remove: true });
    await controller().place(settings("kept"));
    await until(() => kept(WorkAction.DELETE).length === 2, "two deletes");
    expect(
      kept(WorkAction.DELETE)
        .map((w) => [w.cluster, w.preserveResources])
        .sort(),
    ).toEqual([
      ["eu", true],
      ["us", true],
    ]);
  });

  it("dispatches nothing new to clusters where the policy suspends dispatching", async () => {
    await applyDocuments(handle.sql, bus, lifecycleDocs("paused"), WRITER);
    await controller().place(settings("paused"));
    const placed = await worksOf("paused");
    await applyDocuments(
      handle.sql,
      bus,
      lifecycleDocs("paused", "suspension: { dispatchingOnClusters: { clusterNames: [us] } }").replace(
        'a: "1"',
        'a: "2"',
      ),
      WRITER,
    );
    await controller().place(settings("paused"));
    const after = await worksOf("paused");
    expect(after.find((w) => w.cluster === "us")).toEqual(placed.find((w) => w.cluster === "us"));
    expect(after.find((w) => w.cluster === "eu")!.manifests[0]).toMatchObject({
      metadata: { labels: { a: "2" } },
    });
    expect((await getBinding(handle.sql, "paused", "settings-serviceaccount"))!.message).toMatch(
      /dispatching suspended on us by the policy/,
    );
  });

  it("keeps what runs when the policy asks for a spread no set of clusters meets", async () => {
    await applyDocuments(handle.sql, bus, lifecycleDocs("spread"), WRITER);
    await controller().place(settings("spread"));
    const placed = await worksOf("spread");
    await applyDocuments(
      handle.sql,
      bus,
      lifecycleDocs(
        "spread",
        "placement: { clusterAffinity: { clusterNames: [eu, us] }, spreadConstraints: [{ spreadByField: cluster, minGroups: 5, maxGroups: 5 }] }",
      ).replace("  placement: { clusterAffinity: { clusterNames: [eu, us] } }\n", ""),
      WRITER,
    );
    await controller().place(settings("spread"));
    expect(await worksOf("spread")).toEqual(placed);
    const binding = await getBinding(handle.sql, "spread", "settings-serviceaccount");
    expect(binding).toMatchObject({ clusters: [{ name: "eu" }, { name: "us" }] });
    expect(binding!.message).toMatch(/The workload stays where it runs \(eu, us\)/);
  });

  it("skips only the cluster whose override cannot apply, and places other templates meanwhile", async () => {
    const consumer = await controller().start();
    try {
      await applyDocuments(
        handle.sql,
        bus,
        `${lifecycleDocs("broken")}
---
apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: { name: bad-path, namespace: broken }
spec:
  overrideRules:
    - targetCluster: { clusterNames: [us] }
      overriders: { plaintext: [{ path: /data/missing/deeper, operator: replace, value: "x" }] }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: other, namespace: broken }
data: { b: "1" }
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: other, namespace: broken }
spec:
  resourceSelectors: [{ apiVersion: v1, kind: ConfigMap, name: other }]
  placement: { clusterAffinity: { clusterNames: [us] } }
`,
        WRITER,
      );
      // Requests go out in template order (other before settings): wait for both decisions.
      await until(
        async () =>
          (await getBinding(handle.sql, "broken", "other-configmap"))?.condition === "Success" &&
          (await getBinding(handle.sql, "broken", "settings-serviceaccount")) !== undefined,
        "the other template placed, and the broken one decided",
      );
      const binding = await getBinding(handle.sql, "broken", "settings-serviceaccount");
      expect(binding!.message).toMatch(/not dispatched to us: its overrides could not be applied/);
      expect((await worksOf("broken")).map((w) => w.cluster)).toEqual(["eu"]);
    } finally {
      await consumer.stop();
    }
  });

  it("records status reports and placements of one binding concurrently without a deadlock", async () => {
    await applyDocuments(handle.sql, bus, lifecycleDocs("busy"), WRITER);
    await controller().place(settings("busy"));
    const errors: unknown[] = [];
    const report = async (cluster: string) => {
      const work = (await worksOf("busy")).find((w) => w.cluster === cluster);
      if (!work) return;
      await recordWorkStatus(handle.sql, {
        cluster,
        namespace: "busy",
        name: "settings-serviceaccount",
        generation: work.generation,
        applied: true,
        manifests: [],
      });
    };
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        try {
          if (i % 2) await report(i % 4 === 1 ? "eu" : "us");
          else {
            await applyDocuments(
              handle.sql,
              bus,
              lifecycleDocs("busy").replace('a: "1"', `a: "${i}"`),
              WRITER,
            );
            await controller().place(settings("busy"));
          }
        } catch (error) {
          errors.push(error);
        }
      }),
    );
    expect(errors.map((e) => (e as Error).message)).toEqual([]);
  });

  it("hears an agent's starting beat as no news: the last full beat's capacity and time stand", async () => {
    const beat = (cluster: string, starting: boolean) =>
      bus.putHeartbeat(
        cluster,
        heartbeatCodec.encode(
          create(ClusterHeartbeatSchema, {
            cluster,
            starting,
            ...(starting ? {} : { nodes: { total: 3, ready: 3 }, allocatable: { cpuMillis: 4000n } }),
          }),
        ),
      );
    await beat("restarting", false);
    const heard = new FleetHealth();
    const watch = await followHeartbeats(heard, bus, silentLogger());
    try {
      const fullAt = heard.lastHeardMs("restarting");
      expect(heard.statusOf("restarting")?.nodes).toEqual({ total: 3, ready: 3 });
      // The agent restarts: its first beat carries no capacity. A beat of another cluster after it
      // shows the watch has read past it.
      await beat("restarting", true);
      await beat("newcomer", true);
      await beat("marker", false);
      await until(() => heard.lastHeardMs("marker") !== undefined, "the marker's beat");
      expect(heard.lastHeardMs("restarting")).toBe(fullAt);
      expect(heard.statusOf("restarting")?.nodes).toEqual({ total: 3, ready: 3 });
      expect(heard.statusOf("restarting")?.allocatable?.cpuMillis).toBe(4000);
      expect(heard.lastHeardMs("newcomer")).toBeUndefined();
    } finally {
      watch.stop();
    }
  });

  describe("write authority", () => {
    /** A writer over some namespaces of some clusters, as clustersAllowed computes it from grants. */
    const team = (clusters: string[], namespaces: string[]): Writer => ({
      name: "team (role deployer)",
      clustersFor: ({ namespace }) => (namespace && namespaces.includes(namespace) ? clusters : []),
    });
    const forbidden = async (promise: Promise<unknown>): Promise<string> => {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(WriteForbiddenError);
      return (error as WriteForbiddenError).message;
    };

    it("refuses documents outside the writer's namespaces or reaching other clusters, and stores none of them", async () => {
      const message = await forbidden(
        applyDocuments(handle.sql, bus, lifecycleDocs("fenced"), team(["eu"], ["fenced"])),
      );
      expect(message).toMatch(
        /PropagationPolicy fenced\/keep: its placement selects us, outside the clusters/,
      );
      expect(await getTemplate(handle.sql, { ...settings("fenced") })).toBeUndefined();
      expect(
        await forbidden(
          applyDocuments(handle.sql, bus, lifecycleDocs("elsewhere"), team(["eu", "us"], ["fenced"])),
        ),
      ).toMatch(/has no write grant over namespace elsewhere/);
      const clusterWide = `
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: { name: everywhere }
spec:
  resourceSelectors: [{ apiVersion: v1, kind: ServiceAccount }]`;
      expect(await forbidden(applyDocuments(handle.sql, bus, clusterWide, team(["eu"], ["fenced"])))).toMatch(
        /no write grant over cluster-scoped objects/,
      );
      const taints = `
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterTaintPolicy
metadata: { name: drain }
spec:
  targetClusters: { clusterNames: [eu] }
  addOnConditions: [{ conditionType: Ready, operator: In, statusValues: ["False"] }]
  taints: [{ key: drain, effect: NoSchedule }]`;
      const clusterScoped: Writer = { name: "ops", clustersFor: () => ["eu"] };
      expect(await forbidden(applyDocuments(handle.sql, bus, taints, clusterScoped))).toMatch(
        /needs write over every cluster/,
      );
    });

    it("places a narrow writer's template only on clusters they may write, under a wider policy", async () => {
      const [policy, template] = lifecycleDocs("shared").split("---");
      await applyDocuments(handle.sql, bus, policy!, WRITER);
      await applyDocuments(handle.sql, bus, template!, team(["eu"], ["shared"]));
      await controller().place(settings("shared"));
      expect((await worksOf("shared")).map((w) => w.cluster)).toEqual(["eu"]);
      const binding = await getBinding(handle.sql, "shared", "settings-serviceaccount");
      expect(rejectionsByCluster(binding!.rejected).us).toMatch(
        /outside the write grants of team \(role deployer\), who applied the template/,
      );
    });

    it("lets only a writer whose grants cover an object's clusters change or delete it", async () => {
      await applyDocuments(handle.sql, bus, lifecycleDocs("owned"), WRITER);
      await controller().place(settings("owned"));
      const before = await worksOf("owned");
      const [, template] = lifecycleDocs("owned").split("---");
      for (const remove of [true, false])
        expect(
          await forbidden(
            applyDocuments(handle.sql, bus, template!.replace('a: "1"', 'a: "2"'), team(["eu"], ["owned"]), {
              remove,
            }),
          ),
        ).toMatch(
          /was applied by test with write grants over every cluster; team \(role deployer\) may not write every cluster/,
        );
      expect(await getTemplate(handle.sql, settings("owned"))).toMatchObject({
        document: { metadata: { labels: { a: "1" } } },
      });
      await controller().place(settings("owned"));
      expect(await worksOf("owned")).toEqual(before);
    });

    it("leaves what runs outside a new policy's grants as it is when that policy takes a template over", async () => {
      await applyDocuments(handle.sql, bus, lifecycleDocs("handover"), WRITER);
      await controller().place(settings("handover"));
      const before = await worksOf("handover");
      await applyDocuments(
        handle.sql,
        bus,
        lifecycleDocs("handover")
          .split("---")[0]!
          .replace("name: keep", "name: takeover")
          .replace("clusterNames: [eu, us]", "clusterNames: [eu]")
          .replace("placement:", "preemption: Always\n  priority: 10\n  placement:"),
        team(["eu"], ["handover"]),
      );
      await controller().place(settings("handover"));
      const binding = await getBinding(handle.sql, "handover", "settings-serviceaccount");
      expect(binding?.policy).toBe("PropagationPolicy/handover/takeover");
      expect(binding?.message).toMatch(/left as it is on us: outside the write grants of team/);
      expect((await worksOf("handover")).find((w) => w.cluster === "us")).toEqual(
        before.find((w) => w.cluster === "us"),
      );
    });

    it("applies an override only on clusters its writer could write, even after labels change", async () => {
      await applyDocuments(handle.sql, bus, lifecycleDocs("dressed"), WRITER);
      const override = (target: string) => `
apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: { name: gold, namespace: dressed }
spec:
  resourceSelectors: [{ apiVersion: v1, kind: ServiceAccount, name: settings }]
  overrideRules:
    - targetCluster: ${target}
      overriders: { labelsOverrider: [{ operator: add, value: { tier: gold } }] }`;
      expect(
        await forbidden(
          applyDocuments(
            handle.sql,
            bus,
            override("{ labelSelector: { matchLabels: { env: prod } } }"),
            team(["eu"], ["dressed"]),
          ),
        ),
      ).toMatch(/its rules override us, outside the clusters/);
      await applyDocuments(
        handle.sql,
        bus,
        override("{ labelSelector: { matchLabels: { tier: gold } } }"),
        team(["eu"], ["dressed"]),
      );
      try {
        for (const cluster of ["eu", "us"])
          await updateCluster(handle.sql, cluster, { labels: { env: "prod", tier: "gold" } });
        await controller().place(settings("dressed"));
        const labels = async (cluster: string) =>
          (
            (await worksOf("dressed")).find((w) => w.cluster === cluster)?.manifests[0]?.metadata as {
              labels?: Record<string, string>;
            }
          )?.labels ?? {};
        expect((await labels("eu")).tier).toBe("gold");
        expect((await labels("us")).tier).toBeUndefined();
      } finally {
        for (const cluster of ["eu", "us"])
          await updateCluster(handle.sql, cluster, { labels: { env: "prod" } });
      }
    });
  });
});

describe("restartedAgents", () => {
  const cluster = (name: string, agentId?: string) => ({ name, status: agentId ? { agentId } : {} });

  it("names a cluster whose heartbeat names another agent, and remembers the first sight of each", () => {
    const known = new Map<string, string>();
    expect(restartedAgents(known, [cluster("a", "1"), cluster("b", "1"), cluster("c")])).toEqual([]);
    expect(restartedAgents(known, [cluster("a", "1"), cluster("b", "2")])).toEqual([
      { cluster: "b", agentId: "2" },
    ]);
    // Until the caller records the new agent, it is still news.
    expect(restartedAgents(known, [cluster("b", "2")])).toEqual([{ cluster: "b", agentId: "2" }]);
    known.set("b", "2");
    expect(restartedAgents(known, [cluster("b", "2"), cluster("c", "9")])).toEqual([]);
  });
});
