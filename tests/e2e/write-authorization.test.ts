import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";
import { kubectl } from "../support/kubectl.js";

// biome-ignore lint/suspicious/noExplicitAny: API answers and objects are loose JSON
type Any = any;

const CLUSTERS = ["sim-1", "sim-2", "sim-3"];
const NAMESPACES = ["default", "payments", "web", "kube-system"];

type Grant = { verbs: string[]; clusters?: string[]; namespaces?: string[]; kinds?: string[] };

/** Roles from everything to nothing, each a different cut through clusters, namespaces, kinds and verbs. */
const ROLES: Record<string, Grant[]> = {
  "fleet-writer": [{ verbs: ["read", "write"] }],
  "payments-sim1": [{ verbs: ["read", "write"], clusters: ["sim-1"], namespaces: ["payments"] }],
  "web-two": [{ verbs: ["read", "write"], clusters: ["sim-1", "sim-2"], namespaces: ["web"] }],
  "sim2-all": [{ verbs: ["read", "write"], clusters: ["sim-2"] }],
  configmaps: [{ verbs: ["read", "write"], kinds: ["ConfigMap"] }],
  reader: [{ verbs: ["read"] }],
  "sim1-admin": [{ verbs: ["admin", "read"], clusters: ["sim-1"] }],
  "gateway-web3": [{ verbs: ["proxy-write"], clusters: ["sim-3"], namespaces: ["web"] }],
};
const ADMIN = "admin";

/**
 * The oracle, written apart from the server's code: whether grants allow a verb on one cluster,
 * namespace ("" for cluster-scoped objects, which need every namespace) and kind.
 */
function allows(grants: Grant[], verb: string, cluster: string, namespace: string, kind: string): boolean {
  const has = (list: string[] | undefined, value: string) =>
    !list || list.includes("*") || list.includes(value);
  return grants.some(
    (g) =>
      (g.verbs.includes("*") || g.verbs.includes(verb)) &&
      has(g.clusters, cluster) &&
      (namespace === "" ? !g.namespaces || g.namespaces.includes("*") : has(g.namespaces, namespace)) &&
      has(g.kinds, kind),
  );
}
const grantsOf = (role: string): Grant[] => (role === ADMIN ? [{ verbs: ["*"] }] : ROLES[role]!);
const writesEverywhere = (role: string, namespace: string, kind: string) =>
  CLUSTERS.every((c) => allows(grantsOf(role), "write", c, namespace, kind));

/** A policy placing one template on some clusters (all of them when none are named). */
function placed(
  scope: { namespace: string; policyKind: string },
  template: string,
  target: { apiVersion: string; kind: string; name: string },
  clusters?: string[],
): string {
  return `apiVersion: policy.karmada.io/v1alpha1
kind: ${scope.policyKind}
metadata: { name: ${target.name}${scope.namespace ? `, namespace: ${scope.namespace}` : ""} }
spec:
  resourceSelectors: [{ apiVersion: ${target.apiVersion}, kind: ${target.kind}, name: ${target.name} }]
  ${clusters ? `placement: { clusterAffinity: { clusterNames: [${clusters.join(", ")}] } }` : ""}
---
${template}`;
}
const configMap = (name: string, namespace: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name}, namespace: ${namespace} }\ndata: { owner: ${name} }`;

const landsOn = (allowed: boolean, clusters: string[], object: string): Record<string, string[]> =>
  allowed ? Object.fromEntries(clusters.map((c) => [c, [object]])) : {};

interface WriteCase {
  name: string;
  documents: (role: string) => string;
  /** What the oracle says the role may do: the status, and where each object lands. */
  expect: (role: string) => { allowed: boolean; lands: Record<string, string[]> };
}

/** Objects are named after the role that wrote them, so what landed on a sim says who put it there. */
const CASES: WriteCase[] = [
  {
    name: "a ConfigMap into payments on sim-1",
    documents: (role) =>
      placed(
        { namespace: "payments", policyKind: "PropagationPolicy" },
        configMap(`pay-${role}`, "payments"),
        {
          apiVersion: "v1",
          kind: "ConfigMap",
          name: `pay-${role}`,
        },
        ["sim-1"],
      ),
    expect: (role) => {
      const allowed = ["PropagationPolicy", "ConfigMap"].every((k) =>
        allows(grantsOf(role), "write", "sim-1", "payments", k),
      );
      return { allowed, lands: landsOn(allowed, ["sim-1"], `payments/pay-${role}`) };
    },
  },
  {
    name: "a ConfigMap into kube-system on every cluster",
    documents: (role) =>
      placed(
        { namespace: "kube-system", policyKind: "PropagationPolicy" },
        configMap(`sys-${role}`, "kube-system"),
        {
          apiVersion: "v1",
          kind: "ConfigMap",
          name: `sys-${role}`,
        },
      ),
    expect: (role) => {
      const allowed = ["PropagationPolicy", "ConfigMap"].every((k) =>
        writesEverywhere(role, "kube-system", k),
      );
      return { allowed, lands: landsOn(allowed, CLUSTERS, `kube-system/sys-${role}`) };
    },
  },
  {
    name: "a cluster-admin ClusterRoleBinding on every cluster",
    documents: (role) =>
      placed(
        { namespace: "", policyKind: "ClusterPropagationPolicy" },
        `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: crb-${role} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin }
