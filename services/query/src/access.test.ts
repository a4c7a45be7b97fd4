import { applyIndexOps, type ObjectRow, recordIssues, registerCluster } from "@atoll/store";
import { suiteDatabase } from "@atoll/store/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { testQueryApp } from "./test-app.js";

const ADMIN = "bootstrap-admin-token-for-tests";
const CLUSTERS = ["c1", "c2", "c3"];

interface Fixture {
  cluster: string;
  namespace: string;
  kind: "Pod" | "Deployment" | "Node";
  name: string;
}

/** Every combination of cluster, namespace and kind, plus a cluster-scoped Node per cluster; c3 is empty. */
const FIXTURES: Fixture[] = ["c1", "c2"].flatMap((cluster) => [
  ...["a", "b"].flatMap((namespace) =>
    (["Pod", "Deployment"] as const).flatMap((kind) =>
      [1, 2].map((n) => ({
        cluster,
        namespace,
        kind,
        name: `${cluster}-${namespace}-${kind.toLowerCase()}-${n}`,
      })),
    ),
  ),
  { cluster, namespace: "", kind: "Node" as const, name: `${cluster}-node` },
]);

function row(f: Fixture): ObjectRow {
  const apiGroup = f.kind === "Deployment" ? "apps" : "";
  const resource = `${f.kind.toLowerCase()}s`;
  return {
    cluster: f.cluster,
    uid: `uid-${f.name}`,
    apiGroup,
    apiVersion: "v1",
    kind: f.kind,
    resource,
    namespace: f.namespace,
    name: f.name,
    resourceVersion: 1n,
    syncId: "s1",
    objectJson: JSON.stringify({
      apiVersion: apiGroup ? "apps/v1" : "v1",
      kind: f.kind,
      metadata: {
        name: f.name,
        ...(f.namespace ? { namespace: f.namespace } : {}),
        uid: `uid-${f.name}`,
        labels: { app: "shop" },
        creationTimestamp: "2026-01-01T00:00:00Z",
      },
      ...(f.kind === "Pod" ? { status: { phase: "Running" } } : {}),
    }),
  };
}

type Grant = { verbs: string[]; clusters?: string[]; namespaces?: string[]; kinds?: string[] };

/** Roles under test, from everything to nothing. */
const ROLES: Record<string, Grant[]> = {
  everything: [{ verbs: ["read"] }],
  "cluster-c1": [{ verbs: ["read"], clusters: ["c1"] }],
  "namespace-a": [{ verbs: ["read"], namespaces: ["a"] }],
  "pods-only": [{ verbs: ["read"], kinds: ["pods"] }],
  narrow: [{ verbs: ["read"], clusters: ["c2"], namespaces: ["b"], kinds: ["Deployment"] }],
  union: [
    { verbs: ["read"], clusters: ["c1"], kinds: ["Node"] },
    { verbs: ["read"], clusters: ["c2"], namespaces: ["a"] },
  ],
  "no-read": [{ verbs: ["proxy-read"] }],
};

/** The oracle: which fixtures a role may see, computed independently of the server's SQL. */
function visible(grants: Grant[], f: Fixture): boolean {
  const covers = (list: string[] | undefined, value: string) =>
    !list || list.includes("*") || list.includes(value);
  const kindCovers = (list: string[] | undefined) =>
    !list || list.some((k) => k === "*" || k === f.kind || k === `${f.kind.toLowerCase()}s`);
  return grants.some(
    (g) =>
      g.verbs.includes("read") &&
      covers(g.clusters, f.cluster) &&
      (f.namespace === ""
        ? !g.namespaces || g.namespaces.includes("*")
        : covers(g.namespaces, f.namespace)) &&
      kindCovers(g.kinds),
  );
}

function countBy(fixtures: Fixture[], key: (f: Fixture) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const f of fixtures) counts[key(f)] = (counts[key(f)] ?? 0) + 1;
  return counts;
}

