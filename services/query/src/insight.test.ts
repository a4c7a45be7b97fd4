import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { healthScore, type Severity } from "@atoll/insight";
import {
  applyIndexOps,
  type ObjectRow,
  type ResourceGroup,
  recordIssues,
  registerCluster,
} from "@atoll/store";
import { suiteDatabase } from "@atoll/store/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { buildQueryApp } from "./app.js";
import { testQueryApp } from "./test-app.js";

type Obj = Record<string, unknown> & { kind: string; metadata: Record<string, unknown> & { name: string } };

const API: Record<string, [string, string, string]> = {
  Deployment: ["apps", "apps/v1", "deployments"],
  ReplicaSet: ["apps", "apps/v1", "replicasets"],
  Pod: ["", "v1", "pods"],
  Service: ["", "v1", "services"],
  ConfigMap: ["", "v1", "configmaps"],
  Node: ["", "v1", "nodes"],
  Event: ["", "v1", "events"],
  Certificate: ["cert-manager.io", "cert-manager.io/v1", "certificates"],
  Secret: ["", "v1", "secrets"],
};

function row(cluster: string, object: Obj): ObjectRow {
  const [apiGroup, apiVersion, resource] = API[object.kind]!;
  const namespace = (object.metadata.namespace as string | undefined) ?? "";
  const uid = `${cluster}/${object.kind}/${namespace}/${object.metadata.name}`;
  return {
    cluster,
    uid,
    apiGroup,
    apiVersion,
    kind: object.kind,
    resource,
    namespace,
    name: object.metadata.name,
    resourceVersion: 1n,
    syncId: "s1",
    objectJson: JSON.stringify({ apiVersion, ...object, metadata: { ...object.metadata, uid } }),
  };
}

const uidOf = (cluster: string, kind: string, namespace: string, name: string) =>
  `${cluster}/${kind}/${namespace}/${name}`;

/** Two teams' apps in shop, one of them failing with events, and a custom resource. */
function shop(cluster: string): Obj[] {
  const app = (name: string, team: string) => [
    {
      kind: "Deployment",
      metadata: { name, namespace: "shop", labels: { team } },
      spec: {
        template: {
          spec: { containers: [{ name, envFrom: [{ configMapRef: { name: `${name}-config` } }] }] },
        },
      },
    },
    {
      kind: "ReplicaSet",
      metadata: {
        name: `${name}-1`,
        namespace: "shop",
        labels: { team },
        ownerReferences: [{ kind: "Deployment", name, uid: uidOf(cluster, "Deployment", "shop", name) }],
      },
    },
    {
      kind: "Pod",
      metadata: {
        name: `${name}-1-a`,
        namespace: "shop",
        labels: { app: name, team },
        ownerReferences: [
          { kind: "ReplicaSet", name: `${name}-1`, uid: uidOf(cluster, "ReplicaSet", "shop", `${name}-1`) },
        ],
      },
      spec: { nodeName: "node-1", containers: [{ name }] },
      ...(name === "pay"
        ? {
            status: {
              phase: "Running",
              containerStatuses: [
                {
                  name,
                  ready: false,
                  state: { waiting: { reason: "CrashLoopBackOff" } },
                  lastState: { terminated: { reason: "Error", exitCode: 3 } },
                },
              ],
            },
          }
        : {}),
    },
    {
      kind: "Service",
      metadata: { name, namespace: "shop", labels: { team } },
      spec: { selector: { app: name } },
    },
    { kind: "ConfigMap", metadata: { name: `${name}-config`, namespace: "shop", labels: { team } } },
  ];
  return [
    ...app("web", "storefront"),
    ...app("pay", "payments"),
    { kind: "Node", metadata: { name: "node-1" } },
    {
      kind: "Certificate",
      metadata: { name: "web-cert", namespace: "shop" },
      spec: { secretName: "web-tls" },
    },
    { kind: "Secret", metadata: { name: "web-tls", namespace: "shop" } },
    {
      kind: "Event",
      metadata: { name: "pay-1-a.0", namespace: "shop" },
      // About an earlier pod of the same name: not this one's history.
      involvedObject: { kind: "Pod", namespace: "shop", name: "pay-1-a", uid: "an-earlier-pod" },
      type: "Warning",
      reason: "Killing",
      message: "Stopping container pay",
      lastTimestamp: "2026-11-20T11:00:00Z",
    },
    {
      kind: "Event",
      metadata: { name: "pay-1-a.1", namespace: "shop" },
      involvedObject: {
        kind: "Pod",
        namespace: "shop",
        name: "pay-1-a",
        uid: uidOf(cluster, "Pod", "shop", "pay-1-a"),
      },
      type: "Warning",
      reason: "BackOff",
      message: "Back-off restarting failed container pay",
      count: 7,
      lastTimestamp: "2026-11-20T10:05:00Z",
    },
    {
      kind: "Event",
      metadata: { name: "pay-1-a.2", namespace: "shop" },
      regarding: { kind: "Pod", namespace: "shop", name: "pay-1-a" },
      type: "Normal",
      reason: "Pulled",
      note: "Container image pulled",
      series: { count: 3, lastObservedTime: "2026-11-20T10:01:00Z" },
      eventTime: "2026-11-20T09:00:00Z",
    },
    {
      kind: "Event",
      metadata: { name: "web-1-a.1", namespace: "shop" },
      involvedObject: { kind: "Pod", namespace: "shop", name: "web-1-a" },
      type: "Normal",
      reason: "Started",
      message: "Started container web",
      lastTimestamp: "2026-11-20T08:00:00Z",
    },
  ] as Obj[];
}

