import { labelSelectorMatcher, labelSelectorMatches, requirementMatches, validLabelKey } from "@atoll/kube";
import type { ClusterAffinity, ClusterAffinityTerm, ClusterInfo } from "./types.js";

export { labelSelectorMatches, validLabelKey };

type FieldTerm = NonNullable<NonNullable<ClusterAffinity["fieldSelector"]>["matchExpressions"]>[number];

/**
 * One field selector term: zone against the cluster's zones (In = any overlap), provider and
 * region as labels of a synthetic set. Any other key names a field that is not there, so In fails.
 */
function fieldMatches(term: FieldTerm, cluster: ClusterInfo): boolean {
  if (term.key !== "zone") {
    const synthetic: Record<string, string> = {};
    if (cluster.provider) synthetic.provider = cluster.provider;
    if (cluster.region) synthetic.region = cluster.region;
    return requirementMatches(term, synthetic);
  }
  const zones = cluster.zones ?? [];
  const values = term.values ?? [];
  switch (term.operator) {
    case "In":
      return zones.some((z) => values.includes(z));
    case "NotIn":
      return !zones.some((z) => values.includes(z));
    case "Exists":
      return zones.length > 0;
    case "DoesNotExist":
      return zones.length === 0;
    default:
      return false;
  }
}

/**
 * Karmada's ClusterMatches made into a test once, for matching one affinity against every
 * cluster of the fleet: not excluded, labels, fields and names all match.
 */
export function clusterMatcher(affinity: ClusterAffinity | undefined): (cluster: ClusterInfo) => boolean {
  if (!affinity) return () => true;
  const excluded = new Set(affinity.exclude ?? []);
  const labels = labelSelectorMatcher(affinity.labelSelector);
  const fields = affinity.fieldSelector?.matchExpressions ?? [];
  const names = affinity.clusterNames?.length ? new Set(affinity.clusterNames) : undefined;
  return (cluster) =>
    !excluded.has(cluster.name) &&
    labels(cluster.labels ?? {}) &&
    fields.every((term) => fieldMatches(term, cluster)) &&
    (!names || names.has(cluster.name));
}

/** Karmada's ClusterMatches: not excluded, labels, fields and names all match. */
export function clusterMatches(cluster: ClusterInfo, affinity: ClusterAffinity | undefined): boolean {
  return clusterMatcher(affinity)(cluster);
}

/**
 * The ClusterAffinity filter made into a test once: the placement's clusterAffinity, or the
 * clusterAffinities term being scheduled together with its overflow tiers, must match the cluster.
 */
export function affinityMatcher(
  placement: { clusterAffinity?: ClusterAffinity; clusterAffinities?: ClusterAffinityTerm[] },
  observedAffinityName?: string,
): (cluster: ClusterInfo) => boolean {
  const terms = placement.clusterAffinities?.length
    ? (() => {
        const term =
          placement.clusterAffinities.find((t) => t.affinityName === observedAffinityName) ??
          placement.clusterAffinities[0]!;
        return [term, ...(term.overflowAffinities ?? [])];
      })()
    : [placement.clusterAffinity];
  const matchers = terms.map(clusterMatcher);
  return (cluster) => matchers.some((matches) => matches(cluster));
}

/** The ClusterAffinity filter for one cluster. */
export function affinityFilter(
  cluster: ClusterInfo,
  placement: { clusterAffinity?: ClusterAffinity; clusterAffinities?: ClusterAffinityTerm[] },
  observedAffinityName?: string,
): { code: "Success" } | { code: "Unschedulable"; reason: string } {
  return affinityMatcher(placement, observedAffinityName)(cluster)
    ? { code: "Success" }
    : { code: "Unschedulable", reason: AFFINITY_MISMATCH };
}

export const AFFINITY_MISMATCH = "cluster(s) did not match the placement cluster affinity constraint";

/** 0 when the cluster matches the term itself, k for its k-th overflow tier, undefined if none. */
export function overflowOrder(cluster: ClusterInfo, term: ClusterAffinityTerm): number | undefined {
  return overflowOrderOf(term)(cluster);
}

/** overflowOrder made into a test once, for every cluster of the fleet. */
export function overflowOrderOf(term: ClusterAffinityTerm): (cluster: ClusterInfo) => number | undefined {
  const tiers = [term, ...(term.overflowAffinities ?? [])].map(clusterMatcher);
  return (cluster) => {
    const index = tiers.findIndex((matches) => matches(cluster));
    return index < 0 ? undefined : index;
  };
}
