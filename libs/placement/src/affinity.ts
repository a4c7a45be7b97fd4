import { labelSelectorMatches, requirementMatches, validLabelKey } from "@atoll/kube";
import type { ClusterAffinity, ClusterAffinityTerm, ClusterInfo } from "./types.js";

export { labelSelectorMatches, validLabelKey };

/**
 * Field selector terms: zone against the cluster's zones (In = any overlap), provider and region
 * as labels of a synthetic set. Any other key names a field that is not there, so In fails.
 */
function fieldsMatch(affinity: ClusterAffinity, cluster: ClusterInfo): boolean {
  const synthetic: Record<string, string> = {
    ...(cluster.provider ? { provider: cluster.provider } : {}),
    ...(cluster.region ? { region: cluster.region } : {}),
  };
  return (affinity.fieldSelector?.matchExpressions ?? []).every((term) => {
    if (term.key !== "zone") return requirementMatches(term, synthetic);
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
  });
}

/** Karmada's ClusterMatches: not excluded, labels, fields and names all match. */
export function clusterMatches(cluster: ClusterInfo, affinity: ClusterAffinity | undefined): boolean {
  if (!affinity) return true;
  if (affinity.exclude?.includes(cluster.name)) return false;
  if (!labelSelectorMatches(affinity.labelSelector, cluster.labels ?? {})) return false;
  if (!fieldsMatch(affinity, cluster)) return false;
  return !affinity.clusterNames?.length || affinity.clusterNames.includes(cluster.name);
}

/**
 * The ClusterAffinity filter: the placement's clusterAffinity, or the clusterAffinities term being
 * scheduled together with its overflow tiers, must match the cluster.
 */
export function affinityFilter(
  cluster: ClusterInfo,
  placement: { clusterAffinity?: ClusterAffinity; clusterAffinities?: ClusterAffinityTerm[] },
  observedAffinityName?: string,
): { code: "Success" } | { code: "Unschedulable"; reason: string } {
  const terms = placement.clusterAffinities?.length
    ? (() => {
        const term =
          placement.clusterAffinities.find((t) => t.affinityName === observedAffinityName) ??
          placement.clusterAffinities[0]!;
        return [term, ...(term.overflowAffinities ?? [])];
      })()
    : [placement.clusterAffinity];
  return terms.some((term) => clusterMatches(cluster, term))
    ? { code: "Success" }
    : { code: "Unschedulable", reason: "cluster(s) did not match the placement cluster affinity constraint" };
}

/** 0 when the cluster matches the term itself, k for its k-th overflow tier, undefined if none. */
export function overflowOrder(cluster: ClusterInfo, term: ClusterAffinityTerm): number | undefined {
  const tiers = [term, ...(term.overflowAffinities ?? [])];
  const index = tiers.findIndex((tier) => clusterMatches(cluster, tier));
  return index < 0 ? undefined : index;
}
