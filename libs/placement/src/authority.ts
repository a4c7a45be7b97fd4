import { clusterMatches } from "./affinity.js";
import type { OverridePolicyDoc } from "./overrides.js";
import type { ClusterAffinity, ClusterInfo, Placement } from "./types.js";

/**
 * Who applied a policy or template, and the clusters their write grants reached when they did
 * ("*" for every cluster, including clusters registered later). Scheduling never places, and an
 * override never changes, anything outside it: a later label change cannot widen what a role
 * reached, because grants name clusters and this list is fixed at apply time.
 */
export interface Authority {
  appliedBy: string;
  clusters: string[];
}

/** What objects stored before authorities were recorded carry: the hub's own, over every cluster. */
export const FLEET_AUTHORITY: Authority = { appliedBy: "", clusters: ["*"] };

export function authorityCovers(authority: Authority, cluster: string): boolean {
  return coversEveryCluster(authority) || authority.clusters.includes(cluster);
}

/** Whether the authority reaches every cluster, including ones registered later. */
export function coversEveryCluster(authority: Authority): boolean {
  return authority.clusters.includes("*");
}

/** The clusters of `inner` that `outer` does not cover ("*" in inner needs "*" in outer). */
export function clustersBeyond(outer: string[], inner: string[]): string[] {
  if (outer.includes("*")) return [];
  return inner.filter((cluster) => !outer.includes(cluster));
}

/** Every cluster one of the affinities can select now. */
function reach(affinities: (ClusterAffinity | undefined)[], clusters: ClusterInfo[]): string[] {
  return clusters.filter((c) => affinities.some((a) => clusterMatches(c, a))).map((c) => c.name);
}

/**
 * The clusters a placement can select from the fleet as it is: any term of clusterAffinities and
 * any of their overflow tiers, or clusterAffinity (none selects every cluster).
 */
export function placementReach(placement: Placement | undefined, clusters: ClusterInfo[]): string[] {
  const terms = placement?.clusterAffinities?.length
    ? placement.clusterAffinities.flatMap((t) => [t, ...(t.overflowAffinities ?? [])])
    : [placement?.clusterAffinity];
  return reach(terms, clusters);
}

/** The clusters an override policy's rules can change (a rule without targetCluster: every one). */
export function overrideReach(policy: OverridePolicyDoc, clusters: ClusterInfo[]): string[] {
  const rules =
    policy.spec.overrideRules ??
    (policy.spec.overriders ? [{ targetCluster: policy.spec.targetCluster }] : []);
  return reach(
    rules.map((r) => r.targetCluster),
    clusters,
  );
}
