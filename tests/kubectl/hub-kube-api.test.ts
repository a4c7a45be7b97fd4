import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { until } from "@atoll/devkit";
import { apiVersionOf, BUILTIN_RESOURCE_TYPES } from "@atoll/kube";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { TestHub } from "../support/hub.js";

// biome-ignore lint/suspicious/noExplicitAny: watch events are loose JSON
type Any = any;

import { kubectl, kubectlStream } from "../support/kubectl.js";

describe("the real kubectl against the index (/k8s/all and /k8s/clusters/<name>)", () => {
  const hub = new TestHub();
  const big = new KubeSim({ name: "big", token: "b" });
  const small = new KubeSim({ name: "small", token: "s" });
  let all = "";
  let onlySmall = "";

  const pods = (sim: KubeSim, namespace?: string) =>
    sim.store.list(sim.store.findType("", "v1", "pods")!, namespace).map(({ object }) => object);

  beforeAll(async () => {
    await Promise.all([big.start(), small.start()]);
    generateCluster(big, {
      seed: 91,
      namespaces: ["default", "a", "b", "c", "d", "e", "f", "g", "h", "prod"],
      deploymentsPerNamespace: 60,
      failures: { CrashLoopBackOff: 3 },
    });
    generateCluster(small, { seed: 92, namespaces: ["default", "prod"], deploymentsPerNamespace: 3 });
    // A custom resource beside the built-in kinds, as real clusters have.
    small.apply({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.com" },
      spec: {
        group: "example.com",
        scope: "Namespaced",
        names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
            additionalPrinterColumns: [{ name: "Size", type: "integer", jsonPath: ".spec.size" }],
          },
        ],
      },
    });
    small.apply({
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name: "w1", namespace: "prod" },
      spec: { size: 3 },
    });
    await hub.start();
    hub.startAgent(big);
    // The built-in kinds and the custom resource: sync rules name custom resources explicitly.
    const rules = join(hub.dir, "small-rules.yaml");
    writeFileSync(
      rules,
      YAML.stringify({
        rules: [
          ...BUILTIN_RESOURCE_TYPES.map((t) => ({ apiVersion: apiVersionOf(t), resource: t.resource })),
          { apiVersion: "example.com/v1", resource: "widgets" },
        ],
      }),
    );
    hub.startAgent(small, { ATOLL_SYNC_RULES: rules });
    await hub.waitIndexed(big, 120_000);
    await hub.waitIndexed(small);
    // A binding in the index, as on any hub that places: discovery and lists must hold up with it.
    hub.startScheduler();
    const applied = await hub.send("POST", "/api/v1/apply", {
      documents: `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: web, namespace: prod }
spec:
  resourceSelectors: [{ apiVersion: apps/v1, kind: Deployment, name: web }]
  placement: { clusterAffinity: { clusterNames: [nowhere] } }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: prod }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: main, image: nginx }] }
`,
    });
    expect(applied.status, JSON.stringify(applied.body)).toBe(200);
    // Indexed as a ResourceBinding of the hub, which the scheduler does apart from the binding's write.
    await until(
      async () =>
        (await hub.get("/api/v1/resources?kind=ResourceBinding&namespace=prod&name=web-deployment")).items
          .length === 1,
      "the binding in the index",
      30_000,
    );
    all = join(hub.dir, "all.kubeconfig");
    onlySmall = join(hub.dir, "small.kubeconfig");
    writeFileSync(all, hub.kubeconfig("/k8s/all"));
    writeFileSync(onlySmall, hub.kubeconfig("/k8s/clusters/small"));
  }, 180_000);
  afterAll(async () => {
    await hub.stop();
    await Promise.all([big.stop(), small.stop()]);
  });

  it("get pods -A lists every cluster's pods with a CLUSTER column", async () => {
    const out = await kubectl(all, ["get", "pods", "-A"]);
    const lines = out.trim().split("\n");
    expect(lines[0]).toMatch(/^NAMESPACE\s+CLUSTER\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    expect(lines).toHaveLength(pods(big).length + pods(small).length + 1);
    expect(pods(big).length).toBeGreaterThan(1000);
    expect(out).toMatch(/\s+big\s+\S+\s+0\/1\s+CrashLoopBackOff/);
  });

  it("--chunk-size=50 pages through everything with continue tokens", async () => {
    const names = (await kubectl(all, ["get", "pods", "-A", "--chunk-size=50", "-o", "name"]))
      .trim()
      .split("\n");
    expect(names).toHaveLength(pods(big).length + pods(small).length);
  });

  it("pages cluster-scoped kinds too: get namespaces --chunk-size=2 (Clusterpedia's #139)", async () => {
    const namespaces = (sim: KubeSim) => sim.store.list(sim.store.findType("", "v1", "namespaces")!).length;
    const names = (await kubectl(all, ["get", "namespaces", "--chunk-size=2", "-o", "name"]))
      .trim()
      .split("\n");
    expect(names).toHaveLength(namespaces(big) + namespaces(small));
    expect(names.every((n) => n.startsWith("namespace/"))).toBe(true);
    const table = (await kubectl(onlySmall, ["get", "namespaces", "--chunk-size=1"])).trim().split("\n");
    expect(table).toHaveLength(namespaces(small) + 1);
  });

  it("-n prod -o yaml returns one cluster's objects with the cluster annotated", async () => {
    const list = YAML.parse(await kubectl(onlySmall, ["get", "deploy", "-n", "prod", "-o", "yaml"]));
    const expected = small.store
      .list(small.store.findType("apps", "v1", "deployments")!, "prod")
      .map(({ object }) => object.metadata.name);
    expect(list.items.map((d: { metadata: { name: string } }) => d.metadata.name)).toEqual(expected);
    for (const item of list.items) expect(item.metadata.annotations["atoll.dev/cluster"]).toBe("small");
  });

  it("-l and --field-selector filter in the index", async () => {
    const app = pods(big, "prod")[0]!.metadata.labels.app as string;
    const labelled = (await kubectl(all, ["get", "pods", "-A", "-l", `app=${app}`, "-o", "name"]))
      .trim()
      .split("\n");
    const expected = [...pods(big), ...pods(small)].filter((p) => p.metadata.labels.app === app);
    expect(labelled).toHaveLength(expected.length);
    const running = (
      await kubectl(all, ["get", "pods", "-A", "--field-selector", "status.phase=Running", "-o", "name"])
    )
      .trim()
      .split("\n");
    expect(running).toHaveLength(
      [...pods(big), ...pods(small)].filter((p) => p.status.phase === "Running").length,
    );
  });

  it("lists what an owner owns, by uid or by name, children or grandchildren (Clusterpedia's owner options)", async () => {
    const deployment = small.store.list(small.store.findType("apps", "v1", "deployments")!, "prod")[0]!
      .object;
    const replicaSets = small.store
      .list(small.store.findType("apps", "v1", "replicasets")!, "prod")
      .map(({ object }) => object)
      .filter((rs) => rs.metadata.ownerReferences?.some((o: Any) => o.uid === deployment.metadata.uid));
    const expected = pods(small, "prod")
      .filter((p) =>
        replicaSets.some((rs) => p.metadata.ownerReferences?.some((o: Any) => o.uid === rs.metadata.uid)),
      )
      .map((p) => p.metadata.name)
      .sort();
    expect(expected.length).toBeGreaterThan(0);
    const list = async (query: string) =>
      ((await hub.get(`/k8s/clusters/small/api/v1/namespaces/prod/pods?${query}`)).items as Any[])
        .map((p) => p.metadata.name)
        .sort();
    expect(await list(`ownerUID=${replicaSets[0]!.metadata.uid}`)).toEqual(expected);
    expect(
      await list(`ownerName=${deployment.metadata.name}&ownerGR=deployments.apps&ownerSeniority=1`),
    ).toEqual(expected);
    expect(await list(`ownerName=${deployment.metadata.name}&ownerGR=services&ownerSeniority=1`)).toEqual([]);
    const bad = await hub.fetch("/k8s/clusters/small/api/v1/pods?ownerUID=x&ownerSeniority=9");
    expect(bad.status).toBe(400);
  });

  it("gets one object by name from one cluster, and says why not across clusters", async () => {
    const pod = pods(small, "prod")[0]!;
    const got = YAML.parse(
      await kubectl(onlySmall, ["get", "pod", "-n", "prod", pod.metadata.name, "-o", "yaml"]),
    );
    expect(got.metadata.uid).toBe(pod.metadata.uid);
    const missing = await kubectl(onlySmall, ["get", "pod", "-n", "prod", "nope"]).catch(
      (e: Error) => e.message,
    );
    expect(missing).toMatch(/pods "nope" not found/);
    // Both clusters have a namespace prod: across clusters, the answer says how to ask one.
    const ambiguous = await kubectl(all, ["describe", "namespace", "prod"]).catch((e: Error) => e.message);
    expect(ambiguous).toMatch(
      /exists in several clusters \((big, small|small, big)\); ask one: use the context atoll-index-/,
    );
  });

  it("shows a limited token only its grants, and refuses an invalid one", async () => {
    const role = await hub.send("PUT", "/api/v1/roles/small-prod", {
      grants: [{ verbs: ["read"], clusters: ["small"], namespaces: ["prod"] }],
    });
    expect(role.status).toBe(200);
    const { body } = await hub.send("POST", "/api/v1/tokens", { name: "kubectl-user", role: "small-prod" });
    const limited = join(hub.dir, "limited.kubeconfig");
    writeFileSync(limited, hub.kubeconfig("/k8s/all", body.token));
    const names = (await kubectl(limited, ["get", "pods", "-A", "-o", "name"])).trim().split("\n");
    expect(names.sort()).toEqual(
      pods(small, "prod")
        .map((p) => `pod/${p.metadata.name}`)
        .sort(),
    );
    const bigOnly = join(hub.dir, "limited-big.kubeconfig");
    writeFileSync(bigOnly, hub.kubeconfig("/k8s/clusters/big", body.token));
    const refused = await kubectl(bigOnly, ["get", "pods", "-A"]).catch((e: Error) => e.message);
    expect(refused).toMatch(/NotFound|not found|could not find the requested resource/);
    const anonymous = join(hub.dir, "anonymous.kubeconfig");
    // A token that is not valid (with none at all, kubectl would prompt for a username instead).
    writeFileSync(anonymous, hub.kubeconfig("/k8s/all", "atoll_000000000000_revoked-or-never-issued"));
    const unauthenticated = await kubectl(anonymous, ["get", "pods", "-A"]).catch((e: Error) => e.message);
    expect(unauthenticated).toMatch(/Unauthorized|must be logged in/);
  });

  it("discovers every kind with bindings present, and lists bindings with their age", async () => {
    const resources = await kubectl(all, ["api-resources"]);
    expect(resources).toMatch(/^resourcebindings\s+work\.karmada\.io\/v1alpha2\s+true\s+ResourceBinding$/m);
    expect(resources).toMatch(/^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
    expect(resources).toMatch(/^widgets\s+example\.com\/v1\s+true\s+Widget$/m);
    const widgets = (await kubectl(all, ["get", "widgets", "-A"])).trim().split("\n");
    expect(widgets[0]).toMatch(/^NAMESPACE\s+CLUSTER\s+NAME\s+SIZE$/);
    expect(widgets[1]).toMatch(/^prod\s+small\s+w1\s+3$/);
    const bindings = (await kubectl(all, ["get", "resourcebindings", "-A"])).trim().split("\n");
    expect(bindings[0]).toMatch(/^NAMESPACE\s+CLUSTER\s+NAME\s+SCHEDULED\s+FULLYAPPLIED\s+AGE$/);
    // Placed nowhere (the policy names a cluster that does not exist): not scheduled, and aged.
    expect(bindings[1]).toMatch(/^prod\s+atoll\.hub\s+web-deployment\s+False\s+False\s+\d+s$/);
  });

  it("get -A -w keeps the CLUSTER column in the rows the watch adds", async () => {
    const watch = kubectlStream(all, ["get", "pods", "-A", "-w"]);
    try {
      await until(() => watch.output().includes("NAMESPACE"), "the initial list of the watch", 60_000);
      small.apply({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "watched-everywhere", namespace: "prod" },
        spec: { containers: [{ name: "main", image: "busybox" }] },
        status: { phase: "Pending" },
      });
      await until(
        () => /prod\s+small\s+watched-everywhere\s+0\/1\s+Pending/.test(watch.output()),
        "the new pod with its cluster in kubectl get -A -w",
        20_000,
      );
    } finally {
      watch.stop();
    }
    small.store.delete(small.store.findType("", "v1", "pods")!, "prod", "watched-everywhere");
  });

  it("get -w over the index sees a change made in a sim, fed from the bus", async () => {
    const existing = pods(small, "prod")[0]!.metadata.name as string;
    const watch = kubectlStream(onlySmall, ["get", "pods", "-n", "prod", "-w"]);
    try {
      await until(() => watch.output().includes(existing), "the initial list of the watch");
      small.apply({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "watched-pod", namespace: "prod" },
        spec: { containers: [{ name: "main", image: "busybox" }] },
        status: { phase: "Pending" },
      });
      await until(
        () => /watched-pod\s+0\/1\s+Pending/.test(watch.output()),
        "the new pod in kubectl get -w",
        20_000,
      );
    } finally {
      watch.stop();
    }
  });

  it("resumes a watch from a list's resourceVersion and reports deletions with the last state", async () => {
    const list = (await (await hub.fetch("/k8s/clusters/small/api/v1/namespaces/prod/pods")).json()) as Any;
    const from = list.metadata.resourceVersion as string;
    small.store.delete(small.store.findType("", "v1", "pods")!, "prod", "watched-pod");
    const controller = new AbortController();
    const response = await hub.fetch(
      `/k8s/clusters/small/api/v1/namespaces/prod/pods?watch=1&resourceVersion=${from}`,
      { signal: controller.signal },
    );
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const events: { type: string; object: Any }[] = [];
    while (!events.some((e) => e.type === "DELETED")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      const lines = text.split("\n");
      text = lines.pop()!;
      events.push(...lines.filter(Boolean).map((l) => JSON.parse(l)));
    }
    controller.abort();
    const deleted = events.find((e) => e.type === "DELETED")!;
    expect(deleted.object.metadata.name).toBe("watched-pod");
    expect(deleted.object.spec.containers[0].image).toBe("busybox");
    expect(deleted.object.metadata.annotations["atoll.dev/cluster"]).toBe("small");
    expect(BigInt(deleted.object.metadata.resourceVersion)).toBeGreaterThan(BigInt(from));
    expect(events.every((e) => e.object.metadata.namespace === "prod")).toBe(true);
  });
  // Last: it stops the query service.
  it("stops on SIGTERM with a watch still open, ending the watch instead of waiting to be killed", async () => {
    const watch = kubectlStream(onlySmall, ["get", "pods", "-n", "prod", "-w"]);
    try {
      await until(() => watch.output().includes("NAME"), "the watch to start");
      // The grace a stop allows before SIGKILL is far longer than a clean shutdown needs.
      await hub.query.stop(60_000);
      expect(hub.query.process.signalCode).toBeNull();
      expect(hub.query.process.exitCode).toBe(0);
      await until(() => watch.process.exitCode !== null, "kubectl to see its watch end");
    } finally {
      watch.stop();
    }
  });
});
