import { KubeApiError, KubeClient } from "@atoll/kube";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateCluster } from "./generator.js";
import { KubeSim } from "./server.js";

// biome-ignore lint/suspicious/noExplicitAny: API answers are read as loose JSON in assertions
type Any = any;

describe("kube-sim API", () => {
  const sim = new KubeSim({ name: "api-test", token: "secret-token", eventWindow: 100 });
  let client: KubeClient;

  beforeAll(async () => {
    await sim.start();
    generateCluster(sim, { seed: 42, deploymentsPerNamespace: 6 });
    client = KubeClient.fromKubeconfig(sim.kubeconfig());
  });
  afterAll(() => sim.stop());

  it("refuses requests without the bearer token", async () => {
    const anonymous = KubeClient.fromKubeconfig(
      sim.kubeconfig().replace('"token": "secret-token"', '"token": "wrong"'),
    );
    await expect(anonymous.json({ path: "/api/v1/pods" })).rejects.toMatchObject({ status: 401 });
  });

  it("pages a list with limit and continue, at one resourceVersion", async () => {
    const all = await client.json<Any>({ path: "/api/v1/pods" });
    const names: string[] = [];
    let token = "";
    let versions = new Set<string>();
    do {
      const page = await client.json<Any>({
        path: `/api/v1/pods?limit=7${token ? `&continue=${token}` : ""}`,
      });
      expect(page.items.length).toBeLessThanOrEqual(7);
      names.push(...page.items.map((p: Any) => `${p.metadata.namespace}/${p.metadata.name}`));
      versions = versions.add(page.metadata.resourceVersion);
      token = page.metadata.continue ?? "";
    } while (token);
    expect(names).toEqual(all.items.map((p: Any) => `${p.metadata.namespace}/${p.metadata.name}`));
    expect(names.length).toBeGreaterThan(20);
    expect(versions.size).toBe(1);
  });

  it("filters by label and field selectors and by namespace", async () => {
    const prod = await client.json<Any>({
      path: "/api/v1/namespaces/prod/pods?labelSelector=tier%3Dbackend",
    });
    expect(prod.items.length).toBeGreaterThan(0);
    for (const pod of prod.items) {
      expect(pod.metadata.namespace).toBe("prod");
      expect(pod.metadata.labels.tier).toBe("backend");
    }
    const named = await client.json<Any>({
      path: `/api/v1/pods?fieldSelector=metadata.name%3D${prod.items[0].metadata.name}`,
    });
    expect(named.items.map((p: Any) => p.metadata.uid)).toEqual([prod.items[0].metadata.uid]);
  });

  it("increases resourceVersion on every write and answers 409 on a stale update", async () => {
    const created = await client.json<Any>({
      method: "POST",
      path: "/api/v1/namespaces/default/configmaps",
      body: JSON.stringify({ metadata: { name: "rv-test" }, data: { a: "1" } }),
      headers: { "content-type": "application/json" },
    });
    const updated = await client.json<Any>({
      method: "PUT",
      path: "/api/v1/namespaces/default/configmaps/rv-test",
      body: JSON.stringify({ ...created, data: { a: "2" } }),
      headers: { "content-type": "application/json" },
    });
    expect(Number(updated.metadata.resourceVersion)).toBeGreaterThan(
      Number(created.metadata.resourceVersion),
    );
    const stale = client.json({
      method: "PUT",
      path: "/api/v1/namespaces/default/configmaps/rv-test",
      body: JSON.stringify({ ...created, data: { a: "3" } }),
      headers: { "content-type": "application/json" },
    });
    await expect(stale).rejects.toMatchObject({ status: 409 });
  });

  it("answers an expired continue token with 410 Gone", async () => {
    const page = await client.json<Any>({ path: "/api/v1/pods?limit=2" });
    const cm = sim.store.findType("", "v1", "configmaps")!;
    for (let i = 0; i < 150; i++)
      sim.store.create(cm, { metadata: { name: `burst-${i}`, namespace: "default" } });
    const error = await client
      .json({ path: `/api/v1/pods?limit=2&continue=${page.metadata.continue}` })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).status).toBe(410);
  });

  it("serves a custom resource once its CustomResourceDefinition exists", async () => {
    await client.json({
      method: "POST",
      path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        metadata: { name: "widgets.example.com" },
        spec: {
          group: "example.com",
          scope: "Namespaced",
          names: { plural: "widgets", singular: "widget", kind: "Widget", shortNames: ["wd"] },
          versions: [{ name: "v1", served: true, storage: true }],
        },
      }),
    });
    const discovery = await client.json<Any>({ path: "/apis/example.com/v1" });
    expect(discovery.resources.find((r: Any) => r.name === "widgets")).toMatchObject({
      kind: "Widget",
      namespaced: true,
      shortNames: ["wd"],
    });
    await client.json({
      method: "POST",
      path: "/apis/example.com/v1/namespaces/default/widgets",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        apiVersion: "example.com/v1",
        kind: "Widget",
        metadata: { name: "w1" },
        spec: { size: 3 },
      }),
    });
    const widgets = await client.json<Any>({ path: "/apis/example.com/v1/widgets" });
    expect(widgets.items.map((w: Any) => w.metadata.name)).toEqual(["w1"]);
  });

  it("deletes dependents with their owner, as the garbage collector does", async () => {
    const deployments = await client.json<Any>({ path: "/apis/apps/v1/namespaces/staging/deployments" });
    const name = deployments.items[0].metadata.name;
    const before = await client.json<Any>({
      path: `/api/v1/namespaces/staging/pods?labelSelector=app%3D${name}`,
    });
    expect(before.items.length).toBeGreaterThan(0);
    await client.json({ method: "DELETE", path: `/apis/apps/v1/namespaces/staging/deployments/${name}` });
    const after = await client.json<Any>({
      path: `/api/v1/namespaces/staging/pods?labelSelector=app%3D${name}`,
    });
    expect(after.items).toEqual([]);
  });
});

