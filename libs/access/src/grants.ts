import { type Condition, column, resolveKind } from "@atoll/ir";
import { z } from "zod";

/**
 * Verbs a grant can hold. read covers search, the kube read API, insight and the cluster list;
 * admin covers the registry, roles and tokens; later capabilities add their own verbs.
 */
export const VERBS = ["read", "admin", "write", "proxy-read", "proxy-write"] as const;
export type Verb = (typeof VERBS)[number];

/** Verbs over a set of clusters, namespaces and kinds; "*" means any. */
export interface Grant {
  verbs: (Verb | "*")[];
  clusters: string[];
  namespaces: string[];
  kinds: string[];
}

export interface Principal {
  /** The token's name, or "bootstrap-admin" / "anonymous". */
  name: string;
  role: string;
  grants: Grant[];
}

const names = z.array(z.string().min(1)).min(1);
const grantSchema = z.object({
  verbs: z.array(z.enum([...VERBS, "*"])).min(1),
  clusters: names.default(["*"]),
  namespaces: names.default(["*"]),
  kinds: names.default(["*"]),
});

export class GrantError extends Error {
  readonly code = "INVALID_GRANTS";
}

/** Validates grants from a request or a file; kinds are normalised ("pods" → Pod). */
export function parseGrants(input: unknown): Grant[] {
  const parsed = z.array(grantSchema).min(1).safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "grants"}: ${i.message}`);
    throw new GrantError(
      `invalid grants (${problems.join("; ")}); each grant is {verbs: [${VERBS.join("|")}], clusters, namespaces, kinds}, with "*" for any`,
    );
  }
  const narrowProxy = parsed.data.findIndex(
    (g) => g.verbs.some((v) => v === "proxy-read" || v === "proxy-write") && !g.kinds.includes("*"),
  );
  if (narrowProxy >= 0)
    throw new GrantError(
      `invalid grants (${narrowProxy}.kinds: proxy-read and proxy-write reach whole namespaces of a cluster, so their kinds must be ["*"]; put kind-limited verbs in a grant of their own)`,
    );
  return parsed.data.map((g) => ({ ...g, kinds: g.kinds.map((k) => (k === "*" ? k : resolveKind(k))) }));
}

const covers = (list: readonly string[], value: string) => list.includes("*") || list.includes(value);
const grantsFor = (principal: Principal, verb: Verb) =>
  principal.grants.filter((g) => g.verbs.includes("*") || g.verbs.includes(verb));

/** Whether some grant allows the verb on this scope; an omitted part of the scope matches any. */
export function can(
  principal: Principal,
  verb: Verb,
  scope: { cluster?: string; namespace?: string; kind?: string } = {},
): boolean {
  return grantsFor(principal, verb).some(
    (g) =>
      (scope.cluster === undefined || covers(g.clusters, scope.cluster)) &&
      (scope.namespace === undefined || covers(g.namespaces, scope.namespace)) &&
      (scope.kind === undefined || covers(g.kinds, scope.kind)),
  );
}

/**
 * Whether a gateway request may pass. Proxy grants are per cluster and namespace; a request at
 * cluster scope or across all namespaces needs a grant over every namespace. proxy-write
 * includes proxy-read, since writing (apply, for one) reads first.
 */
export function canProxy(
  principal: Principal,
  verb: "proxy-read" | "proxy-write",
  cluster: string,
  namespace: string,
): boolean {
  const grants = verb === "proxy-read" ? proxyGrants(principal) : grantsFor(principal, verb);
  return grants.some(
    (g) =>
      covers(g.clusters, cluster) &&
      (namespace ? covers(g.namespaces, namespace) : g.namespaces.includes("*")),
  );
}

/** Whether the principal may reach a cluster through the gateway at all. */
export function reachesCluster(principal: Principal, cluster: string): boolean {
  return proxyGrants(principal).some((g) => covers(g.clusters, cluster));
}

const proxyGrants = (principal: Principal) => [
  ...grantsFor(principal, "proxy-read"),
  ...grantsFor(principal, "proxy-write"),
];

/** Matches no row: an empty IN is false in every back end. */
export const NOTHING: Condition = { type: "in", field: column("uid"), values: [], negated: false };

/**
 * The rows a principal may see, as a condition every query is ANDed with, so no row, count or
 * aggregate from outside the grants is ever computed. Undefined means everything.
 * Cluster-scoped objects have no namespace, so a grant limited to namespaces does not cover them.
 */
export function visibleRows(principal: Principal, verb: Verb = "read"): Condition | undefined {
  const grants = grantsFor(principal, verb);
  if (grants.some((g) => [g.clusters, g.namespaces, g.kinds].every((list) => list.includes("*"))))
    return undefined;
  if (grants.length === 0) return NOTHING;
  const within = (name: "cluster" | "namespace" | "kind", values: string[]): Condition[] =>
    values.includes("*") ? [] : [{ type: "in", field: column(name), values, negated: false }];
  const each = grants.map((g): Condition => {
    const parts = [
      ...within("cluster", g.clusters),
      ...within("namespace", g.namespaces),
      ...within("kind", g.kinds),
    ];
    return parts.length === 1 ? parts[0]! : { type: "and", of: parts };
  });
  return each.length === 1 ? each[0] : { type: "or", of: each };
}

/** Clusters a principal may see anything of: "all", or their names. */
export function visibleClusters(principal: Principal, verb: Verb = "read"): "all" | string[] {
  return visibleScope(principal, "clusters", verb);
}

/**
 * The clusters, namespaces or kinds some grant of the verb covers: "all", or their names. What a
 * query may narrow to before the exact check of each row (can, clustersAllowed).
 */
export function visibleScope(
  principal: Principal,
  part: "clusters" | "namespaces" | "kinds",
  verb: Verb = "read",
): "all" | string[] {
  const grants = grantsFor(principal, verb);
  if (grants.some((g) => g[part].includes("*"))) return "all";
  return [...new Set(grants.flatMap((g) => g[part]))];
}

/**
 * The clusters where the principal holds the verb on one object's namespace and kind: ["*"] for
 * every cluster, their names, or none. A cluster-scoped object (namespace "") needs a grant over
 * every namespace, for writes as for reads.
 */
export function clustersAllowed(
  principal: Principal,
  verb: Verb,
  scope: { namespace: string; kind: string },
): string[] {
  const grants = grantsFor(principal, verb).filter(
    (g) =>
      (scope.namespace ? covers(g.namespaces, scope.namespace) : g.namespaces.includes("*")) &&
      covers(g.kinds, scope.kind),
  );
  if (grants.some((g) => g.clusters.includes("*"))) return ["*"];
  return [...new Set(grants.flatMap((g) => g.clusters))].sort();
}

/** Whether the principal may see all of a cluster, and so its heartbeat's totals too. */
export function seesWholeCluster(principal: Principal, cluster: string, verb: Verb = "read"): boolean {
  return grantsFor(principal, verb).some(
    (g) => covers(g.clusters, cluster) && g.namespaces.includes("*") && g.kinds.includes("*"),
  );
}

/**
 * What of `wanted` the holder of `held` does not hold, as "verb on cluster/namespace/kind" lines;
 * empty when every verb over every scope of every wanted grant is covered. "*" in a wanted grant
 * is covered only by "*", so no one hands out more than they hold: a role or token made by a
 * caller can never reach further than the caller.
 */
export function grantsBeyond(held: Grant[], wanted: Grant[]): string[] {
  const holder: Principal = { name: "", role: "", grants: held };
  const missing = new Set<string>();
  for (const grant of wanted) {
    const verbs = grant.verbs.includes("*") ? VERBS : (grant.verbs as Verb[]);
    for (const verb of verbs)
      for (const cluster of grant.clusters)
        for (const namespace of grant.namespaces)
          for (const kind of grant.kinds)
            if (
              !grantsFor(holder, verb).some(
                (g) =>
                  covers(g.clusters, cluster) && covers(g.namespaces, namespace) && covers(g.kinds, kind),
              )
            )
              missing.add(`${verb} on ${cluster}/${namespace}/${kind}`);
  }
  return [...missing];
}