subjects: [{ kind: User, name: gateway:${role} }]`,
        { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", name: `crb-${role}` },
      ),
    expect: (role) => {
      const allowed = ["ClusterPropagationPolicy", "ClusterRoleBinding"].every((k) =>
        writesEverywhere(role, "", k),
      );
      return { allowed, lands: landsOn(allowed, CLUSTERS, `crb-${role}`) };
    },
  },
  {
    name: "a ConfigMap into web on sim-1 and sim-2",
    documents: (role) =>
      placed(
        { namespace: "web", policyKind: "PropagationPolicy" },
        configMap(`web-${role}`, "web"),
        {
          apiVersion: "v1",
          kind: "ConfigMap",
          name: `web-${role}`,
        },
        ["sim-1", "sim-2"],
      ),
    expect: (role) => {
      const allowed = ["sim-1", "sim-2"].every((c) =>
        ["PropagationPolicy", "ConfigMap"].every((k) => allows(grantsOf(role), "write", c, "web", k)),
      );
      return { allowed, lands: landsOn(allowed, ["sim-1", "sim-2"], `web/web-${role}`) };
    },
  },
  {
    // The admin's policy places every ConfigMap labelled fleet=all in "team" everywhere; a
    // template alone lands only where its writer may write.
    name: "a template under the admin's fleet-wide policy",
    documents: (role) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: team-${role}, namespace: default, labels: { fleet: all } }\ndata: { a: "1" }`,
    expect: (role) => {
      const where = CLUSTERS.filter((c) => allows(grantsOf(role), "write", c, "default", "ConfigMap"));
      return { allowed: where.length > 0, lands: landsOn(true, where, `default/team-${role}`) };
    },
  },
];