describe("kube-sim pod logs and impersonation", () => {
  const sim = new KubeSim({
    name: "logs-test",
    authorize: (access) => access.user !== "reader" || ["get", "list", "watch"].includes(access.verb),
  });
  let client: KubeClient;
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace: "default" },
    spec: { containers: [{ name: "app" }, { name: "sidecar" }] },
  };

  beforeAll(async () => {
    await sim.start();
    sim.apply(pod);
    for (const n of [1, 2, 3]) sim.writeLog("default", "web", `app line ${n}`, "app");
    sim.writeLog("default", "web", "sidecar line", "sidecar");
    client = KubeClient.fromKubeconfig(sim.kubeconfig());
  });
  afterAll(() => sim.stop());

  const text = async (path: string) => {
    const response = await client.stream({ path });
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    return { status: response.statusCode, body: Buffer.concat(chunks).toString("utf8") };
  };

  it("serves one container's log, or its tail, and asks which container when there are several", async () => {
    expect(await text("/api/v1/namespaces/default/pods/web/log?container=app")).toEqual({
      status: 200,
      body: "app line 1\napp line 2\napp line 3\n",
    });
    expect((await text("/api/v1/namespaces/default/pods/web/log?container=app&tailLines=1")).body).toBe(
      "app line 3\n",
    );
    const ambiguous = await text("/api/v1/namespaces/default/pods/web/log");
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.body).toContain("choose one of: [app sidecar]");
    expect((await text("/api/v1/namespaces/default/pods/nope/log")).status).toBe(404);
  });

  it("follows a log until the client hangs up", async () => {
    const abort = new AbortController();
    const response = await client.stream({
      path: "/api/v1/namespaces/default/pods/web/log?container=sidecar&follow=true",
      signal: abort.signal,
    });
    let seen = "";
    const done = new Promise<void>((resolve) =>
      response.on("data", (chunk: Buffer) => {
        seen += chunk.toString("utf8");
        if (seen.includes("later line")) resolve();
      }),
    );
    response.on("error", () => undefined);
    sim.writeLog("default", "web", "later line", "sidecar");
    await done;
    expect(seen).toBe("sidecar line\nlater line\n");
    abort.abort();
  });

  it("records impersonation headers and authorises as the impersonated user", async () => {
    const headers = { "impersonate-user": "reader", "impersonate-group": "team-a" };
    await client.json({ path: "/api/v1/namespaces/default/pods", headers });
    const seen = sim.requests.at(-1)!;
    expect(seen).toMatchObject({ user: "reader", groups: ["team-a"], verb: "list", impersonated: true });
    await expect(
      client.json({ method: "DELETE", path: "/api/v1/namespaces/default/pods/web", headers }),
    ).rejects.toMatchObject({ status: 403, message: expect.stringContaining('User "reader" cannot delete') });
    expect(sim.store.tryGet(sim.store.findType("", "v1", "pods")!, "default", "web")).toBeDefined();
  });
});