describe("insight endpoints", () => {
  const handle = suiteDatabase("insight");
  let server: ReturnType<typeof buildQueryApp>;
  const app = (extra: Partial<Parameters<typeof buildQueryApp>[0]> = {}) =>
    testQueryApp(handle, {
      auth: { adminToken: "insight-test-admin-token" },
      relations: [
        { kind: "Certificate", path: "spec.secretName", targetKind: "Secret", relation: "stores-in" },
      ],
      ...extra,
    });
  const get = async (url: string) => {
    const response = await server.inject({
      url,
      headers: { authorization: "Bearer insight-test-admin-token" },
    });
    return { status: response.statusCode, body: response.json() };
  };

  beforeAll(async () => {
    const rows = ["c1", "c2"].flatMap((cluster) => shop(cluster).map((o) => row(cluster, o)));
    await applyIndexOps(
      handle.sql,
      rows.map((r) => ({ op: "upsert" as const, row: r })),
    );
    await recordIssues(
      handle.sql,
      ["c1", "c2"].map((cluster) => ({
        cluster,
        uid: uidOf(cluster, "Pod", "shop", "pay-1-a"),
        kind: "Pod",
        namespace: "shop",
        name: "pay-1-a",
        issues: [
          { rule: "CrashLoopBackOff", severity: "critical", category: "Runtime", message: "crash looping" },
          { rule: "runAsRootAllowed", severity: "high", category: "Security", message: "may run as root" },
        ],
      })),
    );
    server = app();
  });
  afterAll(async () => {
    await server.close();
  });

  it("draws one object's neighbourhood from the index, custom relations included", async () => {
    const { status, body } = await get(
      "/api/v1/insight/topology?cluster=c1&namespace=shop&kind=deploy&name=web&depth=3",
    );
    expect(status).toBe(200);
    const names = body.nodes.map((n: { kind: string; name: string }) => `${n.kind}/${n.name}`).sort();
    expect(names).toEqual([
      "ConfigMap/web-config",
      "Deployment/web",
      "Node/node-1",
      "Pod/web-1-a",
      "ReplicaSet/web-1",
      "Service/web",
    ]);
    expect(body.edges).toContainEqual({
      from: uidOf("c1", "Service", "shop", "web"),
      to: uidOf("c1", "Pod", "shop", "web-1-a"),
      relation: "selects",
    });
    const cert = (
      await get("/api/v1/insight/topology?cluster=c1&namespace=shop&kind=Certificate&name=web-cert")
    ).body;
    expect(cert.edges).toEqual([
      {
        from: uidOf("c1", "Certificate", "shop", "web-cert"),
        to: uidOf("c1", "Secret", "shop", "web-tls"),
        relation: "stores-in",
      },
    ]);
  });

  it("summarises a namespace's topology by kind", async () => {
    const { body } = await get("/api/v1/insight/topology?cluster=c2&namespace=shop");
    expect(body.level).toBe("kind");
    expect(body.kinds).toContainEqual({ kind: "Pod", count: 2 });
    expect(body.relations).toContainEqual({
      from: "Deployment",
      relation: "owns",
      to: "ReplicaSet",
      count: 2,
    });
    expect(body.relations).toContainEqual({ from: "Service", relation: "selects", to: "Pod", count: 2 });
    expect(body.relations).toContainEqual({ from: "Deployment", relation: "env", to: "ConfigMap", count: 2 });
  });

  it("scores objects, groups them by label across clusters, and summarises", async () => {
    const worst = (await get("/api/v1/insight/score?by=object&namespace=shop&kind=Pod")).body.items[0];
    expect(worst).toMatchObject({ name: "pay-1-a", openIssues: 2 });
    expect(worst.score).toBeLessThan(100);
    // The SQL view and the library's formula (used by `atoll check`) agree.
    const open = (
      await get(`/api/v1/insight/issues?cluster=${worst.cluster}&namespace=shop&kind=Pod&name=pay-1-a`)
    ).body.items.map((i: { severity: Severity }) => i.severity);
    expect(open).toHaveLength(2);
    expect(worst.score).toBeCloseTo(healthScore(open), 2);

    const teams = (await get("/api/v1/insight/groups?by=label:team")).body.items;
    expect(teams.map((t: { group: string }) => t.group)).toEqual(["payments", "storefront"]);
    expect(teams[0]).toMatchObject({ objects: 10, objectsWithIssues: 2, openIssues: 4 });
    expect(teams[0].issuesBySeverity).toEqual({ critical: 2, high: 2 });
    expect(teams[1]).toMatchObject({ objects: 10, openIssues: 0, score: 100 });

    const summary = (await get("/api/v1/insight/summary?cluster=c1&labelSelector=team%3Dpayments")).body;
    expect(summary.objects).toBe(5);
    expect(summary.issuesBySeverity).toEqual([
      { severity: "critical", issues: 1 },
      { severity: "high", issues: 1 },
    ]);
    expect(summary.topRules[0]).toEqual({ rule: "CrashLoopBackOff", severity: "critical", objects: 1 });
  });

  it("finds a deleted object's findings by name, and refuses a state it does not know", async () => {
    // A pod that crashed and was deleted: its object is gone, its findings stay, resolved.
    await recordIssues(handle.sql, [
      {
        cluster: "c1",
        uid: "uid-gone",
        kind: "Pod",
        namespace: "shop",
        name: "gone-7",
        issues: [{ rule: "OOMKilled", severity: "high", category: "Runtime", message: "killed for memory" }],
      },
    ]);
    await recordIssues(handle.sql, [
      { cluster: "c1", uid: "uid-gone", kind: "Pod", namespace: "shop", name: "gone-7", issues: [] },
    ]);
    const found = (await get("/api/v1/issues?name=gone-7&state=all")).body.items;
    expect(
      found.map((i: { rule: string; resolvedAt: string | null }) => [i.rule, i.resolvedAt !== null]),
    ).toEqual([["OOMKilled", true]]);
    expect((await get("/api/v1/issues?name=gone-*&state=resolved")).body.items).toHaveLength(1);
    const refused = await get("/api/v1/issues?state=closed");
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toMatch(/state must be one of open, resolved, all, got "closed"/);
  });

  it("shows health scores over time by cluster, namespace or object, within the caller's grants", async () => {
    await handle.sql`insert into metric_snapshots (time, metric, cluster, namespace, value) values
      (now() - interval '3 hours', 'cluster_health', 'c1', '', 80), (now() - interval '2 hours', 'cluster_health', 'c1', '', 90),
      (now() - interval '3 hours', 'health', 'c1', 'shop', 70), (now() - interval '2 hours', 'health', 'c1', 'shop', 75),
      (now() - interval '2 hours', 'health', 'c1', 'other', 10), (now() - interval '40 days', 'cluster_health', 'c1', '', 1)`;
    const clusters = (await get("/api/v1/insight/score/history?by=cluster&cluster=c1&since=6h&step=1h")).body;
    expect(clusters.items).toEqual([
      {
        cluster: "c1",
        points: [expect.objectContaining({ score: 80 }), expect.objectContaining({ score: 90 })],
      },
    ]);
    const namespaces = (await get("/api/v1/insight/score/history?cluster=c1&namespace=shop&since=6h&step=1h"))
      .body;
    expect(namespaces.by).toBe("namespace");
    expect(
      namespaces.items.map((s: { namespace: string; points: { score: number }[] }) => [
        s.namespace,
        s.points.map((p) => p.score),
      ]),
    ).toEqual([["shop", [70, 75]]]);

    // One object's history is exact: its findings opened 5 h ago, one closed 1 h ago.
    await handle.sql`insert into issues (cluster, uid, kind, namespace, name, container, rule, severity, category, message, first_seen, last_seen, resolved_at)
      values ('c1', 'uid-hist', 'Pod', 'shop', 'hist-1', '', 'CrashLoopBackOff', 'critical', 'Runtime', 'crash', now() - interval '5 hours', now(), now() - interval '1 hour'),
             ('c1', 'uid-hist', 'Pod', 'shop', 'hist-1', '', 'noLimits', 'medium', 'Efficiency', 'no limits', now() - interval '5 hours', now(), null)`;
    const object = (
      await get(
        "/api/v1/insight/score/history?cluster=c1&namespace=shop&kind=pod&name=hist-1&since=6h&step=1h",
      )
    ).body;
    const scores = object.items[0].points.map((p: { openIssues: number }) => p.openIssues);
    expect(scores[0]).toBe(0);
    expect(scores).toContain(2);
    expect(scores.at(-1)).toBe(1);
    expect(object.items[0].points.at(-1).score).toBeCloseTo(healthScore(["medium"]), 5);

    // A role limited to namespace shop sees that namespace's history, not its cluster's mean.
    expect(
      (
        await server.inject({
          method: "PUT",
          url: "/api/v1/roles/shop-reader",
          headers: { authorization: "Bearer insight-test-admin-token" },
          payload: { grants: [{ verbs: ["read"], clusters: ["c1"], namespaces: ["shop"] }] },
        })
      ).statusCode,
    ).toBe(200);
    const token = (
      await server.inject({
        method: "POST",
        url: "/api/v1/tokens",
        headers: { authorization: "Bearer insight-test-admin-token" },
        payload: { name: "shop-reader", role: "shop-reader" },
      })
    ).json().token;
    const limited = async (url: string) =>
      (await server.inject({ url, headers: { authorization: `Bearer ${token}` } })).json();
    expect((await limited("/api/v1/insight/score/history?by=cluster&since=6h")).items).toEqual([]);
    expect(
      (await limited("/api/v1/insight/score/history?by=namespace&since=6h")).items.map(
        (s: { namespace: string }) => s.namespace,
      ),
    ).toEqual(["shop"]);
    expect((await get("/api/v1/insight/score/history?since=90d")).status).toBe(400);
  });

  it("saves group rules an admin of every cluster writes, and browses the groups they make within each caller's grants", async () => {
    const as = async (token: string, method: "GET" | "PUT" | "DELETE", url: string, payload?: unknown) => {
      const response = await server.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}` },
        ...(payload === undefined ? {} : { payload: payload as object }),
      });
      return { status: response.statusCode, body: response.body ? response.json() : undefined };
    };
    const admin = "insight-test-admin-token";
    const saved = await as(admin, "PUT", "/api/v1/insight/group-rules/team-kind", {
      keys: ["label:team", "kind"],
      description: "each team's objects by kind",
    });
    expect(saved.status).toBe(201);
    expect(saved.body).toMatchObject({
      name: "team-kind",
      keys: ["label:team", "kind"],
      createdBy: expect.any(String),
    });
    expect(
      (await as(admin, "PUT", "/api/v1/insight/group-rules/team-kind", { keys: ["label:team", "kind"] }))
        .status,
    ).toBe(200);
    expect(
      (await as(admin, "GET", "/api/v1/insight/group-rules")).body.items.map((r: { name: string }) => r.name),
    ).toContain("team-kind");

    const groups = (await as(admin, "GET", "/api/v1/insight/groups?rule=team-kind&cluster=c1")).body;
    expect(groups.rule).toBe("team-kind");
    const payments = groups.items.find((g: { group: string }) => g.group === "payments / Pod");
    expect(payments).toMatchObject({ objects: 1, openIssues: 2 });
    expect(groups.items.every((g: { group: string }) => / \/ /.test(g.group))).toBe(true);

    // A reader of one cluster browses the rule within it, and cannot change it.
    expect(
      (await as(admin, "PUT", "/api/v1/roles/c2-reader", { grants: [{ verbs: ["read"], clusters: ["c2"] }] }))
        .status,
    ).toBe(200);
    const reader = (
      await server.inject({
        method: "POST",
        url: "/api/v1/tokens",
        headers: { authorization: `Bearer ${admin}` },
        payload: { name: "c2-reader", role: "c2-reader" },
      })
    ).json().token;
    const seen = (await as(reader, "GET", "/api/v1/insight/groups?rule=team-kind")).body.items;
    expect(seen.reduce((n: number, g: { objects: number }) => n + g.objects, 0)).toBe(
      groups.items.reduce((n: number, g: { objects: number }) => n + g.objects, 0),
    );
    expect(
      (await as(reader, "PUT", "/api/v1/insight/group-rules/team-kind", { keys: ["cluster"] })).status,
    ).toBe(403);
    expect((await as(reader, "DELETE", "/api/v1/insight/group-rules/team-kind")).status).toBe(403);

    expect((await as(admin, "PUT", "/api/v1/insight/group-rules/bad", { keys: ["colour"] })).status).toBe(
      400,
    );
    expect((await as(admin, "PUT", "/api/v1/insight/group-rules/Bad_Name", { keys: ["kind"] })).status).toBe(
      400,
    );
    expect(
      (
        await as(admin, "PUT", "/api/v1/insight/group-rules/many", {
          keys: ["kind", "kind", "kind", "kind", "kind"],
        })
      ).status,
    ).toBe(400);
    expect((await as(admin, "DELETE", "/api/v1/insight/group-rules/team-kind")).status).toBe(204);
    expect((await as(admin, "GET", "/api/v1/insight/groups?rule=team-kind")).status).toBe(404);
  });

  it("groups the fleet by its clusters' region and labels, as the registry records them", async () => {
    await registerCluster(handle.sql, {
      name: "c1",
      syncMode: "push",
      region: "eu",
      labels: { env: "prod" },
    });
    await registerCluster(handle.sql, {
      name: "c2",
      syncMode: "push",
      region: "us",
      labels: { env: "staging" },
    });
    const byCluster = (await get("/api/v1/insight/groups?by=cluster")).body.items as ResourceGroup[];
    const ofCluster = (name: string) => byCluster.find((g) => g.group === name)!;
    const byRegion = (await get("/api/v1/insight/groups?by=region")).body.items as ResourceGroup[];
    expect(byRegion.map((g) => g.group).sort()).toEqual(["eu", "us"]);
    for (const [region, cluster] of [
      ["eu", "c1"],
      ["us", "c2"],
    ] as const)
      expect(byRegion.find((g) => g.group === region)).toEqual({ ...ofCluster(cluster), group: region });
    const byEnv = (await get("/api/v1/insight/groups?by=cluster-label:env")).body.items as ResourceGroup[];
    expect(byEnv.find((g) => g.group === "prod")).toEqual({ ...ofCluster("c1"), group: "prod" });
    // Addressing narrows the groups as everywhere else.
    const prodPods = (await get("/api/v1/insight/groups?by=cluster-label:env&kind=Pod")).body
      .items as ResourceGroup[];
    expect(prodPods.find((g) => g.group === "prod")!.objects).toBeLessThan(ofCluster("c1").objects);
    expect((await get("/api/v1/insight/groups?by=zone")).body.items).toEqual([]);
    expect((await get("/api/v1/insight/groups?by=datacenter")).status).toBe(400);
  });

  it("lays out an object's events newest first, counting series", async () => {
    const { body } = await get("/api/v1/insight/events?cluster=c1&namespace=shop&kind=Pod&name=pay-1-a");
    expect(body.items.map((e: { reason: string; count: number }) => [e.reason, e.count])).toEqual([
      ["BackOff", 7],
      ["Pulled", 3],
    ]);
    const group = (await get("/api/v1/insight/events?cluster=c2&labelSelector=team")).body.items;
    expect(group.map((e: { name: string }) => e.name)).toEqual(["pay-1-a", "pay-1-a", "web-1-a"]);
  });

  describe("AI", () => {
    const requests: string[] = [];
    let model: Server;
    let modelUrl = "";
    beforeAll(async () => {
      // A model that names the first placeholder it was sent, streamed as server-sent events.
      model = createServer((req, res) => {
        let body = "";
        req.on("data", (c) => {
          body += c;
        });
        req.on("end", () => {
          requests.push(body);
          const token = /NAME_\d+/.exec(JSON.parse(body).messages[1].content)?.[0] ?? "nothing";
          res.writeHead(200, { "content-type": "text/event-stream" });
          for (const piece of [`${token.slice(0, 3)}`, `${token.slice(3)} is crash`, "ing."])
            res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: piece } }] })}\n\n`);
          res.end("data: [DONE]\n\n");
        });
      });
      await new Promise<void>((resolve) => model.listen(0, "127.0.0.1", resolve));
      modelUrl = `http://127.0.0.1:${(model.address() as AddressInfo).port}/v1`;
    });
    afterAll(() => {
      model.closeAllConnections();
      model.close();
    });
    const withModel = (baseUrl: string) =>
      app({ languageModel: { baseUrl, model: "fake", timeoutMs: 2000 } });
    const post = (app: ReturnType<typeof buildQueryApp>, url: string, payload?: object, accept?: string) =>
      app.inject({
        method: "POST",
        url,
        headers: { authorization: "Bearer insight-test-admin-token", ...(accept ? { accept } : {}) },
        ...(payload ? { payload } : {}),
      });
    const DIAGNOSE = "/api/v1/insight/ai/diagnose?cluster=c1&namespace=shop&kind=Pod&name=pay-1-a";

    it("diagnoses a workload from the index with the rules alone when no model is configured", async () => {
      const response = await post(server, DIAGNOSE);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body).toMatchObject({ feature: "diagnose", source: "rules" });
      expect(body.warning).toMatch(/no language model is configured/);
      expect(body.answer).toMatch(/^Built-in explanation/);
      expect(body.answer).toContain("BackOff");
    });

    it("diagnoses a Deployment with its pods' failures, which live two owners down", async () => {
      const response = await post(
        server,
        "/api/v1/insight/ai/diagnose?cluster=c1&namespace=shop&kind=Deployment&name=pay",
      );
      expect(response.statusCode).toBe(200);
      const answer = response.json().answer as string;
      expect(answer).toMatch(/ContainerCrashLooping \[high\] on Pod shop\/pay-1-a/);
      expect(answer).toContain("Fix: Read the previous run's logs");
    });

    it("streams a model's answer as server-sent events, masked on the way out and unmasked on the way back", async () => {
      const app = withModel(modelUrl);
      const response = await post(app, DIAGNOSE, undefined, "text/event-stream");
      await app.close();
      expect(response.headers["content-type"]).toMatch(/text\/event-stream/);
      const events = response.body
        .trim()
        .split("\n\n")
        .map((block) => ({
          event: block.split("\n")[0]!.slice(7),
          data: JSON.parse(block.split("\n")[1]!.slice(6)),
        }));
      expect(events.at(-1)).toMatchObject({ event: "done", data: { source: "model" } });
      const text = events
        .filter((e) => e.event === "text")
        .map((e) => e.data.text)
        .join("");
      expect(text).toMatch(/^(pay-1-a|pay-1|shop|node-1|c1) is crashing\.$/);
      const sent = requests.at(-1)!;
      for (const secret of ["pay-1-a", "payments", "node-1"]) expect(sent).not.toContain(secret);
    });

    it("shows the masked prompt without sending it, with the placeholders to unmask an answer", async () => {
      const app = withModel(modelUrl);
      const sentBefore = requests.length;
      const response = await post(app, `${DIAGNOSE}&prompt=only`);
      await app.close();
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(requests.length).toBe(sentBefore);
      expect(body.messages.map((m: { role: string }) => m.role)).toEqual(["system", "user"]);
      const question = body.messages[1].content as string;
      for (const secret of ["pay-1-a", "payments", "node-1"]) expect(question).not.toContain(secret);
      const tokens = [...new Set(question.match(/\b(?:NAME|NS|LABEL|IP|REPO)_\d+\b/g))];
      expect(tokens.length).toBeGreaterThan(0);
      for (const token of tokens) expect(body.placeholders[token], token).toBeTypeOf("string");
      expect(Object.values(body.placeholders)).toContain("pay-1-a");
      expect(body.masked.NAME).toBeGreaterThan(0);
      // Unmasking with the placeholders gives back the question about the real object.
      const unmasked = question.replace(
        /\b(?:NAME|NS|LABEL|IP|REPO)_\d+\b/g,
        (t) => body.placeholders[t] ?? t,
      );
      expect(unmasked).toContain("pay-1-a");
      // Without a model configured, the preview is the same.
      expect((await post(server, `${DIAGNOSE}&prompt=only`)).json().messages).toEqual(body.messages);
    });

    it("puts the operator's prompts (ATOLL_AI_PROMPTS) in what a model gets", async () => {
      const prompted = app({
        aiPrompts: { system: "Answer like a pager alert.", diagnose: "One line: what broke?" },
      });
      const { messages } = (await post(prompted, `${DIAGNOSE}&prompt=only`)).json();
      await prompted.close();
      expect(messages[0].content).toMatch(/^Answer like a pager alert\.\n/);
      expect(messages[1].content).toMatch(/^One line: what broke\?\n\nWorkload:/);
    });

    it("answers from the rules, never 5xx, when the model cannot be reached", async () => {
      const app = withModel("http://127.0.0.1:9/v1");
      const response = await post(app, "/api/v1/insight/ai/explain?cluster=c2&kind=Pod&name=pay-1-a&lang=zh");
      await app.close();
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body.source).toBe("rules");
      expect(body.warning).toMatch(/could not be reached/);
      expect(body.answer).toMatch(/^内置解释/);
      expect(body.answer).toContain("CrashLoopBackOff");
    });

    it("interprets YAML sent in the body", async () => {
      const yaml =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: api, namespace: x }\nspec: { replicas: 1, template: { spec: { containers: [{ name: api, image: api:1 }] } } }";
      const body = (await post(server, "/api/v1/insight/ai/interpret", { yaml })).json();
      expect(body.answer).toContain("Deployment x/api");
      expect(body.answer).toContain("Replicas: 1");
    });

    it.each([
      ["/api/v1/insight/ai/poem", {}, 404, "NOT_FOUND"],
      ["/api/v1/insight/ai/explain?lang=fr", {}, 400, "INVALID_LANGUAGE"],
      ["/api/v1/insight/ai/explain?prompt=yes", {}, 400, "INVALID_PROMPT"],
      ["/api/v1/insight/ai/interpret", { yaml: "a: [" }, 400, "INVALID_YAML"],
      // Hostile YAML is refused before it is expanded: these froze the service for seconds or crashed it.
      [
        "/api/v1/insight/ai/interpret",
        { yaml: `${"{? ".repeat(360)}a${" : b}".repeat(360)}` },
        400,
        "INVALID_YAML",
      ],
      ["/api/v1/insight/ai/interpret", { yaml: "[".repeat(40_000) }, 400, "INVALID_YAML"],
      [
        "/api/v1/insight/ai/interpret",
        { yaml: `a: &a x\nkind: [${Array(20_000).fill("*a").join(",")}]` },
        400,
        "INVALID_YAML",
      ],
      ["/api/v1/insight/ai/diagnose?cluster=c1", {}, 400, "OBJECT_REQUIRED"],
      ["/api/v1/insight/ai/diagnose?cluster=c1&kind=Pod&namespace=shop&name=ghost", {}, 404, "NOT_FOUND"],
    ])("refuses %s with %i", async (url, payload, status, code) => {
      const response = await post(server, url, payload);
      expect(response.statusCode).toBe(status);
      expect(response.json().code).toBe(code);
    });
  });

  it.each([
    ["/api/v1/insight/topology?namespace=shop", 400, "CLUSTER_REQUIRED"],
    ["/api/v1/insight/topology?cluster=c1&namespace=shop&kind=Pod&name=nope", 404, "NOT_FOUND"],
    ["/api/v1/insight/topology?cluster=c1&level=graph", 400, "INVALID_LEVEL"],
    ["/api/v1/insight/groups?by=colour", 400, "INVALID_GROUPING"],
    ["/api/v1/insight/score?by=planet", 400, "INVALID_GROUPING"],
    ["/api/v1/insight/summary?labelSelector=a%3D%3D%3Db", 400, "INVALID_SELECTOR"],
  ])("refuses %s with %i %s", async (url, status, code) => {
    const response = await get(url);
    expect(response.status).toBe(status);
    expect(response.body.code).toBe(code);
    expect(response.body.detail).toEqual(expect.any(String));
  });
});