describe("write authorization: every write endpoint under nine roles, checked on the sims with kubectl", () => {
  const hub = new TestHub();
  const sims = new Map(CLUSTERS.map((name) => [name, new KubeSim({ name, token: `t-${name}` })]));
  const tokens: Record<string, string> = {};
  const simKubeconfig: Record<string, string> = {};
  const roles = [ADMIN, ...Object.keys(ROLES)];
  const as = (role: string) => (role === ADMIN ? hub.adminToken : tokens[role]!);

  beforeAll(async () => {
    for (const [name, sim] of sims) {
      await sim.start();
      // Nodes make the cluster Ready to the scheduler; no generated object carries a role's name.
      generateCluster(sim, { seed: 7, namespaces: NAMESPACES, deploymentsPerNamespace: 1, nodes: 1 });
      simKubeconfig[name] = join(hub.dir, `${name}-direct.kubeconfig`);
    }
    await hub.start();
    for (const [name, sim] of sims) writeFileSync(simKubeconfig[name]!, sim.kubeconfig());
    hub.startScheduler({ ATOLL_CLUSTER_GRACE_SECONDS: "30", ATOLL_CLUSTER_CHECK_MS: "500" });
    for (const name of CLUSTERS) {
      const { status, body } = await hub.send("POST", "/api/v1/clusters", { mode: "pull", name });
      expect(status, JSON.stringify(body)).toBe(201);
      hub.startAgent(sims.get(name)!, { ATOLL_MODE: "pull" });
    }
    for (const [role, grants] of Object.entries(ROLES)) {
      expect((await hub.send("PUT", `/api/v1/roles/${role}`, { grants })).status).toBe(200);
      tokens[role] = (await hub.send("POST", "/api/v1/tokens", { name: `${role}-user`, role })).body.token;
    }
    const fleetWide = `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: fleet-wide, namespace: default }
spec:
  resourceSelectors: [{ apiVersion: v1, kind: ConfigMap, labelSelector: { matchLabels: { fleet: all } } }]`;
    const shared = roles
      .map((role) =>
        placed(
          { namespace: "payments", policyKind: "PropagationPolicy" },
          configMap(`shared-${role}`, "payments"),
          { apiVersion: "v1", kind: "ConfigMap", name: `shared-${role}` },
        ),
      )
      .join("\n---\n");
    const seeded = await hub.send("POST", "/api/v1/apply", { documents: `${fleetWide}\n---\n${shared}` });
    expect(seeded.status, JSON.stringify(seeded.body)).toBe(200);
    for (const sim of sims.values()) await hub.waitIndexed(sim, 60_000);
  }, 120_000);
  afterAll(async () => {
    await hub.stop();
    await Promise.all([...sims.values()].map((s) => s.stop()));
  });

  /** What a sim holds, read with the real kubectl against the sim itself: namespace/name per ConfigMap, name per binding. */
  const landed = async (cluster: string): Promise<string[]> => {
    const configMaps = JSON.parse(
      await kubectl(simKubeconfig[cluster]!, ["get", "configmaps", "--all-namespaces", "-o", "json"]),
    ).items.map((c: Any) => `${c.metadata.namespace}/${c.metadata.name}`);
    const bindings = JSON.parse(
      await kubectl(simKubeconfig[cluster]!, ["get", "clusterrolebindings", "-o", "json"]),
    ).items.map((c: Any) => c.metadata.name);
    return [...configMaps, ...bindings]
      .filter((n: string) => /(pay|sys|crb|web|team|shared|gw)-/.test(n))
      .sort();
  };

  it("apply: each answer is the oracle's, and only what the oracle allows lands on each sim", async () => {
    const expected: Record<string, string[]> = Object.fromEntries(CLUSTERS.map((c) => [c, []]));
    for (const role of roles) {
      for (const writeCase of CASES) {
        const { allowed, lands } = writeCase.expect(role);
        const answer = await hub.send(
          "POST",
          "/api/v1/apply",
          { documents: writeCase.documents(role) },
          as(role),
        );
        expect(answer.status, `${role}: ${writeCase.name}: ${JSON.stringify(answer.body)}`).toBe(
          allowed ? 200 : 403,
        );
        if (!allowed)
          expect(answer.body.code, `${role}: ${writeCase.name}`).toMatch(/^(FORBIDDEN|WRITE_FORBIDDEN)$/);
        for (const [cluster, objects] of Object.entries(lands)) expected[cluster]!.push(...objects);
      }
    }
    for (const role of roles)
      for (const cluster of CLUSTERS) expected[cluster]!.push(`payments/shared-${role}`);
    for (const cluster of CLUSTERS) {
      const want = [...expected[cluster]!].sort();
      await until(
        async () => JSON.stringify(await landed(cluster)) === JSON.stringify(want),
        `${cluster} to hold exactly ${want.join(", ")} (logs in ${hub.dir})`,
        60_000,
        250,
      ).catch(async (error) => {
        expect(await landed(cluster), String(error)).toEqual(want);
      });
    }
  }, 180_000);

  it("delete: only a writer whose grants cover every cluster a template was applied with removes it", async () => {
    const removed: string[] = [];
    for (const role of roles) {
      const documents = configMap(`shared-${role}`, "payments");
      const allowed = writesEverywhere(role, "payments", "ConfigMap");
      const answer = await hub.send("POST", "/api/v1/delete", { documents }, as(role));
      expect(answer.status, `${role}: ${JSON.stringify(answer.body)}`).toBe(allowed ? 200 : 403);
      if (allowed) removed.push(`payments/shared-${role}`);
    }
    expect(removed.length).toBeGreaterThan(0);
    expect(removed.length).toBeLessThan(roles.length);
    for (const cluster of CLUSTERS)
      await until(
        async () => {
          const now = await landed(cluster);
          return (
            removed.every((r) => !now.includes(r)) &&
            roles
              .filter((r) => !removed.includes(`payments/shared-${r}`))
              .every((r) => now.includes(`payments/shared-${r}`))
          );
        },
        `${cluster} to lose exactly ${removed.join(", ")}`,
        60_000,
        250,
      );
  }, 120_000);

  it("bindings: each role sees only the clusters its read grants cover", async () => {
    for (const role of roles) {
      const response = await hub.fetch("/api/v1/bindings", { token: as(role) });
      const { items } = (await response.json()) as { items: Any[] };
      for (const binding of items) {
        const readable = (cluster: string) =>
          allows(grantsOf(role), "read", cluster, binding.namespace, binding.kind);
        expect(CLUSTERS.some(readable), `${role} sees ${binding.namespace}/${binding.name}`).toBe(true);
        for (const hidden of CLUSTERS.filter((c) => !readable(c)))
          expect(
            JSON.stringify(binding),
            `${role} sees ${hidden} in ${binding.namespace}/${binding.name}`,
          ).not.toContain(hidden);
      }
      const expectedCount = (await hub.get("/api/v1/bindings")).items.filter((b: Any) =>
        CLUSTERS.some((c) => allows(grantsOf(role), "read", c, b.namespace, b.kind)),
      ).length;
      expect(items.length, role).toBe(expectedCount);
      // A page at a time, one binding a page: the same bindings, each once, in the same order.
      const paged: string[] = [];
      for (let token = ""; ; ) {
        const page = (await (
          await hub.fetch(`/api/v1/bindings?limit=1${token ? `&continue=${token}` : ""}`, { token: as(role) })
        ).json()) as { items: Any[]; continue: string | null };
        expect(page.items.length, role).toBeLessThanOrEqual(1);
        paged.push(...page.items.map((b) => `${b.namespace}/${b.name}`));
        if (!page.continue) break;
        token = page.continue;
      }
      expect(paged, role).toEqual(items.map((b) => `${b.namespace}/${b.name}`));
    }
  });

  it("bindings: a page's limit and continue token are checked, and another list's token is refused", async () => {
    for (const [query, code] of [
      ["limit=0", "INVALID_LIMIT"],
      ["limit=1001", "INVALID_LIMIT"],
      ["continue=not-a-token", "INVALID_CONTINUE"],
      [`continue=${Buffer.from(JSON.stringify({ offset: 5 })).toString("base64url")}`, "INVALID_CONTINUE"],
    ]) {
      const response = await hub.fetch(`/api/v1/bindings?${query}`);
      expect(response.status, query).toBe(400);
      expect(((await response.json()) as { code: string }).code, query).toBe(code);
    }
  });

  it("clusters, roles and tokens: admin grants count only over what they cover, and no one hands out more than they hold", async () => {
    for (const role of roles) {
      const grants = grantsOf(role);
      const adminOf = (cluster: string) => allows(grants, "admin", cluster, "x", "x");
      const patch = await hub.send(
        "PATCH",
        "/api/v1/clusters/sim-2",
        { labels: { touched: role } },
        as(role),
      );
      expect(patch.status, `${role} patches sim-2`).toBe(adminOf("sim-2") ? 200 : 403);
      const register = await hub.send(
        "POST",
        "/api/v1/clusters",
        { mode: "pull", name: `extra-${role}` },
        as(role),
      );
      expect(register.status, `${role} registers extra-${role}`).toBe(adminOf(`extra-${role}`) ? 201 : 403);
      const coversAll = (wanted: Grant[]) =>
        wanted.every((w) =>
          (w.verbs.includes("*") ? ["read", "admin", "write", "proxy-read", "proxy-write"] : w.verbs).every(
            (verb) =>
              (w.clusters ?? ["*"]).every((c) =>
                grants.some(
                  (g) =>
                    (g.verbs.includes("*") || g.verbs.includes(verb)) &&
                    (!g.clusters || g.clusters.includes("*") || g.clusters.includes(c)) &&
                    (!g.namespaces || g.namespaces.includes("*")) &&
                    (!g.kinds || g.kinds.includes("*")),
                ),
              ),
          ),
        );
      for (const [name, wanted] of [
        [`sim1-viewer-${role}`, [{ verbs: ["read"], clusters: ["sim-1"] }]],
        [`everything-${role}`, [{ verbs: ["*"] }]],
      ] as [string, Grant[]][]) {
        const put = await hub.send("PUT", `/api/v1/roles/${name}`, { grants: wanted }, as(role));
        const mayAdmin = CLUSTERS.some(adminOf) || adminOf("*");
        expect(put.status, `${role} creates ${name}`).toBe(mayAdmin && coversAll(wanted) ? 200 : 403);
      }
      for (const target of ["reader", "fleet-writer"]) {
        const minted = await hub.send(
          "POST",
          "/api/v1/tokens",
          { name: `by-${role}`, role: target },
          as(role),
        );
        const mayAdmin = CLUSTERS.some(adminOf);
        expect(minted.status, `${role} mints a ${target} token`).toBe(
          mayAdmin && coversAll(ROLES[target]!) ? 201 : 403,
        );
      }
    }
    // The admin role's own token cannot be revoked by an admin of one cluster.
    const admins = (await hub.send("POST", "/api/v1/tokens", { name: "victim", role: "fleet-writer" })).body;
    expect(
      (await hub.send("DELETE", `/api/v1/tokens/${admins.id}`, undefined, as("sim1-admin"))).status,
    ).toBe(403);
    expect((await hub.send("DELETE", `/api/v1/tokens/${admins.id}`)).status).toBe(200);
  });

  it("gateway writes: kubectl through the hub creates only where proxy-write covers the namespace", async () => {
    for (const role of roles) {
      const kubeconfig = join(hub.dir, `gw-${role}.kubeconfig`);
      writeFileSync(kubeconfig, hub.kubeconfig("/proxy/clusters/sim-3", as(role)));
      const allowed = allows(grantsOf(role), "proxy-write", "sim-3", "web", "ConfigMap");
      const created = kubectl(kubeconfig, [
        "create",
        "configmap",
        `gw-${role}`,
        "-n",
        "web",
        "--from-literal=a=1",
      ]);
      if (allowed) await created;
      // A cluster outside every proxy grant is not even named to the caller: 404, as if absent.
      else await expect(created, role).rejects.toThrow(/forbidden|no cluster "sim-3" that you can reach/i);
    }
    const want = roles
      .filter((role) => allows(grantsOf(role), "proxy-write", "sim-3", "web", "ConfigMap"))
      .map((role) => `web/gw-${role}`);
    expect(want.length).toBeGreaterThan(1);
    expect((await landed("sim-3")).filter((n) => n.startsWith("web/gw-"))).toEqual(want.sort());
  });
});