describe("access control", () => {
  const handle = suiteDatabase("access");
  const tokens: Record<string, string> = {};
  const app = () => testQueryApp(handle, { auth: { adminToken: ADMIN } });
  const as = (token: string | undefined) => ({ ...(token ? { authorization: `Bearer ${token}` } : {}) });

  beforeAll(async () => {
    for (const name of CLUSTERS) await registerCluster(handle.sql, { name, syncMode: "push" });
    await applyIndexOps(
      handle.sql,
      FIXTURES.map((f) => ({ op: "upsert" as const, row: row(f) })),
    );
    await recordIssues(
      handle.sql,
      FIXTURES.map((f) => ({
        cluster: f.cluster,
        uid: `uid-${f.name}`,
        kind: f.kind,
        namespace: f.namespace,
        name: f.name,
        issues: [{ rule: "testRule", severity: "high", category: "Security", message: `about ${f.name}` }],
      })),
    );
    const server = app();
    for (const [role, grants] of Object.entries(ROLES)) {
      const put = await server.inject({
        method: "PUT",
        url: `/api/v1/roles/${role}`,
        headers: as(ADMIN),
        payload: { grants },
      });
      expect(put.statusCode, put.body).toBe(200);
      const created = await server.inject({
        method: "POST",
        url: "/api/v1/tokens",
        headers: as(ADMIN),
        payload: { name: `${role}-user`, role },
      });
      expect(created.statusCode, created.body).toBe(201);
      tokens[role] = created.json().token;
    }
  });

  it("refuses requests without a valid token, but serves the probes", async () => {
    const server = app();
    for (const headers of [
      {},
      as("atoll_000000000000_not-a-real-secret-at-all"),
      { authorization: "Basic x" },
    ]) {
      const response = await server.inject({ url: "/api/v1/search?q=", headers });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ code: "UNAUTHENTICATED" });
    }
    expect((await server.inject({ url: "/k8s/all/api/v1/pods" })).statusCode).toBe(401);
    // A path decoded once by the router is not decoded again: %25 is a percent sign, not an escape.
    const odd = await server.inject({ url: "/k8s/all/api/v1/namespaces/%25zz/pods", headers: as(ADMIN) });
    expect(odd.statusCode).toBe(200);
    expect(odd.json()).toMatchObject({ kind: "PodList", items: [] });
    expect((await server.inject({ url: "/healthz" })).statusCode).toBe(200);
  });

  it("lets only admins manage tokens, roles and clusters", async () => {
    const server = app();
    for (const [method, url] of [
      ["POST", "/api/v1/tokens"],
      ["GET", "/api/v1/tokens"],
      ["PUT", "/api/v1/roles/x"],
      ["DELETE", "/api/v1/roles/narrow"],
      ["DELETE", "/api/v1/tokens/000000000000"],
    ] as const) {
      const response = await server.inject({
        method,
        url,
        headers: as(tokens.everything),
        payload: { name: "x", role: "viewer", grants: [{ verbs: ["read"] }] },
      });
      expect(response.statusCode, `${method} ${url}`).toBe(403);
    }
    const listed = await server.inject({ url: "/api/v1/tokens", headers: as(ADMIN) });
    expect(listed.json().items.map((t: { name: string }) => t.name)).toContain("narrow-user");
    for (const token of listed.json().items as { createdAt: string; revokedAt: string | null }[]) {
      expect(token.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Date.parse(token.createdAt)).toBeGreaterThan(Date.now() - 3_600_000);
    }
    // The secret is everything after the id; base64url secrets may hold "_" themselves.
    const secret = tokens.narrow!.split("_").slice(2).join("_");
    expect(secret.length).toBeGreaterThanOrEqual(43);
    expect(listed.body).not.toContain(secret);
  });

  it.each(["99999999d", "1e9s", "-1d", "10y"])(
    "refuses a token lifetime of %s with 400",
    async (expiresIn) => {
      const response = await app().inject({
        method: "POST",
        url: "/api/v1/tokens",
        headers: as(ADMIN),
        payload: { name: "forever", role: "viewer", expiresIn },
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: "INVALID_DURATION" });
    },
  );

  it("stops honouring revoked and expired tokens", async () => {
    const server = app();
    const created = await server.inject({
      method: "POST",
      url: "/api/v1/tokens",
      headers: as(ADMIN),
      payload: { name: "short-lived", role: "viewer", expiresIn: "1s" },
    });
    const { token, id } = created.json();
    expect((await server.inject({ url: "/api/v1/whoami", headers: as(token) })).json()).toMatchObject({
      name: "short-lived",
      role: "viewer",
    });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await app().inject({ url: "/api/v1/whoami", headers: as(token) })).statusCode).toBe(401);

    const other = (
      await server.inject({
        method: "POST",
        url: "/api/v1/tokens",
        headers: as(ADMIN),
        payload: { name: "r", role: "viewer" },
      })
    ).json();
    expect((await app().inject({ url: "/api/v1/whoami", headers: as(other.token) })).statusCode).toBe(200);
    await server.inject({ method: "DELETE", url: `/api/v1/tokens/${other.id}`, headers: as(ADMIN) });
    expect((await app().inject({ url: "/api/v1/whoami", headers: as(other.token) })).statusCode).toBe(401);
    expect(id).toMatch(/^[0-9a-f]{12}$/);
  });

  describe.each(Object.keys(ROLES))("role %s sees only what it is granted", (role) => {
    const grants = ROLES[role]!;
    const seen = () => FIXTURES.filter((f) => visible(grants, f));
    const names = (fixtures: Fixture[]) => fixtures.map((f) => f.name).sort();
    const get = async (url: string, accept?: string) => {
      const response = await app().inject({
        url,
        headers: { ...as(tokens[role]), ...(accept ? { accept } : {}) },
      });
      return response;
    };

    it("in search: rows, totals and aggregates", async () => {
      const keyword = (await get("/api/v1/search?q=&limit=1000")).json();
      expect(keyword.items.map((i: { name: string }) => i.name).sort()).toEqual(names(seen()));
      expect(keyword.total).toBe(seen().length);

      const free = (await get(`/api/v1/search?q=${encodeURIComponent("shop")}&limit=1000`)).json();
      expect(free.total).toBe(seen().length);

      const sql = encodeURIComponent("SELECT cluster, kind, COUNT(*) FROM resources GROUP BY cluster, kind");
      const grouped = (await get(`/api/v1/search?mode=sql&q=${sql}`)).json();
      const counts = Object.fromEntries(
        grouped.aggregations.map((a: { key: { cluster: string; kind: string }; count: number }) => [
          `${a.key.cluster}/${a.key.kind}`,
          a.count,
        ]),
      );
      expect(counts).toEqual(countBy(seen(), (f) => `${f.cluster}/${f.kind}`));

      const natural = (
        await get(`/api/v1/search?mode=nl&q=${encodeURIComponent("how many pods per namespace")}`)
      ).json();
      const perNamespace = Object.fromEntries(
        natural.aggregations.map((a: { key: { namespace: string }; count: number }) => [
          a.key.namespace,
          a.count,
        ]),
      );
      expect(perNamespace).toEqual(
        countBy(
          seen().filter((f) => f.kind === "Pod"),
          (f) => f.namespace,
        ),
      );
    });

    it("in insight: issues and health scores", async () => {
      const issues = (await get("/api/v1/issues")).json();
      expect(issues.items.map((i: { name: string }) => i.name).sort()).toEqual(names(seen()));
      const health = (await get("/api/v1/health?by=cluster")).json();
      const objects = Object.fromEntries(
        health.items.map((h: { cluster: string; objects: number }) => [h.cluster, h.objects]),
      );
      expect(objects).toEqual(countBy(seen(), (f) => f.cluster));

      const perObject = (await get("/api/v1/insight/score?by=object")).json();
      expect(perObject.items.map((i: { name: string }) => i.name).sort()).toEqual(names(seen()));
      const summary = (await get("/api/v1/insight/summary")).json();
      expect(summary.objects).toBe(seen().length);
      const groups = (await get("/api/v1/insight/groups?by=label:app")).json();
      expect(groups.items.map((g: { objects: number }) => g.objects)).toEqual(
        seen().length ? [seen().length] : [],
      );
      for (const cluster of ["c1", "c2"]) {
        const topology = (await get(`/api/v1/insight/topology?cluster=${cluster}&level=object`)).json();
        expect(topology.nodes.map((n: { name: string }) => n.name).sort()).toEqual(
          names(seen().filter((f) => f.cluster === cluster)),
        );
      }
    });

    it("in the resources list and the cluster list", async () => {
      const resources = (await get("/api/v1/resources?limit=1000")).json();
      expect(resources.items.map((i: { name: string }) => i.name).sort()).toEqual(names(seen()));

      const clusters = (await get("/api/v1/clusters")).json();
      // Listed: clusters the role may read rows of, or reach through the gateway.
      const grantedClusters = CLUSTERS.filter((c) =>
        grants.some(
          (g) =>
            g.verbs.some((v) => ["read", "proxy-read", "proxy-write", "*"].includes(v)) &&
            (!g.clusters || g.clusters.includes(c)),
        ),
      );
      expect(clusters.items.map((c: { name: string }) => c.name)).toEqual(grantedClusters);
      for (const cluster of clusters.items)
        expect(cluster.objects, cluster.name).toBe(seen().filter((f) => f.cluster === cluster.name).length);
    });

    it("in the Kubernetes API: lists, gets, tables, discovery and per-cluster roots", async () => {
      const pods = (await get("/k8s/all/api/v1/pods")).json();
      expect((pods.items ?? []).map((p: { metadata: { name: string } }) => p.metadata.name).sort()).toEqual(
        names(seen().filter((f) => f.kind === "Pod")),
      );
      const table = (
        await get("/k8s/all/apis/apps/v1/deployments", "application/json;as=Table;v=v1;g=meta.k8s.io")
      ).json();
      expect((table.rows ?? []).length).toBe(seen().filter((f) => f.kind === "Deployment").length);

      for (const f of FIXTURES.filter((x) => x.kind === "Pod")) {
        const one = await get(`/k8s/clusters/${f.cluster}/api/v1/namespaces/${f.namespace}/pods/${f.name}`);
        expect(one.statusCode, f.name).toBe(visible(grants, f) ? 200 : 404);
      }
      const discovery = (await get("/k8s/all/api/v1")).json();
      const served = (discovery.resources ?? []).map((r: { name: string }) => r.name);
      const kindAllowed = (kind: string, clusterScoped = false) =>
        grants.some(
          (g) =>
            g.verbs.includes("read") &&
            (!g.kinds || g.kinds.some((k) => k === kind || k === `${kind.toLowerCase()}s`)) &&
            // A cluster-scoped kind needs a grant over every namespace, as its rows do.
            (!clusterScoped || !g.namespaces || g.namespaces.includes("*")),
        );
      expect(served.includes("nodes")).toBe(kindAllowed("Node", true));
      expect(served.includes("pods")).toBe(kindAllowed("Pod"));

      const c2 = await get("/k8s/clusters/c2/api/v1/pods");
      const c2Granted = grants.some(
        (g) => g.verbs.includes("read") && (!g.clusters || g.clusters.includes("c2")),
      );
      if (c2Granted) {
        expect(c2.statusCode).toBe(kindAllowed("Pod") ? 200 : 404);
      } else {
        expect(c2.statusCode).toBe(404);
        expect(c2.body).not.toContain("c2-a");
      }
    });
  });

  it("reads names in plain-language questions only as far as the asker can see them", async () => {
    // A namespace that exists only in c2, and one in both clusters.
    const namespaceRow = (cluster: string, name: string): ObjectRow => ({
      cluster,
      uid: `uid-ns-${cluster}-${name}`,
      apiGroup: "",
      apiVersion: "v1",
      kind: "Namespace",
      resource: "namespaces",
      namespace: "",
      name,
      resourceVersion: 1n,
      syncId: "s1",
      objectJson: JSON.stringify({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, uid: `uid-ns-${cluster}-${name}`, labels: { team: `${name}-team` } },
      }),
    });
    const rows = [namespaceRow("c2", "only-in-c2"), namespaceRow("c1", "a"), namespaceRow("c2", "a")];
    await applyIndexOps(
      handle.sql,
      rows.map((row) => ({ op: "upsert" as const, row })),
    );
    try {
      const server = app();
      const sqlOf = async (role: string | undefined, question: string) =>
        (
          await server.inject({
            url: `/api/v1/search?mode=nl&q=${encodeURIComponent(question)}`,
            headers: as(role ? tokens[role] : ADMIN),
          })
        ).json().sql as string;
      expect(await sqlOf(undefined, "pods in only-in-c2")).toContain("namespace = 'only-in-c2'");
      expect(await sqlOf(undefined, "pods in c2")).toContain("cluster = 'c2'");
      // c2 and its namespace are out of sight for a c1 reader: no object it can see holds the word,
      // so it is left out, exactly as a word nobody's objects hold.
      expect(await sqlOf("cluster-c1", "pods in only-in-c2")).toBe(
        "SELECT * FROM resources WHERE kind = 'Pod'",
      );
      expect(await sqlOf("cluster-c1", "pods in c2")).not.toContain("cluster = 'c2'");
      expect(await sqlOf("cluster-c1", "pods in a")).toContain("namespace = 'a'");
      // Label values are words of the fleet too, and just as much out of sight.
      expect(await sqlOf(undefined, "the only-in-c2-team team's pods")).toContain(
        "labels['team'] = 'only-in-c2-team'",
      );
      expect(await sqlOf("cluster-c1", "the only-in-c2-team team's pods")).not.toContain("only-in-c2-team");
      expect(await sqlOf("cluster-c1", "the a-team team's pods")).toContain("labels['team'] = 'a-team'");
      // A reader limited to namespace a knows that namespace from its grant.
      expect(await sqlOf("namespace-a", "pods in a")).toContain("namespace = 'a'");
      expect(await sqlOf("namespace-a", "pods in only-in-c2")).not.toContain("namespace = 'only-in-c2'");
    } finally {
      await applyIndexOps(
        handle.sql,
        rows.map((row) => ({
          op: "delete" as const,
          cluster: row.cluster,
          uid: row.uid,
          syncId: row.syncId,
        })),
      );
    }
  });
});
